"""Print every logged training loss term of a few tiny runs at full precision.

A before/after check for refactors of the training objective (issue 14 item 1): run it against
two checkouts and diff the outputs; the losses of the first steps must be bit-identical.

    git worktree add ../before REV    # the commit before the refactor
    PYTHONPATH=../before/src OMP_NUM_THREADS=1 python benchmarks/objective_identity.py > a.txt
    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/objective_identity.py > b.txt
    diff a.txt b.txt

Each case trains 3 generator steps on CPU (``log_every: 1``, so every logged value is one
update's value, printed with ``float.hex``) on procedural data written to a temporary folder
(random-texture PNGs, procedural matting foregrounds; nothing from ``../shared``), then prints
a checksum of the final generator (and critic) weights (kept from ``loop.build_model``, so no
checkpoint format is read). The cases cover every objective path of
the loop: a non-saturating GAN (GLCIC, global + local critic), hinge + feature matching with a
4-channel PatchGAN and gradient clipping, WGAN-GP with the penalty on the hole + feature matching
(n_critic 2), a two-stage model with VGG perceptual/style terms (random VGG weights), and two
matting models (background-aware U-Net, trimap U-Net).
"""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

import mattepaint
from mattepaint.train import loop
from mattepaint.train.config import config_from_dict, load_config, packaged_configs
from mattepaint.train.logger import read_metrics
from mattepaint.train.loop import train

# the training tests' helpers: procedural images, random VGG weights, a log-every-step run section
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "train"))
from _scripts import LOG_EVERY_STEP, make_images, random_vgg_file

STEPS = 3


def packaged(name: str, images: Path, out: Path, **changes: Any) -> dict[str, Any]:
    """A packaged config made tiny: procedural images, 32 px, batch 2, 3 steps, no files but
    the logs; ``changes`` (section -> dict) update it."""
    from mattepaint.train.config import config_to_dict

    config = config_to_dict(load_config(packaged_configs()[name]))
    config["data"].update(
        {
            "train_dirs": [str(images)],
            "val_dirs": [],
            "val_fraction": 0.0,
            "image_size": 32,
            "batch_size": 2,
            "num_workers": 0,
        }
    )
    config["run"].update(
        {
            **LOG_EVERY_STEP,
            "out_dir": str(out),
            "max_steps": STEPS,
            "best_metric": config["run"]["best_metric"],
        }
    )
    for section, values in changes.items():
        if values is None:
            config[section] = None
        else:
            config[section] = {**(config.get(section) or {}), **values}
    return config


def cases(root: Path) -> dict[str, dict[str, Any]]:
    """name -> config dict of every case."""
    images = make_images(root / "images", n=12)
    vgg = random_vgg_file(root)
    procedural = {
        "foregrounds": [{"kind": "procedural", "count": 6, "size": 32}],
        "trimap_width": [1, 4],
    }

    def glcic(out: str, mode: str, **changes: Any) -> dict[str, Any]:
        """The small GLCIC config at base 4, its global + local critic's branches in ``mode``."""
        return packaged(
            "seed002_glcic_small",
            images,
            root / out,
            model={"params": {"base": 4}},
            discriminator={"params": {"base": 4, "local_size": 16, "mode": mode}},
            data={"mask_params": {"size": 16}},
            **changes,
        )

    return {
        "glcic_nsgan": glcic("glcic", "concat", loss={"weights": {"hole_mse": 1.0, "adv": 0.01}}),
        "gated_unet_hinge_fm": packaged(
            "gated_unet_irregular_small",
            images,
            root / "gated",
            model={"params": {"base": 4}},
            discriminator={
                "params": {"in_channels": 4, "base": 4, "n_layers": 2, "spectral_norm": True}
            },
            loss={
                "weights": {"hole_l1": 1.0, "valid_l1": 1.0, "adv": 0.01, "feature_matching": 2.0}
            },
            optim={"grad_clip": 0.5},
        ),
        "wgan_gp_hole_fm": glcic(
            "wgan",
            "separate",
            loss={
                "weights": {"l1": 1.0, "adv": 0.01, "feature_matching": 1.0},
                "gan": "wgan_gp",
                "gp_region": "hole",
            },
            optim={"n_critic": 2},
        ),
        "deepfill_perceptual": packaged(
            "seed002_deepfill_hole_small",
            images,
            root / "deepfill",
            model={"params": {"base": 4}},
            discriminator=None,
            data={"mask_params": {"size": 16}},
            loss={
                "weights": {
                    "discounted_l1": 1.2,
                    "coarse_discounted_l1": 1.44,
                    "tv": 0.1,
                    "perceptual": 0.05,
                    "style_out": 120.0,
                    "style_comp": 120.0,
                },
                "gan": "none",
                "params": {"vgg_weights": str(vgg)},
            },
        ),
        "unet_matte": packaged(
            "seed000_unet_matte_small",
            images,
            root / "unet_matte",
            model={"params": {"base": 4, "depth": 2, "background": "gray"}},
            data={"params": procedural},
            loss={
                "weights": {"alpha": 1.0, "composition": 1.0, "laplacian": 0.5, "gradient": 0.25}
            },
        ),
        "trimap_matte": packaged(
            "trimap_matte_small",
            images,
            root / "trimap_matte",
            model={"params": {"base": 4, "depth": 2}},
            data={"params": procedural},
        ),
    }


def checksum(state: dict[str, torch.Tensor]) -> str:
    """float.hex of the float64 sum of |w| over every floating tensor of a state dict."""
    total = sum(float(v.double().abs().sum()) for v in state.values() if v.is_floating_point())
    return float(total).hex()


def train_keeping_networks(data: dict[str, Any]) -> tuple[Path, list[torch.nn.Module]]:
    """train() the config dict ``data``; return the run folder and the networks it built
    (generator, then critic), kept from ``loop.build_model``: no checkpoint format is read."""
    built: list[torch.nn.Module] = []
    build = loop.build_model

    def build_and_keep(model_name: str, **params: Any) -> torch.nn.Module:
        built.append(build(model_name, **params))
        return built[-1]

    loop.build_model = build_and_keep
    try:
        return train(config_from_dict(copy.deepcopy(data))), built
    finally:
        loop.build_model = build


def main() -> int:
    torch.set_num_threads(1)
    print(f"# mattepaint from {Path(mattepaint.__file__).parent}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in cases(Path(tmp)).items():
            run_dir, built = train_keeping_networks(data)
            for row in read_metrics(run_dir / "metrics.jsonl"):
                values = {
                    k: v
                    for k, v in row.items()
                    if k.startswith("train/") and k != "train/images_per_s"
                }
                shown = " ".join(f"{k}={float(v).hex()}" for k, v in sorted(values.items()))
                print(f"{name} step {row['step']}: {shown}")
            disc = checksum(built[1].state_dict()) if len(built) > 1 else "-"
            print(f"{name} weights: G {checksum(built[0].state_dict())} D {disc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
