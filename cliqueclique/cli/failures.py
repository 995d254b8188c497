"""Expected failures become one `Error:` line, never a traceback.

What a user can cause or meet (a bad id, a busy port, a full disk, a missing
SAM bridge, an unreadable home, Ctrl-C) arrives as a library error, an
`OSError`, a SQLite error, or any of those inside trio's exception groups;
`expected_message` picks the one that matters out of a group.
"""

from __future__ import annotations

import errno
import sqlite3

import click
import trio

from ..errors import CliqueError


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, in order."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def is_interrupt(error: BaseException) -> bool:
    """Ctrl-C, possibly wrapped (trio re-raises it inside groups)."""
    return any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves(error))


def _describe(error: BaseException) -> str | None:
    if isinstance(error, CliqueError):
        text = str(error)
        # SQLite reports a full disk met while opening its WAL as an I/O error
        return f"{text} (is the disk full?)" if "disk I/O error" in text else text
    if isinstance(error, OSError):
        what = error.strerror or str(error)
        if error.errno == errno.ENOSPC:
            what = "no space left on the device"
        where = f": {error.filename}" if error.filename else ""
        return f"{what}{where}"
    if isinstance(error, sqlite3.Error):
        text = str(error)
        return "the disk is full" if "full" in text else f"database error: {text}"
    if isinstance(error, trio.TooSlowError):
        return "timed out"
    return None


def expected_message(error: BaseException) -> str | None:
    """One line for an expected failure, or None for a bug (which must show)."""
    found = [leaf for leaf in leaves(error) if not isinstance(leaf, trio.Cancelled)]
    for kind in (click.ClickException, CliqueError, OSError, sqlite3.Error, trio.TooSlowError):
        for leaf in found:
            if isinstance(leaf, kind):
                if isinstance(leaf, click.ClickException):
                    return leaf.format_message()
                return _describe(leaf)
    return None


def click_exception(error: BaseException) -> click.ClickException | None:
    """The click exception a group holds (a usage error raised inside trio)."""
    return next((leaf for leaf in leaves(error) if isinstance(leaf, click.ClickException)), None)
