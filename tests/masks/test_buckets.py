"""Tests of the hole-ratio buckets (Liu et al. 2018 evaluation protocol)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mattepaint.masks import HOLE_RATIO_BUCKETS, bucket_label, hole_ratio, hole_ratio_bucket


def test_buckets_are_the_six_partial_conv_intervals():
    # Liu et al. 2018: (0.01, 0.1], then steps of 0.1 up to (0.5, 0.6]
    edges = [0.01, *(k / 10 for k in range(1, 7))]
    assert HOLE_RATIO_BUCKETS == tuple(itertools.pairwise(edges))


@pytest.mark.parametrize(
    ("ratio", "bucket"),
    [
        (0.0, None),
        (0.01, None),
        (0.0100001, 0),
        (0.05, 0),
        (0.1, 0),
        (0.1000001, 1),
        (0.2, 1),
        (0.25, 2),
        (0.3, 2),
        (0.4, 3),
        (0.5, 4),
        (0.55, 5),
        (0.6, 5),
        (0.6000001, None),
        (1.0, None),
    ],
)
def test_bucket_is_half_open_lo_hi(ratio, bucket):
    assert hole_ratio_bucket(ratio) == bucket


def test_bucket_of_exact_pixel_counts():
    # 1000 of 10000 pixels is exactly the float 0.1: the upper end of bucket 0.
    mask = np.zeros((100, 100), dtype=bool)
    mask.flat[:1000] = True
    assert hole_ratio(mask) == 0.1
    assert hole_ratio_bucket(hole_ratio(mask)) == 0
    mask.flat[:1001] = True
    assert hole_ratio_bucket(hole_ratio(mask)) == 1


def test_bucket_labels():
    assert [bucket_label(k) for k in range(6)] == [
        "0.01-0.1",
        "0.1-0.2",
        "0.2-0.3",
        "0.3-0.4",
        "0.4-0.5",
        "0.5-0.6",
    ]


def test_hole_ratio_counts_nonzero():
    assert hole_ratio(np.array([[0, 1], [1, 1]], dtype=np.uint8)) == 0.75


@pytest.mark.parametrize(
    ("ratio", "error"),
    [(-0.1, ValueError), (1.5, ValueError), ("0.2", TypeError), (True, TypeError)],
)
def test_bucket_bad_ratio(ratio, error):
    with pytest.raises(error, match="ratio"):
        hole_ratio_bucket(ratio)


@pytest.mark.parametrize(("index", "error"), [(6, ValueError), (-1, ValueError), (1.0, TypeError)])
def test_bucket_label_bad_index(index, error):
    with pytest.raises(error, match="bucket index"):
        bucket_label(index)


def test_hole_ratio_bad_shape():
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        hole_ratio(np.zeros((2, 2, 3)))
