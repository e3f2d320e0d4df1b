"""Write and read a fixed, seeded set of masks (PNG files + ``manifest.csv``).

The set is reproducible: mask ``i`` of generator ``name`` is drawn with
``np.random.default_rng([seed, generator_id(name), i])`` where ``generator_id`` is the CRC-32 of
the name. So a mask depends only on (seed, generator name, i, size, that generator's params):
the same across runs and machines (numpy's PCG64 stream is stable), and unchanged when the
generator list is reordered, shortened or extended, or when new generators are registered.
"""

from __future__ import annotations

import csv
import io as _stdio
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mattepaint.checks import check_int, check_shape
from mattepaint.errors import InputNotFoundError, OutputExistsError
from mattepaint.masks.buckets import bucket_label, hole_ratio, hole_ratio_bucket
from mattepaint.masks.registry import check_generator_params

#: Generators written by :func:`write_mask_set` when none are named.
DEFAULT_MASKSET_GENERATORS: tuple[str, ...] = (
    "rectangles",
    "center_square",
    "random_square",
    "strokes",
    "lama_thin",
    "lama_medium",
    "lama_thick",
)

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS: tuple[str, ...] = ("file", "generator", "hole_ratio", "bucket", "seed")

#: Above this many masks, write_mask_set shows a progress bar unless progress=False.
_PROGRESS_THRESHOLD = 200


def generator_id(name: str) -> int:
    """Stable integer id of a generator name: ``zlib.crc32(name.encode("utf-8"))``."""
    return zlib.crc32(name.encode("utf-8"))


def mask_rng(seed: int, generator: str, index: int) -> np.random.Generator:
    """The Generator that draws mask ``index`` of ``generator`` in a set seeded with ``seed``.

    ``np.random.default_rng([seed, generator_id(generator), index])``.
    """
    seed = check_int("seed", seed, minimum=0)
    index = check_int("index", index, minimum=0)
    return np.random.default_rng([seed, generator_id(generator), index])


def mask_file_name(index: int, generator: str) -> str:
    """File name of mask ``index`` of ``generator``: ``f"{index:04d}_{generator}.png"``."""
    return f"{index:04d}_{generator}.png"


def write_mask_set(
    out_dir: str | os.PathLike[str],
    *,
    count_per_generator: int = 10,
    size: tuple[int, int] = (256, 256),
    generators: Sequence[str] = DEFAULT_MASKSET_GENERATORS,
    seed: int = 0,
    overwrite: bool = False,
    params: Mapping[str, Mapping[str, object]] | None = None,
    progress: bool | None = None,
    max_pixels: int | None = None,
) -> Path:
    """Write ``count_per_generator`` masks of each generator and a manifest; return its path.

    Inputs:
        out_dir: output folder (created).
        count_per_generator: masks per generator (>= 1), numbered 0..count-1.
        size: (H, W) of every mask.
        generators: names from ``GENERATORS`` (no duplicates), default
            :data:`DEFAULT_MASKSET_GENERATORS`. "folder" needs
            ``params={"folder": {"folder": path}}``.
        seed: non-negative int; see the module doc for how each mask's Generator is derived.
        overwrite: replace existing files. Without it, if any target file (a mask or
            ``manifest.csv``) exists, ``FileExistsError`` is raised before anything is written.
        params: generator name -> keyword parameters for that generator.
        progress: show a rich progress bar (stderr); None = only for more than 200 masks.
        max_pixels: largest mask, H x W; None = :func:`mattepaint.io.max_pixels_limit` (the
            pixel limit of every loader, ``MATTEPAINT_MAX_PIXELS`` or 4096 x 4096). A larger
            ``size`` raises :class:`~mattepaint.errors.InputError` before anything is drawn.
    Outputs: the path of ``out_dir / "manifest.csv"``, columns ``file, generator, hole_ratio,
        bucket, seed``: file name (relative), generator name, hole ratio with 6 decimals, the
        hole-ratio bucket label ("0.1-0.2", empty outside the buckets), the set's ``seed``. Rows
        follow ``generators`` order, then index. Masks are written with
        ``mattepaint.io.save_mask`` (atomic), named ``NNNN_<generator>.png`` with NNNN the
        per-generator index; the manifest is written last (atomically, "\\n" line ends).

    All names and parameters are checked, and the first mask of each generator is drawn,
    before any file is written.
    """
    from mattepaint._progress import track
    from mattepaint.io import atomic_path, check_pixel_count, save_mask

    out_dir = Path(out_dir)
    count = check_int("count_per_generator", count_per_generator, minimum=1)
    shape = check_shape(tuple(size) if isinstance(size, list) else size)
    check_pixel_count(
        shape[1], shape[0], "each mask", max_pixels=max_pixels, fix="choose a smaller size"
    )
    seed = check_int("seed", seed, minimum=0)
    if isinstance(generators, str) or not isinstance(generators, Sequence):
        raise TypeError(f"generators must be a sequence of names, got {type(generators).__name__}")
    names = list(generators)
    if not names:
        raise ValueError("generators must name at least one generator, got none")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"generators must not repeat names, got duplicates {duplicates}")
    params = dict(params or {})
    extra = sorted(set(params) - set(names))
    if extra:
        raise ValueError(f"params given for generator(s) {extra} not in generators {names}")
    functions = {name: check_generator_params(name, dict(params.get(name, {}))) for name in names}

    targets = [out_dir / mask_file_name(i, name) for name in names for i in range(count)]
    manifest = out_dir / MANIFEST_NAME
    if not overwrite:
        existing = [p for p in [*targets, manifest] if p.exists()]
        if existing:
            shown = ", ".join(str(p) for p in existing[:3])
            more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
            raise OutputExistsError(
                f"mask set files already exist: {shown}{more}; pass overwrite=True to replace them"
            )

    # Draw mask 0 of every generator first: a bad parameter value fails before any write.
    first = {
        name: functions[name](shape, mask_rng(seed, name, 0), **params.get(name, {}))
        for name in names
    }

    jobs = [(name, i) for name in names for i in range(count)]
    show = progress if progress is not None else len(jobs) > _PROGRESS_THRESHOLD
    rows: list[tuple[str, str, str, str, str]] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, i in track(jobs, "writing masks", total=len(jobs), enabled=bool(show)):
        if i == 0:
            mask = first.pop(name)
        else:
            mask = functions[name](shape, mask_rng(seed, name, i), **params.get(name, {}))
        file_name = mask_file_name(i, name)
        save_mask(out_dir / file_name, mask, overwrite=overwrite)
        ratio = hole_ratio(mask)
        bucket = hole_ratio_bucket(ratio)
        rows.append(
            (
                file_name,
                name,
                f"{ratio:.6f}",
                "" if bucket is None else bucket_label(bucket),
                str(seed),
            )
        )

    buffer = _stdio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(rows)
    with atomic_path(manifest, overwrite=overwrite) as temp:
        temp.write_text(buffer.getvalue(), encoding="utf-8")
    return manifest


def read_manifest(path: str | os.PathLike[str]) -> list[dict[str, object]]:
    """Read a ``manifest.csv`` written by :func:`write_mask_set`.

    Inputs: the manifest path, or the folder holding it.
    Outputs: one dict per mask with keys ``file`` (str, relative to the manifest's folder),
    ``path`` (Path, absolute), ``generator`` (str), ``hole_ratio`` (float), ``bucket`` (str label,
    or None), ``seed`` (int). ``FileNotFoundError`` if missing; ``ValueError`` if a column is
    missing or a value does not parse.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise InputNotFoundError(f"mask manifest not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"manifest {path} lacks column(s) {missing}; got {reader.fieldnames}")
        rows: list[dict[str, object]] = []
        for line, record in enumerate(reader, start=2):
            try:
                ratio = float(record["hole_ratio"])
                seed = int(record["seed"])
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"manifest {path} line {line}: cannot parse {record}: {error}"
                ) from None
            rows.append(
                {
                    "file": record["file"],
                    "path": (path.parent / record["file"]).resolve(),
                    "generator": record["generator"],
                    "hole_ratio": ratio,
                    "bucket": record["bucket"] or None,
                    "seed": seed,
                }
            )
    return rows


__all__ = [
    "DEFAULT_MASKSET_GENERATORS",
    "MANIFEST_COLUMNS",
    "generator_id",
    "mask_file_name",
    "mask_rng",
    "read_manifest",
    "write_mask_set",
]
