"""The SQLite database behind the sandbox: schema, one shared connection, transactions that collect events.

The file is opened by the storage seam (:class:`~hajatek_mcp.storage.sqlite.SQLite`) like every state file: WAL,
``synchronous=FULL``, ``busy_timeout``, foreign keys, and a schema versioned in ``PRAGMA user_version``. One
connection serves the whole app, guarded by a lock: every statement is a few milliseconds at most, so running them
on the event loop is simpler than a thread pool and keeps the state consistent. Events are written in the same
transaction as the change that caused them and handed to the listener (the webhook dispatcher) only after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hajatek_mcp.storage import sqlite as storage
from hajatek_mcp.storage.files import SANDBOX_DB_FIX

from .config import STORE_ID
from .values import entity_id, event_id, iso

__all__ = ["SCHEMA", "Database", "Event", "Transaction"]

# Released migrations are never edited, only appended. Migration 1 is the schema of the releases before versioning,
# each statement IF NOT EXISTS: a file they wrote (its tables there, user_version 0) is adopted as it is.
_TABLES_BEFORE_VERSIONS = """
CREATE TABLE IF NOT EXISTS store (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, name_ar TEXT NOT NULL, currency TEXT NOT NULL, country TEXT NOT NULL,
    timezone TEXT NOT NULL, email TEXT NOT NULL, domain TEXT NOT NULL, created_at TEXT NOT NULL,
    seed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, name_ar TEXT, description TEXT,
    sku TEXT NOT NULL UNIQUE COLLATE NOCASE, category TEXT NOT NULL, price INTEGER NOT NULL, stock INTEGER NOT NULL,
    status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS products_newest ON products (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS products_category ON products (category, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL, city TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS customers_newest ON customers (created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL, subtotal INTEGER NOT NULL,
    shipping INTEGER NOT NULL, vat INTEGER NOT NULL, total INTEGER NOT NULL, city TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_newest ON orders (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id);
CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL, position INTEGER NOT NULL, product_id TEXT NOT NULL, name TEXT NOT NULL,
    quantity INTEGER NOT NULL, price INTEGER NOT NULL, PRIMARY KEY (order_id, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, created_at TEXT NOT NULL,
    body TEXT NOT NULL, delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
);
"""

# Migration 2: each order's status changes with their notes (docs/api.md, assumed). Orders of an older file have none
# recorded; their history is derived from their status and times when read (hajatek_mcp/sandbox/history.py).
_ORDER_HISTORY = """
CREATE TABLE order_history (
    order_id TEXT NOT NULL, position INTEGER NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL, note TEXT,
    PRIMARY KEY (order_id, position)
) WITHOUT ROWID;
"""

SCHEMA = storage.Schema("the sandbox store", (_TABLES_BEFORE_VERSIONS, _ORDER_HISTORY), fix=SANDBOX_DB_FIX)

TABLES = ("store", "counters", "products", "customers", "orders", "order_items", "order_history", "events")


@dataclass(frozen=True)
class Event:
    """A recorded webhook event: its id, type and the exact JSON body that is signed and delivered."""

    id: str
    type: str
    body: bytes


@dataclass
class Transaction:
    """An open write transaction: its statements (``sql``), the events emitted so far, and the id sequences. It
    knows its store (``store_id``, put in event payloads) and the store's ``id_tag`` (put in new ids)."""

    sql: storage.Transaction
    now: datetime
    delivery: str
    store_id: str = STORE_ID
    id_tag: str = ""
    events: list[Event] = field(default_factory=list)

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        """Record a webhook event in the ``events`` table, in the reference's payload shape."""
        eid = event_id()
        payload = {"id": eid, "type": type_, "created_at": iso(self.now), "data": data}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        self.sql.execute(
            "INSERT INTO events (id, type, created_at, body, delivery) VALUES (?, ?, ?, ?, ?)",
            (eid, type_, payload["created_at"], text, self.delivery),
        )
        self.events.append(Event(eid, type_, text.encode("utf-8")))

    def next_id(self, kind: str) -> int:
        """The next number of a deterministic id sequence (``product``, ``customer``, ``order``)."""
        self.sql.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
            (kind,),
        )
        row = self.sql.one("SELECT value FROM counters WHERE name = ?", (kind,))
        assert row is not None  # noqa: S101 -- the statement above wrote it
        return int(row[0])

    def new_id(self, kind: str, prefix: str) -> tuple[str, int]:
        """The next id of sequence ``kind`` with its ``prefix`` and the store's tag (``prod_s2_0225``), and its
        number."""
        number = self.next_id(kind)
        return entity_id(prefix, self.id_tag, number), number


class Database:
    """The sandbox's SQLite file (``path``: ``":memory:"`` or a file name) and its :meth:`write` transactions, for the
    store ``store_id`` whose new ids carry ``id_tag``.

    Rows are :class:`~hajatek_mcp.storage.sqlite.Record`: ``row["name"]`` as well as ``row[0]``.
    """

    def __init__(self, path: str, *, store_id: str = STORE_ID, id_tag: str = "") -> None:
        self.path = path
        self.store_id = store_id
        self.id_tag = id_tag
        # casefold(): Unicode-aware case folding for search (SQLite's lower() only folds ASCII).
        file = None if path == ":memory:" else Path(path)
        self._file = storage.SQLite(file, SCHEMA, functions={"casefold": _casefold})
        self.listener: Callable[[list[Event]], None] | None = None
        self.delivery_state = "disabled"

    def close(self) -> None:
        self._file.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[storage.Record]:
        return self._file.read(lambda statements: statements.records(sql, params))

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> storage.Record | None:
        return self._file.read(lambda statements: statements.record(sql, params))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement in its own transaction (used for delivery bookkeeping)."""
        with self._file.transaction() as statements:
            statements.execute(sql, params)

    @contextmanager
    def write(self, now: datetime) -> Iterator[Transaction]:
        """A write transaction; on success commits, then hands the emitted events to :attr:`listener`."""
        with self._file.transaction() as statements:
            tx = Transaction(statements, now, self.delivery_state, self.store_id, self.id_tag)
            yield tx
        if tx.events and self.listener is not None:
            self.listener(tx.events)

    def wipe(self) -> None:
        """Delete every row of every table (used before reseeding)."""
        with self._file.transaction() as statements:
            for table in TABLES:
                statements.execute(f"DELETE FROM {table}")  # noqa: S608 -- table names are constants above

    def bulk_insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert many rows at once (the seed). Runs inside the caller's :meth:`bulk` transaction when there is one."""
        if not rows:
            return
        marks = ", ".join("?" * len(rows[0]))
        with self._file.transaction() as statements:  # inside bulk(): a savepoint of its transaction
            statements.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608 -- constant names

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """One transaction around many :meth:`bulk_insert` calls."""
        with self._file.transaction():
            yield


def _casefold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None
