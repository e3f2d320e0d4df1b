"""Fast Fourier convolution (FFC): a convolution with an image-wide receptive field in one layer.

The channels are split into a *local* part (ordinary 3x3 convolutions) and a *global* part
processed in the frequency domain, where a pointwise (1x1) convolution mixes every spatial
position with every other (Chi, Jiang & Mu 2020)::

    x_l, x_g = x[:, :c_l], x[:, c_l:]                 c_g = round(ratio_gin * C_in)
    y_l = conv_l2l(x_l) + conv_g2l(x_g)               3x3 convolutions
    y_g = conv_l2g(x_l) + SpectralTransform(x_g)

    SpectralTransform(x) = conv1x1(h + FourierUnit(h)),   h = ReLU(BN(conv1x1(x)))
    FourierUnit(h)       = irfft2(ReLU(BN(conv1x1([Re F, Im F]))))  with F = rfft2(h, ortho)

(``rfft2`` over (H, W) with ``norm="ortho"``; the real and imaginary parts are stacked as
channels, 2 C of them, and split back into a complex tensor for the inverse.) LaMa (Suvorov et
al. 2022) builds its inpainting generator from residual blocks of two such layers with
``ratio_gin = ratio_gout = 0.75``; the global branch is what lets a network with few layers
fill a large hole coherently (repeated structure, long lines). Works at any input size.

ONNX: torch's TorchScript exporter has no symbolic for ``aten::fft_rfftn`` ("Exporting the
operator 'aten::fft_rfftn' to ONNX opset version 17 is not supported", torch 2.13), and the
dynamo exporter needs onnxscript. So while :func:`torch.onnx.export` traces the model, the
transforms are computed as matrix products with DFT matrices built from the input's shape
(:func:`rfft2_ortho` / :func:`irfft2_ortho` with ``use_dft=True``): the graph keeps dynamic
height and width and gives the same output as the FFT up to float rounding (~1e-6).

References:
    L. Chi, B. Jiang, Y. Mu, "Fast Fourier Convolution", NeurIPS 2020.
    R. Suvorov et al., "Resolution-robust Large Mask Inpainting with Fourier Convolutions"
    (LaMa), WACV 2022 (``saicinpainting/training/modules/ffc.py``: FourierUnit,
    SpectralTransform, FFC, FFC_BN_ACT, FFCResnetBlock).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mattepaint.checks import check_float, check_positive_int

__all__ = [
    "FFC",
    "FFCBlock",
    "FFCResBlock",
    "FourierUnit",
    "SpectralTransform",
    "irfft2_ortho",
    "rfft2_ortho",
]


# --------------------------------------------------------------------------------------------
# the transforms (FFT, or DFT matrices while exporting to ONNX)


def _dft_matrices(x: Tensor, dim: int) -> tuple[Tensor, Tensor, Tensor]:
    """cos and sin of the n x n DFT angles ``2 pi (j k mod n) / n`` for n = x.shape[dim], and n
    as a 0-dim float tensor; built with tensor ops on the shape, so a traced graph stays dynamic."""
    n = torch._shape_as_tensor(x)[dim]  # 0-dim int64, traced (not a Python int)
    k = torch.arange(x.shape[dim], device=x.device)  # (n,)
    prod = torch.remainder(k[:, None] * k[None, :], n)  # (n, n) int64, j k mod n
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    n_f = n.to(work)
    angle = prod.to(work) * (2 * math.pi) / n_f  # (n, n)
    return torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype), n_f.to(x.dtype)


def _fft_dtype(x: Tensor) -> Tensor:
    """x as float32 unless it is float64 (torch's CPU FFT has no half or bfloat16)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def rfft2_ortho(x: Tensor, *, use_dft: bool | None = None) -> tuple[Tensor, Tensor]:
    """2-D real FFT over the last two dimensions with the orthonormal scaling.

    Inputs: x (..., H, W) real float. ``use_dft``: compute with DFT matrices (ONNX-exportable;
    None: only while :func:`torch.onnx.export` traces).
    Outputs: (real, imag), each (..., H, W // 2 + 1) as ``torch.fft.rfftn(x, dim=(-2, -1),
    norm="ortho")``: ``F[u, v] = sum_{h, w} x[h, w] exp(-2 pi i (u h / H + v w / W)) /
    sqrt(H W)``. With ``use_dft`` the last dimension is the full W (the frequencies above W // 2,
    the conjugates of the others, are kept; :func:`irfft2_ortho` ignores them), so pointwise
    operations in between give the same result either way.
    """
    if use_dft is None:
        use_dft = torch.onnx.is_in_onnx_export()
    if not use_dft:
        spec = torch.fft.rfftn(_fft_dtype(x), dim=(-2, -1), norm="ortho")  # complex (..., H, W/2+1)
        return spec.real.to(x.dtype), spec.imag.to(x.dtype)
    cos_w, sin_w, n_w = _dft_matrices(x, -1)  # (W, W)
    cos_h, sin_h, n_h = _dft_matrices(x, -2)  # (H, H)
    scale = torch.rsqrt(n_w * n_h)
    xr, xi = x @ cos_w, -(x @ sin_w)  # along W: (..., H, W)
    real = (cos_h @ xr + sin_h @ xi) * scale  # along H: (C - iS)(xr + i xi)
    imag = (cos_h @ xi - sin_h @ xr) * scale
    return real, imag


def irfft2_ortho(
    real: Tensor, imag: Tensor, size: tuple[int, int] | torch.Size, *, use_dft: bool | None = None
) -> Tensor:
    """Inverse of :func:`rfft2_ortho`: (real, imag) (..., H, W // 2 + 1) -> (..., H, W) real.

    As ``torch.fft.irfftn(torch.complex(real, imag), s=size, dim=(-2, -1), norm="ortho")``
    (the imaginary parts of the zero and, for even W, Nyquist columns are ignored). With
    ``use_dft`` (None: while exporting to ONNX) the inputs are (..., H, W) as
    :func:`rfft2_ortho` gives them with ``use_dft``, and only their columns 0..W // 2 are used:
    ``x[h, w] = sum_{u, v <= W/2} a_v Re(F[u, v] exp(2 pi i (u h / H + v w / W))) / sqrt(H W)``
    with ``a_v = 1`` for v = 0 and v = W / 2, else 2.
    """
    if use_dft is None:
        use_dft = torch.onnx.is_in_onnx_export()
    if not use_dft:
        spec = torch.complex(_fft_dtype(real), _fft_dtype(imag))
        out = torch.fft.irfftn(spec, s=tuple(size), dim=(-2, -1), norm="ortho")
        return out.to(real.dtype)
    cos_h, sin_h, n_h = _dft_matrices(real, -2)  # (H, H)
    cos_w, sin_w, n_w = _dft_matrices(real, -1)  # (W, W)
    zr = cos_h @ real - sin_h @ imag  # inverse along H: (C + iS)(real + i imag)
    zi = cos_h @ imag + sin_h @ real
    k = torch.arange(real.shape[-1], device=real.device).to(real.dtype)  # (W,)
    two_k = 2 * k
    weight = torch.where(two_k < n_w, 2.0, 0.0) + torch.where(two_k == n_w, 1.0, 0.0)
    weight = torch.where(k == 0, 1.0, weight).to(real.dtype)  # a_v: 1, 2, ..., 2, (1), 0, ...
    out = (zr * weight) @ cos_w - (zi * weight) @ sin_w  # real part of the inverse along W
    return out * torch.rsqrt(n_w * n_h)


# --------------------------------------------------------------------------------------------
# layers


class FourierUnit(nn.Module):
    """Pointwise convolution in the frequency domain (Chi et al. 2020; LaMa's ``FourierUnit``).

    ``y = irfft2(ReLU(BN(conv1x1(cat(Re F, Im F)))))`` with ``F = rfft2(x, ortho)``: the 1x1
    convolution maps ``2 in_channels`` stacked real/imaginary channels to ``2 out_channels``.

    Inputs: (B, in_channels, H, W), any H and W. Outputs: (B, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        in_channels = check_positive_int("in_channels", in_channels)
        out_channels = check_positive_int("out_channels", out_channels)
        self.conv = nn.Conv2d(2 * in_channels, 2 * out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H, W)."""
        real, imag = rfft2_ortho(x)  # each (B, C_in, H, W // 2 + 1)
        spec = torch.cat([real, imag], dim=1)  # (B, 2 C_in, H, W // 2 + 1)
        spec = self.act(self.bn(self.conv(spec)))  # (B, 2 C_out, H, W // 2 + 1)
        real, imag = spec.chunk(2, dim=1)  # each (B, C_out, H, W // 2 + 1)
        return irfft2_ortho(real, imag, x.shape[-2:])  # (B, C_out, H, W)


class SpectralTransform(nn.Module):
    """The global branch of an FFC (LaMa's ``SpectralTransform``, without the local Fourier unit,
    as in LaMa's big-lama configuration).

    ``h = ReLU(BN(conv1x1(x)))`` to ``out_channels // 2`` channels (at least 1), then
    ``y = conv1x1(h + FourierUnit(h))`` to ``out_channels``.

    Inputs: (B, in_channels, H, W). Outputs: (B, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        in_channels = check_positive_int("in_channels", in_channels)
        out_channels = check_positive_int("out_channels", out_channels)
        mid = max(1, out_channels // 2)
        self.reduce = nn.Sequential(
            nn.Conv2d(in_channels, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
        )
        self.fourier = FourierUnit(mid, mid)
        self.expand = nn.Conv2d(mid, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H, W)."""
        h = self.reduce(x)  # (B, mid, H, W)
        return self.expand(h + self.fourier(h))  # (B, C_out, H, W)


def _split(channels: int, ratio: float) -> tuple[int, int]:
    """(local, global) channel counts: ``global = round(ratio * channels)``."""
    global_ = round(ratio * channels)
    return channels - global_, global_


class FFC(nn.Module):
    """Fast Fourier convolution (Chi et al. 2020): local 3x3 paths plus a spectral global path.

    Args:
        in_channels, out_channels: total channels of the input and the output.
        ratio_gin, ratio_gout: fraction of the input / output channels in the global part
            (in [0, 1]; ``round(ratio * channels)`` channels, the last ones).
        kernel_size: odd side of the local convolutions (default 3), replicate padding (LaMa:
            reflect; replicate also works on 1-pixel maps), stride 1.

    The four paths (a path with no input or output channels is left out)::

        y_l = conv_l2l(x_l) + conv_g2l(x_g)
        y_g = conv_l2g(x_l) + SpectralTransform(x_g)

    Inputs: (B, in_channels, H, W), local channels first, any H and W.
    Outputs: (B, out_channels, H, W), local channels first.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ratio_gin: float = 0.75,
        ratio_gout: float = 0.75,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        in_channels = check_positive_int("in_channels", in_channels)
        out_channels = check_positive_int("out_channels", out_channels)
        ratio_gin = check_float("ratio_gin", ratio_gin, low=0.0, high=1.0)
        ratio_gout = check_float("ratio_gout", ratio_gout, low=0.0, high=1.0)
        kernel_size = check_positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.in_local, self.in_global = _split(in_channels, ratio_gin)
        self.out_local, self.out_global = _split(out_channels, ratio_gout)

        def conv(cin: int, cout: int) -> nn.Module | None:
            if cin == 0 or cout == 0:
                return None
            return nn.Conv2d(
                cin,
                cout,
                kernel_size,
                padding=kernel_size // 2,
                padding_mode="replicate",
                bias=False,
            )

        self.l2l = conv(self.in_local, self.out_local)
        self.l2g = conv(self.in_local, self.out_global)
        self.g2l = conv(self.in_global, self.out_local)
        self.g2g = (
            SpectralTransform(self.in_global, self.out_global)
            if self.in_global and self.out_global
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H, W); channels [local | global]."""
        x_l, x_g = x[:, : self.in_local], x[:, self.in_local :]  # (B, c_l, H, W), (B, c_g, H, W)
        parts = []
        for paths in ((self.l2l, self.g2l), (self.l2g, self.g2g)):  # -> local, global
            terms = [path(inp) for path, inp in zip(paths, (x_l, x_g)) if path is not None]
            if terms:  # a part with no output channels has no paths
                parts.append(terms[0] if len(terms) == 1 else terms[0] + terms[1])
        return torch.cat(parts, dim=1)  # (B, C_out, H, W): [local | global]


class FFCBlock(nn.Module):
    """FFC followed by BatchNorm and ReLU on each part (LaMa's ``FFC_BN_ACT``).

    Args: as :class:`FFC`. Inputs: (B, in_channels, H, W). Outputs: (B, out_channels, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ratio_gin: float = 0.75,
        ratio_gout: float = 0.75,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.ffc = FFC(in_channels, out_channels, ratio_gin, ratio_gout, kernel_size)
        self.bn = nn.BatchNorm2d(out_channels)  # per channel: the same as one BN per part
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H, W)."""
        return self.act(self.bn(self.ffc(x)))


class FFCResBlock(nn.Module):
    """Residual block of two :class:`FFCBlock` layers (LaMa's ``FFCResnetBlock``):
    ``y = x + FFCBlock(FFCBlock(x))``, channels and the global ratio kept.

    With ``zero_init=True`` the branch ends in a 1x1 convolution whose weights and bias start at
    0 (``y = x + W FFCBlock(FFCBlock(x)) + b``, a "zero convolution" as in ControlNet, Zhang et
    al. 2023), so a block added to a trained network leaves its output unchanged at first, while
    ``W`` gets a gradient from the start and learns which of the branch's features help (the
    branch itself gets gradients once ``W`` is no longer 0). A single zero-initialised scalar gate
    (ReZero) learns too slowly there: on random branch features its gradient averages out, so it
    stays near 0 and the branch never trains. (Zeroing the last BatchNorm would leave the branch
    with no gradient at all: it ends in a ReLU, whose gradient at 0 is 0.)

    Inputs: (B, channels, H, W). Outputs: (B, channels, H, W).
    """

    def __init__(self, channels: int, ratio: float = 0.75, zero_init: bool = False) -> None:
        super().__init__()
        if not isinstance(zero_init, bool):
            raise TypeError(f"zero_init must be a bool, got {zero_init!r}")
        self.body = nn.Sequential(
            FFCBlock(channels, channels, ratio, ratio), FFCBlock(channels, channels, ratio, ratio)
        )
        self.out: nn.Conv2d | None = None
        if zero_init:
            self.out = nn.Conv2d(channels, channels, 1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        branch = self.body(x)
        return x + (branch if self.out is None else self.out(branch))
