"""What the training loop trains: a task turns a config into data, outputs, named losses and
validation metrics, so the loop itself knows nothing about inpainting or matting.

A task owns the whole training objective; the loop only runs the updates (forward under
autocast, backward, clip, step). A task class provides:

    name, generator_terms, critic_terms,        the terms of its objective and its validation
    metric_names (class attributes)             metrics, declared: read without building a task
    check_config(config) (classmethod)          the task's config checks (ConfigError), reading
                                                 the declared terms only (no weights loaded)
    datasets() -> (train, val | None)          torch Datasets with ``set_epoch`` on train
    forward(model, batch) -> outputs            dict of float32 tensors
    generator_loss(outputs, batch, critic)      dict term -> 0-dim tensor, plus "total"
    discriminator_loss(outputs, batch, critic)  dict term -> 0-dim tensor, plus "d_total" (only
                                                 tasks with critic_terms: inpainting)
    validate(model, batches, autocast) -> dict  metric name -> float over the validation set
    sample_rows(model, outputs, batch, n)       images for the sample grid

``critic`` is a :class:`Critic` (the discriminator as the updates call it, and its autocast), or
None without a discriminator. :data:`TASKS` maps ``data.task`` to the task class.

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
perceptual     sum_p mean|phi_p(pred) - phi_p(image)| + the same for comp         Liu 2018
style_out      sum_p mean|gram(phi_p(pred)) - gram(phi_p(image))|                 Liu 2018
style_comp     sum_p mean|gram(phi_p(comp)) - gram(phi_p(image))|                 Liu 2018
perceptual_    normalised AlexNet relu1-5 distance of comp to image               Zhang 2018
alex           (:class:`~mattepaint.losses.perceptual.AlexNetPerceptual`;
               ``loss.params.alex_weights``; random crop offsets of
               ``alex_jitter`` = 4 px against its stride-4 dot grid)
adv            generator GAN loss of the discriminator on comp (``loss.gan``)     Goodfellow 2014
feature_       mean over the critic's activations l of mean|D_l(image) -          Wang 2018
matching       D_l(comp)| (critics with ``forward_features``)                    (pix2pixHD)
coarse_<term>  <term> (a pixel term above) on the first stage of a two-stage      Yu 2018
               model (DeepFill v1's coarse output), e.g. coarse_discounted_l1
critic terms   (the discriminator's update; fixed weights, not in ``loss.weights``)
d_loss         discriminator GAN loss of ``loss.gan`` on (image, comp)            Goodfellow 2014
gp             ``gp_weight * mean_b (||g_b|| - 1)^2``, g = dD/dx at interpolates  Gulrajani 2017
               of image and comp (wgan_gp only; g on the hole only with
               ``loss.gp_region: hole``, as DeepFill v1)
=============  ================================================================  =============

Generator: ``total = sum_k weight_k * term_k``, summed in a fixed order: the pixel and coarse
terms in ``loss.weights`` order, then the VGG and AlexNet terms, then feature_matching and adv
(both from one critic pass on comp: ``forward_features`` of the critic module when feature
matching is weighted, else the critic's forward). Critic: ``d_total = d_loss + gp``; the
discriminator sees the ground truth and the detached comp in one batch (the mask as a 4th
channel for a critic with ``in_channels == 4``: :meth:`InpaintingTask.critic_inputs`). phi_p
are the VGG16 pool1..pool3 features of :class:`mattepaint.losses.perceptual.VGGFeatures`, loaded
from ``loss.params.vgg_weights`` (a local file: a torchvision vgg16 state dict or the
safetensors file of ``../shared/data/weights``); a perceptual or style weight without that file
stops the run at start, as does perceptual_alex without ``loss.params.alex_weights``. Liu et
al.'s total is ``{valid_l1: 1, hole_l1: 6, perceptual: 0.05, style_out: 120, style_comp: 120,
tv: 0.1}``.

Matting loss terms (:class:`MattingTask`; functions of :mod:`mattepaint.losses.matting`;
``a`` = predicted alpha, ``alpha`` = true alpha, F / B = true foreground / background):

===========  ===================================================================  ============
name         formula                                                              reference
===========  ===================================================================  ============
alpha        charbonnier(a, alpha): mean sqrt((a - alpha)^2 + eps^2)               seed 000 (7)
composition  charbonnier(a F + (1 - a) B, alpha F + (1 - alpha) B)                 seed 000 (8)
laplacian    sum_i 2^i mean |Lap_i(a) - Lap_i(alpha)| (5-level pyramid)            Hou & Liu 2019
gradient     mean |d_x (a - alpha)| + mean |d_y (a - alpha)|                       seed 001 L_g
lf_fg        late fusion: mean over side outputs of CE + L_d + L_g on fg_prob      seed 001
lf_bg        the same on bg_prob against 1 - alpha                                 seed 001
lf_fusion    mean w |a - alpha|, w = 1 in the transition, 0.1 elsewhere            seed 001 L_u
===========  ===================================================================  ============
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from mattepaint.losses import adversarial
from mattepaint.losses import matting as matting_losses
from mattepaint.losses import reconstruction as rec
from mattepaint.methods import apply_trimap
from mattepaint.metrics import inpainting as metrics
from mattepaint.metrics import matting as matting_metrics
from mattepaint.models.registry import model_entry
from mattepaint.train.checkpoint import unwrap
from mattepaint.train.config import (
    Config,
    ConfigError,
    DataConfig,
    expand_mask_folders,
    expand_path,
)

__all__ = [
    "CRITIC_TERMS",
    "INPAINTING_TERMS",
    "MATTING_TERMS",
    "TASKS",
    "Critic",
    "InpaintingTask",
    "MattingTask",
    "build_task",
    "task_class",
]

Batch = dict[str, Any]
Outputs = dict[str, Tensor]
#: A factory of autocast contexts (``run.amp``), e.g. ``contextlib.nullcontext``.
AutocastFactory = Callable[[], AbstractContextManager]

_PIXEL_TERMS: tuple[str, ...] = (
    "l1",
    "mse",
    "hole_l1",
    "valid_l1",
    "hole_mse",
    "tv",
    "discounted_l1",
)
_VGG_TERMS: tuple[str, ...] = ("perceptual", "style_out", "style_comp")
_ALEX_TERMS: tuple[str, ...] = ("perceptual_alex",)
_ADVERSARIAL_TERMS: tuple[str, ...] = ("adv", "feature_matching")  # need the critic
INPAINTING_TERMS: tuple[str, ...] = (
    *_PIXEL_TERMS,
    *_VGG_TERMS,
    *_ALEX_TERMS,
    *_ADVERSARIAL_TERMS,
    *(f"coarse_{t}" for t in _PIXEL_TERMS),
)
#: The discriminator's terms (fixed weights; "gp" only with ``loss.gan: wgan_gp``).
CRITIC_TERMS: tuple[str, ...] = ("d_loss", "gp")
# loss.params names -> defaults
_LOSS_PARAMS = {"discount_gamma": 0.9, "vgg_weights": "", "alex_weights": "", "alex_jitter": 4}
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


@dataclass(frozen=True)
class Critic:
    """The discriminator as a training step calls it: what a task's adversarial terms need.

    net: the module the updates call (a DistributedDataParallel wrapper under torchrun).
    autocast: a factory of autocast contexts for the critic's forward passes (``run.amp``,
        e.g. ``contextlib.nullcontext``); the WGAN-GP penalty always runs in float32.
    """

    net: nn.Module
    autocast: AutocastFactory = contextlib.nullcontext

    @property
    def module(self) -> nn.Module:
        """The critic itself, without a DDP wrapper: feature matching calls its
        ``forward_features`` directly (the critic's gradients of a generator step are
        discarded, so DDP's gradient hooks are not needed there)."""
        return unwrap(self.net)

    @property
    def in_channels(self) -> int:
        """Channels the critic takes (3 = image, 4 = image + mask); 3 when not declared."""
        return int(getattr(self.module, "in_channels", 3))


def _no_autocast(device: torch.device) -> AbstractContextManager:
    """A context with autocast off on ``device`` (float32 inside an autocast region)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def _weighted_total(weights: dict[str, float], terms: dict[str, Tensor], like: Tensor) -> Tensor:
    """``sum_k weights[k] * terms[k]``, added left to right in the order of ``terms`` (the order
    is part of the result in floating point), starting from a 0-dim zero like ``like``."""
    return sum((weights[name] * value for name, value in terms.items()), start=like.new_zeros(()))


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode inside the block, back in its own mode after it (even on error)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class _MetricMeans:
    """Running means of the named validation metrics: ``add`` a sum of values and their count;
    ``means()`` gives ``sum / count`` per name, nan for a metric that got no value."""

    def __init__(self, names: Sequence[str]) -> None:
        self.sums = dict.fromkeys(names, 0.0)
        self.counts = dict.fromkeys(names, 0)

    def add(self, name: str, total: float, count: int = 1) -> None:
        self.sums[name] += total
        self.counts[name] += count

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] if self.counts[k] else math.nan for k in self.sums}


def check_loss_weights(weights: dict[str, float], terms: Sequence[str], task: str) -> None:
    """loss.weights must name only ``terms`` of ``task``, be >= 0, and have one weight > 0.

    Raises ConfigError naming the first unknown term and listing the valid ones.
    """
    unknown = [k for k in weights if k not in terms]
    if unknown:
        raise ConfigError(
            f"loss.weights: unknown term {unknown[0]!r} for the {task} task; valid terms: "
            f"{', '.join(terms)}"
        )
    negative = {k: w for k, w in weights.items() if w < 0}
    if negative:
        raise ConfigError(f"loss.weights must be >= 0, got {negative}")
    if not any(w > 0 for w in weights.values()):
        raise ConfigError(f"loss.weights: at least one term needs a weight > 0, got {weights}")


def check_known_keys(given: Iterable[str], valid: Iterable[str], where: str, task: str) -> None:
    """Every key of the config section ``where`` (e.g. "loss.params") must be one of ``valid``.

    Raises ConfigError naming the first unknown key and listing the valid ones.
    """
    valid = list(valid)
    unknown = [k for k in given if k not in valid]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} for the {task} task; valid keys: "
            f"{', '.join(valid)}"
        )


def train_val_images(data: DataConfig, seed: int, what: str) -> tuple[list[Path], list[Path]]:
    """The training and validation image files of ``data``: ``train_dirs`` (at most
    ``max_images`` of them) and ``val_dirs``, or a ``val_fraction`` split of ``train_dirs``
    (chosen by ``seed``) when ``val_dirs`` is empty. ``what`` names the images in errors."""
    from mattepaint.data.inpainting import find_images, split_files

    if not data.train_dirs:
        raise ConfigError(f"data.train_dirs: list at least one {what} folder")
    files = find_images([expand_path(d) for d in data.train_dirs])
    if data.val_dirs:
        train_files, val_files = files, find_images([expand_path(d) for d in data.val_dirs])
    else:
        train_files, val_files = split_files(files, data.val_fraction, seed)
    if data.max_images > 0:
        train_files = train_files[: data.max_images]
    return train_files, val_files


class InpaintingTask:
    """Self-supervised inpainting: image folders, generated holes, reconstruction (+ GAN) loss.

    Data: :class:`mattepaint.data.inpainting.InpaintingDataset` over ``data.train_dirs``
    (``$VAR`` / ``~`` expanded by ``config.expand_path``; the ``data.max_images`` first sorted
    files when > 0); validation from ``data.val_dirs`` or,
    when empty, ``data.val_fraction`` held out by ``split_files`` (at most
    ``data.max_val_images``). ``data.params`` are the input transform's options (e.g.
    ``{"unit_size": 12}`` for "mosaic"). Validation metrics, on comp against the ground truth,
    averaged over the validation images: psnr, ssim, hole_l1, mse, dice (seed 004's
    2 sum(AB) / (sum A + sum B))
    (:mod:`mattepaint.metrics.inpainting`, images in [0, 1]).

    Objective: :meth:`generator_loss` (the generator terms of the module docstring's table,
    weighted by ``loss.weights``) and, with a discriminator, :meth:`discriminator_loss` (the
    critic terms).

    Raises ConfigError at construction (:meth:`check_config`) for unknown loss terms (listing
    the valid names) or loss.params, negative weights, or an "adv" weight without a
    discriminator.
    """

    name: ClassVar[str] = "inpainting"
    generator_terms: ClassVar[tuple[str, ...]] = INPAINTING_TERMS
    critic_terms: ClassVar[tuple[str, ...]] = CRITIC_TERMS
    metric_names: ClassVar[tuple[str, ...]] = ("psnr", "ssim", "hole_l1", "mse", "dice")

    @classmethod
    def check_config(cls, config: Config) -> None:
        """The inpainting objective's config checks, from the declared terms (builds nothing).

        ``loss.weights`` names only :attr:`generator_terms` (>= 0, one > 0); "adv" and
        "feature_matching" need a discriminator, feature matching one with
        ``forward_features``; ``loss.params`` keys are known; ``loss.gp_region: hole`` needs
        ``loss.gan: wgan_gp``. Warns when a discriminator is trained that no generator term
        uses.

        Raises: ConfigError naming the key.
        """
        cls._check_errors(config)
        weights = config.loss.weights
        if config.discriminator is not None and not any(
            weights.get(name, 0) > 0 for name in _ADVERSARIAL_TERMS
        ):
            warnings.warn(
                "a discriminator is trained but loss.weights.adv is 0: the generator ignores it",
                stacklevel=4,
            )  # the caller of train()

    @classmethod
    def _check_errors(cls, config: Config) -> None:
        """:meth:`check_config` without the warning (ConfigError)."""
        loss = config.loss
        weights = loss.weights
        check_loss_weights(weights, cls.generator_terms, cls.name)
        for name in _ADVERSARIAL_TERMS:
            if weights.get(name, 0) > 0 and config.discriminator is None:
                raise ConfigError(f"loss.weights.{name} > 0 needs a discriminator section")
        check_known_keys(loss.params, _LOSS_PARAMS, "loss.params", cls.name)
        if config.discriminator is None:
            return
        if weights.get("feature_matching", 0) > 0:
            critic_cls = model_entry(config.discriminator.name).builder
            if not callable(getattr(critic_cls, "forward_features", None)):
                raise ConfigError(
                    f"loss.weights.feature_matching needs a discriminator with forward_features; "
                    f"{config.discriminator.name!r} has none"
                )
        if loss.gp_region == "hole" and loss.gan != "wgan_gp":
            raise ConfigError(
                f"loss.gp_region: 'hole' is for inpainting with loss.gan wgan_gp (got loss.gan "
                f"{loss.gan!r})"
            )

    def __init__(self, config: Config) -> None:
        self._check_errors(config)  # train() checked (and warned) before
        self.config = config
        self.loss_params = {**_LOSS_PARAMS, **config.loss.params}
        self.weights = {k: float(w) for k, w in config.loss.weights.items() if w != 0}
        # the generator terms in the order they are computed and summed (module docstring)
        self.term_order: tuple[str, ...] = (
            *(n for n in self.weights if n not in (*_VGG_TERMS, *_ALEX_TERMS, *_ADVERSARIAL_TERMS)),
            *(n for n in (*_VGG_TERMS, *_ALEX_TERMS) if n in self.weights),
            *(n for n in ("feature_matching", "adv") if n in self.weights),
        )
        self.vgg: nn.Module | None = None
        if any(name in self.weights for name in _VGG_TERMS):
            from mattepaint.losses.perceptual import VGGFeatures

            path = str(self.loss_params["vgg_weights"])
            self.vgg = VGGFeatures(expand_path(path) if path else None)  # fails at start
        self.alex: nn.Module | None = None
        if "perceptual_alex" in self.weights:
            from mattepaint.losses.perceptual import AlexNetPerceptual

            path = str(self.loss_params["alex_weights"])
            self.alex = AlexNetPerceptual(  # fails at start without the file
                expand_path(path) if path else None, jitter=int(self.loss_params["alex_jitter"])
            )

    # ------------------------------------------------------------------ data

    def datasets(self) -> tuple[Dataset, Dataset | None]:
        """(train, val) datasets; val is None when there is no validation image."""
        from mattepaint.data.inpainting import InpaintingDataset

        data = self.config.data
        seed = self.config.run.seed
        train_files, val_files = train_val_images(data, seed, "image")
        if data.max_val_images > 0:
            val_files = val_files[: data.max_val_images]
        common = {
            "size": data.image_size,
            "mask": data.mask,
            "mask_params": expand_mask_folders(data.mask_params),
            "input_transform": data.input_transform,
            "input_params": data.params,
            "seed": seed,
        }
        scale_range = data.scale_range or None
        train = InpaintingDataset(train_files, train=True, scale_range=scale_range, **common)
        val = InpaintingDataset(val_files, train=False, **common) if val_files else None
        return train, val

    # ------------------------------------------------------------------ model step

    def forward(self, model: nn.Module, batch: Batch) -> Outputs:
        """pred = model(input, mask) (float32); comp = mask * pred + (1 - mask) * image.

        A two-stage model (attribute ``stages``, e.g. DeepFill v1) is called with
        ``return_stages=True``; its first stage comes back as outputs["coarse"]."""
        mask = batch["mask"]
        outputs: Outputs = {}
        if getattr(unwrap(model), "stages", ()):
            stages = model(batch["input"], mask, return_stages=True)
            pred = stages["pred"].float()  # (B, 3, H, W)
            outputs["coarse"] = stages["coarse"].float()  # (B, 3, H, W)
        else:
            pred = model(batch["input"], mask).float()  # (B, 3, H, W)
        outputs["pred"] = pred
        outputs["comp"] = mask * pred + (1 - mask) * batch["image"]
        return outputs

    def generator_loss(
        self, outputs: Outputs, batch: Batch, critic: Critic | None = None
    ) -> dict[str, Tensor]:
        """Every weighted generator term of the objective and their weighted sum "total".

        Inputs:
            outputs: :meth:`forward` of the batch (with gradients): "pred", "comp" (B, 3, H, W)
                (+ "coarse" for a two-stage model).
            batch: "image" (B, 3, H, W) in [0, 1], "mask" (B, 1, H, W), 1 = hole.
            critic: the discriminator; required when "adv" or "feature_matching" is weighted.
        Outputs: {term: 0-dim tensor} for every term with a non-zero weight (module docstring's
            table), plus ``total = sum_k weight_k * term_k`` added in :attr:`term_order`.
        Raises: ConfigError for coarse_* terms without a two-stage model; ValueError for
            adversarial terms without ``critic``.
        """
        pred, comp = outputs["pred"], outputs["comp"]
        image, mask = batch["image"].float(), batch["mask"].float()
        gamma = self.loss_params["discount_gamma"]

        def pixel_terms(stage: Callable[[], tuple[Tensor, Tensor]]) -> dict[str, Callable]:
            """The pixel terms of one output, (pred, comp) = stage()."""
            return {
                "l1": lambda: rec.l1(stage()[0], image),
                "mse": lambda: rec.mse(stage()[0], image),
                "hole_l1": lambda: rec.hole_l1(stage()[0], image, mask),
                "valid_l1": lambda: rec.valid_l1(stage()[0], image, mask),
                "hole_mse": lambda: rec.hole_mse(stage()[0], image, mask),
                "tv": lambda: rec.total_variation(stage()[1], mask),
                "discounted_l1": lambda: rec.discounted_l1(stage()[0], image, mask, gamma=gamma),
            }

        @functools.cache
        def coarse_stage() -> tuple[Tensor, Tensor]:
            if "coarse" not in outputs:
                raise ConfigError(
                    f"loss.weights: coarse_* terms need a two-stage model (e.g. deepfill_v1), "
                    f"got {self.config.model.name!r}"
                )
            coarse = outputs["coarse"]
            return coarse, mask * coarse + (1 - mask) * image

        @functools.cache
        def vgg_pass() -> dict[str, Tensor]:  # one VGG pass for the three VGG terms
            from mattepaint.losses.perceptual import liu_perceptual

            self.vgg.to(pred.device)
            return liu_perceptual(self.vgg, pred, comp, image)

        def perceptual_alex() -> Tensor:
            self.alex.to(comp.device)
            return self.alex(comp, image)

        @functools.cache
        def critic_pass() -> tuple[Tensor, list[Tensor], list[Tensor]]:  # for adv and fm
            return self._critic_pass(outputs, batch, critic)

        def feature_matching() -> Tensor:
            from mattepaint.losses.perceptual import feature_matching_loss

            _, real_feats, fake_feats = critic_pass()
            return feature_matching_loss(real_feats, fake_feats)

        compute: dict[str, Callable[[], Tensor]] = {
            **pixel_terms(lambda: (pred, comp)),
            **{f"coarse_{k}": v for k, v in pixel_terms(coarse_stage).items()},
            **{name: functools.partial(lambda n: vgg_pass()[n], name) for name in _VGG_TERMS},
            "perceptual_alex": perceptual_alex,
            "feature_matching": feature_matching,
            "adv": lambda: adversarial.g_loss(critic_pass()[0], self.config.loss.gan),
        }
        terms = {name: compute[name]() for name in self.term_order}
        terms["total"] = _weighted_total(self.weights, terms, pred)
        return terms

    def _critic_pass(
        self, outputs: Outputs, batch: Batch, critic: Critic | None
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """One critic pass on comp for the generator's adversarial terms: (fake logits (float32),
        real features, fake features). With feature matching weighted, the logits and the
        features come from the critic module's ``forward_features`` (the real features without
        gradients); otherwise the logits from ``critic.net`` and no features."""
        if critic is None:
            raise ValueError(
                "the adv and feature_matching terms need the discriminator: pass critic=Critic(...)"
            )
        real, fake = self.critic_inputs(outputs, batch, critic.in_channels)
        if "feature_matching" in self.weights:
            with critic.autocast():
                fake_logits, fake_feats = critic.module.forward_features(fake)
                with torch.no_grad():
                    _, real_feats = critic.module.forward_features(real)
            return fake_logits.float(), real_feats, fake_feats
        with critic.autocast():
            fake_logits = critic.net(fake).float()
        return fake_logits, [], []

    def discriminator_loss(
        self, outputs: Outputs, batch: Batch, critic: Critic
    ) -> dict[str, Tensor]:
        """The critic terms of the objective and their sum "d_total".

        Inputs: outputs of :meth:`forward` (computed without gradients), the batch, the critic.
        Outputs: {"d_loss": 0-dim, "gp": 0-dim (``loss.gan: wgan_gp`` only), "d_total":
            d_loss + gp}: ``d_loss`` of ``loss.gan`` on the critic's logits of (image, comp) in
            one batch of 2B; ``gp`` (float32, outside autocast) the WGAN-GP penalty of
            :func:`mattepaint.losses.adversarial.gradient_penalty` with ``loss.gp_weight``, on
            the hole only with ``loss.gp_region: hole``.
        """
        loss = self.config.loss
        real, fake = self.critic_inputs(outputs, batch, critic.in_channels)
        fake = fake.detach()
        with critic.autocast():
            logits = critic.net(torch.cat([real, fake])).float()  # (2B, ...)
        real_logits, fake_logits = logits.chunk(2)
        terms = {"d_loss": adversarial.d_loss(real_logits, fake_logits, loss.gan)}
        if loss.gan == "wgan_gp":  # in float32: penalty gradients must not underflow
            gp_mask = batch["mask"].float() if loss.gp_region == "hole" else None
            with _no_autocast(real.device):
                terms["gp"] = adversarial.gradient_penalty(
                    critic.net,
                    real.float(),
                    fake.float(),
                    weight=loss.gp_weight,
                    mask=gp_mask,
                )
        terms["d_total"] = _weighted_total(dict.fromkeys(terms, 1.0), terms, logits)
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
        self, model: nn.Module, batches: Iterable[Batch], autocast: AutocastFactory
    ) -> dict[str, float]:
        """Mean psnr, ssim, hole_l1, mse, dice of comp vs the ground truth over all validation
        images (hole_l1 over the images with a non-empty hole). The model is left in training
        mode."""
        means = _MetricMeans(self.metric_names)
        with _eval_mode(model):
            for batch in batches:
                with autocast():
                    comp = self.forward(model, batch)["comp"].clamp(0, 1)
                image, mask = batch["image"].float(), batch["mask"].float()
                values = {
                    "psnr": metrics.psnr(comp, image),  # (B,)
                    "ssim": metrics.ssim(comp, image),
                    "hole_l1": metrics.hole_l1(comp, image, mask),  # nan for empty holes
                    "mse": metrics.mse(comp, image),
                    "dice": metrics.dice(comp, image),  # seed 004's overlap score
                }
                for name, value in values.items():
                    value = value[~torch.isnan(value)]
                    means.add(name, float(value.sum()), value.numel())
        return means.means()

    def sample_rows(
        self, model: nn.Module, outputs: Outputs, batch: Batch, n: int = 4
    ) -> list[list[Tensor]]:
        """Rows ``[input | mask | prediction (comp) | ground truth]`` of (C, H, W) images for
        the first ``n`` samples of the batch (``outputs`` of ``model``; the rows do not depend
        on the model for inpainting)."""
        rows = []
        for i in range(min(n, batch["image"].shape[0])):
            prediction = outputs["comp"][i].clamp(0, 1)
            rows.append([batch["input"][i], batch["mask"][i], prediction, batch["image"][i]])
        return rows


MATTING_TERMS: tuple[str, ...] = (
    "alpha",
    "composition",
    "laplacian",
    "gradient",
    "lf_fg",
    "lf_bg",
    "lf_fusion",
)
_MATTING_LOSS_PARAMS = {"charbonnier_eps": 1e-3, "laplacian_levels": 5, "fix_known": False}
_MATTING_DATA_PARAMS = (
    "foregrounds",
    "trimap_width",
    "colour_jitter",
    "prior",
    "background_blur",
    "scale_range",
    "edge_crops",
)
_FOREGROUND_KINDS = ("rgba", "dim", "procedural", "photo")
_FOREGROUND_KEYS = ("kind", "path", "count", "size", "seed", "repeat", "validate")


class _ItemSubset:
    """The items ``indices`` of a foreground source (``__len__`` / ``load(i)``)."""

    def __init__(self, source: Any, indices: list[int]) -> None:
        self.source, self.indices = source, list(indices)
        self.composite = getattr(source, "composite", True)  # False: photos (PhotoSource)

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int) -> Any:
        return self.source.load(self.indices[index])

    def __repr__(self) -> str:
        return f"_ItemSubset({self.source!r}, {len(self.indices)} items)"


def _split_items(n: int, val_fraction: float, seed: int, key: int) -> tuple[list[int], list[int]]:
    """(train, val) item indices: ``max(1, round(n * val_fraction))`` held out (none when the
    fraction is 0 or n < 2), chosen by ``default_rng([seed, key]).permutation(n)``; sorted."""
    if val_fraction <= 0 or n < 2:
        return list(range(n)), []
    n_val = min(n - 1, max(1, round(n * val_fraction)))
    order = np.random.default_rng([seed, key]).permutation(n)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


class MattingTask:
    """Supervised matting on synthetic composites ``C = alpha F + (1 - alpha) B``.

    Data (:class:`mattepaint.data.matting.CompositeDataset`):

    - foregrounds: ``data.params["foregrounds"]``, a list of sources ``{"kind": "rgba" | "dim" |
      "procedural", "path": folder, "count": N}``: "rgba" = a folder of RGBA cut-outs
      (``RGBACutoutSource``), "dim" = a Deep-Image-Matting style folder with fg/ and alpha/
      (``DIMFolderSource``), "procedural" = ``ProceduralForegrounds(count, size, seed)`` (no
      path; optional "size", default ``data.image_size``, and "seed", default ``run.seed``),
      "photo" = a folder of whole photos with their subject's alpha as RGBA (``PhotoSource``:
      cropped, not composited; e.g. ``tools/pseudo_cutouts.py``'s pseudo-labels).
      For files, "count" > 0 keeps the first N items (0 / absent = all). Any source:
      "repeat": N (default 1) lists its training items N times (a sampling weight; unlike
      copies of the files, a held-out item never has a twin in training) and "validate": false
      keeps all its items in training (for sources whose items are not independent, e.g. one
      photo matted under several trimaps, which a per-item split would leak).
    - backgrounds: the images of ``data.train_dirs`` (the ``data.max_images`` first when > 0).
    - ``data.params["trimap_width"]`` ([min, max] pixels of the trimap's unknown band) and
      ``data.params["colour_jitter"]`` (bool), ``data.params["background_blur"]`` (the
      probability of a defocused background), ``data.params["scale_range"]`` ([low, high]
      object scale) and ``data.params["edge_crops"]`` (bool: DIM's crops around the edge of
      objects larger than the crop) are passed to the dataset.

    Validation: ``CompositeDataset(train=False)`` over held-out FOREGROUND ITEMS, a
    ``data.val_fraction`` of every source (chosen by ``run.seed``; a single-item source and one
    with ``validate: false`` stay in training), composited on the backgrounds of
    ``data.val_dirs`` or, when empty, on a ``data.val_fraction`` split of the training
    backgrounds (``split_files``); so validation
    composites share neither foreground nor background with training. At most
    ``data.max_val_images`` composites; no validation set when ``val_fraction`` is 0.

    Model inputs follow ``model.needs``: "background" -> ``model(comp, background=bg)``,
    "trimap" -> ``model(comp, trimap=trimap)``, "nothing" -> ``model(comp)``.

    Loss terms: ``loss.weights`` names in :data:`MATTING_TERMS` (see the table in the module
    docstring); ``loss.params``: "charbonnier_eps" (1e-3; 0 = L1 as in seed 000 eq. 8),
    "laplacian_levels" (5), "fix_known" (False; True: the prediction of a trimap model is set
    to the trimap on its known pixels before every term, as at inference, so the losses
    measure the unknown region only). The lf_* terms need a late-fusion model (outputs "fg_prob" /
    "bg_prob"). Losses are computed on the whole image, for every model kind.

    Validation metrics (:mod:`mattepaint.metrics.matting`, per image, averaged): sad (/1000),
    mse (x1e3), grad (/1000) and iou (alpha > 0.5). For trimap models the prediction first gets
    the known trimap regions fixed (as at inference) and sad / mse / grad are summed over the
    trimap's UNKNOWN region; for background / trimap-free models over the WHOLE image. iou is
    always over the whole image.

    Objective: :meth:`generator_loss` only (no critic terms: matting trains without a
    discriminator).

    Raises ConfigError at construction (:meth:`check_config`) for unknown loss terms (listing
    the valid names), loss.params or data.params keys, negative weights, an "adv" weight, or a
    discriminator.
    """

    name: ClassVar[str] = "matting"
    generator_terms: ClassVar[tuple[str, ...]] = MATTING_TERMS
    critic_terms: ClassVar[tuple[str, ...]] = ()
    metric_names: ClassVar[tuple[str, ...]] = ("sad", "mse", "grad", "iou")

    @classmethod
    def check_config(cls, config: Config) -> None:
        """The matting objective's config checks, from the declared terms (builds nothing):
        ``loss.weights`` names only :attr:`generator_terms` (>= 0, one > 0), no discriminator,
        known ``loss.params`` and ``data.params`` keys.

        Raises: ConfigError naming the key.
        """
        check_loss_weights(config.loss.weights, cls.generator_terms, cls.name)
        if config.discriminator is not None:
            raise ConfigError(
                "the matting task trains without a discriminator; remove that section"
            )
        check_known_keys(config.loss.params, _MATTING_LOSS_PARAMS, "loss.params", cls.name)
        check_known_keys(config.data.params, _MATTING_DATA_PARAMS, "data.params", cls.name)

    def __init__(self, config: Config) -> None:
        self.check_config(config)
        self.config = config
        self.loss_params = {**_MATTING_LOSS_PARAMS, **config.loss.params}
        self.weights = {k: float(w) for k, w in config.loss.weights.items() if w != 0}

    # ------------------------------------------------------------------ data

    def _sources(self) -> list[tuple[Any, int, bool]]:
        """``(source, repeat, validate)`` for each of ``data.params["foregrounds"]``
        (ConfigError when bad)."""
        from mattepaint.data.matting import DIMFolderSource, PhotoSource, RGBACutoutSource
        from mattepaint.data.procedural import ProceduralForegrounds

        specs = self.config.data.params.get("foregrounds")
        if not isinstance(specs, list) or not specs:
            raise ConfigError(
                'data.params.foregrounds: list at least one source {"kind": rgba | dim | '
                f'procedural | photo, "path": ..., "count": N}}, got {specs!r}'
            )
        sources = []
        for i, spec in enumerate(specs):
            where = f"data.params.foregrounds[{i}]"
            if not isinstance(spec, dict) or spec.get("kind") not in _FOREGROUND_KINDS:
                raise ConfigError(
                    f"{where}: expected a dict with kind one of {', '.join(_FOREGROUND_KINDS)}, "
                    f"got {spec!r}"
                )
            extra = [k for k in spec if k not in _FOREGROUND_KEYS]
            if extra:
                raise ConfigError(
                    f"{where}: unknown key {extra[0]!r}; valid keys: {', '.join(_FOREGROUND_KEYS)}"
                )
            count = spec.get("count", 0)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ConfigError(f"{where}.count must be an int >= 0, got {count!r}")
            repeat = spec.get("repeat", 1)
            if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
                raise ConfigError(f"{where}.repeat must be an int >= 1, got {repeat!r}")
            validate = spec.get("validate", True)
            if not isinstance(validate, bool):
                raise ConfigError(f"{where}.validate must be true or false, got {validate!r}")
            kind = spec["kind"]
            if kind == "procedural":
                if count < 1:
                    raise ConfigError(f"{where}: a procedural source needs count >= 1, got {count}")
                size = spec.get("size", self.config.data.image_size)
                seed = spec.get("seed", self.config.run.seed)
                sources.append(
                    (ProceduralForegrounds(count, size=size, seed=seed), repeat, validate)
                )
                continue
            if not spec.get("path"):
                raise ConfigError(f"{where}: a {kind} source needs a 'path'")
            path = expand_path(spec["path"])
            folder_sources = {
                "rgba": RGBACutoutSource,
                "photo": PhotoSource,
                "dim": DIMFolderSource,
            }
            source = folder_sources[kind](path)
            if 0 < count < len(source):
                source = _ItemSubset(source, list(range(count)))
            sources.append((source, repeat, validate))
        return sources

    def datasets(self) -> tuple[Dataset, Dataset | None]:
        """(train, val) composite datasets; val is None without held-out data."""
        from torch.utils.data import Subset

        from mattepaint.data.matting import CompositeDataset

        data = self.config.data
        seed = self.config.run.seed
        train_bgs, val_bgs = train_val_images(data, seed, "background image")
        train_sources, val_sources = [], []
        for k, (source, repeat, validate) in enumerate(self._sources()):
            fraction = data.val_fraction if validate else 0.0
            train_idx, val_idx = _split_items(len(source), fraction, seed, k)
            if val_idx or repeat > 1:
                train_sources.append(_ItemSubset(source, train_idx * repeat))
            else:
                train_sources.append(source)
            if val_idx:
                val_sources.append(_ItemSubset(source, val_idx))
        common: dict[str, Any] = {"size": data.image_size, "seed": seed}
        if "trimap_width" in data.params:
            common["trimap_width"] = tuple(data.params["trimap_width"])
        if "colour_jitter" in data.params:
            common["colour_jitter"] = bool(data.params["colour_jitter"])
        if "background_blur" in data.params:
            common["background_blur"] = float(data.params["background_blur"])
        if "scale_range" in data.params:
            common["scale_range"] = tuple(data.params["scale_range"])
        if "edge_crops" in data.params:
            common["edge_crops"] = bool(data.params["edge_crops"])
        if data.params.get("prior") is not None:
            common["prior"] = str(data.params["prior"])  # a classical matte the model corrects
        train = CompositeDataset(train_sources, train_bgs, train=True, **common)
        val = None
        if val_sources and val_bgs:
            val = CompositeDataset(val_sources, val_bgs, train=False, **common)
            if 0 < data.max_val_images < len(val):
                val = Subset(val, range(data.max_val_images))
        return train, val

    # ------------------------------------------------------------------ model step

    def forward(self, model: nn.Module, batch: Batch) -> Outputs:
        """The model's outputs (float32) given what it needs; "alpha" always, plus "foreground",
        "fg_prob" / "bg_prob" (lists) and "beta" when the model predicts them."""
        needs = getattr(unwrap(model), "needs", "nothing")
        comp = batch["comp"]
        if needs == "background":
            out = model(comp, background=batch["bg"])
        elif needs == "trimap" and "prior" in batch:
            out = model(comp, trimap=batch["trimap"], prior=batch["prior"])
        elif needs == "trimap":
            out = model(comp, trimap=batch["trimap"])
        else:
            out = model(comp)
        outputs: Outputs = {}
        for key, value in out.items():
            if isinstance(value, (list, tuple)):
                outputs[key] = [v.float() for v in value]
            else:
                outputs[key] = value.float()
        return outputs

    def generator_loss(
        self, outputs: Outputs, batch: Batch, critic: Critic | None = None
    ) -> dict[str, Tensor]:
        """Every weighted matting term (module docstring's table) and their weighted sum "total".

        Inputs:
            outputs: :meth:`forward` of the batch: "alpha" (B, 1, H, W) (+ "fg_prob" / "bg_prob"
                lists of a late-fusion model).
            batch: "alpha" (B, 1, H, W) in [0, 1], "fg" / "bg" (B, 3, H, W).
            critic: None (the matting task trains without a discriminator; a critic given is
                a ValueError).
        Outputs: {term: 0-dim tensor} for every term with a non-zero weight, in
            ``loss.weights`` order, plus ``total = sum_k weight_k * term_k`` added in that order.
        Raises: ConfigError for lf_* terms without a late-fusion model.
        """
        if critic is not None:
            raise ValueError("the matting task trains without a discriminator: critic must be None")
        pred = outputs["alpha"]  # (B, 1, H, W)
        alpha = batch["alpha"].float()
        eps = float(self.loss_params["charbonnier_eps"])
        if self.loss_params["fix_known"] and "trimap" in batch:
            pred = apply_trimap(pred, batch["trimap"].float())  # as validate() and inference

        def late_fusion(key: str) -> list[Tensor]:
            if key not in outputs:
                raise ConfigError(
                    f"loss.weights: the lf_* terms need a late-fusion model (output {key!r}); "
                    f"model {self.config.model.name!r} gives {', '.join(outputs)}"
                )
            return outputs[key]

        compute: dict[str, Callable[[], Tensor]] = {
            "alpha": lambda: matting_losses.charbonnier(pred, alpha, eps=eps),
            "composition": lambda: matting_losses.composition_loss(
                pred, alpha, batch["fg"].float(), batch["bg"].float(), eps=eps
            ),
            "laplacian": lambda: matting_losses.laplacian_loss(
                pred, alpha, levels=int(self.loss_params["laplacian_levels"])
            ),
            "gradient": lambda: matting_losses.gradient_l1(pred, alpha),
            "lf_fg": lambda: matting_losses.lf_branch_loss(late_fusion("fg_prob"), alpha),
            "lf_bg": lambda: matting_losses.lf_branch_loss(late_fusion("bg_prob"), 1 - alpha),
            "lf_fusion": lambda: matting_losses.fusion_loss(pred, alpha),
        }
        terms = {name: compute[name]() for name in self.weights}
        terms["total"] = _weighted_total(self.weights, terms, pred)
        return terms

    # ------------------------------------------------------------------ evaluation

    @torch.no_grad()
    def validate(
        self, model: nn.Module, batches: Iterable[Batch], autocast: AutocastFactory
    ) -> dict[str, float]:
        """Mean sad, mse, grad, iou over the validation composites (see the class docstring
        for the regions). The model is left in training mode."""
        trimap_model = getattr(unwrap(model), "needs", "nothing") == "trimap"
        means = _MetricMeans(self.metric_names)
        with _eval_mode(model):
            for batch in batches:
                with autocast():
                    pred = self.forward(model, batch)["alpha"].clamp(0, 1)  # (B, 1, H, W)
                trimap = batch["trimap"].float()
                if trimap_model:
                    pred = apply_trimap(pred, trimap)
                preds = pred[:, 0].cpu().numpy().astype(np.float64)  # (B, H, W)
                gts = batch["alpha"][:, 0].float().cpu().numpy().astype(np.float64)
                trimaps = trimap[:, 0].cpu().numpy()
                for p, g, t in zip(preds, gts, trimaps):
                    region = "unknown" if trimap_model and bool((t == 0.5).any()) else "all"
                    if trimap_model and region == "all":
                        continue  # no unknown pixel: nothing to evaluate for a trimap model
                    region_t = t if region == "unknown" else None
                    values = {
                        "sad": matting_metrics.sad(p, g, region_t, region=region),
                        "mse": matting_metrics.mse(p, g, region_t, region=region),
                        "grad": matting_metrics.gradient_error(p, g, region_t, region=region),
                        "iou": matting_metrics.alpha_iou(p, g, threshold=0.5),
                    }
                    for name, value in values.items():
                        means.add(name, value)
        return means.means()

    def sample_rows(
        self, model: nn.Module, outputs: Outputs, batch: Batch, n: int = 4
    ) -> list[list[Tensor]]:
        """Rows ``[comp | trimap (trimap models) or background | predicted alpha | true alpha]``
        of (3, H, W) images for the first ``n`` samples of the batch (``outputs`` of ``model``,
        whose ``needs`` chooses the second column). A trimap model's prediction is shown with
        the trimap's known regions fixed, as validation and inference use it."""
        trimap_model = getattr(unwrap(model), "needs", "nothing") == "trimap"
        guide_key = "trimap" if trimap_model else "bg"
        rows = []
        for i in range(min(n, batch["comp"].shape[0])):
            guide = batch[guide_key][i]
            alpha = outputs["alpha"][i : i + 1].float().clamp(0, 1)  # (1, 1, H, W)
            if trimap_model:
                alpha = apply_trimap(alpha, guide[None].float())
            rows.append(
                [
                    batch["comp"][i].float(),
                    guide.float().expand(3, -1, -1),
                    alpha[0].expand(3, -1, -1),
                    batch["alpha"][i].float().expand(3, -1, -1),
                ]
            )
        return rows


TASKS: dict[str, type[InpaintingTask | MattingTask]] = {
    "inpainting": InpaintingTask,
    "matting": MattingTask,
}


def task_class(name: str) -> type[InpaintingTask | MattingTask]:
    """The task class of ``data.task`` ``name``, whose declared terms, metrics and
    ``check_config`` can be read without building a task (ConfigError listing the valid
    tasks otherwise)."""
    if name not in TASKS:
        raise ConfigError(f"data.task: no training task {name!r} yet; valid: {', '.join(TASKS)}")
    return TASKS[name]


def build_task(config: Config) -> InpaintingTask | MattingTask:
    """The task of ``config.data.task`` (ConfigError listing the valid tasks otherwise)."""
    return task_class(config.data.task)(config)
