"""PostgreSQL for the stores, when replicas share their state (``HAJATEK_DATABASE_URL``; ``hajatek-mcp[hosted]``).

The same face as :mod:`~hajatek_mcp.storage.sqlite`, so a store keeps one body of SQL and one interface for both: a
:class:`PgTransaction` offers the :class:`~hajatek_mcp.storage.sqlite.Transaction` methods (``?`` placeholders,
``execute`` returning the rows changed), and :class:`PostgresFile` the :class:`~hajatek_mcp.storage.sqlite.SQLite`
ones (``read``, ``write``, ``transaction``). A store's few statements that the two dialects spell differently ask
``tx.dialect``. Every store's tables live in one database, so they carry the store id as in SQLite.

The driver is psycopg 3, through its connection pool, used synchronously in the worker threads
:class:`~hajatek_mcp.storage.sqlite.Database` already runs every store call in: that keeps each store's statements
one function for both backends, at the cost of a thread per statement in flight (bounded by the pool).

Schemas are versioned per store in ``hajatek_schema`` (``Schema.what`` → version), each store's PostgreSQL migrations
(``Schema.postgres``) applied oldest first at start, under a transaction-scoped advisory lock: replicas starting at
once wait for each other and apply each migration once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from hajatek_mcp.storage.sqlite import Record, Row, Schema

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PgTransaction", "Postgres", "PostgresError", "PostgresFile"]

T = TypeVar("T")
Params = Sequence[Any]

#: The advisory lock every replica takes to migrate (any constant; "hjk" in ASCII).
_MIGRATION_LOCK = 0x686A6B
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?|%")


class PostgresError(Exception):
    """The database cannot be used: one sentence naming what and the fix (never the password)."""


def _to_pg(sql: str, has_params: bool) -> str:
    """``?`` placeholders to psycopg's ``%s``; with parameters, a literal ``%`` is written ``%%``."""
    if not has_params:
        return sql

    def swap(match: re.Match[str]) -> str:
        found = match.group(0)
        if found == "?":
            return "%s"
        return found.replace("%", "%%")  # a percent sign, or a quoted literal whose percent signs double

    return _PLACEHOLDER.sub(swap, sql)


class _Record(dict[str, Any]):
    """A row readable by position and by column name, as SQLite's rows are."""

    def __init__(self, names: list[str], values: Sequence[Any]) -> None:
        super().__init__(zip(names, values, strict=True))
        self._values = list(values)

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key] if isinstance(key, int) else super().__getitem__(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:  # type: ignore[override]
        return list(super().keys())


class PgTransaction:
    """Statements on one connection, inside a transaction (a write) or each on its own (a read)."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        cursor = self._conn.execute(_to_pg(sql, bool(params)), tuple(params) or None)
        return max(cursor.rowcount, 0)

    def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        if not rows:
            return 0
        with self._conn.cursor() as cursor:
            cursor.executemany(_to_pg(sql, True), [tuple(row) for row in rows])
            return max(cursor.rowcount, 0)

    def script(self, sql: str) -> None:
        self._conn.execute(sql)  # no parameters: several statements run as one simple query

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(row) for row in self._conn.execute(_to_pg(sql, bool(params)), tuple(params) or None)]

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row = self._conn.execute(_to_pg(sql, bool(params)), tuple(params) or None).fetchone()
        return None if row is None else tuple(row)

    def records(self, sql: str, params: Params = ()) -> list[Record]:
        cursor = self._conn.execute(_to_pg(sql, bool(params)), tuple(params) or None)
        names = [column.name for column in cursor.description or ()]
        return [_Record(names, row) for row in cursor.fetchall()]

    def record(self, sql: str, params: Params = ()) -> Record | None:
        found = self.records(sql, params)
        return found[0] if found else None

    def columns(self, table: str) -> set[str]:
        rows = self.all(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ?",
            (table,),
        )
        return {str(name) for (name,) in rows}


class Postgres:
    """One PostgreSQL database shared by every store of this process, through one connection pool.

    ``url`` is a ``postgresql://`` URL. Opening checks the connection once, so a wrong URL or a server that is down
    ends the start with one sentence; the password is never shown.
    """

    def __init__(self, url: str, *, max_connections: int = 10, timeout: float = 10.0) -> None:
        try:
            import psycopg  # noqa: PLC0415  # optional: hajatek-mcp[hosted]
            from psycopg_pool import ConnectionPool  # noqa: PLC0415
        except ImportError:
            raise PostgresError(
                'HAJATEK_DATABASE_URL needs the PostgreSQL driver: pip install "hajatek-mcp[hosted]"'
            ) from None
        self.where = _redacted(url)
        self._psycopg = psycopg
        self.max_connections = max_connections
        self.pool: ConnectionPool[Any] = ConnectionPool(
            url, min_size=1, max_size=max_connections, timeout=timeout, open=False, kwargs={"autocommit": True}
        )
        try:
            self.pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self.pool.close()
            raise PostgresError(
                f"PostgreSQL at {self.where} cannot be reached ({type(exc).__name__}): check HAJATEK_DATABASE_URL and "
                "that the server is up"
            ) from None
        self._local = threading.local()
        self._bound: dict[str, int] = {}  # each schema this process uses, and the version it needs

    def bind(self, schema: Schema) -> PostgresFile:
        """The store of ``schema`` on this database, migrated to its newest PostgreSQL schema."""
        file = PostgresFile(self, schema)
        file.migrate()
        self._bound[schema.what] = len(schema.postgres)
        return file

    def check(self) -> None:
        """Raise :class:`PostgresError` unless the database answers and every schema this process uses is migrated
        (a readiness probe; blocking: run it in a worker thread)."""
        try:
            with self.connection() as conn:
                conn.execute("SELECT 1")
                rows = conn.execute("SELECT what, version FROM hajatek_schema").fetchall() if self._bound else []
        except Exception as exc:
            raise PostgresError(f"PostgreSQL at {self.where} does not answer ({type(exc).__name__})") from None
        found = {str(what): int(version) for what, version in rows}
        behind = sorted(what for what, version in self._bound.items() if found.get(what, 0) < version)
        if behind:
            raise PostgresError(f"PostgreSQL at {self.where}: not migrated: {', '.join(behind)} (run db migrate)")

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection this thread uses now (a transaction in progress keeps its own), else one from the pool."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None

    def close(self) -> None:
        self.pool.close()


class PostgresFile:
    """One store's schema on a :class:`Postgres` database: the :class:`~hajatek_mcp.storage.sqlite.SQLite` face."""

    path: Path | None = None  # no file: messages name the database instead

    def __init__(self, database: Postgres, schema: Schema) -> None:
        self.database = database
        self.schema = schema

    def migrate(self) -> None:
        migrations = self.schema.postgres
        if not migrations:
            raise PostgresError(f"{self.schema.what} has no PostgreSQL schema in this hajatek-mcp")
        with self.transaction() as tx:
            tx.one("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            tx.execute("CREATE TABLE IF NOT EXISTS hajatek_schema (what TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            row = tx.one("SELECT version FROM hajatek_schema WHERE what = ?", (self.schema.what,))
            current = 0 if row is None else int(row[0])
            if current > len(migrations):
                raise PostgresError(
                    f"{self.schema.what} in {self.database.where} was written by a newer hajatek-mcp (schema "
                    f"{current}, this one knows up to {len(migrations)}): upgrade hajatek-mcp"
                )
            for version, migration in enumerate(migrations[current:], start=current + 1):
                tx.script(migration)
                tx.execute(
                    "INSERT INTO hajatek_schema (what, version) VALUES (?, ?) "
                    "ON CONFLICT (what) DO UPDATE SET version = excluded.version",
                    (self.schema.what, version),
                )

    @contextmanager
    def transaction(self) -> Iterator[PgTransaction]:
        """A write transaction, committed when the block ends; inside another on this thread, a savepoint of it."""
        with self.database.connection() as conn, conn.transaction():
            yield PgTransaction(conn)

    def read(self, fn: Callable[[PgTransaction], T]) -> T:
        with self.database.connection() as conn:
            return fn(PgTransaction(conn))

    def write(self, fn: Callable[[PgTransaction], T]) -> T:
        with self.transaction() as tx:
            return fn(tx)

    def close(self) -> None:
        """Nothing of its own to close: the :class:`Postgres` owner closes the pool."""


def _redacted(url: str) -> str:
    """``url`` without its password (``postgresql://user:***@host/db``)."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)
