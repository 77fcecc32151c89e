"""SQLite, opened one way for every store: the pragmas, versioned migrations, statements, transactions.

Each store (the audit log, confirmation tokens, the event inbox, OAuth grants) owns only its SQL; this module owns
the file. :class:`SQLite` is the synchronous core: a file (or memory) opened with WAL, ``synchronous=FULL`` (a commit
is on disk before the caller answers anyone), ``busy_timeout`` (a second process waits instead of failing) and
foreign keys on; the schema is versioned with ``PRAGMA user_version``, and each :class:`Schema` migration runs once,
in order, in its own transaction. :class:`Database` is the async face the stores use: every statement runs in a
worker thread, one at a time per file, so no SQLite work blocks the event loop. The sandbox runs its statements on
the event loop on purpose and uses :class:`SQLite` directly: rows by column name (:meth:`Transaction.records`), its
own SQL function, and transactions nested in its bulk loads.

Nothing here leaks into a store's interface: stores take and return plain Python values, which is what a PostgreSQL
backend implements as well.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread

from hajatek_mcp.storage.files import StateFileError, opening

__all__ = ["Core", "Database", "Migration", "Record", "Row", "SQLite", "Schema", "Transaction"]

T = TypeVar("T")
Row = tuple[Any, ...]
Params = Sequence[Any]
#: What a SQL function returns to SQLite.
Value = str | bytes | int | float | None


class Record(Protocol):
    """A row readable by position and by column name: ``row[0]``, ``row["id"]``, ``row.keys()``, ``dict(row)``."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...


#: How long a statement waits for another connection's write lock before it fails (milliseconds).
BUSY_TIMEOUT_MS = 5000


class Transaction:
    """Statements inside one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any error).

    :meth:`all` and :meth:`one` give rows as tuples; :meth:`records` and :meth:`record` as :class:`Record`.
    """

    dialect = "sqlite"
    """Which SQL this is, for the few statements a store spells differently on PostgreSQL (see ``postgres``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        """Run one statement once per row of parameters (a bulk insert); the number of rows it changed."""
        return self._conn.executemany(sql, rows).rowcount

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

    def records(self, sql: str, params: Params = ()) -> list[Record]:
        """The rows of a query, each readable by column name."""
        cursor = self._conn.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        return cursor.fetchall()

    def record(self, sql: str, params: Params = ()) -> Record | None:
        """The first row of a query readable by column name, or None."""
        cursor = self._conn.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        row: Record | None = cursor.fetchone()
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
    postgres: tuple[str, ...] = ()
    """The same tables on PostgreSQL (``HAJATEK_DATABASE_URL``), as SQL scripts, oldest first: a store without them
    runs on SQLite only."""

    @property
    def version(self) -> int:
        return len(self.migrations)


class SQLite:
    """One SQLite file (``path=None``: in memory) opened with the house pragmas and migrated to ``schema``.

    ``functions`` are Python functions the SQL may call by name (the sandbox's Unicode-aware ``casefold``); each must
    be deterministic, the same arguments giving the same result. One thread at a time uses the file; a transaction
    opened inside another on the same thread is a savepoint of it (see :meth:`transaction`).
    """

    def __init__(
        self, path: Path | None, schema: Schema, *, functions: Mapping[str, Callable[..., Value]] | None = None
    ) -> None:
        self.path = path
        self.schema = schema
        self._lock = threading.RLock()
        self._depth = 0  # transactions open on the thread holding the lock
        with opening(path, schema.what, fix=schema.fix):  # a damaged file is named, and never deleted
            self._conn = sqlite3.connect(
                ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
            )
            try:
                self._prepare(functions or {})
            except BaseException:
                self._conn.close()
                raise

    def _prepare(self, functions: Mapping[str, Callable[..., Value]]) -> None:
        for name, function in functions.items():
            self._conn.create_function(name, -1, function, deterministic=True)
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if self.path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        (current,) = self._conn.execute("PRAGMA user_version").fetchone()
        if current > self.schema.version:
            problem = f"was written by a newer hajatek-mcp, with schema {current} where this one knows up to "
            problem += str(self.schema.version)
            if self.path is None:
                raise sqlite3.DatabaseError(f"{self.schema.what} {problem}")
            # not a sqlite3 error: opening() would read it as damage, and the fix is an upgrade, not moving it aside
            raise StateFileError(self.path, self.schema.what, problem, "upgrade hajatek-mcp")
        for version, migration in enumerate(self.schema.migrations[current:], start=current + 1):
            with self.transaction() as tx:
                if isinstance(migration, str):
                    tx.script(migration)
                else:
                    migration(tx)
                tx.execute(f"PRAGMA user_version={version}")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Inside another transaction on the same thread it is a savepoint of that one: if it raises, only its own
        statements are undone, and what it wrote is committed with the outer transaction.
        """
        with self._lock:
            savepoint = f"nested_{self._depth}" if self._depth else None
            self._conn.execute(f"SAVEPOINT {savepoint}" if savepoint else "BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield Transaction(self._conn)
            except BaseException:
                self._conn.execute(f"ROLLBACK TO {savepoint}" if savepoint else "ROLLBACK")
                raise
            finally:
                self._depth -= 1
                if savepoint:
                    self._conn.execute(f"RELEASE {savepoint}")  # after a ROLLBACK TO, it is still open
            if not savepoint:
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


class Core(Protocol):
    """What :class:`Database` runs calls on: a :class:`SQLite` file, or a store's schema on PostgreSQL."""

    schema: Schema
    path: Path | None

    def read(self, fn: Callable[[Any], T]) -> T: ...
    def write(self, fn: Callable[[Any], T]) -> T: ...
    def close(self) -> None: ...


class Database:
    """The async face of a store's state: each call runs in a worker thread; on a :class:`SQLite` file one at a time,
    on PostgreSQL (:meth:`on`) up to ``concurrency`` at once."""

    def __init__(self, path: Path | None, schema: Schema) -> None:
        self.file: Core = SQLite(path, schema)
        self._limiter = anyio.CapacityLimiter(1)

    @classmethod
    def on(cls, core: Core, *, concurrency: int) -> Database:
        """A database over ``core`` (e.g. ``Postgres(url).bind(schema)``), running up to ``concurrency`` calls."""
        database = cls.__new__(cls)
        database.file = core
        database._limiter = anyio.CapacityLimiter(concurrency)
        return database

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
