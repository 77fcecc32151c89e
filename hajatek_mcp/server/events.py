"""Signed webhooks become a durable event inbox the agent can read and subscribe to.

The route that receives them and the hub that tells subscribers are in :mod:`~hajatek_mcp.server.receiver`; this
module keeps the inbox (``events.db``, WAL, committed before Hajatek is answered).

An event's body is kept for the retention (``HAJATEK_EVENT_RETENTION_DAYS``); its id is kept longer when the replay
window (``HAJATEK_WEBHOOK_MAX_AGE``) is longer, counted from the later of its receipt and its ``created_at``. So an
event inside the window is always recognised as known, even once its body is gone, and is never stored twice.

:class:`EventInbox` owns ``events.db``; nothing else opens it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hajatek_mcp.api import WebhookEvent
from hajatek_mcp.storage import Database, Schema, Transaction

__all__ = ["EVENTS_URI", "KNOWN_TYPES", "MAX_WEBHOOK_BODY", "SCHEMA", "WEBHOOK_PATH", "EventInbox"]

logger = logging.getLogger("hajatek_mcp.events")

EVENTS_URI = "hajatek://events"
WEBHOOK_PATH = "/webhooks/hajatek"
MAX_WEBHOOK_BODY = 1024 * 1024
KNOWN_TYPES = frozenset({"order.created", "order.updated", "payment.completed", "product.created", "inventory.low"})


def _inbox_of_0_1(tx: Transaction) -> None:
    """The tables as 0.1 and early 0.2 wrote them; an inbox written before ``seen`` existed gets its stored events as
    its known ids (receipt time as creation time, which is no earlier, so each id is kept at least as long)."""
    upgrading = bool(tx.columns("events")) and not tx.columns("seen")
    tx.script(
        """CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT NOT NULL, created_at TEXT NOT NULL,
                                             received_at REAL NOT NULL, data TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, received_at REAL NOT NULL, created REAL NOT NULL)"""
    )
    if upgrading:
        tx.execute(
            "INSERT OR IGNORE INTO seen (id, received_at, created) SELECT id, received_at, received_at FROM events"
        )


#: Oldest first; released migrations are never edited (see :class:`hajatek_mcp.storage.Schema`).
SCHEMA = Schema(
    "the event inbox",
    (
        _inbox_of_0_1,
        # Every event belongs to one store, and an id is unique per store. Events of 0.1 carry none ('') and are
        # shown to no store: they may be the sandbox's, and a real store must never see those (issue #21).
        """CREATE TABLE events_by_store (store_id TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
                                          created_at TEXT NOT NULL, received_at REAL NOT NULL, data TEXT NOT NULL,
                                          PRIMARY KEY (store_id, id));
        INSERT INTO events_by_store SELECT '', id, type, created_at, received_at, data FROM events;
        DROP TABLE events;
        ALTER TABLE events_by_store RENAME TO events;
        CREATE INDEX events_received ON events (store_id, received_at);
        CREATE TABLE seen_by_store (store_id TEXT NOT NULL, id TEXT NOT NULL, received_at REAL NOT NULL,
                                    created REAL NOT NULL, PRIMARY KEY (store_id, id));
        INSERT INTO seen_by_store SELECT '', id, received_at, created FROM seen;
        DROP TABLE seen;
        ALTER TABLE seen_by_store RENAME TO seen;
        CREATE INDEX seen_received ON seen (received_at)""",
        # Since when each store's receiver has been open with a secret (see EventInbox.receiving_since).
        "CREATE TABLE receiving (store_id TEXT PRIMARY KEY, since REAL NOT NULL)",
    ),
)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventInbox:
    """One store's verified events, stored once each. ``database``: a file, None (in memory), or a shared open
    :class:`~hajatek_mcp.storage.Database`.

    ``events`` holds the bodies (for the retention); ``seen`` holds every id received (for the retention or the
    replay window, whichever is longer). Reads show only bodies inside the retention, and only this store's.

    ``receiving`` says whether this run serves the store's webhook receiver (a secret is configured): True records
    the moment, unless an earlier one is kept; False forgets it (events sent during this run go nowhere, so the
    stretch of receiving ends); None (a reader) leaves it as it is. See :meth:`receiving_since`.
    """

    def __init__(
        self,
        database: Path | Database | None,
        *,
        store_id: str,
        retention_days: float = 30.0,
        max_age: float = 86400.0,
        clock: Callable[[], float] = time.time,
        receiving: bool | None = None,
    ) -> None:
        self.store_id = store_id
        self.retention = retention_days * 86400
        self.max_age = max_age
        self._clock = clock
        self._db = database if isinstance(database, Database) else Database(database, SCHEMA)
        self.receiving = receiving
        self._opened = clock()
        if receiving is not None:  # at open, like the migrations: the moment is when the receiver starts
            self._db.file.write(self._mark_receiving)

    def _mark_receiving(self, tx: Transaction) -> None:
        if self.receiving:
            tx.execute("INSERT OR IGNORE INTO receiving (store_id, since) VALUES (?, ?)", (self.store_id, self._opened))
        else:
            tx.execute("DELETE FROM receiving WHERE store_id = ?", (self.store_id,))

    async def receiving_since(self) -> str | None:
        """Since when every event Hajatek sent this store is here (UTC ISO), or None when this run does not receive.

        The later of: when the receiver was first opened with a secret (a run without one ends that stretch), and
        the start of the retention (older bodies are dropped). A restart in between is covered as far as Hajatek's
        retries reach past it; before that moment, events may be missing.
        """
        if not self.receiving:
            return None
        row = await self._db.one("SELECT since FROM receiving WHERE store_id = ?", (self.store_id,))
        opened = float(row[0]) if row else self._opened  # forgotten by a run without a secret: from this open on
        return _iso(max(opened, self._kept_since()))

    @property
    def id_lifetime(self) -> float:
        """Seconds an event id stays known: at least the retention and at least the replay window."""
        return max(self.retention, self.max_age)

    async def add(self, event: WebhookEvent) -> bool:
        """Store ``event``; False if its id was already known (a redelivery or a replay), even if its body is gone.

        The id and the body land together, or neither does; committed (on disk) before this returns.
        """
        now = self._clock()
        data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"), default=str)
        created = event.created_at.astimezone(UTC)

        def add(tx: Transaction) -> bool:
            new = (
                tx.execute(
                    "INSERT OR IGNORE INTO seen (store_id, id, received_at, created) VALUES (?, ?, ?, ?)",
                    (self.store_id, event.id, now, created.timestamp()),
                )
                == 1
            )
            if new:
                tx.execute(
                    "INSERT OR IGNORE INTO events (store_id, id, type, created_at, received_at, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (self.store_id, event.id, event.type, created.strftime("%Y-%m-%dT%H:%M:%SZ"), now, data),
                )
            self._purge(tx, now)
            return new

        return await self._db.write(add)

    def _purge(self, tx: Transaction, now: float) -> None:
        """Drop bodies past the retention, and ids past both their receipt and creation plus :attr:`id_lifetime`."""
        tx.execute("DELETE FROM events WHERE store_id = ? AND received_at < ?", (self.store_id, now - self.retention))
        cut = now - self.id_lifetime
        tx.execute("DELETE FROM seen WHERE store_id = ? AND received_at < ? AND created < ?", (self.store_id, cut, cut))

    def now(self) -> float:
        return self._clock()

    async def known(self, event_id: str) -> bool:
        found = await self._db.one("SELECT 1 FROM seen WHERE store_id = ? AND id = ?", (self.store_id, event_id))
        return found is not None

    async def recent(
        self, *, type: str | None = None, since: datetime | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Newest first (by received time), optionally of one type and received since a moment."""
        sql = "SELECT id, type, created_at, received_at, data FROM events WHERE store_id = ? AND received_at >= ?"
        params: list[Any] = [self.store_id, self._kept_since()]
        if type:
            sql += " AND type = ?"
            params.append(type)
        if since:
            sql += " AND received_at >= ?"
            params.append(since.timestamp())
        sql += " ORDER BY received_at DESC, rowid DESC LIMIT ?"
        params.append(limit)
        return [self._row(r) for r in await self._db.all(sql, params)]

    async def get(self, event_id: str) -> dict[str, Any] | None:
        row = await self._db.one(
            "SELECT id, type, created_at, received_at, data FROM events WHERE store_id = ? AND id = ? "
            "AND received_at >= ?",
            (self.store_id, event_id, self._kept_since()),
        )
        return None if row is None else self._row(row)

    async def count(self) -> int:
        row = await self._db.one(
            "SELECT COUNT(*) FROM events WHERE store_id = ? AND received_at >= ?", (self.store_id, self._kept_since())
        )
        return int(row[0]) if row else 0

    def _kept_since(self) -> float:
        """Bodies received before this moment are past the retention: never shown, even before the next purge."""
        return self._clock() - self.retention

    @staticmethod
    def _row(row: tuple[Any, ...]) -> dict[str, Any]:
        event_id, kind, created, received, data = row
        return {
            "id": event_id,
            "type": kind,
            "created_at": created,
            "received_at": _iso(received),
            "data": json.loads(data),
        }

    def close(self) -> None:
        self._db.close()
