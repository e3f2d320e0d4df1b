"""The project's own error types: what a caller (and the CLI) can catch as "bad input".

Every public function raises :class:`InputError` (a ``ValueError``) for a mistake in what it was
given: an unreadable or truncated file, a size that differs, an unknown method, an output that
exists, a checkpoint that is not one of ours. The message is one line that names the file (where
there is one) and says what to do. The command line prints exactly that line and exits with
status 1; anything else that escapes is a bug and keeps its traceback.

``ValueError`` and ``TypeError`` raised by the validators of public functions (shapes, ranges,
types) are also user mistakes when the CLI passes them on; ``InputError`` is for what the library
finds in files and names.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "InputNotFoundError",
    "OutputExistsError",
    "UnsafeCheckpointError",
]


class InputError(ValueError):
    """Bad input named by the user: a file, a folder, a flag value. One clear line."""


class InputNotFoundError(InputError, FileNotFoundError):
    """A named input file or folder does not exist (or is the wrong kind: a folder for a file)."""


class OutputExistsError(InputError, FileExistsError):
    """An output file exists and overwriting was not asked for (CLI hint: --overwrite)."""


class UnsafeCheckpointError(InputError):
    """A model file that could run code when loaded (a pickle): refused, never executed."""
