"""Standard cut-out models from ONNX files, one small class per model family (after rembg).

Each family knows its input size, its normalisation and how to turn its output into a soft mask;
all of them are :class:`~mattepaint.segmentation.base.Segmenter`\\ s run by onnxruntime on the
CPU. :func:`load_onnx_segmenter` opens a file and picks the family from the graph (or takes it
from ``family=``):

- ``"u2net"``: U²-Net, U²-Netp and the other 320-pixel salient-object models that rembg
  publishes (Qin et al., "U²-Net: Going Deeper with Nested U-Structure for Salient Object
  Detection", Pattern Recognition 2020). Detected by one input of static shape
  ``(1, 3, 320, 320)``. Pre-processing (rembg's ``normalize``): resize the RGB image to 320 x 320,
  divide by its maximum, then ``(x - mean) / std`` with the ImageNet mean (0.485, 0.456, 0.406)
  and std (0.229, 0.224, 0.225). Post-processing: the first output ``d`` (the fused saliency map),
  min-max rescaled ``(d - min d) / (max d - min d)``, resized to the image.
- ``"modnet"``: MODNet (Ke et al., "MODNet: Real-Time Trimap-Free Portrait Matting via Objective
  Decomposition", AAAI 2022), the official ONNX export. Detected by one input with dynamic height
  and width (``input`` of shape ``(batch, 3, height, width)``) and a one-channel output.
  Pre-processing (the official ``onnx/inference_onnx.py``): ``x = (255 x - 127.5) / 127.5``;
  size: if the longer side is below 512 or the shorter side above 512, scale the shorter side
  to 512 (the longer one keeps the aspect ratio), else keep the size; then floor both sides to a
  multiple of 32 (at least 32); resize with area interpolation. Post-processing: the output
  alpha, resized back to the image and clipped to [0, 1].

Resizing: ``cv2.INTER_AREA`` when shrinking (antialiased), ``cv2.INTER_LINEAR`` when enlarging;
outputs are clipped to [0, 1].

onnxruntime is imported only here, lazily.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
from torch import Tensor

from mattepaint.checks import check_int
from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.segmentation.input import check_segmenter_input

__all__ = [
    "FAMILIES",
    "MODNetSegmenter",
    "OnnxSegmenter",
    "U2NetSegmenter",
    "detect_family",
    "load_onnx_segmenter",
]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (H, W) or (H, W, C) float32 array: area when shrinking, bilinear otherwise."""
    h, w = array.shape[:2]
    if (h, w) == (height, width):
        return array
    shrink = height * width < h * w
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=method)


def _dims(shape: Sequence[Any]) -> list[int | None]:
    """onnxruntime's shape list -> ints, None for a symbolic or unknown dimension."""
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


class OnnxSegmenter(abc.ABC):
    """A segmenter backed by an onnxruntime session; subclasses define one model family.

    Subclasses set ``family`` and implement :meth:`matches` (does a graph belong to the family),
    :meth:`preprocess` (image -> network input) and :meth:`postprocess` (outputs -> soft mask).

    Attributes:
        name: the model's name (the file's stem unless given).
        family: the family's name (``"u2net"``, ``"modnet"``).
        session: the ``onnxruntime.InferenceSession``.
    """

    family: ClassVar[str]

    def __init__(self, session: Any, *, name: str) -> None:
        self.session = session
        self.name = name
        self.input_name: str = session.get_inputs()[0].name

    @classmethod
    @abc.abstractmethod
    def matches(cls, session: Any) -> bool:
        """True when the session's graph has this family's inputs and outputs."""

    @abc.abstractmethod
    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) float32 RGB in [0, 1] -> the network input (1, 3, h, w) float32."""

    @abc.abstractmethod
    def postprocess(self, outputs: list[np.ndarray], height: int, width: int) -> np.ndarray:
        """The session's outputs -> (height, width) float32 soft mask in [0, 1]."""

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Soft mask of one image: (H, W, 3) float32 in [0, 1] -> (H, W) float32 in [0, 1]."""
        h, w = image.shape[:2]
        x = self.preprocess(np.clip(image.astype(np.float32, copy=False), 0.0, 1.0))
        outputs = self.session.run(None, {self.input_name: x})
        return np.clip(self.postprocess(outputs, h, w), 0.0, 1.0).astype(np.float32)

    def __call__(self, image: Tensor) -> Tensor:
        """image (B, 3, H, W) float in [0, 1] -> soft mask (B, 1, H, W) in [0, 1], in the
        input's dtype and device (one network call per image)."""
        check_segmenter_input(image)
        pixels = image.detach().float().cpu().numpy().transpose(0, 2, 3, 1)  # (B, H, W, 3)
        masks = np.stack([self.predict(img) for img in pixels])[:, None]  # (B, 1, H, W)
        return torch.from_numpy(masks).to(device=image.device, dtype=image.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, family={self.family!r})"


class U2NetSegmenter(OnnxSegmenter):
    """U²-Net family (rembg's ``u2net``, ``u2netp``, ``u2net_human_seg``, ``silueta`` files).

    Input (1, 3, S, S) with S the graph's static size (320 for rembg's files):
    ``x = (resize(I, S) / max(resize(I, S)) - mean) / std`` (ImageNet mean / std, per channel).
    Output: ``m = (d - min d) / (max d - min d)`` of the first output ``d`` (the fused side
    output), resized to the image (a constant ``d`` gives ``clip(d, 0, 1)``).
    """

    family = "u2net"
    SIZE = 320  # the size that identifies the family when detecting

    def __init__(self, session: Any, *, name: str) -> None:
        super().__init__(session, name=name)
        dims = _dims(session.get_inputs()[0].shape)
        self.size: int = dims[2] or self.SIZE  # type: ignore[assignment]

    @classmethod
    def matches(cls, session: Any) -> bool:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or not outputs:
            return False
        shape = _dims(inputs[0].shape)
        return len(shape) == 4 and shape[1:] == [3, cls.SIZE, cls.SIZE]

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        x = _resize(image, self.size, self.size)  # (S, S, 3)
        x = x / max(float(x.max()), 1e-6)
        x = (x - IMAGENET_MEAN) / IMAGENET_STD
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32)  # (1, 3, S, S)

    def postprocess(self, outputs: list[np.ndarray], height: int, width: int) -> np.ndarray:
        d = np.asarray(outputs[0], np.float32).reshape(outputs[0].shape[-2:])  # (S, S)
        lo, hi = float(d.min()), float(d.max())
        d = (d - lo) / (hi - lo) if hi - lo > 1e-12 else np.clip(d, 0.0, 1.0)
        return _resize(d, height, width)


class MODNetSegmenter(OnnxSegmenter):
    """MODNet (the official ONNX export: ``input`` (B, 3, H, W) -> ``output`` (B, 1, H, W)).

    Input ``x = 2 I - 1`` (that is ``(255 I - 127.5) / 127.5``) at the size of
    :meth:`network_size` (shorter side 512, multiples of 32); output alpha resized back.
    """

    family = "modnet"
    REF_SIZE = 512
    MULTIPLE = 32

    @classmethod
    def matches(cls, session: Any) -> bool:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or not outputs:
            return False
        shape, out = _dims(inputs[0].shape), _dims(outputs[0].shape)
        return (
            len(shape) == 4
            and shape[1] == 3
            and shape[2] is None
            and shape[3] is None
            and len(out) == 4
            and out[1] == 1
        )

    @classmethod
    def network_size(cls, height: int, width: int) -> tuple[int, int]:
        """The (h, w) the network runs at for an H x W image (the official rule):
        if ``max(H, W) < 512`` or ``min(H, W) > 512`` the shorter side becomes 512 and the
        longer ``int(long / short * 512)``, else (H, W) is kept; both are then floored to a
        multiple of 32 (at least 32).

        >>> MODNetSegmenter.network_size(600, 800)
        (512, 672)
        """
        ref, m = cls.REF_SIZE, cls.MULTIPLE
        h, w = height, width
        if max(h, w) < ref or min(h, w) > ref:
            if w >= h:
                h, w = ref, int(width / height * ref)
            else:
                h, w = int(height / width * ref), ref
        return max(m, h - h % m), max(m, w - w % m)

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        h, w = self.network_size(*image.shape[:2])
        x = _resize(image, h, w) * 2.0 - 1.0  # (h, w, 3) in [-1, 1]
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32)  # (1, 3, h, w)

    def postprocess(self, outputs: list[np.ndarray], height: int, width: int) -> np.ndarray:
        alpha = np.asarray(outputs[0], np.float32).reshape(outputs[0].shape[-2:])  # (h, w)
        return _resize(alpha, height, width)


#: The ONNX families, tried in this order by :func:`detect_family`.
FAMILIES: dict[str, type[OnnxSegmenter]] = {
    U2NetSegmenter.family: U2NetSegmenter,
    MODNetSegmenter.family: MODNetSegmenter,
}


def _describe(session: Any) -> str:
    def one(arg: Any) -> str:
        dims = ", ".join(str(d) if isinstance(d, int) else "?" for d in arg.shape)
        return f"{arg.name} ({dims})"

    ins = "; ".join(one(a) for a in session.get_inputs())
    outs = "; ".join(one(a) for a in session.get_outputs()[:3])
    more = len(session.get_outputs()) - 3
    return f"inputs {ins}; outputs {outs}" + (f" and {more} more" if more > 0 else "")


def detect_family(session: Any) -> str | None:
    """The family of an onnxruntime session's graph, or None when no family matches.

    Rules (first match wins): ``"u2net"``: one input of static shape (1 or ?, 3, 320, 320);
    ``"modnet"``: one input (?, 3, ?, ?) with dynamic height and width and a first output with
    one channel.
    """
    for name, cls in FAMILIES.items():
        if cls.matches(session):
            return name
    return None


def _session(path: Path, threads: int | None, providers: Sequence[str] | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings about unused initialisers
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(path), options, providers=list(providers or ["CPUExecutionProvider"])
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not an ONNX model onnxruntime can run ({reason})") from None


def load_onnx_segmenter(
    path: str | os.PathLike,
    *,
    family: str | None = None,
    name: str | None = None,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
) -> OnnxSegmenter:
    """Open an ONNX cut-out model as a :class:`~mattepaint.segmentation.base.Segmenter`.

    Inputs:
        path: the ``.onnx`` file.
        family: ``"u2net"`` or ``"modnet"`` to force the pre/post-processing; None detects it
            from the graph (:func:`detect_family`).
        name: the segmenter's name (default: the file's stem).
        threads: onnxruntime intra-op threads (None: onnxruntime's default, one per core).
        providers: onnxruntime execution providers (default ``["CPUExecutionProvider"]``).

    Outputs:
        a :class:`U2NetSegmenter` or :class:`MODNetSegmenter`.

    Raises:
        InputNotFoundError: no such file.
        InputError: not an ONNX model, or a graph of no known family (the message lists the
            graph's inputs and outputs and the ``family`` values), or a family that does not
            fit the graph.
        ValueError: an unknown ``family`` name or bad ``threads``.
    """
    path = Path(path)
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    if not path.is_file():
        raise InputNotFoundError(f"segmenter file not found: {path}")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise InputError(f"{path} is not an ONNX model (the file is empty)")
    if head.startswith((b"PK", b"\x80")):
        raise InputError(
            f"{path} is not an ONNX model (it looks like a PyTorch checkpoint); segmenters load "
            "from .onnx files of the U²-Net or MODNet families"
        )
    session = _session(path, threads, providers)
    detected = detect_family(session)
    if family is None:
        if detected is None:
            raise InputError(
                f"{path}: ONNX graph of an unknown segmenter family ({_describe(session)}); "
                f"known families: {', '.join(FAMILIES)} (pass family=... / --family "
                "to force one)"
            )
        family = detected
    inputs = session.get_inputs()
    shape = _dims(inputs[0].shape) if len(inputs) == 1 else []
    if len(shape) != 4 or shape[1] not in (3, None):
        raise InputError(
            f"{path}: a {family} segmenter needs one image input (B, 3, H, W), got "
            f"{_describe(session)}"
        )
    if family == "u2net" and (shape[2] is None or shape[2] != shape[3]):
        raise InputError(
            f"{path}: a u2net segmenter needs a static square input (1, 3, S, S), got "
            f"{_describe(session)}"
        )
    return FAMILIES[family](session, name=name or path.stem)
