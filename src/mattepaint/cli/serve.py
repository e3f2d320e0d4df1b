"""``mattepaint serve``: the web UI and the HTTP API (:func:`mattepaint.server.serve`)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from mattepaint.cli.common import UsageError, add_command, positive_int


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``serve`` sub-command and its flags."""
    p = add_command(
        commands,
        "serve",
        run,
        help="run the web app and the HTTP API (inpaint and matte in the browser or with curl)",
        description=(
            "Serve the web UI at / and the HTTP API at /api (POST /api/inpaint, POST /api/matte, "
            "POST /api/cutout, GET /api/methods, GET /api/health; documentation at /docs). "
            "The cut-out offers the segmenter shipped in the package, after any given with "
            "--segmenter (by file stem; the first is the default). Trained checkpoints "
            "given with --checkpoint or found in --models-dir appear as checkpoint:<file name>. "
            "No authentication: binds to 127.0.0.1 unless --host says otherwise."
        ),
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        metavar="CKPT",
        help="offer a trained checkpoint (.pt or exported .onnx); repeatable",
    )
    p.add_argument(
        "--models-dir", type=Path, metavar="DIR", help="offer every *.pt / *.onnx checkpoint in DIR"
    )
    p.add_argument(
        "--device", default="cpu", help="device for checkpoint models (cpu, cuda; default: cpu)"
    )
    p.add_argument(
        "--segmenter",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="offer another segmenter for the automatic cut-out (POST /api/cutout, the Matte "
        "tab), the default before the shipped one: a U2-Net-family or MODNet ONNX file or a "
        ".safetensors trimap-free matting model, named by its stem; repeatable",
    )
    p.add_argument(
        "--check-with",
        metavar="NAME|FILE",
        help="also offer each --segmenter file checked by this segmenter, as <stem>_checked "
        "(the default): the file's mask where the two find the same subject, this one's "
        "otherwise (e.g. MODNet checked by late_fusion_effnet_cutout)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=20.0,
        metavar="MB",
        help="largest uploaded file in MiB (default: 20)",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=4096 * 4096,
        metavar="N",
        help="largest image, width x height (default: 16777216 = 4096x4096)",
    )
    p.add_argument(
        "--max-concurrent",
        type=positive_int,
        default=1,
        metavar="N",
        help="jobs running at the same time (default: 1)",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=8,
        metavar="N",
        help="jobs waiting for a slot before requests get 503 (default: 8)",
    )
    p.add_argument("--no-ui", action="store_true", help="serve the HTTP API only, no web UI")


def run(args: argparse.Namespace) -> int:
    """Check the limits, then run the HTTP API and the web UI until interrupted."""
    if args.max_upload_mb <= 0:
        raise UsageError(f"--max-upload-mb must be > 0, got {args.max_upload_mb}")
    if args.max_queue < 0:
        raise UsageError(f"--max-queue must be >= 0, got {args.max_queue}")
    import logging

    from mattepaint.server import serve
    from mattepaint.server.services import ServerLimits

    logging.basicConfig(level=logging.INFO, format="mattepaint: %(message)s")
    # gradio leaves a few never-used event loops behind while building the page: harmless noise
    warnings.filterwarnings("ignore", "unclosed event loop", ResourceWarning)
    limits = ServerLimits(
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_pixels=args.max_pixels,
        max_concurrent=args.max_concurrent,
        max_queue=args.max_queue,
    )
    serve(
        host=args.host,
        port=args.port,
        checkpoints=args.checkpoint,
        models_dir=args.models_dir,
        limits=limits,
        ui=not args.no_ui,
        device=args.device,
        segmenters=args.segmenter,
        check_with=args.check_with,
    )
    return 0
