"""``mattepaint export``: the inference part of a checkpoint as a model file (``.safetensors``,
:func:`mattepaint.models.checkpoint.export_checkpoint`), or an ONNX model (``.onnx``,
:func:`mattepaint.models.onnx_model.export_onnx`); ``--from-legacy`` converts an old pickled
checkpoint that is trusted (:func:`mattepaint.models.checkpoint.migrate_legacy_checkpoint`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mattepaint.cli.common import add_command, add_common


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``export`` sub-command and its flags."""
    p = add_command(
        commands,
        "export",
        run,
        help="write a model file (.safetensors) or an ONNX model (.onnx) from a checkpoint",
        description=(
            "To a .safetensors file: the weights and the model's metadata (name, params, task, "
            "input transform, config), without what only resuming needs (optimisers, "
            "schedulers, RNG states, discriminator); about a third of the size, and loading it "
            "never runs code. To a .onnx file: the network as an ONNX graph (dynamic batch and "
            "size, checked against PyTorch at two sizes) that runs with onnxruntime, faster on a "
            "CPU. Both work with --checkpoint everywhere."
        ),
    )
    p.add_argument(
        "checkpoint",
        type=Path,
        help="a checkpoint written by 'mattepaint train' (.pt) or a model file (.safetensors)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="where to write it: NAME.safetensors (model file) or NAME.onnx (ONNX graph)",
    )
    p.add_argument(
        "--from-legacy",
        action="store_true",
        help="convert an old checkpoint that "
        "holds Python objects (a pickle the safe loader refuses) to .safetensors; "
        "this unpickles it, which can run code: only for files you made yourself",
    )
    p.add_argument(
        "--half",
        action="store_true",
        help="store the weights as float16 in a .safetensors file (half the size; they load "
        "back as float32)",
    )
    add_common(p, progress=False)


def run(args: argparse.Namespace) -> int:
    """Export to ``.safetensors`` (export_checkpoint, or migrate_legacy_checkpoint with
    ``--from-legacy``) or ``.onnx`` (export_onnx); print the size. Other suffixes are refused
    before anything is read."""
    from mattepaint.errors import InputError
    from mattepaint.models.checkpoint import (
        EXPORT_SUFFIXES,
        export_checkpoint,
        migrate_legacy_checkpoint,
    )

    suffix = args.output.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise InputError(
            f"{args.output}: export writes {' or '.join(EXPORT_SUFFIXES)} files, got "
            f"{suffix or 'no suffix'!r}; name the output e.g. model.safetensors"
        )
    if args.half and (suffix != ".safetensors" or args.from_legacy):
        raise InputError("--half applies to a .safetensors export of a checkpoint only")
    if args.from_legacy:
        if suffix != ".safetensors":
            raise InputError(
                f"{args.output}: --from-legacy writes a .safetensors model file; export that "
                "to .onnx afterwards"
            )
        print(
            f"trusting {args.checkpoint}: unpickling it if needed (this can run code; use "
            "--from-legacy only for files you made yourself)"
        )
        path = migrate_legacy_checkpoint(
            args.checkpoint, args.output, trust=True, overwrite=args.overwrite
        )
    elif suffix == ".onnx":
        from mattepaint.models.onnx_model import export_onnx

        path = export_onnx(args.checkpoint, args.output, overwrite=args.overwrite)
    else:
        path = export_checkpoint(
            args.checkpoint, args.output, overwrite=args.overwrite, half=args.half
        )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
