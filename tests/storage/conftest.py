"""The storage backends the contract suite in test_contract.py runs against, as one parametrized fixture.

``backend`` yields a factory with three methods, each opening one store keyed by a store id: ``audit(store_id)``,
``confirmations(store_id, ttl=...)`` and ``inbox(store_id, retention_days=..., max_age=..., receiving=...)``.
Stores of one kind share one underlying database (so two store ids really live side by side), every store reads
the test's :class:`~tests.conftest.FakeClock`, and the factory closes everything at teardown.

Each backend is one entry in :data:`BACKENDS`, which is the fixture's params: a name, and a function of
``(tmp_path, clock, empty)`` returning a :class:`Backend` (the same three methods, plus ``close()``) whose stores offer
the same public async interface; ``empty()`` gives the URL of an empty database on the session's PostgreSQL
(:func:`postgres_url`), which starts only when a backend asks for it. The tests themselves stay unchanged.
``postgresql`` (issue #17) opens every store there, as ``HAJATEK_DATABASE_URL`` does: skipped locally without
Debian's package, failed under CI.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from hajatek_mcp.server import audit, confirmations, events
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.storage import Database, Schema
from tests.conftest import FakeClock
from tests.servers import fresh_database

if TYPE_CHECKING:
    from hajatek_mcp.storage.postgres import Postgres


class Backend(Protocol):
    """What the contract needs of a backend: stores of each kind, keyed by store id, on the test's clock."""

    def audit(self, store_id: str) -> AuditLog: ...

    def confirmations(self, store_id: str, *, ttl: float = 300.0) -> ConfirmationStore: ...

    def inbox(
        self,
        store_id: str,
        *,
        retention_days: float = 30.0,
        max_age: float = 86400.0,
        receiving: bool | None = None,
    ) -> EventInbox: ...

    def close(self) -> None: ...


class SQLiteBackend:
    """Stores on one shared :class:`~hajatek_mcp.storage.Database` per kind: files in ``directory``, or memory."""

    def __init__(self, directory: Path | None, clock: FakeClock) -> None:
        self.directory = directory
        self.clock = clock
        self._databases: dict[str, Database] = {}

    def _database(self, name: str, schema: Schema) -> Database:
        if name not in self._databases:
            path = None if self.directory is None else self.directory / name
            self._databases[name] = Database(path, schema)
        return self._databases[name]

    def audit(self, store_id: str) -> AuditLog:
        return AuditLog(self._database("audit.db", audit.SCHEMA), store_id=store_id, clock=self.clock)

    def confirmations(self, store_id: str, *, ttl: float = 300.0) -> ConfirmationStore:
        database = self._database("confirmations.db", confirmations.SCHEMA)
        return ConfirmationStore(database, store_id=store_id, ttl=ttl, clock=self.clock)

    def inbox(
        self,
        store_id: str,
        *,
        retention_days: float = 30.0,
        max_age: float = 86400.0,
        receiving: bool | None = None,
    ) -> EventInbox:
        return EventInbox(
            self._database("events.db", events.SCHEMA),
            store_id=store_id,
            retention_days=retention_days,
            max_age=max_age,
            clock=self.clock,
            receiving=receiving,
        )

    def close(self) -> None:
        for database in self._databases.values():
            database.close()


class PostgresBackend(SQLiteBackend):
    """The same stores on one PostgreSQL database: each kind's tables bound (migrated) once, on one pool."""

    def __init__(self, url: str, clock: FakeClock) -> None:
        from hajatek_mcp.storage.postgres import Postgres  # optional: hajatek-mcp[hosted]

        super().__init__(None, clock)
        self.postgres: Postgres = Postgres(url)

    def _database(self, name: str, schema: Schema) -> Database:
        if name not in self._databases:
            self._databases[name] = Database.on(self.postgres.bind(schema), concurrency=4)
        return self._databases[name]

    def close(self) -> None:
        super().close()
        self.postgres.close()


#: Every backend the contract runs against: a name, and how to open it for one test.
BACKENDS: dict[str, Callable[[Path, FakeClock, Callable[[], str]], Backend]] = {
    "sqlite-file": lambda tmp_path, clock, _empty: SQLiteBackend(tmp_path, clock),
    "sqlite-memory": lambda _tmp_path, clock, _empty: SQLiteBackend(None, clock),
    "postgresql": lambda _tmp_path, clock, empty: PostgresBackend(empty(), clock),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Backend]:
    opened = BACKENDS[request.param](
        tmp_path, clock, lambda: fresh_database(request.getfixturevalue("postgres_url"), f"c_{secrets.token_hex(6)}")
    )
    yield opened
    opened.close()
