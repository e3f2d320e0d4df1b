"""A training run that stops at start-up leaves no run folder behind (issue 13, item 3).

Each failure goes through ``mattepaint train`` (in-process ``cli.main``): a non-zero exit
status, one ``mattepaint: error:`` line naming the problem, no run folder, and the same command
with the mistake fixed then trains (it is not refused as "already holds a training run").
Library-level cases: a failure or an interrupt in the first step, a run folder that already
held other files, and a failure after the first step (the folder is kept, and the next attempt
is told how to go on).
"""

from __future__ import annotations

import re
from pathlib import Path

import _scripts as helpers  # tests/train/_scripts.py, on sys.path by tests/conftest.py
import pytest
import yaml

from mattepaint.cli import main
from mattepaint.train import tasks
from mattepaint.train.config import config_from_dict
from mattepaint.train.loop import TrainingError, train

RUN = Path("runs") / "exp"  # run.out_dir, relative to the test's working folder


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with six 32x32 texture images in images/; the cwd during the test."""
    helpers.make_images(tmp_path / "images", n=6, size=32)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _config(**changes: dict) -> dict:
    """A config dict for one tiny training step into runs/exp; ``changes`` update sections."""
    config = {
        "model": {"name": "unet_inpaint", "params": {"base": 4, "depth": 2, "norm": "none"}},
        "data": {
            "train_dirs": ["images"],
            "image_size": 32,
            "batch_size": 2,
            "val_fraction": 0.0,
            "mask": "rectangles",
        },
        "loss": {"weights": {"l1": 1.0}},
        "run": {
            "out_dir": str(RUN),
            "max_steps": 1,
            "epochs": 0,
            "ckpt_every": 0,
            "tensorboard": False,
            "progress": False,
        },
    }
    for section, values in changes.items():
        config[section] = {**config[section], **values}
    return config


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit status, stderr) of ``mattepaint ARGV``."""
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


def _assert_trained(run_dir: Path) -> None:
    assert (run_dir / "config.yaml").is_file() and (run_dir / "metrics.jsonl").is_file()
    assert any((run_dir / "checkpoints").iterdir())  # the final checkpoint


# (what goes wrong, argv after "train" given the good config's path, expected message)
FAILURES = [
    (
        "missing data folder",
        ["--set", "data.train_dirs=[no_such_folder]"],
        r"image folder not found: no_such_folder",
    ),
    (
        "unknown model parameter",
        ["--set", "model.params.bogus=1"],
        r"bad params for model 'unet_inpaint'.*bogus",
    ),
    (
        "bad model parameter value",
        ["--set", "model.params.base=-2"],
        r"bad params for model 'unet_inpaint'.*base must be >= 1",
    ),
    ("negative learning rate", ["--set", "optim.lr=-1"], r"optim\.lr must be > 0, got -1"),
    (
        "term the model cannot give (fails in the first step)",
        ["--set", "loss.weights.coarse_l1=1"],
        r"coarse_\* terms need a two-stage model",
    ),
]


@pytest.mark.parametrize(("what", "extra", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_failed_start_leaves_no_folder_and_a_retry_trains(
    workdir: Path, capsys: pytest.CaptureFixture[str], what: str, extra: list[str], message: str
) -> None:
    config = _write(workdir / "exp.yaml", _config())
    code, err = _cli(["train", str(config), *extra], capsys)
    assert code != 0, what
    assert err.count("\n") == 1 and err.startswith("mattepaint: error: "), err
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert not (workdir / RUN).exists() and not (workdir / "runs").exists()
    # the same command without the mistake trains into the same folder at once
    code, err = _cli(["train", str(config)], capsys)
    assert code == 0, err
    _assert_trained(workdir / RUN)


def test_empty_yaml_then_a_real_config(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # an empty file is the default config: run.out_dir runs/run, and no data folder
    empty = workdir / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    code, err = _cli(["train", str(empty)], capsys)
    assert code != 0 and err.count("\n") == 1, err
    assert "data.train_dirs" in err and "Traceback" not in err
    assert not (workdir / "runs").exists()
    fixed = _write(empty, _config(run={"out_dir": "runs/run"}))
    code, err = _cli(["train", str(fixed)], capsys)
    assert code == 0, err
    _assert_trained(workdir / "runs" / "run")


def test_binary_config_names_the_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = workdir / "weights.pt"
    binary.write_bytes(bytes(range(256)) * 8)
    code, err = _cli(["train", str(binary)], capsys)
    assert code != 0 and err.count("\n") == 1, err
    assert "weights.pt: not a YAML config" in err and "Traceback" not in err
    assert not (workdir / "runs").exists()
    code, err = _cli(["train", str(_write(workdir / "exp.yaml", _config()))], capsys)
    assert code == 0, err


def test_interrupt_in_the_first_step_leaves_no_folder(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: object, outputs: dict, batch: dict, critic: object = None) -> dict:
        assert (workdir / RUN / "config.yaml").is_file()  # the folder existed by then
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(tasks.InpaintingTask, "generator_loss", interrupted)
        with pytest.raises(KeyboardInterrupt):
            train(config_from_dict(_config()))
    assert not (workdir / "runs").exists()
    _assert_trained(train(config_from_dict(_config())))


def test_existing_folder_keeps_its_own_files(workdir: Path) -> None:
    run_dir = workdir / RUN
    run_dir.mkdir(parents=True)
    (run_dir / "notes.txt").write_text("mine", encoding="utf-8")
    bad = _config(loss={"weights": {"l1": 1.0, "coarse_l1": 1.0}})
    with pytest.raises(ValueError, match="two-stage model"):
        train(config_from_dict(bad))
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]
    assert (run_dir / "notes.txt").read_text(encoding="utf-8") == "mine"
    _assert_trained(train(config_from_dict(_config())))


def test_a_run_that_started_keeps_its_folder_and_says_how_to_go_on(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_from_dict(_config(run={"max_steps": 5, "max_nonfinite": 1}))
    with monkeypatch.context() as patch:
        helpers.nan_total_on_calls(patch, from_call=2)
        with pytest.raises(TrainingError, match="1 non-finite generator updates in a row"):
            train(config)
    run_dir = workdir / RUN
    assert (run_dir / "config.yaml").is_file()  # a real run (one step done): its logs stay
    with pytest.raises(FileExistsError, match="wrote no checkpoint to resume from: delete"):
        train(config)
