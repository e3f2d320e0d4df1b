"""Wrap a learned matting model as a :class:`mattepaint.methods.Matter`.

The wrapper does what the model itself does not: input checks against what the model ``needs``,
padding to the model's ``size_multiple`` (reflect, or replicate for tiny images), eval mode and
``torch.no_grad``, cropping back, clamping to [0, 1], and fixing the known trimap regions
(:func:`mattepaint.methods.apply_trimap`) for trimap models, so alpha is exactly 0 / 1 where the
trimap says background / foreground. Build one from a checkpoint with
:func:`mattepaint.models.loading.load_matter`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from mattepaint.interface import MatteResult, apply_trimap, check_matte_inputs
from mattepaint.models.inpainter import model_size_multiple, pad_to_multiple
from mattepaint.models.memory_format import channels_last, use_channels_last

__all__ = ["ModelMatter"]

_NEEDS = ("trimap", "background", "nothing")


class ModelMatter:
    """A :class:`~mattepaint.methods.Matter` around a registered matting model.

    Args:
        model: a matting model (``forward(image, *, background=None, trimap=None) -> {"alpha":
            (B, 1, H, W), optionally "foreground": (B, 3, H, W)}``, attributes ``needs`` and
            ``size_multiple``); it is moved to ``device`` and put in eval mode.
        name: the method name reported downstream (e.g. "checkpoint:last.pt").
        device: where the model runs; inputs are moved there and the results back.

    Attributes: ``name``, ``needs`` (the model's: "trimap", "background" or "nothing"),
    ``size_multiple``, ``device``, ``model``.

    Call: ``matter(image (B, 3, H, W) in [0, 1], *, trimap (B, 1, H, W) | None, background
    (B, 3, H, W) | None) -> MatteResult``: image (and the input the model needs) padded at the
    bottom / right to multiples of ``size_multiple``, the model run, the result cropped back to
    H x W and clamped to [0, 1]; for trimap models alpha = 0 where trimap == 0 and 1 where
    trimap == 1 exactly (:func:`~mattepaint.methods.apply_trimap`). ``foreground`` is the model's
    (B, 3, H, W) estimate when it predicts one, else None. Outputs have image's dtype and device.
    Inputs the model does not need are ignored (not passed to it). Any H, W work. A model with a
    ``prior`` attribute ("closed_form" / "knn", e.g. ``dim_matte``) corrects that classical matte:
    the wrapper computes it (:func:`mattepaint.classical.prior.classical_prior`) and passes it as
    ``prior=``.
    """

    def __init__(self, model: nn.Module, *, name: str, device: str | torch.device = "cpu") -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
        needs = getattr(model, "needs", None)
        if needs not in _NEEDS:
            raise ValueError(
                f"model.needs must be one of {', '.join(_NEEDS)}, got {needs!r} "
                f"({type(model).__name__} is not a matting model?)"
            )
        self.name = name
        self.needs = needs
        self.size_multiple = model_size_multiple(model)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.channels_last = use_channels_last(self.model, self.device)  # faster on CPUs
        prior = getattr(model, "prior", None)
        self.prior: str | None = prior if isinstance(prior, str) else None

    def __call__(
        self, image: Tensor, *, trimap: Tensor | None = None, background: Tensor | None = None
    ) -> MatteResult:
        check_matte_inputs(image, trimap, background, self.needs, self.name)
        self.model.eval()  # in case someone switched it back to training mode
        kwargs: dict[str, Tensor] = {}
        if self.needs == "trimap":
            kwargs["trimap"] = self._prepare(trimap)  # (B, 1, H', W')
            if self.prior is not None:
                kwargs["prior"] = self._prepare(self._classical_prior(image, trimap))
        elif self.needs == "background":
            kwargs["background"] = self._prepare(background)  # (B, 3, H', W')
        x, (h, w) = pad_to_multiple(self._to_device(image), self.size_multiple)  # (B, 3, H', W')
        if self.channels_last:  # same values, NHWC memory order
            x = channels_last(x)
            kwargs = {key: channels_last(value) for key, value in kwargs.items()}
        with torch.no_grad():
            out = self.model(x, **kwargs)
        alpha = out["alpha"][..., :h, :w].float().clamp(0, 1).contiguous()  # (B, 1, H, W)
        alpha = alpha.to(device=image.device, dtype=image.dtype)
        if self.needs == "trimap":
            alpha = apply_trimap(alpha, trimap.to(device=image.device, dtype=image.dtype))
        foreground = out.get("foreground")
        if foreground is not None:
            foreground = foreground[..., :h, :w].float().clamp(0, 1).contiguous()  # (B, 3, H, W)
            foreground = foreground.to(device=image.device, dtype=image.dtype)
        return MatteResult(alpha=alpha, foreground=foreground)

    def __repr__(self) -> str:
        return (
            f"ModelMatter(name={self.name!r}, model={type(self.model).__name__}, "
            f"needs={self.needs!r}, device={str(self.device)!r})"
        )

    def _classical_prior(self, image: Tensor, trimap: Tensor) -> Tensor:
        """The classical matte the model corrects (:func:`mattepaint.classical.prior.
        classical_prior`, method ``self.prior``), per image: (B, 1, H, W) float32 on the CPU."""
        from mattepaint.classical.prior import classical_prior

        images = image.detach().float().cpu().permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)
        trimaps = trimap.detach().float().cpu()[:, 0].numpy()  # (B, H, W)
        alphas = [classical_prior(im, tm, self.prior) for im, tm in zip(images, trimaps)]
        return torch.from_numpy(np.stack(alphas))[:, None]  # (B, 1, H, W)

    def _to_device(self, x: Tensor) -> Tensor:
        return x.to(device=self.device, dtype=torch.float32)

    def _prepare(self, x: Tensor) -> Tensor:
        return pad_to_multiple(self._to_device(x), self.size_multiple)[0]
