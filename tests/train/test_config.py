"""Tests of mattepaint.train.config: typed YAML configs, overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mattepaint.errors import InputError
from mattepaint.train.config import (
    Config,
    ConfigError,
    config_from_dict,
    config_to_dict,
    expand_mask_folders,
    expand_path,
    load_config,
    packaged_configs,
    parse_override,
    resolve_config_path,
    save_config,
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_types(tmp_path: Path) -> None:
    path = _write(tmp_path, "optim: {lr: 2.0e-4, betas: [0.5, 0.9]}\nrun: {max_steps: 7}\n")
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.optim.lr == 2e-4 and cfg.optim.betas == (0.5, 0.9)
    assert cfg.run.max_steps == 7 and cfg.run.epochs == 10  # default kept
    assert cfg.discriminator is None


def test_yaml11_exponent_without_dot_is_a_float(tmp_path: Path) -> None:
    # PyYAML reads 1e-4 as the string "1e-4"; the loader accepts it as a float.
    cfg = load_config(_write(tmp_path, "optim: {lr: 1e-4}\n"))
    assert cfg.optim.lr == pytest.approx(1e-4)


def test_int_is_accepted_for_float_but_not_float_for_int(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "optim: {lr: 1}\n")).optim.lr == 1.0
    with pytest.raises(ConfigError, match=r"run\.epochs: expected int, got float 1\.5"):
        load_config(_write(tmp_path, "run: {epochs: 1.5}\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optim: {lr: fast}\n", r"optim\.lr: expected float, got str 'fast'"),
        ("optim: {lrr: 0.1}\n", r"optim\.lrr: unknown key \(valid keys of optim: name, lr"),
        ("modle: {name: x}\n", r"modle: unknown key \(valid keys: model, discriminator"),
        ("data: {task: segmentation}\n", r"data\.task: expected one of 'inpainting' \| 'matting'"),
        ("discriminator: {name: 3}\n", r"discriminator\.name: expected str, got int 3"),
        ("loss: {weights: {l1: high}}\n", r"loss\.weights\.l1: expected float, got str 'high'"),
        ("optim: {betas: [0.5]}\n", r"optim\.betas: expected a list of 2 values"),
        ("run: {channels_last: 1}\n", r"run\.channels_last: expected bool, got int 1"),
        ("data: {train_dirs: a}\n", r"data\.train_dirs: expected a list, got str 'a'"),
        ("optim: 3\n", r"optim: expected a mapping of OptimConfig fields, got int 3"),
        ("- a\n- b\n", r"a config must be a mapping at the top level"),
        ("optim: {lr: [\n", r"invalid YAML \(line"),
    ],
)
def test_errors_are_one_line_with_key_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(_write(tmp_path, text))
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "exp.yaml"))


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match="config file not found: nope.yaml"):
        load_config("nope.yaml")


def test_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, "optim: {lr: 1.0e-3}\n")
    cfg = load_config(
        path,
        [
            "optim.lr=2e-4",
            "data.train_dirs=[a, b]",
            "model.params.base=8",
            "discriminator.name=patch_discriminator",
            "run.amp=bf16",
        ],
    )
    assert cfg.optim.lr == pytest.approx(2e-4)
    assert cfg.data.train_dirs == ["a", "b"]
    assert cfg.model.params == {"base": 8}
    assert cfg.discriminator is not None and cfg.discriminator.name == "patch_discriminator"
    assert cfg.run.amp == "bf16"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr", r"expected KEY\.PATH=VALUE"),
        ("=3", r"expected KEY\.PATH=VALUE"),
        ("optim..lr=3", r"expected KEY\.PATH=VALUE"),
        ("optim.lr.x=3", r"optim\.lr is not a section"),
        ("optim.lrx=3", r"optim\.lrx: unknown key"),
        ("optim.lr=abc", r"optim\.lr: expected float, got str 'abc'"),
    ],
)
def test_bad_overrides(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, "optim: {lr: 1.0e-3}\n"), [override])


def test_a_bad_override_is_named_not_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "optim: {lr: 1.0e-3}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["run.max_steps=3", "optim.lr=fast"])
    assert str(info.value) == "override 'optim.lr=fast': optim.lr: expected float, got str 'fast'"
    # a mistake in the file itself is still blamed on the file, overrides or not
    bad = _write(tmp_path, "optim: {lrx: 1.0e-3}\n")
    with pytest.raises(ConfigError, match=r"^.*exp\.yaml: optim\.lrx: unknown key"):
        load_config(bad, ["optim.lr=2e-4"])


def test_binary_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match=r"model\.pt: not a YAML config .*not UTF-8") as info:
        load_config(path)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, InputError)  # the CLI reports it as a user mistake


def test_parse_override_values() -> None:
    assert parse_override("run.max_steps=20") == (["run", "max_steps"], 20)
    assert parse_override("run.amp=none") == (["run", "amp"], "none")
    assert parse_override("optim.lr=.5") == (["optim", "lr"], 0.5)


def test_round_trip(tmp_path: Path) -> None:
    cfg = config_from_dict({"optim": {"betas": [0.5, 0.9]}, "loss": {"weights": {"l1": 2}}})
    data = config_to_dict(cfg)
    assert data["optim"]["betas"] == [0.5, 0.9]  # tuples become lists
    path = save_config(cfg, tmp_path / "out" / "config.yaml")
    assert config_from_dict(yaml.safe_load(path.read_text())) == cfg
    assert load_config(path) == cfg


def test_expand_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MATTEPAINT_DATA", str(tmp_path))
    assert expand_path("${MATTEPAINT_DATA}/images") == tmp_path / "images"
    monkeypatch.delenv("UNSET_VARIABLE_FOR_TEST", raising=False)
    with pytest.raises(ConfigError, match="unset environment variable"):
        expand_path("${UNSET_VARIABLE_FOR_TEST}/x")


def test_packaged_configs_all_load() -> None:
    shipped = packaged_configs()
    assert "seed000_unet_inpaint_small" in shipped
    for name, path in shipped.items():
        cfg = load_config(path)
        assert cfg.description, f"{name} has no description"
        assert resolve_config_path(name) == path


def test_resolve_unknown_config_lists_packaged() -> None:
    with pytest.raises(FileNotFoundError, match="packaged configs: .*seed000_unet_inpaint"):
        resolve_config_path("no_such_experiment")


def test_packaged_configs_build_their_models_and_tasks() -> None:
    """Every shipped config names registered models with valid params, and its loss terms are
    valid for its task (VGG-weight files are not needed for this check)."""
    from mattepaint.models.registry import build_model, model_task
    from mattepaint.train import tasks

    for name, path in packaged_configs().items():
        cfg = load_config(path)
        build_model(cfg.model.name, **cfg.model.params)
        if cfg.discriminator is not None:
            assert model_task(cfg.discriminator.name) == "discriminator", name
            build_model(cfg.discriminator.name, **cfg.discriminator.params)
        tasks.check_loss_weights(cfg.loss.weights, tasks.TASKS[cfg.data.task].generator_terms, name)


def test_mask_folders_are_expanded_at_any_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATTEPAINT_DATA", "/data")
    params = {
        "generators": [
            {"name": "lama_thick", "params": {"max_hole_ratio": 0.6}},
            {"name": "folder", "params": {"folder": "${MATTEPAINT_DATA}/masks", "exclude": ["a"]}},
        ]
    }
    expanded = expand_mask_folders(params)
    assert expanded["generators"][1]["params"] == {"folder": "/data/masks", "exclude": ["a"]}
    assert expanded["generators"][0] == params["generators"][0]
    assert expand_mask_folders({"folder": "~/m"}) == {"folder": str(Path("~/m").expanduser())}
