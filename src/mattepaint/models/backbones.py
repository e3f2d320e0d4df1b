"""ImageNet classification backbones, convolutional part only: VGG16 and AlexNet.

The layers are laid out exactly like torchvision's ``model.features`` (an ``nn.Sequential`` whose
indices give the state-dict keys ``features.N.weight`` / ``features.N.bias``), so either
torchvision's published checkpoints or the safetensors files in ``shared/data/weights`` load into
them with :func:`load_backbone_weights`. torchvision itself is not needed (nor imported).

References:
    Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
    ICLR 2015 (VGG16, configuration D).
    Krizhevsky, "One weird trick for parallelizing convolutional neural networks", 2014 (the
    single-tower AlexNet variant that torchvision ships).

The backbones take whatever normalisation their weights were trained with: torchvision's
ImageNet weights expect ``(x - IMAGENET_MEAN) / IMAGENET_STD`` for ``x`` in [0, 1]; LPIPS applies
its own scaling (see :mod:`mattepaint.metrics.lpips`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from mattepaint.errors import InputNotFoundError

__all__ = [
    "ALEXNET_LAYERS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VGG16_LAYERS",
    "AlexNetFeatures",
    "VGG16Features",
    "load_backbone_weights",
    "read_weights",
    "state_dict_problems",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# VGG16 (configuration D): channels per conv layer, "M" = 2x2 max-pool stride 2.
_VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


def _vgg16_layer_names() -> dict[str, int]:
    names: dict[str, int] = {}
    index, block, conv = 0, 1, 1
    for item in _VGG16_CFG:
        if item == "M":
            names[f"pool{block}"] = index
            index, block, conv = index + 1, block + 1, 1
        else:
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index, conv = index + 2, conv + 1
    return names


VGG16_LAYERS: dict[str, int] = _vgg16_layer_names()
"""Layer name -> index in ``VGG16Features.features``: conv1_1 0, relu1_1 1, ..., relu1_2 3,
pool1 4, ..., relu5_3 29, pool5 30 (torchvision's layout)."""

ALEXNET_LAYERS: dict[str, int] = {
    "conv1": 0, "relu1": 1, "pool1": 2,
    "conv2": 3, "relu2": 4, "pool2": 5,
    "conv3": 6, "relu3": 7,
    "conv4": 8, "relu4": 9,
    "conv5": 10, "relu5": 11, "pool5": 12,
}  # fmt: skip
"""Layer name -> index in ``AlexNetFeatures.features`` (torchvision's layout)."""


class _FeatureStack(nn.Module):
    """An ``nn.Sequential`` named ``features`` plus a forward that returns chosen activations."""

    layer_names: ClassVar[dict[str, int]] = {}
    default_layers: tuple[str, ...] = ()

    def __init__(self, layers: Sequence[nn.Module]) -> None:
        super().__init__()
        self.features = nn.Sequential(*layers)

    def _index(self, layer: str | int) -> int:
        if isinstance(layer, int) and not isinstance(layer, bool):
            if not 0 <= layer < len(self.features):
                raise ValueError(
                    f"layer index must be in [0, {len(self.features) - 1}], got {layer}"
                )
            return layer
        if isinstance(layer, str) and layer in self.layer_names:
            return self.layer_names[layer]
        raise ValueError(
            f"unknown layer {layer!r} for {type(self).__name__}; valid names: "
            f"{', '.join(self.layer_names)} (or an index into .features)"
        )

    def forward(self, x: Tensor, layers: Sequence[str | int] | None = None) -> list[Tensor]:
        """Run the stack up to the deepest requested layer and return the requested activations.

        Inputs:
            x: (B, 3, H, W) float, normalised as the weights expect.
            layers: names from ``layer_names`` (or indices into ``.features``); the output of
                each named module is returned. Default: ``default_layers`` (the 5 LPIPS taps).
        Outputs:
            list of tensors (B, C_l, H_l, W_l), in the order of ``layers``.
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"input must be (B, 3, H, W), got {tuple(x.shape)}")
        names = self.default_layers if layers is None else layers
        wanted = [self._index(layer) for layer in names]
        if not wanted:
            raise ValueError("layers must name at least one layer")
        last = max(wanted)
        taps: dict[int, Tensor] = {}
        h = x
        for index, module in enumerate(self.features):
            h = module(h)
            if index in wanted:
                taps[index] = h
            if index == last:
                break
        return [taps[index] for index in wanted]


class VGG16Features(_FeatureStack):
    """VGG16 convolutional layers (13 conv 3x3 padding 1 + ReLU, 5 max-pools 2x2 stride 2).

    ``features`` indices match torchvision's ``vgg16().features`` (conv layers at 0, 2, 5, 7, 10,
    12, 14, 17, 19, 21, 24, 26, 28). Weights are random until :func:`load_backbone_weights`.
    Default taps: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (as LPIPS-vgg).
    """

    layer_names = VGG16_LAYERS
    default_layers = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")

    def __init__(self) -> None:
        layers: list[nn.Module] = []
        channels = 3
        for item in _VGG16_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
                channels = int(item)
        super().__init__(layers)


class AlexNetFeatures(_FeatureStack):
    """AlexNet convolutional layers as in torchvision's ``alexnet().features``.

    conv 11x11 stride 4 padding 2 (64) - ReLU - maxpool 3/2 - conv 5x5 padding 2 (192) - ReLU -
    maxpool 3/2 - conv 3x3 (384) - ReLU - conv 3x3 (256) - ReLU - conv 3x3 (256) - ReLU -
    maxpool 3/2. Default taps: relu1..relu5 (as LPIPS-alex).
    """

    layer_names = ALEXNET_LAYERS
    default_layers = ("relu1", "relu2", "relu3", "relu4", "relu5")

    def __init__(self) -> None:
        super().__init__(
            [
                nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
                nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
            ]
        )  # fmt: skip


def read_weights(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict from a ``.safetensors`` file or a torch ``.pth`` / ``.pt`` file.

    Inputs:
        path: the file. A ``.pth`` / ``.pt`` file must hold a dict of tensors (or a dict with a
            ``"state_dict"`` entry holding one); it is read with ``weights_only=True``.
    Outputs:
        dict key -> tensor on the CPU, dtypes as stored (non-tensor entries dropped).
    Raises:
        FileNotFoundError if the file does not exist; ValueError if the suffix is not supported
        or the file cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"weights file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        elif suffix in (".pth", ".pt"):
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise ValueError(f"expected a .safetensors, .pth or .pt file, got {path.name!r}")
    except ValueError:
        raise
    except Exception as error:  # corrupt file: safetensors / pickle errors of many types
        raise ValueError(f"cannot read weights file {path}: {error}") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(  # noqa: TRY004 - bad file content, not a bad argument type
            f"weights file {path} must hold a dict of tensors, got {type(state).__name__}"
        )
    return {str(k): v for k, v in state.items() if isinstance(v, Tensor)}


def state_dict_problems(
    missing: list[str], unexpected: list[str], wrong: list[str], *, most: int | None = None
) -> list[str]:
    """The parts of a "weights do not fit" message: ``"missing keys [...]"``, ``"unexpected keys
    [...]"`` and ``"wrong shapes a; b"``, each only when its list is not empty.

    Inputs: the missing and unexpected state-dict keys, and one ``"key: expected ..., got ..."``
    line per tensor of the wrong shape; ``most``: list at most this many of each (the key lists
    then end in " ..." when cut), None = all. Outputs: the parts, in that order (empty: it fits).
    """

    def listed(keys: list[str]) -> str:
        return f"{keys[:most]} ..." if most is not None and len(keys) > most else f"{keys}"

    problems = []
    if missing:
        problems.append(f"missing keys {listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {listed(unexpected)}")
    if wrong:
        problems.append("wrong shapes " + "; ".join(wrong[:most]))
    return problems


def load_backbone_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load ``features.N.weight`` / ``features.N.bias`` tensors from a file into ``model``.

    Accepts the safetensors files of ``shared/data/weights`` (VGG16 stored fp16, AlexNet fp32) or a
    torchvision-style state dict (``.pth`` / ``.pt``, e.g. ``vgg16-397923af.pth``) whose
    ``classifier.*`` (and any other non-``features.``) entries are ignored. Tensors are cast to the
    dtype of the model's parameters (float32 by default).

    Inputs:
        model: a :class:`VGG16Features` or :class:`AlexNetFeatures` (any module whose state-dict
            keys all start with ``features.``).
        path: the weights file.
    Outputs:
        ``model`` itself, weights loaded in place.
    Raises:
        FileNotFoundError (missing file); ValueError naming the keys that are missing, unexpected
        (an extra ``features.`` key, e.g. a VGG19 or batch-norm checkpoint) or of the wrong shape.
    """
    state = read_weights(path)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [k for k in state if k.startswith("features.") and k not in expected]
    wrong = [
        f"{key}: expected {tuple(value.shape)}, got {tuple(state[key].shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = state_dict_problems(missing, unexpected, wrong)
    if problems:
        raise ValueError(
            f"weights file {path} does not fit {type(model).__name__}: " + ", ".join(problems)
        )
    not_float = [key for key in expected if not state[key].is_floating_point()]
    if not_float:
        raise ValueError(f"weights file {path}: tensors {not_float} are not floating point")
    model.load_state_dict(
        {key: state[key].to(dtype=value.dtype) for key, value in expected.items()}, strict=True
    )
    return model
