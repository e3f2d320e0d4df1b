"""The matting task: :class:`MattingTask`, supervised matting on synthetic composites.

Its loss terms (``loss.weights`` names; functions of :mod:`mattepaint.losses.matting`; ``a`` =
predicted alpha, ``alpha`` = true alpha, F / B = true foreground / background):

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

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from mattepaint.losses import matting as matting_losses
from mattepaint.methods import apply_trimap
from mattepaint.metrics import matting as matting_metrics
from mattepaint.train.checkpoint import unwrap
from mattepaint.train.config import Config, ConfigError, expand_path
from mattepaint.train.tasks.common import (
    AutocastFactory,
    Batch,
    Critic,
    MetricMeans,
    Outputs,
    check_known_keys,
    check_loss_weights,
    eval_mode,
    train_val_images,
    weighted_total,
)

__all__ = ["MATTING_TERMS", "MattingTask"]

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
        terms["total"] = weighted_total(self.weights, terms, pred)
        return terms

    # ------------------------------------------------------------------ evaluation

    @torch.no_grad()
    def validate(
        self, model: nn.Module, batches: Iterable[Batch], autocast: AutocastFactory
    ) -> dict[str, float]:
        """Mean sad, mse, grad, iou over the validation composites (see the class docstring
        for the regions). The model is left in training mode."""
        trimap_model = getattr(unwrap(model), "needs", "nothing") == "trimap"
        means = MetricMeans(self.metric_names)
        with eval_mode(model):
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
