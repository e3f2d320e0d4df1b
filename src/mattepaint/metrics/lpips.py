"""LPIPS v0.1, the learned perceptual image patch similarity (Zhang, Isola, Efros, Shechtman,
Wang, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018).

Built from local weight files only (nothing is downloaded): an ImageNet backbone
(:mod:`mattepaint.models.backbones`) and the v0.1 linear calibration layers. The default file
names are those of ``shared/data/weights``; a folder holding them can be named once with the
``MATTEPAINT_WEIGHTS`` environment variable. torchvision-style ``.pth`` backbone checkpoints and
the reference repository's ``weights/v0.1/{alex,vgg}.pth`` lin files load as well.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from mattepaint.checks import check_same_shape
from mattepaint.errors import InputNotFoundError
from mattepaint.models.backbones import (
    AlexNetFeatures,
    VGG16Features,
    load_backbone_weights,
    read_weights,
)

__all__ = ["LPIPS", "LPIPS_FILES", "WEIGHTS_ENV"]

WEIGHTS_ENV = "MATTEPAINT_WEIGHTS"
"""Environment variable naming a folder that holds the files of :data:`LPIPS_FILES`."""

LPIPS_FILES: dict[str, tuple[str, str]] = {
    "alex": ("alexnet_imagenet_features.safetensors", "lpips_v0.1_alex_lin.safetensors"),
    "vgg": ("vgg16_imagenet_features_fp16.safetensors", "lpips_v0.1_vgg_lin.safetensors"),
}
"""net -> (backbone weights file name, lin weights file name)."""

# net -> (backbone class, channels of the 5 tapped layers, smallest input side the stack takes)
_NETS: dict[str, tuple[type[nn.Module], tuple[int, ...], int]] = {
    "alex": (AlexNetFeatures, (64, 192, 384, 256, 256), 31),
    "vgg": (VGG16Features, (64, 128, 256, 512, 512), 16),
}

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10


def _resolve(path: str | Path | None, keyword: str, filename: str) -> Path:
    """The weights file to read: ``path`` if given, else ``$MATTEPAINT_WEIGHTS/filename``."""
    if path is not None:
        resolved = Path(path)
    else:
        folder = os.environ.get(WEIGHTS_ENV)
        if not folder:
            raise InputNotFoundError(
                f"LPIPS weights file {filename} not found: pass {keyword}=PATH, or set the "
                f"{WEIGHTS_ENV} environment variable to a folder holding {filename} "
                f"({WEIGHTS_ENV} is not set)"
            )
        resolved = Path(folder) / filename
    if not resolved.is_file():
        raise InputNotFoundError(
            f"LPIPS weights file not found: {resolved} (pass {keyword}=PATH, or set the "
            f"{WEIGHTS_ENV} environment variable to a folder holding {filename})"
        )
    return resolved


class LPIPS(nn.Module):
    """LPIPS v0.1 distance between two images, per image.

    With ``F_l`` the 5 tapped activations of the backbone (alex: ReLU outputs after conv layers
    0, 3, 6, 8, 10 of ``features``; vgg: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3), each
    unit-normalised over channels, ``F_l / (||F_l||_2 + 1e-10)``, and ``w_l`` the lin weights
    (a 1x1 convolution C_l -> 1, no bias):

    ``LPIPS(x, y) = sum_l mean_{h,w} sum_c w_l[c] (F_l(x)[c,h,w] - F_l(y)[c,h,w])^2``.

    Inputs go through ``2 x - 1`` (to [-1, 1]) and then ``(v - shift) / scale`` with shift
    (-0.030, -0.088, -0.188), scale (0.458, 0.448, 0.450), as the reference implementation
    (richzhang/PerceptualSimilarity, ``lpips.LPIPS(net=...)(x, y, normalize=True)``).

    The module is in eval mode and its weights have ``requires_grad=False``; the output is
    differentiable with respect to the inputs (usable as a loss).

    Args:
        net: ``"alex"`` (the standard variant) or ``"vgg"``.
        backbone_weights: backbone file (``.safetensors`` or torchvision-style ``.pth``); default
            ``$MATTEPAINT_WEIGHTS/<LPIPS_FILES[net][0]>``.
        lin_weights: lin file with keys ``lin{0..4}.model.1.weight`` of shape (1, C_l, 1, 1);
            default ``$MATTEPAINT_WEIGHTS/<LPIPS_FILES[net][1]>``.

    Raises:
        ValueError for an unknown ``net`` or weights that do not fit; FileNotFoundError naming
        the missing path, the keyword argument and ``MATTEPAINT_WEIGHTS``.
    """

    def __init__(
        self,
        net: str = "alex",
        *,
        backbone_weights: str | Path | None = None,
        lin_weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        if net not in _NETS:
            raise ValueError(f"unknown LPIPS net {net!r}; valid: {', '.join(_NETS)}")
        backbone_cls, channels, min_size = _NETS[net]
        backbone_name, lin_name = LPIPS_FILES[net]
        backbone_path = _resolve(backbone_weights, "backbone_weights", backbone_name)
        lin_path = _resolve(lin_weights, "lin_weights", lin_name)

        self.net_name = net
        self.min_size = min_size
        self.net = backbone_cls()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in channels)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

        load_backbone_weights(self.net, backbone_path)
        self._load_lins(lin_path)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_dir(cls, net: str, weights_dir: str | Path) -> LPIPS:
        """Build from a folder holding the files named in :data:`LPIPS_FILES` for ``net``."""
        if net not in LPIPS_FILES:
            raise ValueError(f"unknown LPIPS net {net!r}; valid: {', '.join(LPIPS_FILES)}")
        backbone_name, lin_name = LPIPS_FILES[net]
        folder = Path(weights_dir)
        return cls(net, backbone_weights=folder / backbone_name, lin_weights=folder / lin_name)

    def _load_lins(self, path: Path) -> None:
        state = read_weights(path)
        problems = []
        for index, lin in enumerate(self.lins):
            key = f"lin{index}.model.1.weight"
            expected = tuple(lin.weight.shape)
            if key not in state:
                problems.append(f"missing key {key}")
            elif tuple(state[key].shape) != expected:
                problems.append(f"{key}: expected {expected}, got {tuple(state[key].shape)}")
        if problems:
            raise ValueError(
                f"lin weights file {path} does not fit LPIPS-{self.net_name}: "
                + "; ".join(problems)
            )
        with torch.no_grad():
            for index, lin in enumerate(self.lins):
                lin.weight.copy_(state[f"lin{index}.model.1.weight"].to(lin.weight.dtype))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """LPIPS distance per image.

        Inputs:
            x, y: (B, 3, H, W) float tensors in [0, 1], same shape, H and W at least 31 (alex)
                or 16 (vgg); cast to the module's dtype.
        Outputs:
            (B,) tensor, >= 0 for non-negative lin weights, 0 for identical images.
        """
        for name, t in (("x", x), ("y", y)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if t.ndim != 4 or t.shape[1] != 3:
                raise ValueError(f"{name} must be (B, 3, H, W), got {tuple(t.shape)}")
            if not t.is_floating_point():
                raise TypeError(f"{name} must be float in [0, 1], got dtype {t.dtype}")
        check_same_shape(x, y, ("x", "y"))
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(
                f"LPIPS-{self.net_name} needs images of at least {self.min_size}x{self.min_size}, "
                f"got {x.shape[2]}x{x.shape[3]}"
            )
        with torch.no_grad():
            low = float(torch.minimum(x.min(), y.min()))
            high = float(torch.maximum(x.max(), y.max()))
        if low < -1e-6 or high > 1 + 1e-6:
            warnings.warn(
                f"LPIPS inputs should be in [0, 1], got [{low:.4g}, {high:.4g}]", stacklevel=2
            )
        batch = x.shape[0]
        both = torch.cat([x, y]).to(self.shift.dtype)  # (2B, 3, H, W)
        both = (2 * both - 1 - self.shift) / self.scale
        total = both.new_zeros(batch)
        for feat, lin in zip(self.net(both), self.lins):
            # vector_norm has a zero gradient (not nan) where a feature vector is all zero
            feat = feat / (torch.linalg.vector_norm(feat, dim=1, keepdim=True) + _EPS)
            fx, fy = feat[:batch], feat[batch:]  # (B, C_l, H_l, W_l) each
            total = total + lin((fx - fy).square()).mean(dim=(1, 2, 3))
        return total
