"""Learning-rate schedules: constant, step decay (seed 004: x0.1 every 10 epochs), cosine with
linear warm-up; the torch scheduler built on them, for one update a step and for n_critic."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from mattepaint.train.config import ConfigError, ScheduleConfig
from mattepaint.train.schedule import build_scheduler, lr_factor


def _optimizer(lr: float = 0.2) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def test_constant_is_one_everywhere() -> None:
    config = ScheduleConfig(name="constant")
    values = {lr_factor(s, config, steps_per_epoch=3, total_steps=10) for s in range(0, 50, 7)}
    assert values == {1.0}


def test_step_decay_times_0_1_every_10_epochs() -> None:
    # seed 004: "Learning rate multiplied by 0.1 every 10 epochs"; 3 steps an epoch, so the
    # lr drops after step 29 (end of epoch 9) and after step 59
    config = ScheduleConfig(name="step", step_epochs=10, gamma=0.1)
    factor = [lr_factor(s, config, steps_per_epoch=3, total_steps=0) for s in range(91)]
    assert factor[0] == factor[29] == 1.0
    assert factor[30] == pytest.approx(0.1) and factor[59] == pytest.approx(0.1)
    assert factor[60] == pytest.approx(0.01) and factor[90] == pytest.approx(0.001)


def test_step_decay_with_fractional_steps_per_epoch() -> None:
    # a GAN run consuming n_critic + 1 batches a step: 12 batches / 3 = 4 steps an epoch;
    # 10 batches / 3 = 3.33 steps an epoch: epoch 1 starts at step 4 (3.33 rounded up)
    config = ScheduleConfig(name="step", step_epochs=1, gamma=0.5)
    assert lr_factor(3, config, steps_per_epoch=10 / 3, total_steps=0) == 1.0
    assert lr_factor(4, config, steps_per_epoch=10 / 3, total_steps=0) == 0.5


def test_cosine_with_warmup_golden_values() -> None:
    # warm-up (s + 1) / 4 for s < 4, then 0.1 + 0.9 * (1 + cos(pi * (s - 4) / 10)) / 2:
    #   >>> [round(0.1 + 0.9 * (1 + math.cos(math.pi * (s - 4) / 10)) / 2, 6) for s in (4, 9, 14)]
    #   [1.0, 0.55, 0.1]
    config = ScheduleConfig(name="cosine", warmup_steps=4, min_lr_ratio=0.1)
    values = [lr_factor(s, config, steps_per_epoch=1, total_steps=14) for s in range(20)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert values[4] == pytest.approx(1.0)
    assert values[9] == pytest.approx(0.55)
    assert values[14] == pytest.approx(0.1) and values[19] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(values[4:]))  # decreasing after warm-up


def test_cosine_without_warmup_starts_at_full_lr() -> None:
    config = ScheduleConfig(name="cosine")
    assert lr_factor(0, config, steps_per_epoch=1, total_steps=8) == 1.0
    assert lr_factor(4, config, steps_per_epoch=1, total_steps=8) == pytest.approx(0.5)
    assert lr_factor(8, config, steps_per_epoch=1, total_steps=8) == pytest.approx(0.0, abs=1e-12)


def test_build_scheduler_follows_lr_factor() -> None:
    config = ScheduleConfig(name="cosine", warmup_steps=2, min_lr_ratio=0.0)
    optimizer = _optimizer(0.2)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch=5, total_steps=10)
    seen = []
    for _ in range(10):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.2 * lr_factor(s, config, steps_per_epoch=5, total_steps=10) for s in range(10)]
    assert seen == pytest.approx(expected)
    assert seen[0] == pytest.approx(0.1)  # warm-up: (0 + 1) / 2


def test_discriminator_scheduler_reads_the_step_of_each_update() -> None:
    # n_critic = 5 updates a step: after 10 updates the factor is that of step 2
    config = ScheduleConfig(name="step", step_epochs=1, gamma=0.1)
    optimizer = _optimizer(1.0)
    scheduler = build_scheduler(
        optimizer, config, steps_per_epoch=2, total_steps=0, updates_per_step=5
    )
    lrs = []
    for _ in range(20):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:10] == [1.0] * 10  # steps 0, 1: epoch 0
    assert lrs[10:20] == pytest.approx([0.1] * 10)  # steps 2, 3: epoch 1


def test_scheduler_state_round_trips() -> None:
    config = ScheduleConfig(name="cosine", warmup_steps=3)
    opt_a = _optimizer()
    sched_a = build_scheduler(opt_a, config, steps_per_epoch=1, total_steps=20)
    for _ in range(7):
        opt_a.step()
        sched_a.step()
    opt_b = _optimizer()
    sched_b = build_scheduler(opt_b, config, steps_per_epoch=1, total_steps=20)
    opt_b.load_state_dict(opt_a.state_dict())
    sched_b.load_state_dict(sched_a.state_dict())
    for _ in range(5):
        for optimizer, scheduler in ((opt_a, sched_a), (opt_b, sched_b)):
            optimizer.step()
            scheduler.step()
        assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"]


@pytest.mark.parametrize(
    ("config", "kwargs", "match"),
    [
        (ScheduleConfig(name="step", step_epochs=0), {}, "step_epochs must be >= 1"),
        (ScheduleConfig(name="step", gamma=0.0), {}, r"gamma must be in \(0, 1\]"),
        (ScheduleConfig(name="cosine"), {"total_steps": 0}, "needs total_steps > 0"),
        (ScheduleConfig(name="cosine", min_lr_ratio=2.0), {}, r"min_lr_ratio must be in \[0, 1\]"),
        (ScheduleConfig(name="cosine", warmup_steps=-1), {}, "warmup_steps must be >= 0"),
    ],
)
def test_bad_schedules_raise(config: ScheduleConfig, kwargs: dict, match: str) -> None:
    arguments = {"steps_per_epoch": 4, "total_steps": 10, **kwargs}
    with pytest.raises(ConfigError, match=match):
        build_scheduler(_optimizer(), config, **arguments)


def test_factor_is_finite_and_positive_during_warmup() -> None:
    config = ScheduleConfig(name="cosine", warmup_steps=100)
    assert all(0 < lr_factor(s, config, steps_per_epoch=1, total_steps=200) <= 1 and
               math.isfinite(lr_factor(s, config, steps_per_epoch=1, total_steps=200))
               for s in range(100))
