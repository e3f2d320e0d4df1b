"""Tests for mattepaint.checks: accepted values, returned types and the exact messages."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from mattepaint.checks import (
    check_choice,
    check_float,
    check_inpaint_model_inputs,
    check_int,
    check_int_at_least,
    check_positive_int,
    check_range,
    check_rng,
    check_shape,
    is_int,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, True), (np.int64(3), True), (np.uint8(0), True), (True, False), (np.bool_(True), False),
     (3.0, False), ("3", False), (None, False)],
)  # fmt: skip
def test_is_int(value: object, expected: bool) -> None:
    assert is_int(value) is expected


def test_check_int() -> None:
    out = check_int("seed", np.int32(4), minimum=0)
    assert out == 4 and type(out) is int
    assert check_int("offset", -7) == -7  # no bound
    with pytest.raises(TypeError, match=r"^seed must be an int, got float 1\.5$"):
        check_int("seed", 1.5, minimum=0)
    with pytest.raises(TypeError, match=r"^seed must be an int, got bool True$"):
        check_int("seed", True)
    with pytest.raises(ValueError, match=r"^seed must be >= 0, got -1$"):
        check_int("seed", -1, minimum=0)


def test_check_positive_int() -> None:
    assert check_positive_int("base", 1) == 1
    assert type(check_positive_int("base", np.int64(8))) is int
    with pytest.raises(ValueError, match=r"^base must be >= 1, got 0$"):
        check_positive_int("base", 0)
    with pytest.raises(TypeError, match=r"^base must be an int, got float 2\.0$"):
        check_positive_int("base", 2.0)


def test_check_int_at_least() -> None:
    assert check_int_at_least("radius", 3, 1) == 3
    with pytest.raises(TypeError, match=r"^radius must be an int >= 1, got 1\.5$"):
        check_int_at_least("radius", 1.5, 1)
    with pytest.raises(ValueError, match=r"^max_size must be an int >= 8, got 4$"):
        check_int_at_least("max_size", 4, 8)


def test_check_float() -> None:
    out = check_float("p", np.float32(0.25), low=0.0, high=1.0)
    assert out == 0.25 and type(out) is float
    assert check_float("p", 1, low=0.0) == 1.0
    with pytest.raises(TypeError, match=r"^p must be a number, got str 'x'$"):
        check_float("p", "x")
    with pytest.raises(TypeError, match="p must be a number"):
        check_float("p", False)
    with pytest.raises(ValueError, match=r"^p must be finite, got nan$"):
        check_float("p", float("nan"))
    with pytest.raises(ValueError, match=r"^p must be in \[0\.0, 1\.0\], got 1\.5$"):
        check_float("p", 1.5, low=0.0, high=1.0)
    with pytest.raises(ValueError, match=r"^p must be in \(0\.0, inf\], got 0\.0$"):
        check_float("p", 0.0, low=0.0, low_open=True)
    with pytest.raises(ValueError, match=r"^p must be in \[-inf, 1\.0\), got 1\.0$"):
        check_float("p", 1.0, high=1.0, high_open=True)


def test_check_range() -> None:
    check_range("width", 2, 2)
    with pytest.raises(ValueError, match=r"^width: minimum must be <= maximum, got min 3 > max 2$"):
        check_range("width", 3, 2)


def test_check_choice() -> None:
    assert check_choice("refine", "none", ("guided", "none")) == "none"
    with pytest.raises(ValueError, match=r"^refine must be one of guided, none, got 'box'$"):
        check_choice("refine", "box", ("guided", "none"))
    with pytest.raises(ValueError, match=r"^refine must be one of guided, none, got 1$"):
        check_choice("refine", 1, ("guided", "none"))


def test_check_rng() -> None:
    rng = np.random.default_rng(0)
    assert check_rng(rng) is rng
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator .* got int$"):
        check_rng(0)


def test_check_shape() -> None:
    out = check_shape([np.int64(4), 5])
    assert out == (4, 5) and all(type(v) is int for v in out)
    with pytest.raises(TypeError, match="shape must be a tuple"):
        check_shape(4)
    with pytest.raises(ValueError, match=r"with two entries, got 3 entries: \(1, 2, 3\)"):
        check_shape((1, 2, 3))
    with pytest.raises(TypeError, match=r"^shape W must be an int, got float 2\.0$"):
        check_shape((1, 2.0))
    with pytest.raises(ValueError, match=r"positive sizes, got \(0, 2\)"):
        check_shape((0, 2))


def test_check_inpaint_model_inputs() -> None:
    image, mask = torch.zeros(2, 3, 8, 12), torch.zeros(2, 1, 8, 12)
    check_inpaint_model_inputs(image, mask, 4)
    with pytest.raises(ValueError, match=r"^image must be \(B, 3, H, W\), got \(2, 1, 8, 12\)$"):
        check_inpaint_model_inputs(mask, mask)
    with pytest.raises(ValueError, match=r"^image must be \(B, 3, H, W\), got ndarray$"):
        check_inpaint_model_inputs(np.zeros((2, 3, 8, 8)), mask)
    with pytest.raises(ValueError, match=r"like image \(2, 3, 8, 12\), got \(2, 8, 12\)$"):
        check_inpaint_model_inputs(image, mask[:, 0])
    with pytest.raises(ValueError, match=r"divisible by 8 \(2\*\*depth\), got 8x12; pad the"):
        check_inpaint_model_inputs(image, mask, 8, reason="2**depth")
    with pytest.raises(ValueError, match=r"divisible by 8, got 8x12"):
        check_inpaint_model_inputs(image, mask, 8)


def test_importing_the_checks_does_not_import_torch() -> None:
    code = "import sys, mattepaint.checks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
