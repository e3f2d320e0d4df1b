"""Helpers shared by the ``mattepaint`` commands: the parser class, the usage checks, the
sub-parser of a command and the flag groups several commands share, and the one-line output of
errors, warnings and tables.

Nothing heavy is imported here (no torch, no OpenCV), so ``mattepaint --help`` starts fast.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

PROG = "mattepaint"


class UsageError(Exception):
    """A bad command line (unknown flag, missing argument, conflicting options): exit status 2."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`UsageError` instead of printing usage + exiting,
    so :func:`mattepaint.cli.main` can print them as one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------------------------
# output


def one_line(text: str) -> str:
    """Collapse a (possibly multi-line) message to one line."""
    return " ".join(str(text).split())


def print_error(message: str, stream: TextIO | None = None) -> None:
    """Print ``mattepaint: error: <message>`` as one line on stderr."""
    print(f"{PROG}: error: {one_line(message)}", file=stream or sys.stderr)


#: The Python spelling of "replace existing outputs" in library messages -> the CLI flag.
_OVERWRITE_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"pass overwrite=True,? or --overwrite on the command line,? to"),
        "pass --overwrite to",
    ),
    (
        re.compile(r"pass overwrite=True \(--overwrite(?: on the command line)?\)"),
        "pass --overwrite",
    ),
    (re.compile(r"use --overwrite \(overwrite=True in Python\)"), "use --overwrite"),
    (re.compile(r"\boverwrite=True\b"), "--overwrite"),
)


def command_line_message(exc: BaseException) -> str:
    """The one line the command line prints for a user error ``exc``.

    The library's message, with the Python spelling of "replace existing outputs"
    (``overwrite=True``) turned into the flag (``--overwrite``). A bare ``FileExistsError`` from
    the operating system (``[Errno 17] File exists``: a folder to create is a file) says which
    path and what to do instead.
    """
    from mattepaint.errors import InputError

    if isinstance(exc, FileExistsError) and not isinstance(exc, InputError) and exc.filename:
        return (
            f"cannot create the folder {exc.filename}: a file of that name exists (--overwrite "
            "does not replace a file with a folder); choose another output folder"
        )
    message = str(exc) or type(exc).__name__
    for pattern, flag in _OVERWRITE_HINTS:
        message = pattern.sub(flag, message)
    return one_line(message)


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """warnings.showwarning replacement: one line ``mattepaint: warning: ...`` on stderr."""
    print(f"{PROG}: warning: {one_line(str(message))}", file=file or sys.stderr)


def print_table(table: object) -> None:
    """Print a rich renderable on stdout (plain text when stdout is not a terminal)."""
    from rich.console import Console

    # not a terminal (a pipe, a file): wide enough that no column is squeezed or wrapped
    width = None if sys.stdout.isatty() else 200
    Console(file=sys.stdout, width=width, soft_wrap=False).print(table)


def paths_summary(paths: Sequence[Path], what: str) -> str:
    """``wrote N <what> to <folders>`` (or ``no <what> written``)."""
    if not paths:
        return f"no {what} written"
    folders = sorted({str(Path(p).parent) for p in paths})
    return f"wrote {len(paths)} {what} to {', '.join(folders)}"


# --------------------------------------------------------------------------------------------
# usage checks


def is_batch(args: argparse.Namespace) -> bool:
    """True for batch mode (--input-dir), False for one IMAGE; reject both or neither."""
    if args.image is not None and args.input_dir is not None:
        raise UsageError("give either an IMAGE or --input-dir, not both")
    if args.image is None and args.input_dir is None:
        raise UsageError("give an IMAGE or --input-dir DIR")
    return args.input_dir is not None


def require(args: argparse.Namespace, mode: str, **flags: str) -> None:
    """Every ``dest=flag`` must be set in this mode."""
    missing = [flag for dest, flag in flags.items() if getattr(args, dest) is None]
    if missing:
        raise UsageError(f"{mode} mode needs {', '.join(missing)}")


def forbid(args: argparse.Namespace, mode: str, **flags: str) -> None:
    """No ``dest=flag`` may be set in this mode."""
    given = [flag for dest, flag in flags.items() if getattr(args, dest) not in (None, False)]
    if given:
        raise UsageError(f"{', '.join(given)} cannot be used in {mode} mode")


def progress(args: argparse.Namespace) -> bool:
    """--progress / --no-progress, else a bar only when stderr is a terminal (a pipe or a log
    file would get a stray line from the bar)."""
    return sys.stderr.isatty() if args.progress is None else args.progress


def refuse_existing(paths: Sequence[Path | None], overwrite: bool) -> None:
    """Fail before any work when an output exists and --overwrite was not given."""
    from mattepaint.errors import OutputExistsError

    if overwrite:
        return
    for path in paths:
        if path is not None and Path(path).exists():
            raise OutputExistsError(f"output exists: {path} (use --overwrite to replace it)")


# --------------------------------------------------------------------------------------------
# flags


def positive_int(text: str) -> int:
    """argparse ``type=`` for a positive integer flag."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_command(
    commands: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int] | None,
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` (``mattepaint name``) with its ``--help`` texts and its
    handler ``run`` (None: a sub-command of its own is required); return its parser, for the
    flags."""
    parser = commands.add_parser(name, help=help, description=description)
    if run is not None:
        parser.set_defaults(func=run)
    return parser


def add_batch_folders(
    parser: argparse.ArgumentParser,
    inputs: str,
    *matched: tuple[str, str],
    output: str = "output folder",
) -> None:
    """Add the folders of batch mode (:func:`is_batch`): ``--input-dir`` (a folder of
    ``inputs``), each ``(flag, what)`` of ``matched`` (a folder of files matched to the inputs by
    stem), ``--output-dir``; help texts ``batch: ...``."""
    parser.add_argument("--input-dir", type=Path, help=f"batch: folder of {inputs}")
    for flag, what in matched:
        parser.add_argument(flag, type=Path, help=f"batch: {what}")
    parser.add_argument("--output-dir", type=Path, help=f"batch: {output}")


def add_common(parser: argparse.ArgumentParser, progress: bool = True) -> None:
    """Add ``--overwrite`` (and ``--progress / --no-progress`` unless ``progress=False``)."""
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing output files (default: refuse)"
    )
    if progress:
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="draw a progress bar on stderr (default: only when stderr is a terminal)",
        )


# --------------------------------------------------------------------------------------------
# the method a command runs


def add_method_flags(parser: argparse.ArgumentParser, method: str, checkpoint: str) -> None:
    """Add ``--method NAME`` / ``--checkpoint FILE`` / ``--device`` (help texts ``method`` and
    ``checkpoint``), read by :func:`inpaint_method` / :func:`matte_method`."""
    parser.add_argument("--method", default=None, help=method)
    parser.add_argument("--checkpoint", type=Path, help=checkpoint)
    parser.add_argument(
        "--device", default="cpu", help="device for --checkpoint models (cpu, cuda; default: cpu)"
    )


def inpaint_method(args: argparse.Namespace) -> tuple[object, dict[str, object] | None]:
    """The inpainting method of ``--method`` / ``--checkpoint`` / ``--radius``: a method name
    with its options (None: :func:`mattepaint.methods.default_inpainter`), or a checkpoint
    model loaded by :func:`mattepaint.methods.resolve_inpainter` (options None)."""
    from mattepaint import methods

    checkpoint = getattr(args, "checkpoint", None)
    options: dict[str, object] = {}
    if getattr(args, "radius", None) is not None:
        options["radius"] = args.radius
    if checkpoint is None:
        name = args.method if args.method is not None else methods.default_inpainter()
        return name, options or None
    if args.method is not None:
        raise UsageError("give --method NAME or --checkpoint FILE, not both")
    if options:
        raise UsageError("--radius applies to telea / ns, not to a --checkpoint model")
    return methods.resolve_inpainter(checkpoint, device=getattr(args, "device", "cpu")), None


def matte_method(args: argparse.Namespace) -> object:
    """The matting method of ``--method`` / ``--checkpoint``: a method name (None: the default
    for the inputs given, :func:`mattepaint.methods.default_matter`), or a checkpoint model
    loaded by :func:`mattepaint.methods.resolve_matter`."""
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is None:
        return args.method
    if args.method is not None:
        raise UsageError("give --method NAME or --checkpoint FILE, not both")
    from mattepaint import methods

    return methods.resolve_matter(checkpoint, device=getattr(args, "device", "cpu"))
