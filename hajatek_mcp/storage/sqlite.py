"""SQLite, opened one way for every store: the pragmas, versioned migrations, statements, transactions.

Each store (the audit log, confirmation tokens, the event inbox, OAuth grants) owns only its SQL; this module owns
the file. :class:`SQLite` is the synchronous core: a file (or memory) opened with WAL, ``synchronous=FULL`` (a commit
is on disk before the caller answers anyone), ``busy_timeout`` (a second process waits instead of failing) and
foreign keys on; the schema is versioned with ``PRAGMA user_version``, and each :class:`Schema` migration runs once,
in order, in its own transaction. :class:`Database` is the async face the stores use: every statement runs in a
worker thread, one at a time per file, so no SQLite work blocks the event loop.

Nothing here leaks into a store's interface: stores take and return plain Python values, which is what a PostgreSQL
backend implements as well.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from hajatek_mcp.storage.files import opening

__all__ = ["Database", "Migration", "Row", "SQLite", "Schema", "Transaction"]

T = TypeVar("T")
Row = tuple[Any, ...]
Params = Sequence[Any]

#: How long a statement waits for another connection's write lock before it fails (milliseconds).
BUSY_TIMEOUT_MS = 5000


class Transaction:
    """Statements inside one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        return self._conn.execute(sql, params).rowcount

    def script(self, sql: str) -> None:
        """Run several statements (a migration); it must not commit by itself."""
        for statement in (s.strip() for s in sql.split(";")):
            if statement:
                self._conn.execute(statement)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def columns(self, table: str) -> set[str]:
        """The column names of ``table`` (empty when it does not exist)."""
        return {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}


#: A migration: a SQL script, or a function of the transaction for steps that depend on what the file holds.
Migration = str | Callable[[Transaction], None]


@dataclass(frozen=True)
class Schema:
    """What a store keeps in its file: a name for messages, and the migrations that build it, oldest first.

    Migration *n* (1-based) brings the file to version *n*. Released migrations are never edited, only appended.
    """

    what: str
    """What the file holds, for messages ("the audit log")."""
    migrations: tuple[Migration, ...]
    fix: str | None = None
    """What to tell the user when the file is damaged (default: move it aside; nothing is ever deleted)."""

    @property
    def version(self) -> int:
        return len(self.migrations)


class SQLite:
    """One SQLite file (``path=None``: in memory) opened with the house pragmas and migrated to ``schema``."""

    def __init__(self, path: Path | None, schema: Schema) -> None:
        self.path = path
        self.schema = schema
        self._lock = threading.Lock()
        with opening(path, schema.what, fix=schema.fix):  # a damaged file is named, and never deleted
            self._conn = sqlite3.connect(
                ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
            )
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()

    def _migrate(self) -> None:
        (current,) = self._conn.execute("PRAGMA user_version").fetchone()
        if current > self.schema.version:
            raise sqlite3.DatabaseError(
                f"{self.schema.what} was written by a newer hajatek-mcp (schema {current}, this one knows "
                f"{self.schema.version}): upgrade hajatek-mcp"
            )
        for version, migration in enumerate(self.schema.migrations[current:], start=current + 1):
            with self.transaction() as tx:
                if isinstance(migration, str):
                    tx.script(migration)
                else:
                    migration(tx)
                tx.execute(f"PRAGMA user_version={version}")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def read(self, fn: Callable[[Transaction], T]) -> T:
        """Run ``fn`` for reading (no transaction is opened; each statement sees committed data)."""
        with self._lock:
            return fn(Transaction(self._conn))

    def write(self, fn: Callable[[Transaction], T]) -> T:
        """Run ``fn`` inside one write transaction."""
        with self.transaction() as tx:
            return fn(tx)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Database:
    """The async face of a :class:`SQLite` file: each call runs in a worker thread, one at a time per file."""

    def __init__(self, path: Path | None, schema: Schema) -> None:
        self.file = SQLite(path, schema)
        self._limiter = anyio.CapacityLimiter(1)

    async def read(self, fn: Callable[[Transaction], T]) -> T:
        return await anyio.to_thread.run_sync(self.file.read, fn, limiter=self._limiter)

    async def write(self, fn: Callable[[Transaction], T]) -> T:
        """Run ``fn`` in one write transaction. Shielded: once started, a cancelled caller does not undo it."""
        with anyio.CancelScope(shield=True):
            done = await anyio.to_thread.run_sync(self.file.write, fn, limiter=self._limiter)
        return done  # noqa: RET504  # returned outside the scope: mypy cannot tell a shielded scope never swallows

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.read(lambda tx: tx.all(sql, params))

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        return await self.read(lambda tx: tx.one(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self.write(lambda tx: tx.execute(sql, params))

    def close(self) -> None:
        self.file.close()
