"""The ``mattepaint`` command line: a thin shell over the importable library functions.

Every command maps its flags one to one onto the keyword arguments of one library function, and
lives in its own module here (its flags beside its handler):

=========================  ======================================================================
command                    module: library function
=========================  ======================================================================
``inpaint IMAGE``          :mod:`.inpaint`: :func:`mattepaint.batch.inpaint_file`
``inpaint --input-dir``    :mod:`.inpaint`: :func:`mattepaint.batch.inpaint_folder`
``matte IMAGE``            :mod:`.matte`: :func:`mattepaint.batch.matte_file`
``matte --input-dir``      :mod:`.matte`: :func:`mattepaint.batch.matte_folder`
``cutout IMAGE``           :mod:`.cutout`: :func:`mattepaint.batch.cutout_file` (``-``: standard
                           input / output)
``cutout --input-dir``     :mod:`.cutout`: :func:`mattepaint.batch.cutout_folder`
``evaluate inpainting``    :mod:`.evaluate`: :func:`mattepaint.evaluate.evaluate_inpainting`
``evaluate matting``       :mod:`.evaluate`: :func:`mattepaint.evaluate.evaluate_matting`
``train CONFIG``           :mod:`.train`: :func:`mattepaint.train.loop.train`
``masks OUT_DIR``          :mod:`.masks`: :func:`mattepaint.masks.write_mask_set`
``export CKPT -o OUT``     :mod:`.export`: :func:`mattepaint.models.checkpoint.export_checkpoint`
                           (``.onnx``: :func:`mattepaint.models.onnx_model.export_onnx`;
                           ``--from-legacy``: ``migrate_legacy_checkpoint``)
``methods``                :mod:`.methods`: :func:`mattepaint.methods.inpainter_names` /
                           ``matter_names``
``demo``                   :mod:`.demo`: :func:`mattepaint.demo.run_demo`
``serve``                  :mod:`.serve`: :func:`mattepaint.server.serve`
=========================  ======================================================================

A command module has two functions: ``add_parser(commands)`` adds its sub-parser and flags, and
``run(args)`` is the handler (``evaluate`` has one per task). To add a command, write such a module
and list it in :data:`COMMANDS`. Shared helpers (the parser class, ``add_command`` for the
sub-parser, the flag groups several commands share: ``--overwrite`` / ``--progress``, the batch
folders, ``--method`` / ``--checkpoint`` / ``--device``; usage checks, one-line output) are in
:mod:`mattepaint.cli.common`.

Flags worth knowing:

- ``--method NAME`` / ``--checkpoint FILE`` (inpaint, matte, evaluate inpainting): a registered
  method or a trained model file (a checkpoint, or .onnx from export), resolved by
  :func:`mattepaint.methods.resolve_inpainter` / :func:`~mattepaint.methods.resolve_matter`,
  the resolver the library, the server and the benchmarks use too.
- ``--overwrite`` (every writing command): replace existing outputs; without it an existing
  output is refused before any work, and the file stays as it was.
- ``--progress / --no-progress`` (batch and evaluate): a rich progress bar on stderr; by default
  only when stderr is a terminal.
- ``evaluate``: prints the summary table (one row per hole-ratio bucket plus "all") and writes
  the report to ``--json`` / ``--csv``; by default beside the prediction folder as
  ``<pred-dir-name>_eval.json`` (summary + per-case rows) and ``<pred-dir-name>_eval.csv``
  (per-case rows). ``--no-save`` writes only the files named with --json / --csv.

Errors: a user mistake (bad or missing file, wrong size, unknown method, existing output, bad
flag) prints ONE line ``mattepaint: error: ...`` on stderr and exits with status 1 (2 for a bad
command line), never a traceback; messages name the flag (``--overwrite``), not the Python
keyword. Anything that is not a user mistake (:data:`USER_ERRORS`) is a bug and keeps its
traceback. Ctrl-C exits with status 130. Warnings (a non-binary mask, ...)
print as one line ``mattepaint: warning: ...`` and the command goes on.

Heavy modules (torch, pymatting, OpenCV) are imported inside the command handlers, so
``mattepaint --help`` and ``mattepaint --version`` start fast.

Example:
    $ mattepaint inpaint photo.png --mask hole.png -o filled.png --method telea
    $ mattepaint matte photo.png --trimap trimap.png -o alpha.png --cutout cutout.png
    $ mattepaint evaluate inpainting --pred-dir out --gt-dir gt --mask-dir masks
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable

from mattepaint import __version__
from mattepaint.cli import (
    cutout,
    demo,
    evaluate,
    export,
    inpaint,
    masks,
    matte,
    methods,
    serve,
    train,
)
from mattepaint.cli.common import (
    PROG,
    Parser,
    UsageError,
    command_line_message,
    print_error,
    show_warning,
)
from mattepaint.errors import InputError

__all__ = ["COMMANDS", "PROG", "USER_ERRORS", "UsageError", "build_parser", "main"]

#: The command modules, in the order ``mattepaint --help`` lists them.
COMMANDS = (inpaint, matte, cutout, evaluate, train, masks, export, methods, demo, serve)

#: Exceptions that mean "the user gave bad input": one line on stderr, exit status 1, no
#: traceback. InputError is the project's own (a file or folder that is missing, unreadable or
#: of the wrong kind, an output that exists, an unknown method, a config mistake:
#: ``train.config.ConfigError`` is one); ValueError is what the validators of public functions
#: raise for a bad value (a size, a range). Anything else (a TypeError, an OSError the library
#: did not expect) is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (InputError, ValueError)


def build_parser() -> argparse.ArgumentParser:
    """The ``mattepaint`` argument parser: one sub-parser per module in :data:`COMMANDS`."""
    parser = Parser(
        prog=PROG,
        description="Image matting and inpainting: classical methods, exact metrics, batch tools.",
        epilog=f"Run '{PROG} COMMAND --help' for the flags of one command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``mattepaint`` command line; return the exit status (0 = success).

    Inputs:
        argv: the arguments without the program name (default: ``sys.argv[1:]``).

    Outputs:
        0 on success, 1 for a user error (bad input file, existing output, unknown method, ...),
        2 for a bad command line, 130 when interrupted. The console script calls
        ``sys.exit(main())``.
    """
    parser = build_parser()
    command = ""
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version print and exit 0
            return exc.code if isinstance(exc.code, int) else 0
        command = " ".join(
            part for part in (args.command, getattr(args, "task", None)) if part is not None
        )
        func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
        if func is None:
            what = "task (inpainting or matting)" if args.command == "evaluate" else "command"
            raise UsageError(f"a {what} is required")
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            # as in Python's default filters: a ResourceWarning is about this process's own
            # clean-up (e.g. an event loop some library left open, collected mid-command), not
            # about the user's input, and it would break the one-line output
            warnings.simplefilter("ignore", ResourceWarning)
            warnings.showwarning = show_warning
            return func(args)
    except UsageError as exc:
        message = str(exc)
        if "--help" not in message:
            message += f" (see '{' '.join(filter(None, (PROG, command)))} --help')"
        print_error(message)
        return 2
    except USER_ERRORS as exc:
        print_error(command_line_message(exc))
        return 1
    except FileExistsError as exc:  # an output folder named by the user is a file (mkdir)
        if exc.filename is None:
            raise
        print_error(command_line_message(exc))
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
