"""The storage backends the contract suite in test_contract.py runs against, as one parametrized fixture.

``backend`` yields a factory with three methods, each opening one store keyed by a store id:
``audit(store_id)``, ``confirmations(store_id, ttl=...)`` and ``inbox(store_id, retention_days=..., max_age=...)``.
Stores of one kind share one underlying database (so two store ids really live side by side), every store reads
the test's :class:`~tests.conftest.FakeClock`, and the factory closes everything at teardown.

A second backend (the hosted database of issue #17) plugs in with one more entry in :data:`BACKENDS`, which is the
fixture's params: a name, and a function of ``(tmp_path, clock)`` returning a :class:`Backend` (the same three
methods, plus ``close()``) whose stores offer the same public async interface. The tests themselves stay unchanged::

    BACKENDS["hosted"] = lambda _tmp_path, clock: HostedBackend(os.environ["TEST_DATABASE_URL"], clock)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from hajatek_mcp.server import audit, confirmations, events
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.storage import Database, Schema
from tests.conftest import FakeClock


class Backend(Protocol):
    """What the contract needs of a backend: stores of each kind, keyed by store id, on the test's clock."""

    def audit(self, store_id: str) -> AuditLog: ...

    def confirmations(self, store_id: str, *, ttl: float = 300.0) -> ConfirmationStore: ...

    def inbox(self, store_id: str, *, retention_days: float = 30.0, max_age: float = 86400.0) -> EventInbox: ...

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

    def inbox(self, store_id: str, *, retention_days: float = 30.0, max_age: float = 86400.0) -> EventInbox:
        database = self._database("events.db", events.SCHEMA)
        return EventInbox(database, store_id=store_id, retention_days=retention_days, max_age=max_age, clock=self.clock)

    def close(self) -> None:
        for database in self._databases.values():
            database.close()


#: Every backend the contract runs against: a name, and how to open it for one test.
BACKENDS: dict[str, Callable[[Path, FakeClock], Backend]] = {
    "sqlite-file": SQLiteBackend,
    "sqlite-memory": lambda _tmp_path, clock: SQLiteBackend(None, clock),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Backend]:
    opened = BACKENDS[request.param](tmp_path, clock)
    yield opened
    opened.close()
