"""Discriminators (critics) for adversarial inpainting; importing this module registers them.

Contract (see :mod:`mattepaint.models.registry`): ``forward(image (B, C, H, W)) -> logits``
(B, 1) or (B, 1, h, w) patch logits, raw scores with no sigmoid (the losses in
``mattepaint.losses.adversarial`` take logits).

- :class:`PatchDiscriminator`: PatchGAN (Isola et al. 2017).
- :class:`GlobalLocalCritic`: GLCIC's global + local context discriminators (Iizuka et al.
  2017), or DeepFill v1's separate global and local WGAN critics (Yu et al. 2018).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from mattepaint.checks import check_positive_int
from mattepaint.models.layers.features import sequential_features
from mattepaint.models.registry import register_model

__all__ = ["GlobalLocalCritic", "PatchDiscriminator"]

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
            check_positive_int(name, value)
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

    def _check_input(self, image: Tensor) -> None:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(
                f"input must be (B, {self.in_channels}, H, W), got {tuple(image.shape)}"
            )
        if min(image.shape[-2:]) < self.min_size():
            raise ValueError(
                f"input must be at least {self.min_size()}x{self.min_size()} for n_layers="
                f"{self.n_layers}, got {image.shape[-2]}x{image.shape[-1]}"
            )

    def forward(self, image: Tensor) -> Tensor:
        """(B, in_channels, H, W) -> (B, 1, h, w) patch logits."""
        self._check_input(image)
        return self.net(image)

    def forward_features(self, image: Tensor) -> tuple[Tensor, list[Tensor]]:
        """One pass giving the logits and the intermediate activations (the output of every
        LeakyReLU, ``n_layers + 1`` maps), for the feature-matching loss.

        Inputs: (B, in_channels, H, W). Outputs: ((B, 1, h, w) logits, list of (B, C_i, h_i, w_i)).
        """
        self._check_input(image)
        return sequential_features(self.net, image, (nn.LeakyReLU,))


CriticMode = Literal["concat", "separate"]

_POOL_SIDE = 4  # each branch halves to about 4x4, then average-pools to exactly 4x4


def _window_start(occupied: Tensor, size: int) -> Tensor:
    """Start of a ``size``-long window centred on the occupied span of each row of ``occupied``.

    Inputs: occupied (B, N) bool (e.g. "this image row holds a hole pixel"), ``size <= N``.
    Outputs: (B,) long in [0, N - size]: ``floor((first + last + 1 - size) / 2)`` clamped, where
    first/last are the first/last occupied indices (the window and the span share their centre,
    up to half a pixel); rows with nothing occupied get the centred ``(N - size) // 2``.
    """
    n = occupied.shape[1]
    as_int = occupied.to(torch.int32)
    first = as_int.argmax(dim=1)  # (B,) index of the first True (argmax returns the first max)
    last = n - 1 - as_int.flip(1).argmax(dim=1)  # (B,) index of the last True
    start = torch.div(first + last + 1 - size, 2, rounding_mode="floor")  # (B,)
    start = torch.where(occupied.any(dim=1), start, torch.full_like(start, (n - size) // 2))
    return start.clamp(0, n - size)


@register_model("global_local_critic", task="discriminator")
class GlobalLocalCritic(nn.Module):
    """Global + local context critic (GLCIC, Iizuka et al. 2017; DeepFill v1's two critics).

    Judges an image (B, 4, H, W) = concat(RGB, mask) twice: the global branch sees the whole
    RGB image, the local branch a ``local_size x local_size`` RGB window centred on the hole.
    The mask channel is used only to place that window, never fed to a conv, so the critic
    cannot tell real from fake by the mask (which is the same for both in the training loop)
    and WGAN-GP's interpolates, whose mask channel equals that of real and fake, crop the same
    window.

    Local window (:meth:`local_window`): per sample, the bounding box of the hole pixels
    (mask > 0.5), a ``local_size`` window sharing its centre (rounded down), shifted to lie
    inside the image; the image centre when the mask is empty. It is cut out by integer
    indexing, so the local score is differentiable w.r.t. the RGB pixels of the window.

    Branches (GLCIC's discriminators with LeakyReLU(0.2), no BatchNorm by default): stride-2
    5x5 convs (padding 2, so a side s becomes ceil(s / 2)) of widths ``base * min(2**i, 8)``
    (64, 128, 256, 512, 512, 512 for base 64), the first without normalisation; the local branch
    has ``n = max(1, round(log2(local_size / 4)))`` convs (5 for local_size 128: 128 -> 4), the
    global branch ``n + 1`` (6: a 256 input -> 4, as the paper's global discriminator); then
    adaptive average pooling to 4x4 (so any H, W >= local_size works), flatten, and

    - mode "concat" (GLCIC): a linear layer to ``16 * base`` features (1024 for base 64) and
      LeakyReLU per branch, the two concatenated (2048) and a linear layer to one logit.
      Output (B, 1).
    - mode "separate" (DeepFill v1): each branch ends in its own linear layer to one score, two
      independent critics. Output (B, 1, 1, 2) = [global, local], so a loss that averages
      the logits (``mattepaint.losses.adversarial``) averages the two critics' WGAN losses.

    Args:
        base: width of the first conv of each branch (GLCIC, DeepFill v1: 64).
        local_size: side of the local window (GLCIC: 128 for 256 x 256 inputs); >= 8.
        mode: "concat" (GLCIC) or "separate" (DeepFill v1).
        norm: "none" (default: no batch statistics, so WGAN-GP's per-sample gradient penalty is
            valid), "instance", or "batch" (GLCIC's original discriminators).

    Inputs: x (B, 4, H, W) float: RGB in [0, 1] and the mask (1 = hole) as channel 3;
        H, W >= ``local_size``.
    Outputs: raw scores, no sigmoid: (B, 1) for "concat", (B, 1, 1, 2) for "separate".

    References: Iizuka, Simo-Serra & Ishikawa, "Globally and Locally Consistent Image
    Completion", SIGGRAPH 2017 (section 3.3, context discriminators). Yu, Lin, Yang, Shen, Lu &
    Huang, "Generative Image Inpainting with Contextual Attention", CVPR 2018 (separate global
    and local WGAN-GP critics; its critics use 4 convs and a local patch the size of the hole).
    """

    in_channels = 4

    def __init__(
        self,
        base: int = 64,
        local_size: int = 128,
        mode: CriticMode = "concat",
        norm: DiscNorm = "none",
    ) -> None:
        for name, value in (("base", base), ("local_size", local_size)):
            check_positive_int(name, value)
        if local_size < 2 * _POOL_SIDE:
            raise ValueError(f"local_size must be >= {2 * _POOL_SIDE}, got {local_size}")
        if mode not in ("concat", "separate"):
            raise ValueError(f"mode must be 'concat' or 'separate', got {mode!r}")
        if norm not in ("none", "instance", "batch"):
            raise ValueError(f"norm must be 'none', 'instance' or 'batch', got {norm!r}")
        super().__init__()
        self.local_size, self.mode = local_size, mode
        n_local = max(1, round(math.log2(local_size / _POOL_SIDE)))
        features = 16 * base if mode == "concat" else 1
        self.global_branch = self._branch(n_local + 1, base, norm, features, mode == "concat")
        self.local_branch = self._branch(n_local, base, norm, features, mode == "concat")
        self.fusion = nn.Linear(2 * features, 1) if mode == "concat" else None

    @staticmethod
    def _branch(n_convs: int, base: int, norm: str, features: int, act: bool) -> nn.Sequential:
        """RGB (B, 3, h, w) -> (B, features): strided 5x5 convs, pool to 4x4, linear."""
        layers: list[nn.Module] = []
        cin = 3
        for i in range(n_convs):
            width = base * min(2**i, 8)
            normed = i > 0 and norm != "none"
            layers.append(nn.Conv2d(cin, width, 5, stride=2, padding=2, bias=not normed))
            if normed:
                layers.append(
                    nn.BatchNorm2d(width)
                    if norm == "batch"
                    else nn.InstanceNorm2d(width, affine=True)
                )
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = width
        layers += [nn.AdaptiveAvgPool2d(_POOL_SIDE), nn.Flatten()]  # (B, C * 16)
        layers.append(nn.Linear(cin * _POOL_SIDE**2, features))  # (B, features)
        if act:
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        return nn.Sequential(*layers)

    def min_size(self) -> int:
        """Smallest input side: ``local_size`` (the local window must fit in the image)."""
        return self.local_size

    def local_window(self, mask: Tensor) -> Tensor:
        """Top-left corner of each sample's local window.

        Inputs: mask (B, 1, H, W), 1 = hole (thresholded at 0.5); H, W >= ``local_size``.
        Outputs: (B, 2) long [top, left]; the window is rows top .. top + local_size - 1,
        columns left .. left + local_size - 1, centred on the hole's bounding box and inside
        the image (the image centre for an empty mask).
        """
        hole = mask[:, 0] > 0.5  # (B, H, W)
        top = _window_start(hole.any(dim=2), self.local_size)  # (B,) from the hole rows
        left = _window_start(hole.any(dim=1), self.local_size)  # (B,) from the hole columns
        return torch.stack([top, left], dim=1)  # (B, 2)

    def crop_local(self, rgb: Tensor, mask: Tensor) -> Tensor:
        """(B, C, H, W) image + (B, 1, H, W) mask -> (B, C, local_size, local_size) windows."""
        window = self.local_window(mask)  # (B, 2)
        offsets = torch.arange(self.local_size, device=rgb.device)  # (L,)
        rows = window[:, :1] + offsets  # (B, L)
        cols = window[:, 1:] + offsets  # (B, L)
        batch = torch.arange(rgb.shape[0], device=rgb.device)[:, None, None]  # (B, 1, 1)
        crop = rgb.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, L, L, C)
        return crop.permute(0, 3, 1, 2)  # (B, C, L, L)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 4, H, W) RGB + mask -> (B, 1) logits ("concat") or (B, 1, 1, 2) ("separate")."""
        return self._run(x, collect=False)[0]

    def forward_features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """One pass giving the logits and the intermediate activations (every LeakyReLU output
        of the global branch, then of the local branch), for the feature-matching loss.

        Inputs: (B, 4, H, W). Outputs: (logits as :meth:`forward`, list of activations).
        """
        return self._run(x, collect=True)

    def _run(self, x: Tensor, collect: bool) -> tuple[Tensor, list[Tensor]]:
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"input must be (B, 4, H, W) = concat(RGB, mask), got {shape}")
        h, w = x.shape[-2:]
        if min(h, w) < self.local_size:
            raise ValueError(
                f"input must be at least {self.local_size}x{self.local_size} (local_size), "
                f"got {h}x{w}"
            )
        rgb, mask = x[:, :3], x[:, 3:].detach()  # (B, 3, H, W), (B, 1, H, W)
        local_rgb = self.crop_local(rgb, mask)  # (B, 3, L, L)
        feats: list[Tensor] = []
        if collect:
            global_out, global_feats = sequential_features(self.global_branch, rgb)
            local_out, local_feats = sequential_features(self.local_branch, local_rgb)
            feats = global_feats + local_feats
        else:
            global_out = self.global_branch(rgb)  # (B, F)
            local_out = self.local_branch(local_rgb)  # (B, F)
        if self.fusion is not None:
            return self.fusion(torch.cat([global_out, local_out], dim=1)), feats  # (B, 1)
        return torch.stack([global_out, local_out], dim=-1)[:, :, None], feats  # (B, 1, 1, 2)
