"""MattingTask: config checks, loss terms, validation metrics, sample rows, a tiny end-to-end
matting run through train() (checkpoint loads with load_matter, appears in the server catalog,
CLI round trip) and a two-stage late-fusion run with model.init_from."""

from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mattepaint.io import save_image
from mattepaint.losses import matting as L
from mattepaint.methods import MatteResult
from mattepaint.models.loading import load_matter
from mattepaint.models.matter import ModelMatter
from mattepaint.models.registry import build_model
from mattepaint.train.config import ConfigError, config_from_dict
from mattepaint.train.logger import read_metrics
from mattepaint.train.loop import train
from mattepaint.train.tasks import MATTING_TERMS, TASKS, MattingTask, build_task


@pytest.fixture(scope="module")
def backgrounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 48x48 random-texture background PNGs."""
    folder = tmp_path_factory.mktemp("backgrounds")
    rng = np.random.default_rng(0)
    for i in range(8):
        blocks = rng.random((6, 6, 3))
        image = np.kron(blocks, np.ones((8, 8, 1))) * 0.7 + 0.3 * rng.random((48, 48, 3))
        save_image(folder / f"bg_{i}.png", image.astype(np.float32))
    return folder


def _config_dict(backgrounds: Path, out_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model": {"name": "unet_matte", "params": {"base": 4, "depth": 2}},
        "data": {
            "task": "matting", "train_dirs": [str(backgrounds)], "image_size": 32,
            "batch_size": 2, "val_fraction": 0.25, "max_val_images": 3,
            "params": {"foregrounds": [{"kind": "procedural", "count": 8, "size": 32}],
                       "trimap_width": [1, 4]},
        },
        "loss": {"weights": {"alpha": 1.0, "composition": 1.0}},
        "optim": {"lr": 1e-3},
        "run": {"out_dir": str(out_dir), "max_steps": 3, "epochs": 0, "log_every": 1,
                "val_every": 3, "sample_every": 3, "ckpt_every": 0, "tensorboard": False,
                "progress": False, "best_metric": "val/iou", "best_mode": "max"},
    }
    for name, values in sections.items():
        config[name].update(values)
    return config


def _config(backgrounds: Path, out_dir: Path, **sections: dict[str, Any]):
    return config_from_dict(_config_dict(backgrounds, out_dir, **sections))


def _batch(task: MattingTask, n: int = 2) -> dict[str, Any]:
    train_set, _ = task.datasets()
    train_set.set_epoch(0)
    items = [train_set[i] for i in range(n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0] if k != "index"}


# ----------------------------------------------------------------------------- config checks


def test_registered_and_built(backgrounds: Path, tmp_path: Path) -> None:
    config = _config(backgrounds, tmp_path / "run")
    assert TASKS["matting"] is MattingTask
    assert isinstance(build_task(config), MattingTask)


def test_unknown_loss_term_lists_valid_names(backgrounds: Path, tmp_path: Path) -> None:
    config = _config(backgrounds, tmp_path / "run", loss={"weights": {"alpha": 1.0, "l1": 1.0}})
    with pytest.raises(ConfigError, match="unknown term 'l1'.*alpha, composition, laplacian"):
        MattingTask(config)


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("loss", {"weights": {"alpha": -1.0}}, "must be >= 0"),
        ("loss", {"weights": {"alpha": 0.0}}, "at least one term"),
        ("loss", {"params": {"eps": 1.0}}, "unknown key 'eps'.*charbonnier_eps"),
        ("data", {"params": {"foreground": []}}, "unknown key 'foreground'"),
    ],
)
def test_config_errors(backgrounds: Path, tmp_path: Path, section: str, values: dict,
                       message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MattingTask(_config(backgrounds, tmp_path / "run", **{section: values}))


@pytest.mark.parametrize(
    ("foregrounds", "message"),
    [
        ([], "list at least one source"),
        ([{"kind": "png", "path": "x"}], "kind one of rgba, dim, procedural"),
        ([{"kind": "procedural", "count": 0}], "count >= 1"),
        ([{"kind": "rgba"}], "needs a 'path'"),
        ([{"kind": "procedural", "count": 2, "colour": 1}], "unknown key 'colour'"),
        ([{"kind": "procedural", "count": 2, "repeat": 0}], "repeat must be an int >= 1"),
        ([{"kind": "procedural", "count": 2, "validate": "no"}], "validate must be true or false"),
    ],
)
def test_bad_foreground_sources(backgrounds: Path, tmp_path: Path, foregrounds: list,
                                message: str) -> None:
    task = MattingTask(_config(backgrounds, tmp_path / "run",
                               data={"params": {"foregrounds": foregrounds}}))
    with pytest.raises(ConfigError, match=message):
        task.datasets()


# ----------------------------------------------------------------------------- data


def test_datasets_hold_out_foregrounds_and_backgrounds(backgrounds: Path, tmp_path: Path) -> None:
    task = MattingTask(_config(backgrounds, tmp_path / "run", data={"max_val_images": 0}))
    train_set, val_set = task.datasets()
    # 8 procedural items, val_fraction 0.25 -> 2 held out; 8 backgrounds -> 2 held out
    assert len(train_set) == 6 and len(val_set) == 2
    assert len(train_set.backgrounds) == 6 and len(val_set.backgrounds) == 2
    assert not set(train_set.backgrounds) & set(val_set.backgrounds)
    train_items = set(train_set.sources[0].indices)
    val_items = set(val_set.sources[0].indices)
    assert not train_items & val_items and len(train_items | val_items) == 8
    sample = val_set[0]
    assert sample["comp"].shape == (3, 32, 32) and sample["trimap"].shape == (1, 32, 32)
    # val_dirs: all training backgrounds kept; max_val_images caps the composites
    task = MattingTask(_config(backgrounds, tmp_path / "run",
                               data={"val_dirs": [str(backgrounds)], "max_val_images": 1}))
    train_set, val_set = task.datasets()
    assert len(train_set.backgrounds) == 8 and len(val_set) == 1
    # no val_fraction: no validation set
    task = MattingTask(_config(backgrounds, tmp_path / "run", data={"val_fraction": 0.0}))
    assert task.datasets()[1] is None


def test_foreground_sources_repeat_and_validate(backgrounds: Path, tmp_path: Path) -> None:
    sources = [{"kind": "procedural", "count": 8, "size": 32, "repeat": 3},
               {"kind": "procedural", "count": 4, "size": 32, "seed": 5, "validate": False}]
    task = MattingTask(_config(backgrounds, tmp_path / "run",
                               data={"max_val_images": 0, "params": {"foregrounds": sources}}))
    train_set, val_set = task.datasets()
    repeated, whole = train_set.sources
    # the first source: 2 of 8 held out, the 6 others listed 3 times (a held-out item has no
    # twin in training); the second: every item in training, none in validation
    assert len(repeated) == 18 and len(set(repeated.indices)) == 6
    assert not set(repeated.indices) & set(val_set.sources[0].indices)
    assert len(whole) == 4 and len(val_set.sources) == 1
    assert len(train_set) == 22 and len(val_set) == 2


# ----------------------------------------------------------------------------- losses


class _LateFusionStub(torch.nn.Module):
    """Outputs like late_fusion, from a single learnable logit map."""

    needs = "nothing"
    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.logit = torch.nn.Parameter(torch.zeros(1, 1, 32, 32))

    def forward(self, image, *, background=None, trimap=None):
        prob = torch.sigmoid(self.logit + image.mean(1, keepdim=True))
        return {"alpha": prob, "fg_prob": [prob, prob * 0.9], "bg_prob": [1 - prob],
                "beta": torch.ones_like(prob)}


def test_losses_every_term_matches_the_loss_functions(backgrounds: Path, tmp_path: Path) -> None:
    weights = {name: float(i + 1) for i, name in enumerate(MATTING_TERMS)}
    task = MattingTask(_config(backgrounds, tmp_path / "run", loss={"weights": weights}))
    batch = _batch(task)
    model = _LateFusionStub()
    outputs = task.forward(model, batch)
    terms = task.generator_loss(outputs, batch)
    assert set(terms) == set(MATTING_TERMS) | {"total"}
    a, alpha = outputs["alpha"], batch["alpha"]
    expected = {
        "alpha": L.charbonnier(a, alpha),
        "composition": L.composition_loss(a, alpha, batch["fg"], batch["bg"]),
        "laplacian": L.laplacian_loss(a, alpha),
        "gradient": L.gradient_l1(a, alpha),
        "lf_fg": L.lf_branch_loss(outputs["fg_prob"], alpha),
        "lf_bg": L.lf_branch_loss(outputs["bg_prob"], 1 - alpha),
        "lf_fusion": L.fusion_loss(a, alpha),
    }
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value.item()), name
    total = sum(weights[n] * expected[n].item() for n in MATTING_TERMS)
    assert terms["total"].item() == pytest.approx(total)
    terms["total"].backward()
    assert model.logit.grad is not None and model.logit.grad.abs().sum() > 0


def test_fix_known_scores_the_unknown_region_only(backgrounds: Path, tmp_path: Path) -> None:
    weights = {"alpha": 1.0, "composition": 1.0, "laplacian": 1.0, "gradient": 1.0}
    plain = MattingTask(_config(backgrounds, tmp_path / "a", loss={"weights": weights}))
    fixed = MattingTask(_config(backgrounds, tmp_path / "b", loss={
        "weights": weights, "params": {"fix_known": True}}))
    batch = _batch(plain)
    trimap, alpha = batch["trimap"], batch["alpha"]
    unknown = trimap == 0.5
    assert unknown.any() and (~unknown).any()
    # wrong on the known pixels only: no loss with fix_known, some without
    pred = torch.where(unknown, alpha, 1 - trimap).requires_grad_(True)
    assert fixed.generator_loss({"alpha": pred}, batch)["total"].item() < 5e-3  # Charbonnier eps
    assert plain.generator_loss({"alpha": pred}, batch)["total"].item() > 0.05
    # wrong in the unknown region: both see it, and the gradient reaches the unknown pixels only
    pred = torch.where(unknown, 1 - alpha, trimap).detach().requires_grad_(True)
    total = fixed.generator_loss({"alpha": pred}, batch)["total"]
    assert total.item() > 0.01
    total.backward()
    assert pred.grad[~unknown].abs().max() == 0 and pred.grad[unknown].abs().max() > 0


def test_late_fusion_terms_need_a_late_fusion_model(backgrounds: Path, tmp_path: Path) -> None:
    task = MattingTask(_config(backgrounds, tmp_path / "run", loss={"weights": {"lf_fg": 1.0}}))
    batch = _batch(task)
    outputs = task.forward(build_model("unet_matte", base=4, depth=2), batch)
    with pytest.raises(ConfigError, match="late-fusion model"):
        task.generator_loss(outputs, batch)


def test_forward_feeds_what_the_model_needs(backgrounds: Path, tmp_path: Path) -> None:
    task = MattingTask(_config(backgrounds, tmp_path / "run"))
    batch = _batch(task)
    seen = {}

    class Spy(torch.nn.Module):
        size_multiple = 1

        def __init__(self, needs: str) -> None:
            super().__init__()
            self.needs = needs

        def forward(self, image, *, background=None, trimap=None):
            seen[self.needs] = (background is not None, trimap is not None)
            return {"alpha": image[:, :1]}

    for needs in ("background", "trimap", "nothing"):
        task.forward(Spy(needs), batch)
    assert seen == {"background": (True, False), "trimap": (False, True),
                    "nothing": (False, False)}


# ----------------------------------------------------------------------------- validation


class _Oracle(torch.nn.Module):
    """Predicts a fixed alpha (set per batch by the test)."""

    size_multiple = 1

    def __init__(self, needs: str) -> None:
        super().__init__()
        self.needs = needs
        self.alpha: torch.Tensor | None = None

    def forward(self, image, *, background=None, trimap=None):
        return {"alpha": self.alpha}


def test_validate_regions_and_values(backgrounds: Path, tmp_path: Path) -> None:
    from mattepaint.metrics import matting as M

    task = MattingTask(_config(backgrounds, tmp_path / "run"))
    batch = _batch(task)
    gt = batch["alpha"]
    # a perfect prediction: sad = mse = grad = 0, iou = 1
    model = _Oracle("background")
    model.alpha = gt.clone()
    values = task.validate(model, [batch], contextlib.nullcontext)
    assert values == pytest.approx({"sad": 0.0, "mse": 0.0, "grad": 0.0, "iou": 1.0})
    # alpha 0.5 everywhere: whole image for background models ...
    model.alpha = torch.full_like(gt, 0.5)
    values = task.validate(model, [batch], contextlib.nullcontext)
    g = gt[:, 0].double().numpy()
    expected_sad = np.mean([M.sad(np.full_like(x, 0.5), x, region="all") for x in g])
    assert values["sad"] == pytest.approx(expected_sad)
    assert values["iou"] == pytest.approx(0.0)  # 0.5 is not > 0.5
    # ... the unknown region for trimap models, after fixing the known regions
    trimap_model = _Oracle("trimap")
    trimap_model.alpha = torch.full_like(gt, 0.5)
    values = task.validate(trimap_model, [batch], contextlib.nullcontext)
    t = batch["trimap"][:, 0].numpy()
    expected_sad = np.mean([M.sad(np.full_like(x, 0.5), x, tt) for x, tt in zip(g, t)])
    fixed = [np.where(tt == 0, 0.0, np.where(tt == 1, 1.0, 0.5)) for tt in t]
    expected_iou = np.mean([M.alpha_iou(f, x) for f, x in zip(fixed, g)])
    assert values["sad"] == pytest.approx(expected_sad)
    assert values["iou"] == pytest.approx(expected_iou)
    assert model.training  # left in training mode


def test_sample_rows_are_three_channel(backgrounds: Path, tmp_path: Path) -> None:
    task = MattingTask(_config(backgrounds, tmp_path / "run"))
    batch = _batch(task)
    model = _Oracle("trimap")
    model.alpha = batch["alpha"]
    rows = task.sample_rows(model, task.forward(model, batch), batch, n=4)
    assert len(rows) == 2 and all(len(r) == 4 for r in rows)
    assert all(image.shape == (3, 32, 32) for row in rows for image in row)
    assert torch.equal(rows[0][1][0], batch["trimap"][0, 0])  # trimap column for trimap models
    # a trimap model's alpha is shown with the known regions fixed (as validated and used)
    wrong = {"alpha": 1 - batch["alpha"]}
    shown = task.sample_rows(model, wrong, batch)[0][2][0]
    known = (batch["trimap"][0, 0] - 0.5).abs() > 0.25
    assert torch.equal(shown[known], batch["trimap"][0, 0][known])
    assert torch.equal(shown[~known], 1 - batch["alpha"][0, 0][~known])
    model.needs = "background"
    rows = task.sample_rows(model, task.forward(model, batch), batch)
    assert torch.equal(rows[0][1], batch["bg"][0])
    # the column follows the model passed, not the last forward (no per-batch state)
    model.needs = "trimap"
    rows = task.sample_rows(_Oracle("background"), task.forward(model, batch), batch)
    assert torch.equal(rows[0][1], batch["bg"][0])
    assert not hasattr(task, "_guide") and not hasattr(task, "critic_inputs")


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def matting_run(backgrounds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "unet"
    config = _config(backgrounds, out, loss={"weights": {"alpha": 1.0, "composition": 0.5,
                                                         "laplacian": 0.1, "gradient": 0.1}})
    return train(config)


def test_end_to_end_run_writes_val_metrics_and_a_loadable_checkpoint(matting_run: Path) -> None:
    rows = read_metrics(matting_run / "metrics.jsonl")
    val = [r for r in rows if "val/iou" in r]
    assert val and 0.0 <= val[-1]["val/iou"] <= 1.0
    assert all(math.isfinite(val[-1][f"val/{m}"]) for m in ("sad", "mse", "grad"))
    train_rows = [r for r in rows if "train/total" in r]
    assert {"train/alpha", "train/composition", "train/laplacian", "train/gradient"} <= set(
        train_rows[0]
    )
    assert (matting_run / "samples" / "step_0000003.png").is_file()
    ckpt = torch.load(matting_run / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["task"] == "matting"
    matter = load_matter(matting_run / "checkpoints" / "last.pt")
    assert isinstance(matter, ModelMatter) and matter.needs == "background"
    assert matter.name == "checkpoint:last.pt"
    image, bg = torch.rand(1, 3, 21, 30), torch.rand(1, 3, 21, 30)
    result = matter(image, background=bg)
    assert isinstance(result, MatteResult)
    assert result.alpha.shape == (1, 1, 21, 30) and result.foreground is None
    assert 0 <= result.alpha.min() and result.alpha.max() <= 1


def test_matting_checkpoint_appears_in_the_server_catalog(matting_run: Path) -> None:
    from mattepaint.server.catalog import MethodCatalog

    catalog = MethodCatalog([matting_run / "checkpoints" / "last.pt"])
    assert "checkpoint:last.pt" in catalog.matting_methods()
    assert "checkpoint:last.pt" not in catalog.inpainting_methods()
    assert catalog.needs("checkpoint:last.pt") == "background"


def test_cli_matte_checkpoint_round_trip(matting_run: Path, tmp_path: Path) -> None:
    from mattepaint.cli import main
    from mattepaint.io import load_alpha, load_image, to_tensor

    rng = np.random.default_rng(1)
    inputs, plates = tmp_path / "in", tmp_path / "plates"
    for folder in (inputs, plates):
        folder.mkdir()
    for stem in ("a", "b"):
        save_image(inputs / f"{stem}.png", rng.random((20, 27, 3)).astype(np.float32))
        save_image(plates / f"{stem}.png", rng.random((20, 27, 3)).astype(np.float32))
    ckpt = matting_run / "checkpoints" / "last.pt"
    # single image
    out = tmp_path / "alpha.png"
    assert main(["matte", str(inputs / "a.png"), "--background", str(plates / "a.png"),
                 "--checkpoint", str(ckpt), "-o", str(out)]) == 0
    alpha = load_alpha(out)
    assert alpha.shape == (20, 27)
    expected = load_matter(ckpt)(
        to_tensor(load_image(inputs / "a.png")), background=to_tensor(load_image(plates / "a.png"))
    ).alpha[0, 0].numpy()
    assert np.abs(alpha - expected).max() <= 1 / 255 + 1e-6
    # batch
    assert main(["matte", "--input-dir", str(inputs), "--background-dir", str(plates),
                 "--checkpoint", str(ckpt), "--output-dir", str(tmp_path / "out"),
                 "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    # --method and --checkpoint together: a one-line usage error
    assert main(["matte", str(inputs / "a.png"), "--background", str(plates / "a.png"),
                 "--checkpoint", str(ckpt), "--method", "background_difference",
                 "-o", str(tmp_path / "x.png")]) != 0


def test_two_stage_late_fusion_with_init_from(backgrounds: Path, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    lf = {"name": "late_fusion", "params": {"base": 4, "depth": 2, "fusion_width": 4,
                                             "freeze": ["fusion"]}}
    stage1 = train(_config(
        backgrounds, tmp_path / "stage1", model=lf,
        loss={"weights": {"lf_fg": 1.0, "lf_bg": 1.0}},
        run={"max_steps": 2, "val_every": 0, "sample_every": 0},
    ))
    first = torch.load(stage1 / "checkpoints" / "last.pt", weights_only=False)["model_state"]
    lf2 = {"name": "late_fusion", "init_from": str(stage1 / "checkpoints" / "last.pt"),
           "params": {"base": 4, "depth": 2, "fusion_width": 4,
                      "freeze": ["encoder", "decoders"]}}
    with caplog.at_level(logging.INFO, logger="mattepaint.train"):
        stage2 = train(_config(
            backgrounds, tmp_path / "stage2", model=lf2,
            loss={"weights": {"lf_fusion": 1.0, "alpha": 0.5}},
            run={"max_steps": 2, "val_every": 0, "sample_every": 0},
        ))
    assert "model.init_from: loaded" in caplog.text
    second = torch.load(stage2 / "checkpoints" / "last.pt", weights_only=False)["model_state"]
    model = build_model("late_fusion", **lf2["params"])
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    trained = [n for n, p in model.named_parameters() if p.requires_grad]
    assert frozen and trained
    # frozen weights come from stage 1 unchanged; the fusion weights moved on from stage 1's
    assert all(torch.equal(first[n], second[n]) for n in frozen)
    assert any(not torch.equal(first[n], second[n]) for n in trained)
    assert isinstance(load_matter(stage2 / "checkpoints" / "last.pt"), ModelMatter)


def test_init_from_reports_keys_that_do_not_fit(matting_run: Path, backgrounds: Path,
                                                tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    # unet_matte "gray" (4 input channels) -> "rgb" (6): the first conv is skipped, the rest loads
    model = {"name": "unet_matte", "init_from": str(matting_run / "checkpoints" / "last.pt"),
             "params": {"base": 4, "depth": 2, "background": "rgb"}}
    with caplog.at_level(logging.INFO, logger="mattepaint.train"):
        train(_config(backgrounds, tmp_path / "rgb", model=model,
                      run={"max_steps": 1, "val_every": 0, "sample_every": 0}))
    assert "of another shape (skipped)" in caplog.text
    with pytest.raises(FileNotFoundError):
        train(_config(backgrounds, tmp_path / "missing",
                      model={**model, "init_from": str(tmp_path / "nope.pt")},
                      run={"max_steps": 1}))


def test_init_from_a_shipped_model_name() -> None:
    from mattepaint.models.checkpoint import shipped_model_names, shipped_model_path
    from mattepaint.train import checkpoint as ckpt_io
    from mattepaint.train.setup import init_from_checkpoint

    name = "late_fusion_effnet_cutout"
    if name not in shipped_model_names():
        pytest.skip(f"{name} is not in this install")
    shipped = ckpt_io.load_checkpoint(shipped_model_path(name))
    model = build_model("late_fusion", **shipped["config"]["model"]["params"])  # random weights
    init_from_checkpoint(model, name, is_main=False)  # the name, not a path
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in shipped["model_state"].items())


_FORK_SCRIPT = """
import sys
from pathlib import Path

import numpy as np

from mattepaint.io import save_image
from mattepaint.train.config import config_from_dict
from mattepaint.train.loop import train

root = Path(sys.argv[1])
rng = np.random.default_rng(0)
for i in range(4):
    save_image(root / "bg" / f"{i}.png", rng.random((48, 48, 3)).astype(np.float32))
small = {"encoder": "scratch", "width": 4, "full_width": 4, "refine_width": 4, "prior": "sm"}
train(config_from_dict({
    "model": {"name": "dim_matte", "params": small},
    "data": {"task": "matting", "train_dirs": [str(root / "bg")], "image_size": 32,
             "batch_size": 2, "num_workers": 1, "val_fraction": 0.25, "max_val_images": 2,
             "params": {"foregrounds": [{"kind": "procedural", "count": 8, "size": 32}],
                        "prior": "sm"}},
    "loss": {"weights": {"alpha": 1.0}},
    "run": {"out_dir": str(root / "run"), "max_steps": 8, "epochs": 0, "val_every": 2,
            "sample_every": 0, "ckpt_every": 0, "tensorboard": False, "progress": False,
            "best_metric": "val/sad", "best_mode": "min"},
}))
print("trained")
"""


def test_shared_matting_prior_trains_with_worker_processes(tmp_path: Path) -> None:
    """The validation priors (numba-parallel shared matting) run in the main process, then
    DataLoader workers fork at every epoch: numba's GNU OpenMP layer would abort them."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained" in done.stdout
