"""Wrap a learned inpainting model as a :class:`mattepaint.methods.Inpainter`.

The wrapper does what the model itself does not: input checks, the input transform (seed 002:
"hole" / "mosaic" / "hole_ns"), padding to the model's ``size_multiple``, eval mode and
``torch.no_grad``, cropping back, and compositing so that pixels outside the hole are copied
from the input bit for bit. Build one from a checkpoint with
:func:`mattepaint.models.loading.load_inpainter`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.interface import check_inpaint_inputs, keep_known
from mattepaint.masks import INPUT_TRANSFORMS
from mattepaint.models.memory_format import channels_last, use_channels_last

__all__ = ["ModelInpainter", "apply_input_transform", "model_size_multiple", "pad_to_multiple"]


def apply_input_transform(image: Tensor, mask: Tensor, name: str = "hole") -> Tensor:
    """Apply a :data:`mattepaint.masks.INPUT_TRANSFORMS` transform to a batch of tensors.

    Inputs: image (B, 3, H, W) float in [0, 1]; mask (B, 1, H, W), > 0.5 = hole; ``name`` one of
    "hole", "mosaic", "hole_ns". Outputs: (B, 3, H, W) of image's dtype and device.
    "hole" is ``where(mask, 0, image)`` on the tensor; the others run the numpy transform image by
    image (``mosaic``: bilinear down/up-sampled image in the hole; ``hole_ns``: Navier-Stokes
    pre-fill, Bertalmio et al. CVPR 2001), exactly as the training data were made.
    """
    if name not in INPUT_TRANSFORMS:
        raise ValueError(
            f"unknown input transform {name!r}; valid names: {', '.join(sorted(INPUT_TRANSFORMS))}"
        )
    holes = mask > 0.5  # (B, 1, H, W) bool
    if name == "hole":
        return torch.where(holes, torch.zeros((), dtype=image.dtype, device=image.device), image)
    transform = INPUT_TRANSFORMS[name]
    out = []
    for one_image, one_mask in zip(image, holes):
        array = one_image.detach().permute(1, 2, 0).cpu().numpy().astype(np.float32)  # (H, W, 3)
        filled = transform(array, one_mask[0].cpu().numpy())  # (H, W, 3)
        out.append(torch.from_numpy(np.ascontiguousarray(filled)).permute(2, 0, 1))  # (3, H, W)
    return torch.stack(out).to(device=image.device, dtype=image.dtype)  # (B, 3, H, W)


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad the bottom and right of (B, C, H, W) so H and W become multiples of ``multiple``.

    Reflect padding (mirror without repeating the edge), or replicate padding when the image is
    too small to reflect (a pad >= the side). Outputs: the padded tensor and the original (H, W).
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (h, w)
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (h, w)  # (B, C, H + pad_h, W + pad_w)


def model_size_multiple(model: nn.Module) -> int:
    """The ``size_multiple`` attribute of a wrapped model (1 when it has none): the multiple its
    input height and width must have. ValueError unless it is a positive int."""
    multiple = getattr(model, "size_multiple", 1)
    if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
        raise ValueError(f"model.size_multiple must be a positive int, got {multiple!r}")
    return multiple


class ModelInpainter:
    """An :class:`~mattepaint.methods.Inpainter` around a registered inpainting model.

    Args:
        model: an inpainting model (``forward(image, mask) -> (B, 3, H, W)`` in [0, 1], attribute
            ``size_multiple``); it is moved to ``device`` and put in eval mode.
        name: the method name reported downstream (e.g. "checkpoint:last.pt").
        device: where the model runs; inputs are moved there and the result back.
        input_transform: how holes are filled before the model sees them; must match training
            ("hole", "mosaic" or "hole_ns", see :func:`apply_input_transform`).

    Call: ``inpainter(image (B, 3, H, W) in [0, 1], mask (B, 1, H, W), 1 = hole) -> (B, 3, H, W)``
    of image's dtype and device: ``where(mask > 0.5, model(pad(transform(image, mask)),
    pad(mask))[crop], image)``, so pixels outside the hole equal the input exactly. Any H, W work.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        device: str | torch.device = "cpu",
        input_transform: str = "hole",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(
                f"unknown input transform {input_transform!r}; valid names: "
                f"{', '.join(sorted(INPUT_TRANSFORMS))}"
            )
        multiple = model_size_multiple(model)
        self.name = name
        self.device = torch.device(device)
        self.input_transform = input_transform
        self.size_multiple = multiple
        self.model = model.to(self.device).eval()
        self.channels_last = use_channels_last(self.model, self.device)  # faster on CPUs

    def __repr__(self) -> str:
        return (
            f"ModelInpainter(name={self.name!r}, model={type(self.model).__name__}, "
            f"device={str(self.device)!r}, input_transform={self.input_transform!r})"
        )

    @property
    def has_attention(self) -> bool:
        """Whether the model exposes contextual-attention offsets (e.g. deepfill_v1)."""
        return bool(getattr(self.model, "stages", ())) and hasattr(self.model, "offset_step")

    def attention_picture(self, image: Tensor, mask: Tensor) -> np.ndarray:
        """The colour-coded contextual-attention map of one image (seed 002 Fig. 5).

        Inputs as :meth:`__call__` with B = 1. Outputs: (H, W, 3) uint8 RGB: for every pixel the
        hue gives the direction and the saturation the distance of the background patch it
        attends to most (white = itself; see
        :func:`mattepaint.models.inpainting.deepfill_v1.attention_picture`).
        Raises ValueError for a model without contextual attention or B != 1.
        """
        return self.fill_with_attention(image, mask)[1]

    def fill_with_attention(self, image: Tensor, mask: Tensor) -> tuple[Tensor, np.ndarray]:
        """:meth:`__call__` and :meth:`attention_picture` from one forward pass.

        Inputs as :meth:`__call__` with B = 1. Outputs: (the filled image (1, 3, H, W), the
        (H, W, 3) uint8 attention picture). Raises ValueError for a model without contextual
        attention or B != 1.
        """
        check_inpaint_inputs(image, mask)
        if not self.has_attention:
            raise ValueError(
                f"{self.name}: model {type(self.model).__name__} has no contextual attention "
                "(an attention map needs e.g. a deepfill_v1 checkpoint)"
            )
        if image.shape[0] != 1:
            raise ValueError(f"an attention map takes one image, got a batch of {image.shape[0]}")
        from mattepaint.models.inpainting.deepfill_v1 import offsets_picture

        filled, offsets = self._fill(image, mask, return_offsets=True)
        if offsets is None:
            raise ValueError(f"{self.name}: the model returned no attention offsets")
        step = int(self.model.offset_step)
        return filled, offsets_picture(offsets, step, image.shape[-2], image.shape[-1])

    def __call__(self, image: Tensor, mask: Tensor) -> Tensor:
        check_inpaint_inputs(image, mask)
        return self._fill(image, mask)[0]

    def _fill(
        self, image: Tensor, mask: Tensor, return_offsets: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """The filled image (B, 3, H, W) and, when asked, the attention offsets (B, 2, h, w)."""
        self.model.eval()  # in case someone switched it back to training mode
        holes = (mask > 0.5).to(device=self.device, dtype=torch.float32)  # (B, 1, H, W) 0/1
        x = image.to(device=self.device, dtype=torch.float32)
        x = apply_input_transform(x, holes, self.input_transform)  # (B, 3, H, W)
        x_pad, (h, w) = pad_to_multiple(x, self.size_multiple)  # (B, 3, H', W')
        holes_pad, _ = pad_to_multiple(holes, self.size_multiple)  # (B, 1, H', W')
        if self.channels_last:  # same values, NHWC memory order
            x_pad, holes_pad = channels_last(x_pad), channels_last(holes_pad)
        offsets = None
        with torch.no_grad():
            if return_offsets:
                stages = self.model(x_pad, holes_pad, return_stages=True)
                pred, offsets = stages["pred"], stages["offsets"]  # (B, 3, H', W'), (B, 2, h, w)
            else:
                pred = self.model(x_pad, holes_pad)  # (B, 3, H', W')
        pred = pred[..., :h, :w].to(device=image.device, dtype=image.dtype)  # (B, 3, H, W)
        pred = pred.contiguous()  # back to NCHW memory order
        return keep_known(image, mask.to(image.device), pred), offsets
