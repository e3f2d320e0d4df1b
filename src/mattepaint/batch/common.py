"""What the batch commands share: input lookup and matching by stem, the up-front checks of
output names and image sizes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from mattepaint import io
from mattepaint.errors import InputError, InputNotFoundError, OutputExistsError

PathLike = str | Path


def require_file(path: PathLike, what: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputNotFoundError(f"{what} {path} is a directory; give an image file")
    if not path.is_file():
        raise InputNotFoundError(f"{what} not found: {path}")
    return path


def input_images(input_dir: PathLike) -> dict[str, Path]:
    """The images of a folder by stem (:func:`mattepaint.io.images_by_stem`); InputError when
    there are none."""
    images = io.images_by_stem(input_dir, "input")
    if not images:
        raise InputError(f"no images ({', '.join(io.IMAGE_SUFFIXES)}) found in {input_dir}")
    return images


def match_inputs(
    stems: Iterable[str], source: PathLike | None, what: str
) -> dict[str, Path] | None:
    """Map every stem to a file of ``source``: a folder (matched by stem) or one file for all.

    Raises InputError listing (up to five) stems that have no match in the folder.
    """
    if source is None:
        return None
    source = Path(source)
    stems = list(stems)
    if source.is_dir():
        fix = f"add a {what} with the same name for each"
        by_stem = io.match_by_stem(stems, source, what, fix=fix)
        return {stem: by_stem[stem] for stem in stems}
    require_file(source, what)
    return {stem: source for stem in stems}


def check_outputs(outputs: Sequence[Path], inputs: Iterable[Path], overwrite: bool) -> None:
    """Outputs must be distinct, must not be one of the inputs, and must not exist (unless
    ``overwrite``)."""
    resolved = [path.resolve() for path in outputs]
    if len(set(resolved)) != len(resolved):
        counts: dict[Path, int] = {}
        for path in resolved:
            counts[path] = counts.get(path, 0) + 1
        clashes = [str(path) for path, n in counts.items() if n > 1]
        raise InputError(
            f"several results would be written to the same file: {io.short_listing(clashes)}; "
            f"give each output its own name"
        )
    input_set = {path.resolve() for path in inputs}
    clobbered = [str(path) for path in resolved if path in input_set]
    if clobbered:
        raise InputError(
            f"an output would replace an input file: {io.short_listing(clobbered)}; write the "
            f"results elsewhere"
        )
    if not overwrite:
        existing = [str(path) for path in outputs if path.exists()]
        if existing:
            raise OutputExistsError(
                f"{len(existing)} output file(s) already exist (pass overwrite=True, or "
                f"--overwrite on the command line, to replace them): {io.short_listing(existing)}"
            )


def check_sizes(pairs: Iterable[tuple[Path, Path, str]]) -> None:
    """Every (image, other, what) pair must have the same size, read from the headers
    (:func:`mattepaint.io.read_image_size`, which also applies the pixel limit)."""
    sizes: dict[tuple[Path, str], tuple[int, int]] = {}  # a shared mask is read once

    def size(path: Path, kind: str) -> tuple[int, int]:
        if (path, kind) not in sizes:
            sizes[path, kind] = io.read_image_size(path, kind=kind)
        return sizes[path, kind]

    bad: list[str] = []
    kinds: list[str] = []
    for image_path, other_path, what in pairs:
        size_a, size_b = size(image_path, "image"), size(other_path, what)
        if size_a != size_b:
            kinds.append(what)
            bad.append(
                f"{image_path.name} is {size_a[1]}x{size_a[0]} but its {what} "
                f"{other_path.name} is {size_b[1]}x{size_b[0]}"
            )
    if bad:
        raise InputError(
            f"sizes do not match (width x height): {io.short_listing(bad)}; give each image the "
            f"{kinds[0]} made for it"
        )
