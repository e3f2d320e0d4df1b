"""ONNX export of trained models, and onnxruntime inference behind the usual wrappers.

:func:`export_onnx` turns a mattepaint checkpoint (inpainting or matting) into a self-describing
``.onnx`` file: the network only, with dynamic batch, height and width, and the facts the
wrappers need stored as metadata (task, model name and params, ``size_multiple``, the inpainting
input transform, what a matting model needs, its outputs). The export is checked before anything
is written: onnxruntime must reproduce the PyTorch output at the traced size and at a second,
different size (the tracer turns Python arithmetic on shapes into constants; a model whose graph
only works at one size is refused, not written).

:class:`OnnxModel` runs such a file with onnxruntime on the CPU behind the model interface
(``forward(image, mask)`` for inpainting, ``forward(image, *, trimap=, background=)`` for
matting), so :class:`~mattepaint.models.inpainter.ModelInpainter` and
:class:`~mattepaint.models.matter.ModelMatter` do the padding, compositing and trimap fixing as
for a PyTorch model; :func:`mattepaint.models.loading.load_inpainter` / ``load_matter`` pick it
for a ``.onnx`` path, so ``--checkpoint model.onnx`` works everywhere a checkpoint does.

The checkpoint is read, and the metadata built, by :mod:`mattepaint.models.checkpoint` (the owner
of the format); this module only turns the model into a graph. onnx and onnxruntime are imported
only here, lazily.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mattepaint.errors import InputError, InputNotFoundError, OutputExistsError
from mattepaint.io import atomic_path
from mattepaint.models.checkpoint import (
    ONNX_FORMAT,
    build_checkpoint_model,
    checkpoint_task,
    known_input_transform,
    load_checkpoint,
    onnx_metadata,
)

__all__ = ["ONNX_FORMAT", "OnnxModel", "export_onnx", "read_onnx_metadata"]

OPSET = 17
_TOLERANCE = 1e-4  # max |onnxruntime - torch| accepted by the export check, outputs in [0, 1]
# Where the exporter's own message stops being about the model (advice, then the graph).
_NOISE = re.compile(r"\.?\s*(Please feel free|\[Caused by|Torch IR graph)")


def _short(exc: BaseException) -> str:
    """One line of an exception: ``Type: first line``, without the exporter's advice and graph
    dump, at most 300 characters."""
    text = str(exc).strip().splitlines()
    first = _NOISE.split(text[0])[0].rstrip(" .") if text else ""
    return f"{type(exc).__name__}: {first}"[:300]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence stdout and stderr, at the Python and the file-descriptor level: the TorchScript
    exporter prints the whole graph (hundreds of lines) before raising on an operator it lacks."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved: list[tuple[int, int]] = []
    with tempfile.TemporaryFile() as sink:
        try:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(sink.fileno(), fd)
                except OSError:  # no such descriptor (embedded interpreter): skip it
                    continue
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                yield
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)


class _MattingAdapter(nn.Module):
    """Positional inputs and a tuple of outputs for the tracer: (image[, trimap | background]
    [, prior]) -> (alpha[, foreground]); ``prior`` for models that correct a classical matte."""

    def __init__(self, model: nn.Module, needs: str, outputs: tuple[str, ...]) -> None:
        super().__init__()
        self.model, self.needs, self.outputs = model, needs, outputs

    def forward(
        self, image: Tensor, extra: Tensor | None = None, prior: Tensor | None = None
    ) -> tuple[Tensor, ...]:
        kwargs = {self.needs: extra} if self.needs in ("trimap", "background") else {}
        if prior is not None:
            kwargs["prior"] = prior
        out = self.model(image, **kwargs)
        return tuple(out[name] for name in self.outputs)


def _example_inputs(
    task: str, needs: str, height: int, width: int, seed: int, prior: bool = False
) -> dict[str, Tensor]:
    """Random inputs of the right kinds: an image, plus a mask with a hole, a 0 / 0.5 / 1 trimap
    (and a classical matte ``prior`` when asked) or a background that differs from the image."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, height, width, generator=g)
    if task == "inpainting":
        mask = torch.zeros(1, 1, height, width)
        mask[..., height // 4 : height // 2 + 1, width // 3 : (2 * width) // 3] = 1
        return {"image": image, "mask": mask}
    if needs == "trimap":
        trimap = torch.randint(0, 3, (1, 1, height, width), generator=g).float() / 2
        if prior:
            return {"image": image, "trimap": trimap, "prior": torch.rand_like(trimap)}
        return {"image": image, "trimap": trimap}
    if needs == "background":
        return {"image": image, "background": torch.rand(1, 3, height, width, generator=g)}
    return {"image": image}


def export_onnx(
    checkpoint_path: str | Path,
    output_path: str | Path,
    *,
    overwrite: bool = False,
    size: int = 0,
    opset: int = OPSET,
) -> Path:
    """Export the model of a mattepaint checkpoint to ONNX, checked against PyTorch.

    The graph takes float32 NCHW inputs with dynamic batch / height / width (height and width
    multiples of the model's ``size_multiple``): inpainting ``image (B, 3, H, W)``, ``mask
    (B, 1, H, W)`` -> ``pred (B, 3, H, W)`` (the raw prediction, as the PyTorch model; the wrapper
    composites); matting ``image`` [+ ``trimap (B, 1, H, W)`` | ``background (B, 3, H, W)``] ->
    ``alpha (B, 1, H, W)`` [+ ``foreground (B, 3, H, W)``]. Metadata: see :func:`read_onnx_metadata`.

    Check: onnxruntime and PyTorch are run on the same random inputs at the export size and at a
    second size (``size + 3 m`` x ``size + 5 m`` for ``size_multiple`` m); the largest absolute
    difference must be below 1e-4, else nothing is written. Written atomically, with the
    permissions of a new file (umask).

    Args:
        checkpoint_path: a model file (.safetensors) or training checkpoint (.pt).
        output_path: the .onnx file to write.
        overwrite: replace an existing output.
        size: the side of the example input used for tracing (0: 64 rounded up to a multiple of
            ``size_multiple``; at least 4 multiples).
        opset: ONNX opset version (17 by default).

    Returns: the output path.
    Raises:
        InputNotFoundError / UnsafeCheckpointError / InputError: as
            :func:`mattepaint.models.checkpoint.load_checkpoint`.
        OutputExistsError: the output exists and ``overwrite`` is False.
        InputError: the output does not end in .onnx; the model cannot be exported (an
            operator ONNX lacks, e.g. the adaptive pooling of DeepFill's contextual attention or
            the antialiased resize of the Context Encoder), or the exported graph does not match
            PyTorch.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be an int >= 0, got {size!r}")
    source = Path(checkpoint_path)
    out = Path(output_path)
    if out.suffix.lower() != ".onnx":
        raise InputError(
            f"{out}: an ONNX export must end in .onnx, got {out.suffix or 'no suffix'!r}"
        )
    if out.exists() and not overwrite:  # before the (slow) export; atomic_path checks again
        raise OutputExistsError(
            f"{out} already exists; use --overwrite (overwrite=True in Python) to replace it"
        )
    ckpt = load_checkpoint(source)
    task = checkpoint_task(ckpt, source)
    if task not in ("inpainting", "matting"):
        raise InputError(f"{source}: only inpainting and matting models export, not {task}")
    model = build_checkpoint_model(ckpt, "cpu", source=source)
    name = ckpt["model"]["name"]
    multiple = int(getattr(model, "size_multiple", 1))
    side = size or 64
    side = max(-(-side // multiple) * multiple, 4 * multiple)
    needs = str(getattr(model, "needs", "")) if task == "matting" else ""
    prior = task == "matting" and isinstance(getattr(model, "prior", None), str)
    example = _example_inputs(task, needs, side, side, seed=0, prior=prior)
    if task == "inpainting":
        network: nn.Module = model
        input_names = ["image", "mask"]
        output_names = ["pred"]
    else:
        with torch.no_grad():
            probe = model(**example)  # the names are the matting models' keyword arguments
        output_names = [k for k in ("alpha", "foreground") if isinstance(probe.get(k), Tensor)]
        network = _MattingAdapter(model, needs, tuple(output_names)).eval()
        input_names = list(example)
    metadata = onnx_metadata(ckpt, model, source=source, outputs=output_names)
    dynamic = {n: {0: "batch", 2: "height", 3: "width"} for n in input_names + output_names}

    with atomic_path(out, overwrite=overwrite) as tmp:  # nothing is left behind on failure
        try:
            with warnings.catch_warnings(), torch.no_grad(), _quiet():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
                torch.onnx.export(
                    network,
                    tuple(example[n] for n in input_names),
                    str(tmp),
                    input_names=input_names,
                    output_names=output_names,
                    dynamic_axes=dynamic,
                    opset_version=opset,
                    dynamo=False,
                )
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds
            raise InputError(
                f"{source}: model {name!r} cannot be exported to ONNX ({_short(exc)})"
            ) from None
        _write_metadata(tmp, metadata)
        session = _session(tmp)
        for seed, (h, w) in enumerate(((side, side), (side + 3 * multiple, side + 5 * multiple))):
            inputs = _example_inputs(task, needs, h, w, seed=seed + 1, prior=prior)
            with torch.no_grad():
                expected = network(*(inputs[n] for n in input_names))
            expected = (expected,) if isinstance(expected, Tensor) else expected
            got = session.run(output_names, {n: inputs[n].numpy() for n in input_names})
            for out_name, want, have in zip(output_names, expected, got):
                if have.shape != tuple(want.shape):
                    raise InputError(
                        f"{source}: the ONNX graph of {name!r} gives {out_name} of shape "
                        f"{have.shape} at {h}x{w}, PyTorch {tuple(want.shape)}: the model does "
                        "not export with dynamic sizes"
                    )
                diff = float(np.abs(have - want.numpy()).max())
                if not diff <= _TOLERANCE:
                    raise InputError(
                        f"{source}: the ONNX graph of {name!r} differs from PyTorch at {h}x{w} "
                        f"({out_name}: max |diff| {diff:.2e} > {_TOLERANCE:g}); not written"
                    )
    return out


def _write_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The mattepaint metadata of an ``.onnx`` file written by :func:`export_onnx`.

    Keys (built by :func:`mattepaint.models.checkpoint.onnx_metadata`): ``mattepaint_format``,
    ``task`` ("inpainting" / "matting"), ``model_name``, ``model_params`` (JSON),
    ``size_multiple``, ``outputs`` (comma-separated), ``source`` (the checkpoint's file name),
    ``input_transform`` (inpainting) or ``needs`` (matting), and ``mattepaint`` (the JSON
    metadata of a model file; absent in files exported before it existed).

    Raises:
        InputNotFoundError: no such file.
        InputError: not an ONNX file, or an ONNX file without mattepaint metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"ONNX model not found: {path}")
    try:
        meta = dict(_session(path).get_modelmeta().custom_metadata_map)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise InputError(f"{path} is not a readable ONNX model ({_short(exc)})") from None
    if meta.get("mattepaint_format") != ONNX_FORMAT:
        raise InputError(
            f"{path} is an ONNX model without mattepaint metadata (mattepaint_format "
            f"{meta.get('mattepaint_format')!r}, expected {ONNX_FORMAT!r}); export it with "
            "'mattepaint export CHECKPOINT -o model.onnx'"
        )
    missing = [k for k in ("task", "model_name", "size_multiple", "outputs") if k not in meta]
    if missing or meta["task"] not in ("inpainting", "matting"):
        raise InputError(f"{path}: broken mattepaint metadata (missing {missing or ['task']})")
    return meta


class OnnxModel(nn.Module):
    """A model exported by :func:`export_onnx`, run by onnxruntime on the CPU.

    It has no parameters; ``.to()`` and ``.eval()`` are accepted (the session always runs on
    the CPU in float32; inputs on another device are copied to the CPU and the outputs come back
    to the input's device). Attributes as the PyTorch model's: ``task``, ``size_multiple``,
    ``needs`` (matting), ``input_transform`` (inpainting), ``stages = ()``, and ``metadata``.

    Call: inpainting ``model(image (B, 3, H, W), mask (B, 1, H, W)) -> pred (B, 3, H, W)``;
    matting ``model(image, *, trimap=None, background=None) -> {"alpha", ["foreground"]}``.
    H, W must be multiples of ``size_multiple`` (the wrappers pad).

    Raises (constructor): as :func:`read_onnx_metadata`.
    """

    stages: tuple[str, ...] = ()

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.metadata = read_onnx_metadata(self.path)
        self.task = self.metadata["task"]
        self.model_name = self.metadata["model_name"]
        self.size_multiple = int(self.metadata["size_multiple"])
        self.outputs = tuple(self.metadata["outputs"].split(","))
        self.input_transform = known_input_transform(
            self.metadata.get("input_transform", "hole"), self.path
        )
        if self.task == "matting":
            self.needs = self.metadata.get("needs", "nothing")
            # the classical matte the network corrects: ModelMatter computes it and passes prior=
            self.prior: str | None = self.metadata.get("prior") or None
        self._session = _session(self.path)
        self._inputs = [i.name for i in self._session.get_inputs()]

    def extra_repr(self) -> str:
        return f"path={str(self.path)!r}, task={self.task!r}, model={self.model_name!r}"

    def _run(self, feeds: dict[str, Tensor]) -> list[Tensor]:
        device = next(iter(feeds.values())).device
        arrays = {
            name: np.ascontiguousarray(feeds[name].detach().to("cpu", torch.float32).numpy())
            for name in self._inputs
        }
        return [torch.from_numpy(a).to(device) for a in self._session.run(self.outputs, arrays)]

    def forward(  # type: ignore[override]
        self,
        image: Tensor,
        mask: Tensor | None = None,
        *,
        trimap: Tensor | None = None,
        background: Tensor | None = None,
        prior: Tensor | None = None,
    ) -> Tensor | dict[str, Tensor]:
        if self.task == "inpainting":
            if mask is None:
                raise ValueError("an inpainting ONNX model needs (image, mask)")
            return self._run({"image": image, "mask": mask})[0]  # (B, 3, H, W)
        feeds = {"image": image}
        extra = {"trimap": trimap, "background": background}.get(self.needs)
        if self.needs in ("trimap", "background"):
            if extra is None:
                raise ValueError(f"this matting ONNX model needs {self.needs}=")
            feeds[self.needs] = extra
        if self.prior is not None:
            if prior is None:
                raise ValueError(f"this matting ONNX model corrects a {self.prior} matte: pass prior=")
            feeds["prior"] = prior
        return dict(zip(self.outputs, self._run(feeds)))
