"""Discriminators (critics) for adversarial inpainting; importing this module registers them.

Contract (see :mod:`mattepaint.models.registry`): ``forward(image (B, C, H, W)) -> logits``
(B, 1) or (B, 1, h, w) patch logits, raw scores with no sigmoid (the losses in
``mattepaint.losses.adversarial`` take logits).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from mattepaint.models.layers.unet import _check_positive_int
from mattepaint.models.registry import register_model

__all__ = ["PatchDiscriminator"]

DiscNorm = Literal["none", "instance", "batch"]


@register_model("patch_discriminator", task="discriminator")
class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator (Isola et al. 2017): one real/fake logit per overlapping patch.

    Layout (pix2pix's ``NLayerDiscriminator``; k = 4, padding 1, nf_i = base * min(2**i, 8)):
    ``n_layers`` strided convs ``C(in -> nf_0, s2), C(nf_0 -> nf_1, s2), ...`` each followed by
    LeakyReLU(0.2) (normalised except the first), then ``C(s1) -> nf_n``, LeakyReLU, and a final
    ``C(s1) -> 1`` giving the logits. With ``n_layers = 3`` each logit sees a 70 x 70 receptive
    field. Spatially, each strided conv maps s -> floor(s / 2) and each stride-1 conv s -> s - 1.

    Args:
        in_channels: channels of the judged image (3 for RGB; 4 to also give it the mask).
        base: channels of the first conv (pix2pix: 64).
        n_layers: number of stride-2 convs (pix2pix: 3).
        norm: "none" (default: no batch statistics, so it works with the per-sample gradient
            penalty of WGAN-GP, Gulrajani et al. 2017), "instance" or "batch".
        spectral_norm: wrap every conv in spectral normalisation (Miyato et al., ICLR 2018).

    Inputs: (B, in_channels, H, W) float (images in [0, 1]); H, W at least :meth:`min_size`.
    Outputs: (B, 1, h, w) logits, ``h = floor(H / 2**n_layers) - 2`` (likewise w).

    Reference: Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional
    Adversarial Networks", CVPR 2017.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base: int = 32,
        n_layers: int = 3,
        norm: DiscNorm = "none",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("base", base), ("n_layers", n_layers)):
            _check_positive_int(name, value)
        if norm not in ("none", "instance", "batch"):
            raise ValueError(f"norm must be 'none', 'instance' or 'batch', got {norm!r}")
        if not isinstance(spectral_norm, bool):
            raise TypeError(f"spectral_norm must be a bool, got {spectral_norm!r}")
        self.in_channels, self.n_layers = in_channels, n_layers

        def conv(cin: int, cout: int, stride: int, bias: bool = True) -> nn.Module:
            layer = nn.Conv2d(cin, cout, 4, stride=stride, padding=1, bias=bias)
            return _spectral_norm(layer) if spectral_norm else layer

        def norm_layer(channels: int) -> list[nn.Module]:
            if norm == "batch":
                return [nn.BatchNorm2d(channels)]
            if norm == "instance":
                return [nn.InstanceNorm2d(channels, affine=True)]
            return []

        widths = [base * min(2**i, 8) for i in range(n_layers + 1)]
        layers: list[nn.Module] = [conv(in_channels, widths[0], 2), nn.LeakyReLU(0.2, inplace=True)]
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1  # the last hidden conv keeps the size (pix2pix)
            layers += [conv(widths[i - 1], widths[i], stride, bias=norm == "none")]
            layers += norm_layer(widths[i])
            layers += [nn.LeakyReLU(0.2, inplace=True)]
        layers.append(conv(widths[n_layers], 1, 1))  # (B, 1, h, w) logits
        self.net = nn.Sequential(*layers)

    def output_size(self, size: int) -> int:
        """Logit-map side for an input side ``size``: n_layers halvings, then two k4 s1 convs."""
        for _ in range(self.n_layers):
            size = size // 2  # k4 s2 p1: floor((s + 2 - 4) / 2) + 1 = floor(s / 2)
        return size - 2  # two k4 s1 p1 convs: s -> s - 1 each

    def min_size(self) -> int:
        """Smallest input side giving a non-empty logit map: 3 * 2**n_layers."""
        return 3 * 2**self.n_layers

    def forward(self, image: Tensor) -> Tensor:
        """(B, in_channels, H, W) -> (B, 1, h, w) patch logits."""
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(
                f"input must be (B, {self.in_channels}, H, W), got {tuple(image.shape)}"
            )
        if min(image.shape[-2:]) < self.min_size():
            raise ValueError(
                f"input must be at least {self.min_size()}x{self.min_size()} for n_layers="
                f"{self.n_layers}, got {image.shape[-2]}x{image.shape[-1]}"
            )
        return self.net(image)
