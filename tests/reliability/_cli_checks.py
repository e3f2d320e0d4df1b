"""Helpers of the command-line tests: run ``mattepaint ARGS`` in-process, and check that a user
mistake is exactly one line on stderr.

Imported as ``from _cli_checks import one_error, run`` (tests/conftest.py puts this folder on
``sys.path``: pytest runs with ``--import-mode=importlib``, so the test folder is not a package).
"""

from __future__ import annotations

import pytest

from mattepaint.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``mattepaint ARGS`` run in-process."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str, *fragments: str, absent: tuple[str, ...] = ()) -> str:
    """stderr is exactly one line ``mattepaint: error: ...`` (newline-terminated, no traceback)
    holding every fragment and none of ``absent`` (nor the Python spelling ``overwrite=True`` or
    an ``[Errno N]`` of the OS); returns the line."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert err.endswith("\n")
    line = lines[0]
    assert line.startswith("mattepaint: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    for fragment in (*absent, "overwrite=True", "[Errno"):
        assert fragment not in line, (fragment, line)
    return line
