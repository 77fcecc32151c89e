"""The data dir and the SQLite files in it: one clear sentence when one of them cannot be used.

Every store opens its file inside :func:`opening`, so a file that is not a database (or is damaged) surfaces as a
:class:`StateFileError` naming the file, what it holds and how to move it aside, never as sqlite3's bare "file is
not a database". Nothing here deletes a file: the audit log and the event inbox are records the merchant may need.
The CLI calls :func:`check_data_dir` (the directory, then each file, read-only) before it starts anything, so a
fault ends the command with one line and nothing half-started; ``doctor`` reports the same checks one by one.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "SANDBOX_DB",
    "SANDBOX_DB_FIX",
    "STATE_FILES",
    "DataDirError",
    "StateFileError",
    "check_data_dir",
    "check_state_file",
    "data_dir_problem",
    "opening",
]

#: The server's state files in the data dir, and what each holds.
STATE_FILES = {
    "audit.db": "the audit log",
    "confirmations.db": "the confirmation tokens",
    "events.db": "the event inbox",
    "exports.db": "the order exports",
    "directory.db": "the customer directory",
    "oauth.db": "the OAuth grants",
    "tenants.db": "the connected stores",
}
#: The ``--sandbox`` demo store's file (the CLI wires it in), and what to do when it is damaged: it is only demo data.
SANDBOX_DB = "sandbox.db"
SANDBOX_DB_FIX = "delete it (the demo store is rebuilt on the next start)"

#: SQLite's primary result codes for "this is not a (healthy) database file".
_DAMAGED = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}


class DataDirError(Exception):
    """``HAJATEK_DATA_DIR`` cannot hold the state. ``str()`` is one line naming the variable and the fix."""


class StateFileError(Exception):
    """A state file cannot be used. ``str()`` is one line: the file, what it holds, the fix; nothing was deleted."""

    def __init__(self, path: Path, what: str, problem: str, fix: str | None = None) -> None:
        self.path = path
        self.what = what
        fix = fix or f"move it aside (mv {path} {path}.broken) and start again; nothing was deleted"
        super().__init__(f"{path} {problem} ({what}): {fix}.")


def _error(path: Path, what: str, exc: sqlite3.DatabaseError, fix: str | None) -> StateFileError:
    if exc.sqlite_errorcode & 0xFF in _DAMAGED:
        return StateFileError(path, what, "is not a readable SQLite database", fix)
    return StateFileError(
        path, what, f"cannot be opened ({exc})", "check that this user may read and write it and its directory"
    )


@contextmanager
def opening(path: Path | None, what: str, *, fix: str | None = None) -> Iterator[None]:
    """Run a store's opening statements; a file that is not a usable database becomes a :class:`StateFileError`.

    ``path=None`` (an in-memory store) passes sqlite3's errors through unchanged.
    """
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if path is None:
            raise
        raise _error(path, what, exc, fix) from None


def check_state_file(path: Path, what: str, *, fix: str | None = None) -> None:
    """Raise :class:`StateFileError` if ``path`` exists and is not a readable SQLite database. Creates nothing."""
    if not path.exists():
        return
    if path.is_dir():
        raise StateFileError(path, what, "is a directory, not a database file", fix)
    with opening(path, what, fix=fix):
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA schema_version").fetchone()  # reads the header: fails on anything but SQLite
        finally:
            conn.close()


def data_dir_problem(directory: Path) -> str | None:
    """Why ``directory`` cannot hold the server's state (one line naming HAJATEK_DATA_DIR and the fix), or None.

    Creates the directory when it is missing, as the server would.
    """
    if directory.exists() and not directory.is_dir():
        return (
            f"HAJATEK_DATA_DIR {directory} is a file, not a directory: point HAJATEK_DATA_DIR at a directory "
            "(or move that file away)"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return (
            f"HAJATEK_DATA_DIR {directory} is not writable ({reason}): choose a directory this user may write, "
            "or fix its permissions"
        )
    return None


def check_data_dir(directory: Path, *, sandbox: bool) -> None:
    """Before anything starts: the data dir can hold the state (else :class:`DataDirError`), and every state file in
    it opens (else :class:`StateFileError`); with ``sandbox``, the demo store's file too."""
    problem = data_dir_problem(directory)
    if problem is not None:
        raise DataDirError(problem)
    for name, what in STATE_FILES.items():
        check_state_file(directory / name, what)
    if sandbox:
        check_state_file(directory / SANDBOX_DB, "the --sandbox demo store", fix=SANDBOX_DB_FIX)
