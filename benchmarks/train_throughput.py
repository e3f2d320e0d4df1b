"""Training throughput of the base-32 inpainting U-Net, as images/s and as a share of the
machine's convolution speed.

For each image size (default 128 and 256), memory layout (NCHW contiguous / channels_last) and,
on CUDA, autocast precision (none / bf16 / fp16), times ``--steps`` training steps (after
``--warmup`` untimed ones) of ``unet_inpaint`` (``layers.UNet(4, 3, base=32, depth=3)`` + a
sigmoid) on random data: batch ``--batch``, Adam (lr 1e-4), L1 loss, fp16 with a GradScaler.

FLOPs are counted analytically with forward hooks on every Conv2d / ConvTranspose2d (the
convolutions are > 99 % of the work; BatchNorm, ReLU, pooling and Adam are left out), per image:

    Conv2d:           2 * Cin / groups * Cout * kh * kw * Hout * Wout
    ConvTranspose2d:  2 * Cin / groups * Cout * kh * kw * Hin * Win   (each input pixel scatters)

and a training step is taken as 3x the forward (backward = grad wrt input + grad wrt weights).
"achieved GFLOP/s" = 3 * forward FLOPs * images/s; "% of conv3x3" divides it by the measured
throughput of a large 3x3 convolution forward (64 -> 64 channels, 128 x 128, batch 8) in the same
layout and precision, an empirical stand-in for the machine's peak.

Usage:
    python benchmarks/train_throughput.py [--device cpu|cuda] [--steps 10] [--warmup 2]
        [--threads N] [--sizes 128 256] [--batch 8] [--base 32] [--amp none bf16 fp16]
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

from mattepaint.models.registry import build_model

AMP_DTYPES: dict[str, torch.dtype | None] = {
    "none": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def conv_flops(model: nn.Module, *inputs: Tensor) -> int:
    """Forward FLOPs per sample of every Conv2d / ConvTranspose2d in ``model`` for ``inputs``.

    Runs one forward pass (no grad) with hooks; a multiply-add counts as 2 FLOPs:
    Conv2d ``2 * Cin/groups * Cout * kh * kw * Hout * Wout``; ConvTranspose2d
    ``2 * Cin/groups * Cout * kh * kw * Hin * Win``. Divided by the batch size.
    """
    total = 0

    def hook(module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal total
        x = args[0]  # (B, Cin, Hin, Win)
        kh, kw = module.kernel_size
        per_position = 2 * module.in_channels // module.groups * module.out_channels * kh * kw
        if isinstance(module, nn.ConvTranspose2d):
            total += per_position * x.shape[-2] * x.shape[-1] * x.shape[0]
        else:
            total += per_position * output.shape[-2] * output.shape[-1] * output.shape[0]

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return total // inputs[0].shape[0]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    dtype = AMP_DTYPES[amp]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _time(fn: Callable[[], object], device: torch.device, warmup: int, steps: int) -> float:
    """Mean seconds per call of ``fn`` over ``steps`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / steps


def conv3x3_gflops(
    device: torch.device, channels_last: bool, amp: str, *, reps: int = 5, batch: int = 8
) -> float:
    """Measured GFLOP/s of a 3x3 conv forward, 64 -> 64 channels, 128 x 128, batch ``batch``
    (the fastest of ``reps`` timed calls).

    FLOPs per call: ``2 * 64 * 64 * 9 * 128 * 128 * batch`` (9.66 GFLOP at batch 8).
    """
    conv = nn.Conv2d(64, 64, 3, padding=1).to(device)
    x = torch.randn(batch, 64, 128, 128, device=device)
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)

    def run() -> None:
        with torch.no_grad(), _autocast(device, amp):
            conv(x)

    for _ in range(2):  # warm-up: kernel selection, oneDNN primitive creation
        run()
    best = float("inf")
    for _ in range(reps):  # best of ``reps``: a peak estimate, robust to a busy machine
        _sync(device)
        start = time.perf_counter()
        run()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * 64 * 64 * 9 * 128 * 128 * batch / best / 1e9


@dataclass
class Result:
    size: int
    channels_last: bool
    amp: str
    step_ms: float
    images_per_s: float
    gflops: float
    peak_gflops: float


def train_steps(
    size: int,
    *,
    device: torch.device,
    channels_last: bool,
    amp: str,
    batch: int,
    base: int,
    warmup: int,
    steps: int,
) -> tuple[float, int]:
    """Time training steps; returns (seconds per step, forward FLOPs per image)."""
    torch.manual_seed(0)
    model = build_model("unet_inpaint", base=base, depth=3).to(device).train()
    gen = torch.Generator(device="cpu").manual_seed(0)
    target = torch.rand(batch, 3, size, size, generator=gen).to(device)  # (B, 3, S, S)
    mask = (torch.rand(batch, 1, size, size, generator=gen) > 0.75).float().to(device)
    image = target * (1 - mask)  # "hole" input transform
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        target, mask, image = (
            t.to(memory_format=torch.channels_last) for t in (target, mask, image)
        )
    flops = conv_flops(model, image, mask)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, amp):
            pred = model(image, mask)  # (B, 3, S, S)
            loss = F.l1_loss(pred.float(), target)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    seconds = _time(step, device, warmup=warmup, steps=steps)
    return seconds, flops


def configurations(device: torch.device, amps: Sequence[str] | None) -> Iterator[tuple[bool, str]]:
    """(channels_last, amp) pairs to run: both layouts for each precision in ``amps``
    (default: "none" on the CPU; "none", "bf16" (when supported) and "fp16" on CUDA)."""
    if amps is None:
        amps = ["none", "bf16", "fp16"] if device.type == "cuda" else ["none"]
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            amps.remove("bf16")
    for amp in amps:
        for channels_last in (False, True):
            yield channels_last, amp


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per row")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--base", type=int, default=32)
    parser.add_argument(
        "--amp",
        nargs="+",
        choices=sorted(AMP_DTYPES),
        default=None,
        help="autocast precisions to run (default: none on CPU; none, bf16, fp16 on CUDA)",
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.threads < 0:
        print(
            "error: --steps and --batch must be >= 1, --warmup and --threads >= 0",
            file=sys.stderr,
        )
        return 2
    if any(s % 8 for s in args.sizes):
        print(
            f"error: --sizes must be multiples of 8 (the U-Net's 2**3), got {args.sizes}",
            file=sys.stderr,
        )
        return 2
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    console = Console(width=max(Console().width, 132))  # keep the table unwrapped in logs
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
    console.print(
        f"device {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"unet_inpaint base {args.base} depth 3, batch {args.batch}, Adam + L1, "
        f"{args.warmup} warm-up + {args.steps} timed steps"
        + (", TF32 allowed for fp32" if device.type == "cuda" else "")
    )
    peaks: dict[tuple[bool, str], float] = {}
    results: list[Result] = []
    flops_per_size: dict[int, int] = {}
    for channels_last, amp in configurations(device, args.amp):
        peaks[(channels_last, amp)] = conv3x3_gflops(device, channels_last, amp)
        for size in args.sizes:
            seconds, flops = train_steps(
                size,
                device=device,
                channels_last=channels_last,
                amp=amp,
                batch=args.batch,
                base=args.base,
                warmup=args.warmup,
                steps=args.steps,
            )
            flops_per_size[size] = flops
            images_per_s = args.batch / seconds
            results.append(
                Result(
                    size=size,
                    channels_last=channels_last,
                    amp=amp,
                    step_ms=seconds * 1e3,
                    images_per_s=images_per_s,
                    gflops=3 * flops * images_per_s / 1e9,
                    peak_gflops=peaks[(channels_last, amp)],
                )
            )

    params = sum(p.numel() for p in build_model("unet_inpaint", base=args.base).parameters())
    title = f"unet_inpaint (base {args.base}, {params / 1e6:.2f} M params): training throughput"
    table = Table(title=title)
    for column in ("size", "layout", "AMP", "fwd GFLOP/img", "ms/step", "images/s", "GFLOP/s",
                   "conv3x3 GFLOP/s", "% of conv3x3"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            f"{r.size}x{r.size}",
            "channels_last" if r.channels_last else "NCHW",
            r.amp,
            f"{flops_per_size[r.size] / 1e9:.2f}",
            f"{r.step_ms:.1f}",
            f"{r.images_per_s:.1f}",
            f"{r.gflops:.1f}",
            f"{r.peak_gflops:.1f}",
            f"{100 * r.gflops / r.peak_gflops:.0f} %",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
