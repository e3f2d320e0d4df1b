"""``mattepaint train``: train a registered model from a YAML config, or resume a run
(:func:`mattepaint.train.loop.train`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mattepaint.cli.common import UsageError, add_command, positive_int, progress


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command and its flags."""
    p = add_command(
        commands,
        "train",
        run,
        help="train a registered model from a YAML config (or resume a run)",
        description=(
            "Train the model a config describes. CONFIG is a YAML file or the name of a packaged "
            "config (e.g. seed000_unet_inpaint_small). Outputs go to run.out_dir: config.yaml, "
            "metrics.csv/.jsonl, tb/ (TensorBoard), samples/, checkpoints/, curves.png. "
            "Several processes: torchrun --nproc_per_node N -m mattepaint train CONFIG."
        ),
    )
    p.add_argument("config", nargs="?", metavar="CONFIG", help="YAML config or packaged name")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=2e-4 (repeatable)",
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR exactly where its last checkpoint left off",
    )
    p.add_argument("--device", help="cpu or cuda (overrides run.device)")
    p.add_argument(
        "--max-steps",
        type=positive_int,
        help="stop after this many generator "
        "steps (overrides run.max_steps; extends a resumed run)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar (default: only when stderr is a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    """Load (or resume) a config and run the training loop; print the run folder."""
    from mattepaint.train.config import load_config, resolve_config_path
    from mattepaint.train.loop import TrainingError, train

    if args.resume is None and args.config is None:
        raise UsageError("give a CONFIG (a YAML file or a packaged config name) or --resume DIR")
    if args.resume is not None and (args.config is not None or args.set):
        raise UsageError(
            "--resume continues a run with the config stored in its checkpoint; do not give a "
            "CONFIG or --set with it (--max-steps may extend the run)"
        )
    import logging

    logging.basicConfig(level=logging.INFO, format="mattepaint: %(message)s")
    config = None
    if args.config is not None:
        overrides = list(args.set)
        if args.device is not None:
            overrides.append(f"run.device={args.device}")
        config = load_config(resolve_config_path(args.config), overrides)
    try:
        run_dir = train(
            config,
            resume=args.resume,
            device=args.device,
            max_steps=args.max_steps,
            progress=progress(args),
        )
    except TrainingError as exc:
        raise ValueError(str(exc)) from None
    if os.environ.get("RANK", "0") == "0":  # under torchrun, only rank 0 reports
        print(f"run folder: {run_dir}")
    return 0
