"""Datasets for training: inpainting (image folders + generated masks).

:func:`find_images` / :func:`split_files` build the file lists and :class:`InpaintingDataset`
makes (image, mask, input) samples that depend only on (seed, epoch, index); see
:mod:`mattepaint.data.inpainting`.
"""

from mattepaint.data.inpainting import (
    InpaintingDataset,
    find_images,
    resize_shorter_side,
    split_files,
)

__all__ = ["InpaintingDataset", "find_images", "resize_shorter_side", "split_files"]
