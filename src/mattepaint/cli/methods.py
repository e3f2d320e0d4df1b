"""``mattepaint methods``: list the registered inpainting and matting methods and what each
needs (:func:`mattepaint.methods.inpainter_names` / :func:`mattepaint.methods.matter_names`), and
the segmenters of the cut-out (:func:`mattepaint.segmentation.segmenter_names`)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mattepaint.cli.common import add_command, print_table

_NEEDS_TEXT = {
    "trimap": "image + trimap",
    "background": "image + clean background",
    "nothing": "image only",
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``methods`` sub-command."""
    add_command(commands, "methods", run, help="list the registered inpainting and matting methods")


def run(args: argparse.Namespace) -> int:
    """Print one table row per registered method: task, name, inputs, description."""
    from rich.table import Table

    from mattepaint import methods

    table = Table(title="registered methods")
    table.add_column("task")
    table.add_column("name")
    table.add_column("needs")
    table.add_column("description")
    table.add_row("inpainting", methods.AUTO, "image + mask", f"the default: {_auto_inpainter()}")
    for name in methods.inpainter_names():
        doc = _first_line(methods.get_inpainter(name))
        table.add_row("inpainting", name, "image + mask", doc)
    table.add_row(
        "matting", methods.AUTO, "image + trimap or background", f"the default: {_auto_matter()}"
    )
    for name in methods.matter_names():
        matter = methods.get_matter(name)
        needs = _NEEDS_TEXT.get(matter.needs, matter.needs)
        table.add_row("matting", name, needs, _first_line(matter))
    for name, text in _segmenters():
        table.add_row("cut-out", name, "image only", text)
    print_table(table)
    return 0


def _spec_name(spec: object) -> str:
    """A method name, or "shipped model NAME" for the file of a shipped model."""
    return spec if isinstance(spec, str) else f"shipped model {Path(str(spec)).stem}"


def _auto_inpainter() -> str:
    from mattepaint import methods

    return _spec_name(methods.auto_inpainter())


def _auto_matter() -> str:
    from mattepaint import methods

    trimap = _spec_name(methods.auto_matter(has_trimap=True, has_background=False))
    background = _spec_name(methods.auto_matter(has_trimap=False, has_background=True))
    return f"{trimap} with a trimap, {background} with a background"


def _segmenters() -> list[tuple[str, str]]:
    """(name, description) of each registered segmenter of the cut-out, the default first."""
    from mattepaint.errors import InputError
    from mattepaint.segmentation import default_segmenter, segmenter_names

    try:
        default = default_segmenter()
    except InputError:
        default = None
    rows = [
        (
            name,
            "the default segmenter of 'cutout' and of 'matte' without trimap or background"
            if name == default
            else "a registered segmenter",
        )
        for name in segmenter_names()
    ]
    rows.sort(key=lambda row: row[0] != default)
    if default is None:
        rows.append(("(none)", "no shipped segmenter in this install: cutout --segmenter FILE"))
    return rows


def _first_line(obj: object) -> str:
    """First line of the method class's docstring, Sphinx roles (:func:`x`) reduced to x."""
    doc = (type(obj).__doc__ or "").strip()
    line = doc.splitlines()[0] if doc else ""
    return re.sub(r":\w+:`([^`]*)`", r"\1", line)
