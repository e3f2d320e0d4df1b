"""Progress bars (rich.progress) shared by the batch runner, the evaluator and training."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def track(
    iterable: Iterable[T], description: str, total: int | None = None, enabled: bool = True
) -> Iterator[T]:
    """Yield the items of ``iterable`` while drawing a progress bar on stderr.

    Inputs:
        iterable: the items to go through.
        description: the label left of the bar ("inpainting", "evaluating").
        total: the number of items (taken from ``len(iterable)`` when None and possible).
        enabled: False yields the items without drawing anything (for scripts and tests).

    Outputs:
        the items of ``iterable``, in order. The bar disappears when the loop ends.
    """
    if not enabled:
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import Progress

    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    columns = bar_columns()
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield from progress.track(iterable, total=total, description=description)


def bar_columns() -> tuple:
    """The rich.progress columns every mattepaint bar uses: description, bar, n/total, elapsed
    time, time remaining (the training bar adds its loss and images/s column)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
