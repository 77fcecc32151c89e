"""The SQLite database behind the sandbox: schema, one shared connection, transactions that collect events.

One connection serves the whole app (``check_same_thread=False``), guarded by a lock: every statement is a few
milliseconds at most, so running them on the event loop is simpler than a thread pool and keeps the state
consistent. Events are written in the same transaction as the change that caused them and handed to the listener
(the webhook dispatcher) only after the commit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .values import event_id, iso

__all__ = ["Database", "Event", "Transaction"]

SCHEMA = """
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

TABLES = ("store", "counters", "products", "customers", "orders", "order_items", "events")


@dataclass(frozen=True)
class Event:
    """A recorded webhook event: its id, type and the exact JSON body that is signed and delivered."""

    id: str
    type: str
    body: bytes


@dataclass
class Transaction:
    """An open write transaction: the cursor-like connection, the events emitted so far, and the id sequences."""

    conn: sqlite3.Connection
    now: datetime
    delivery: str
    events: list[Event] = field(default_factory=list)

    def emit(self, type_: str, data: dict[str, Any]) -> None:
        """Record a webhook event in the ``events`` table, in the reference's payload shape."""
        eid = event_id()
        payload = {"id": eid, "type": type_, "created_at": iso(self.now), "data": data}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        self.conn.execute(
            "INSERT INTO events (id, type, created_at, body, delivery) VALUES (?, ?, ?, ?, ?)",
            (eid, type_, payload["created_at"], text, self.delivery),
        )
        self.events.append(Event(eid, type_, text.encode("utf-8")))

    def next_id(self, kind: str) -> int:
        """The next number of a deterministic id sequence (``product``, ``customer``, ``order``)."""
        self.conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
            (kind,),
        )
        row = self.conn.execute("SELECT value FROM counters WHERE name = ?", (kind,)).fetchone()
        return int(row[0])


class Database:
    """One SQLite connection with a lock, the schema, and :meth:`write` transactions."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        # Unicode-aware case folding for search (SQLite's lower() only folds ASCII).
        self._conn.create_function("casefold", 1, _casefold, deterministic=True)
        if path != ":memory:" and not path.startswith("file::memory:"):
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self.listener: Callable[[list[Event]], None] | None = None
        self.delivery_state = "disabled"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> None:
        """One statement in its own implicit transaction (used for delivery bookkeeping)."""
        with self._lock:
            self._conn.execute(sql, params)

    @contextmanager
    def write(self, now: datetime) -> Iterator[Transaction]:
        """A write transaction; on success commits, then hands the emitted events to :attr:`listener`."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            tx = Transaction(self._conn, now, self.delivery_state)
            try:
                yield tx
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        if tx.events and self.listener is not None:
            self.listener(tx.events)

    def wipe(self) -> None:
        """Delete every row of every table (used before reseeding)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            for table in TABLES:
                self._conn.execute(f"DELETE FROM {table}")  # noqa: S608 -- table names are constants above
            self._conn.execute("COMMIT")

    def bulk_insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert many rows at once (the seed). Runs inside the caller's transaction when there is one."""
        if not rows:
            return
        marks = ", ".join("?" * len(rows[0]))
        with self._lock:
            self._conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608 -- constant names

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """One transaction around many :meth:`bulk_insert` calls."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")


def _casefold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None
