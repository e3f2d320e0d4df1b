"""The methods the server offers: registered methods plus trained checkpoints.

:class:`MethodCatalog` joins three sources under one list of names, so the HTTP API and the web
UI never need to know where a method comes from:

- every method registered with :mod:`mattepaint.methods` (``telea``, ``closed_form``, ...);
- trained checkpoints given explicitly (``--checkpoint FILE``) or found as ``*.safetensors`` /
  ``*.onnx`` (written by ``mattepaint export``) or ``*.pt`` (training checkpoints) in a models
  folder (``--models-dir DIR``), named ``checkpoint:<file name>``. The task stored in each checkpoint decides where it is listed. Inpainting checkpoints load with
  :func:`mattepaint.methods.resolve_inpainter`, matting ones with
  :func:`mattepaint.methods.resolve_matter` (the one resolver of names and files);
- method objects passed in directly (``inpainters=`` / ``matters=``), e.g. a model built in a
  notebook or a stub in a test;
- segmenters for the cut-out (``POST /api/cutout``, the Matte tab's automatic mode): the files the
  server was started with (``--segmenter FILE``, named by their stem, e.g. ``u2netp``), loaded at
  construction by :func:`mattepaint.segmentation.load_segmenter`, plus the registered names of
  :func:`mattepaint.segmentation.segmenter_names` (models shipped with mattepaint).

A new deep model therefore appears in the app as soon as it is registered or its checkpoint is
dropped into the models folder, without any change to the app.

Methods are built on first use and cached (one instance per name, shared by all requests).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.methods import (
    AUTO,
    Inpainter,
    Matter,
    auto_matter,
    inpainter_names,
    matter_names,
    resolve_inpainter,
    resolve_matter,
)

__all__ = ["CHECKPOINT_PREFIX", "MethodCatalog"]

log = logging.getLogger(__name__)

#: Prefix of the names of trained checkpoints, e.g. ``checkpoint:best.pt``.
CHECKPOINT_PREFIX = "checkpoint:"

_NEEDS = ("trimap", "background", "nothing")


def _unique_names(paths: Sequence[Path]) -> dict[str, Path]:
    """``checkpoint:<file name>`` for each path; when file names clash (``a/best.pt`` and
    ``b/best.pt``), enough parent folders are added to tell them apart (``checkpoint:a/best.pt``)."""
    names: dict[str, Path] = {}
    depth = {path: 1 for path in paths}

    def label(path: Path) -> str:
        parts = path.parts[-depth[path] :]
        return CHECKPOINT_PREFIX + "/".join(parts)

    for _ in range(64):  # grows the clashing labels by one folder a round
        labels: dict[str, list[Path]] = {}
        for path in paths:
            labels.setdefault(label(path), []).append(path)
        clashes = [group for group in labels.values() if len(group) > 1]
        if not clashes:
            break
        for group in clashes:
            for path in group:
                depth[path] = min(depth[path] + 1, len(path.parts))
    for path in paths:
        names[label(path)] = path
    return names


class MethodCatalog:
    """Registered methods plus trained checkpoints, by name.

    Inputs:
        checkpoints: checkpoint files to offer (``--checkpoint``). A file that is missing or is
            not a mattepaint checkpoint raises at construction (the user named it explicitly).
        models_dir: a folder whose ``*.safetensors``, ``*.onnx`` and ``*.pt`` files are offered
            (``--models-dir``; not searched recursively). Files there that cannot be read (a
            pickle that would run code is refused, never unpickled), or whose task has no
            loader, are skipped with a logged one-line warning.
        inpainters, matters: extra ready-built method objects by name (they take precedence
            over registered methods of the same name).
        device: where checkpoint models run ("cpu", "cuda").
        segmenters: segmenter model files for the cut-out (``--segmenter``: U2-Net-family or
            MODNet ONNX files), offered by file stem; a missing or unreadable one raises here.
        check_with: a segmenter name or file (``--check-with``) that checks each of
            ``segmenters``: every file is then also offered as ``<stem>_checked``, a
            :class:`~mattepaint.segmentation.GatedSegmenter` (the file's mask where the two
            agree, this one's otherwise), listed first, so the first becomes the default.

    Names: registered names as in :func:`mattepaint.methods.inpainter_names`; checkpoints as
    ``checkpoint:<file name>`` (with parent folders added when two files share a name).

    Raises:
        InputNotFoundError (a FileNotFoundError): a ``checkpoints`` file or ``models_dir`` does
            not exist.
        InputError (a ValueError): a ``checkpoints`` file is not a mattepaint checkpoint, or
            holds a model of a task that cannot be served.
    """

    def __init__(
        self,
        checkpoints: Sequence[str | Path] = (),
        models_dir: str | Path | None = None,
        *,
        inpainters: Mapping[str, Inpainter] | None = None,
        matters: Mapping[str, Matter] | None = None,
        device: str = "cpu",
        segmenters: Sequence[str | Path] = (),
        check_with: str | Path | None = None,
    ) -> None:
        if isinstance(checkpoints, (str, Path)):
            raise TypeError(
                f"checkpoints must be a sequence of paths, got the single path {checkpoints!r}; "
                "wrap it in a list"
            )
        self.device = device
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], Any] = {}
        self._extra_inpainters = dict(inpainters or {})
        self._extra_matters = dict(matters or {})
        for name, matter in self._extra_matters.items():
            if getattr(matter, "needs", None) not in _NEEDS:
                raise ValueError(
                    f"matter {name!r} must have needs in {_NEEDS}, got "
                    f"{getattr(matter, 'needs', None)!r}"
                )
        self._checkpoints: dict[str, tuple[str, Path]] = {}  # name -> (task, path)
        self._scan(
            [Path(p) for p in checkpoints],
            None if models_dir is None else Path(models_dir),
        )
        self._segmenters = self._load_segmenters(segmenters, check_with)

    # ---------------------------------------------------------------------------- scanning

    def _scan(self, explicit: list[Path], models_dir: Path | None) -> None:
        from mattepaint.models import loading

        found: list[tuple[Path, bool]] = [(p, True) for p in explicit]
        if models_dir is not None:
            if not models_dir.exists():
                raise InputNotFoundError(f"models folder not found: {models_dir}")
            if not models_dir.is_dir():
                raise InputError(f"--models-dir must be a folder, got the file {models_dir}")
            found += [
                (p, False)
                for p in sorted(models_dir.iterdir())
                if p.suffix.lower() in (".pt", ".safetensors", ".onnx") and p.is_file()
            ]
        seen: set[Path] = set()
        accepted: list[tuple[Path, str]] = []
        for path, strict in found:
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                task = loading.checkpoint_task(path)
                if task not in ("inpainting", "matting"):
                    raise InputError(
                        f"checkpoint {path} holds a {task} model; only inpainting and matting "
                        "models can be served"
                    )
            except (ValueError, OSError) as exc:
                if strict:
                    raise
                log.warning("skipping %s: %s", path, exc)
                continue
            accepted.append((path, task))
        names = _unique_names([path for path, _ in accepted])
        by_path = {path: name for name, path in names.items()}
        for path, task in accepted:
            self._checkpoints[by_path[path]] = (task, path)
            log.info("offering %s model %s (%s)", task, by_path[path], path)

    def _load_segmenters(
        self, files: Sequence[str | Path], check_with: str | Path | None = None
    ) -> dict[str, Any]:
        """Load each segmenter file now (a bad file fails at start-up), named by its stem;
        with ``check_with``, each file gated by it first (``<stem>_checked``)."""
        if isinstance(files, (str, Path)):
            raise TypeError(
                f"segmenters must be a sequence of paths, got {files!r}; wrap it in a list"
            )
        from mattepaint.segmentation import load_segmenter

        loaded: dict[str, Any] = {}
        for file in files:
            path = Path(file)
            if path.is_dir() or not path.is_file():
                raise InputNotFoundError(f"segmenter file not found: {path}")
            name = path.stem
            if name in loaded:
                raise InputError(
                    f"two segmenter files are named {name!r}; rename one so they can be told apart"
                )
            loaded[name] = load_segmenter(path)
            log.info("offering segmenter %s (%s)", name, path)
        if check_with is None:
            return loaded
        if not loaded:
            raise InputError("--check-with checks the --segmenter files: give at least one")
        from mattepaint.segmentation import GatedSegmenter

        general = load_segmenter(check_with)
        gated = {f"{name}_checked": GatedSegmenter(seg, general) for name, seg in loaded.items()}
        for name, seg in gated.items():
            log.info("offering segmenter %s (%s)", name, seg.name)
        return gated | loaded

    # ---------------------------------------------------------------------------- listing

    def inpainting_methods(self) -> list[str]:
        """Names of the inpainting methods: "auto" (the best shipped model, the default), the
        registered ones (sorted), extra ones, then checkpoints."""
        names = [AUTO] + [n for n in inpainter_names() if n not in self._extra_inpainters]
        names += list(self._extra_inpainters)
        names += [n for n, (task, _) in self._checkpoints.items() if task == "inpainting"]
        return names

    def matting_methods(self) -> list[str]:
        """Names of the matting methods: registered (sorted), extra ones, then checkpoints."""
        names = [n for n in matter_names() if n not in self._extra_matters]
        names += list(self._extra_matters)
        names += [n for n, (task, _) in self._checkpoints.items() if task == "matting"]
        return names

    def segmenter_names(self) -> list[str]:
        """Names of the segmenters of the cut-out: the files given (by stem, in order), then
        the registered ones (:func:`mattepaint.segmentation.segmenter_names`). The first is the
        default."""
        from mattepaint.segmentation import segmenter_names

        return list(self._segmenters) + [n for n in segmenter_names() if n not in self._segmenters]

    def segmenter(self, name: str | None = None) -> Any:
        """The segmenter called ``name`` (None: the first of :meth:`segmenter_names`), built on
        first use and cached.

        Raises:
            InputError: the server has no segmenter (start it with ``--segmenter FILE.onnx``),
                or an unknown name (the message lists the valid ones).
        """
        names = self.segmenter_names()
        if not names:
            raise InputError(
                "this server has no segmenter for the cut-out: start it with "
                "'mattepaint serve --segmenter FILE.onnx' (a U2-Net or MODNet ONNX file)"
            )
        if name is None:
            name = names[0]
        if not isinstance(name, str) or name not in names:
            raise InputError(f"unknown segmenter {name!r}; valid names: {', '.join(names)}")
        if name in self._segmenters:
            return self._segmenters[name]
        from mattepaint.segmentation import load_segmenter

        return self._cached(("segmenter", name), lambda: load_segmenter(name))

    def checkpoint_path(self, name: str) -> Path | None:
        """The file behind a ``checkpoint:...`` name, or None for other names."""
        entry = self._checkpoints.get(name)
        return None if entry is None else entry[1]

    # ---------------------------------------------------------------------------- building

    def _unknown(self, kind: str, name: object, valid: list[str]) -> InputError:
        return InputError(f"unknown {kind} method {name!r}; valid names: {', '.join(valid)}")

    def _cached(self, key: tuple[str, str], build: Any) -> Any:
        with self._lock:  # one build per name, even when two requests ask at once
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def _method(
        self,
        kind: str,
        name: object,
        valid: list[str],
        extra: Mapping[str, Any],
        resolve: Callable[..., Any],
        *,
        rename: bool = False,
    ) -> Any:
        """The ``kind`` method called ``name``, one of ``valid``: an added object of ``extra``
        as it is, else built on first use and cached: ``resolve(path, device=self.device)`` for
        a checkpoint of the catalog (its ``name`` set to ``name`` when ``rename``), else
        ``resolve(name)``. InputError (a ValueError) listing ``valid`` for an unknown name."""
        if not isinstance(name, str) or name not in valid:
            raise self._unknown(kind, name, valid)
        if name in extra:
            return extra[name]
        if name not in self._checkpoints:
            return self._cached((kind, name), lambda: resolve(name))
        path = self._checkpoints[name][1]

        def build() -> Any:
            method = resolve(path, device=self.device)
            if rename:
                method.name = name
            return method

        return self._cached((kind, name), build)

    def inpainter(self, name: str) -> Inpainter:
        """The inpainting method called ``name`` (built on first use, then cached; a checkpoint
        takes the catalog's name).

        Raises:
            ValueError: unknown name; the message lists the valid names.
        """
        valid = self.inpainting_methods()
        return self._method(
            "inpainting", name, valid, self._extra_inpainters, resolve_inpainter, rename=True
        )

    def matter(self, name: str) -> Matter:
        """The matting method called ``name`` (built on first use, then cached).

        Raises:
            ValueError: unknown name; the message lists the valid names.
        """
        valid = self.matting_methods()
        return self._method("matting", name, valid, self._extra_matters, resolve_matter)

    def auto_matter(self, *, has_trimap: bool, has_background: bool) -> Matter:
        """What "auto" runs for the inputs given (:func:`mattepaint.methods.auto_matter`: the
        best shipped model for that input, else the classical default), built once and cached.

        Raises: InputError for both or neither input.
        """
        spec = auto_matter(has_trimap=has_trimap, has_background=has_background)
        if isinstance(spec, str):
            return self.matter(spec)
        return self._cached(
            ("matting", str(spec)), lambda: resolve_matter(spec, device=self.device)
        )

    def needs(self, name: str) -> str:
        """What the matting method ``name`` needs besides the image: "trimap", "background" or
        "nothing".

        Raises:
            ValueError: unknown name (lists the valid names).
        """
        return str(self.matter(name).needs)

    def describe(self) -> dict[str, list[Any]]:
        """``{"inpainting": [name, ...], "matting": [{"name": ..., "needs": ...}, ...],
        "segmenters": [name, ...]}``."""
        return {
            "inpainting": self.inpainting_methods(),
            "matting": [{"name": n, "needs": self.needs(n)} for n in self.matting_methods()],
            "segmenters": self.segmenter_names(),
        }

    def __repr__(self) -> str:
        return (
            f"MethodCatalog({len(self.inpainting_methods())} inpainting, "
            f"{len(self.matting_methods())} matting methods, "
            f"{len(self._checkpoints)} checkpoints)"
        )
