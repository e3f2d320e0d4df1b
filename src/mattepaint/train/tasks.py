"""What the training loop trains: a task turns a config into data, outputs, named losses and
validation metrics, so the loop itself knows nothing about inpainting or matting.

A task provides:
    datasets() -> (train, val | None)          torch Datasets with ``set_epoch`` on train
    forward(model, batch) -> outputs            dict of float32 tensors
    losses(outputs, batch) -> terms             dict name -> 0-dim tensor, plus "total"
    critic_inputs(outputs, batch, channels)     (real, fake) images for the discriminator
    validate(model, batches, autocast) -> dict  metric name -> float over the validation set
    sample_rows(outputs, batch, n) -> rows      images for the sample grid

:data:`TASKS` maps ``data.task`` to the task class ("matting" plugs in later).

Inpainting loss terms (``loss.weights`` names; a weight of 0 skips the term):

=============  ================================================================  =============
name           formula (pred = raw output, comp = m * pred + (1 - m) * image)    reference
=============  ================================================================  =============
l1             mean |pred - image|                                               seed 000
mse            mean (pred - image)^2                                             Pathak 2016
hole_l1        mean over hole pixels |pred - image|                              Liu 2018
valid_l1       mean over valid pixels |pred - image|                             Liu 2018
hole_mse       mean over hole pixels (pred - image)^2                            Pathak 2016
tv             total variation of comp on the 1-px dilated hole                  Liu 2018
discounted_l1  hole L1 weighted by gamma^dist (``loss.params.discount_gamma``)    Yu 2018
adv            generator GAN loss of the discriminator on comp (``loss.gan``)     Goodfellow 2014
=============  ================================================================  =============

``total = sum_k weight_k * term_k``. The "adv" term is added by the loop, which owns the
discriminator (see :func:`mattepaint.train.loop.train`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from mattepaint.losses import reconstruction as rec
from mattepaint.metrics import inpainting as metrics
from mattepaint.train.config import Config, ConfigError, expand_path

__all__ = ["INPAINTING_TERMS", "InpaintingTask", "TASKS", "build_task"]

Batch = dict[str, Any]
Outputs = dict[str, Tensor]

INPAINTING_TERMS: tuple[str, ...] = (
    "l1", "mse", "hole_l1", "valid_l1", "hole_mse", "tv", "discounted_l1", "adv",
)
_LOSS_PARAMS = {"discount_gamma": 0.9}  # loss.params names -> defaults
_SAMPLE_COLUMNS = ("input", "mask", "prediction", "ground truth")


def to_device(batch: Batch, device: str | torch.device, channels_last: bool = False) -> Batch:
    """Move the tensors of a batch to ``device`` (4-D ones to channels_last when asked)."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, Tensor):
            value = value.to(device, non_blocking=True)
            if channels_last and value.ndim == 4:
                value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out


class InpaintingTask:
    """Self-supervised inpainting: image folders, generated holes, reconstruction (+ GAN) loss.

    Data: :class:`mattepaint.data.inpainting.InpaintingDataset` over ``data.train_dirs``
    (``$VAR`` / ``~`` expanded by ``config.expand_path``; the ``data.max_images`` first sorted
    files when > 0); validation from ``data.val_dirs`` or,
    when empty, ``data.val_fraction`` held out by ``split_files`` (at most
    ``data.max_val_images``). ``data.params`` are the input transform's options (e.g.
    ``{"unit_size": 12}`` for "mosaic"). Validation metrics, on comp against the ground truth,
    averaged over the validation images: psnr, ssim, hole_l1, mse
    (:mod:`mattepaint.metrics.inpainting`, images in [0, 1]).

    Raises ConfigError at construction for unknown loss terms (listing the valid names) or
    loss.params, negative weights, or an "adv" weight without a discriminator.
    """

    name = "inpainting"
    terms = INPAINTING_TERMS
    metric_names: tuple[str, ...] = ("psnr", "ssim", "hole_l1", "mse")

    def __init__(self, config: Config) -> None:
        self.config = config
        weights = config.loss.weights
        unknown = [k for k in weights if k not in INPAINTING_TERMS]
        if unknown:
            raise ConfigError(
                f"loss.weights: unknown term {unknown[0]!r} for the inpainting task; valid "
                f"terms: {', '.join(INPAINTING_TERMS)}"
            )
        negative = {k: w for k, w in weights.items() if w < 0}
        if negative:
            raise ConfigError(f"loss.weights must be >= 0, got {negative}")
        if not any(w > 0 for w in weights.values()):
            raise ConfigError(f"loss.weights: at least one term needs a weight > 0, got {weights}")
        if weights.get("adv", 0) > 0 and config.discriminator is None:
            raise ConfigError("loss.weights.adv > 0 needs a discriminator section")
        bad = [k for k in config.loss.params if k not in _LOSS_PARAMS]
        if bad:
            raise ConfigError(
                f"loss.params: unknown key {bad[0]!r} for the inpainting task; valid keys: "
                f"{', '.join(_LOSS_PARAMS)}"
            )
        self.loss_params = {**_LOSS_PARAMS, **config.loss.params}
        self.weights = {k: float(w) for k, w in weights.items() if w != 0}

    # ------------------------------------------------------------------ data

    def datasets(self) -> tuple[Dataset, Dataset | None]:
        """(train, val) datasets; val is None when there is no validation image."""
        from mattepaint.data.inpainting import InpaintingDataset, find_images, split_files

        data = self.config.data
        seed = self.config.run.seed
        if not data.train_dirs:
            raise ConfigError("data.train_dirs: list at least one image folder")
        files = find_images([expand_path(d) for d in data.train_dirs])
        if data.val_dirs:
            train_files, val_files = files, find_images([expand_path(d) for d in data.val_dirs])
        else:
            train_files, val_files = split_files(files, data.val_fraction, seed)
        if data.max_images > 0:
            train_files = train_files[: data.max_images]
        if data.max_val_images > 0:
            val_files = val_files[: data.max_val_images]
        common = dict(
            size=data.image_size, mask=data.mask, mask_params=data.mask_params,
            input_transform=data.input_transform, input_params=data.params, seed=seed,
        )
        train = InpaintingDataset(train_files, train=True, **common)
        val = InpaintingDataset(val_files, train=False, **common) if val_files else None
        return train, val

    # ------------------------------------------------------------------ model step

    def forward(self, model: nn.Module, batch: Batch) -> Outputs:
        """pred = model(input, mask) (float32); comp = mask * pred + (1 - mask) * image."""
        pred = model(batch["input"], batch["mask"]).float()  # (B, 3, H, W)
        mask = batch["mask"]
        comp = mask * pred + (1 - mask) * batch["image"]
        return {"pred": pred, "comp": comp}

    def losses(self, outputs: Outputs, batch: Batch) -> dict[str, Tensor]:
        """The weighted reconstruction terms (not "adv") and their weighted sum "total"."""
        pred, comp = outputs["pred"], outputs["comp"]
        image, mask = batch["image"].float(), batch["mask"].float()
        compute: dict[str, Callable[[], Tensor]] = {
            "l1": lambda: rec.l1(pred, image),
            "mse": lambda: rec.mse(pred, image),
            "hole_l1": lambda: rec.hole_l1(pred, image, mask),
            "valid_l1": lambda: rec.valid_l1(pred, image, mask),
            "hole_mse": lambda: rec.hole_mse(pred, image, mask),
            "tv": lambda: rec.total_variation(comp, mask),
            "discounted_l1": lambda: rec.discounted_l1(
                pred, image, mask, gamma=self.loss_params["discount_gamma"]
            ),
        }
        terms = {name: compute[name]() for name in self.weights if name != "adv"}
        total = sum((self.weights[name] * value for name, value in terms.items()),
                    start=pred.new_zeros(()))
        terms["total"] = total
        return terms

    def critic_inputs(
        self, outputs: Outputs, batch: Batch, channels: int = 3
    ) -> tuple[Tensor, Tensor]:
        """(real, fake) for the discriminator: the ground truth and comp, (B, 3, H, W); with
        ``channels == 4`` the mask is appended to both (a critic that sees the hole)."""
        real, fake = batch["image"], outputs["comp"]
        if channels == 4:
            real = torch.cat([real, batch["mask"]], dim=1)  # (B, 4, H, W)
            fake = torch.cat([fake, batch["mask"]], dim=1)
        elif channels != 3:
            raise ConfigError(
                f"an inpainting discriminator must take 3 or 4 channels, got {channels}"
            )
        return real, fake

    # ------------------------------------------------------------------ evaluation

    @torch.no_grad()
    def validate(
        self,
        model: nn.Module,
        batches: Iterable[Batch],
        autocast: Callable[[], AbstractContextManager],
    ) -> dict[str, float]:
        """Mean psnr, ssim, hole_l1, mse of comp vs the ground truth over all validation images
        (hole_l1 over the images with a non-empty hole). The model is left in training mode."""
        was_training = model.training
        model.eval()
        sums = dict.fromkeys(self.metric_names, 0.0)
        counts = dict.fromkeys(self.metric_names, 0)
        try:
            for batch in batches:
                with autocast():
                    comp = self.forward(model, batch)["comp"].clamp(0, 1)
                image, mask = batch["image"].float(), batch["mask"].float()
                values = {
                    "psnr": metrics.psnr(comp, image),  # (B,)
                    "ssim": metrics.ssim(comp, image),
                    "hole_l1": metrics.hole_l1(comp, image, mask),  # nan for empty holes
                    "mse": metrics.mse(comp, image),
                }
                for name, value in values.items():
                    value = value[~torch.isnan(value)]
                    sums[name] += float(value.sum())
                    counts[name] += value.numel()
        finally:
            model.train(was_training)
        return {k: sums[k] / counts[k] if counts[k] else math.nan for k in self.metric_names}

    def sample_rows(self, outputs: Outputs, batch: Batch, n: int = 4) -> list[list[Tensor]]:
        """Rows ``[input | mask | prediction (comp) | ground truth]`` of (C, H, W) images for
        the first ``n`` samples of the batch."""
        rows = []
        for i in range(min(n, batch["image"].shape[0])):
            prediction = outputs["comp"][i].clamp(0, 1)
            rows.append([batch["input"][i], batch["mask"][i], prediction, batch["image"][i]])
        return rows


TASKS: dict[str, type[InpaintingTask]] = {"inpainting": InpaintingTask}


def build_task(config: Config) -> InpaintingTask:
    """The task of ``config.data.task`` (ConfigError listing the valid tasks otherwise)."""
    if config.data.task not in TASKS:
        raise ConfigError(
            f"data.task: no training task {config.data.task!r} yet; valid: {', '.join(TASKS)}"
        )
    return TASKS[config.data.task](config)
