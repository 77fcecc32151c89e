"""Signed webhooks become a durable event inbox the agent can read and subscribe to.

Flow: ``POST /webhooks/hajatek`` → size limit → signature (constant time, before parsing) → JSON and shape → replay
window → SQLite inbox (``events.db``, WAL, committed) → 2xx → subscribers of ``hajatek://events`` are told. A
redelivery of a known event id answers 2xx and stores nothing. Nothing rejected is stored or announced.

An event's body is kept for the retention (``HAJATEK_EVENT_RETENTION_DAYS``); its id is kept longer when the replay
window (``HAJATEK_WEBHOOK_MAX_AGE``) is longer, counted from the later of its receipt and its ``created_at``. So an
event inside the window is always recognised as known, even once its body is gone, and is never stored twice.

:class:`EventInbox` owns ``events.db``; nothing else opens it. :class:`EventHub` fans "the inbox changed" out to
2026-07-28 listeners (the SDK's subscription bus) and to handshake-era sessions that sent ``resources/subscribe``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from pydantic import SecretStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hajatek_mcp.api import InvalidSignatureError, WebhookEvent, verify_signature
from hajatek_mcp.api.webhooks import SIGNATURE_HEADER
from hajatek_mcp.storage import Database, Schema, Transaction

__all__ = ["EVENTS_URI", "MAX_WEBHOOK_BODY", "WEBHOOK_PATH", "EventHub", "EventInbox", "webhook_route"]

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


class EventHub:
    """Tells subscribers of ``hajatek://events`` that a new event arrived, in both protocol eras."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._sessions: dict[str, set[ServerSession]] = {}

    def install(self, server: MCPServer[Any]) -> None:
        """Register handshake-era ``resources/subscribe`` and ``resources/unsubscribe`` on ``server``.

        MCPServer has no public hook for these; the SDK's own conformance server registers them the same way.
        """
        lowlevel = server._lowlevel_server  # private, see the docstring
        lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, self._unsubscribe)

    async def _subscribe(
        self, ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        self._sessions.setdefault(str(params.uri), set()).add(ctx.session)
        return types.EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        self._sessions.get(str(params.uri), set()).discard(ctx.session)
        return types.EmptyResult()

    async def announce(self, event_id: str) -> None:
        for uri in (EVENTS_URI, f"{EVENTS_URI}/{event_id}"):
            await self.bus.publish(ResourceUpdated(uri=uri))
            for session in list(self._sessions.get(uri, ())):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # a closed session must not stop the others; it is dropped
                    logger.debug("dropping a closed subscriber of %s", uri)
                    self._sessions[uri].discard(session)


def _reject(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds ``limit`` (never reading the rest)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def webhook_route(
    inbox: Callable[[], EventInbox], hub: EventHub, secret: SecretStr, *, max_body: int = MAX_WEBHOOK_BODY
) -> Route:
    """``POST /webhooks/hajatek``: verify, store once, then announce.

    ``inbox`` returns the inbox of the store the webhooks are for, or raises LookupError while that store is not open
    (then Hajatek is asked to retry). A webhook carries no MCP session, so the caller looks the store up by id among
    the open shops (:class:`~hajatek_mcp.server.shop.OpenShops`), never takes whichever shop opened last.
    """

    async def receive(request: Request) -> Response:  # noqa: PLR0911  # one return per check, in the order they run
        body = await _read_limited(request, max_body)
        if body is None:
            return _reject(413, f"body over {max_body} bytes")
        try:
            verify_signature(secret.get_secret_value(), body, request.headers.get(SIGNATURE_HEADER))
        except InvalidSignatureError as exc:
            logger.warning("webhook rejected: %s", exc)
            return _reject(401, str(exc))
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _reject(415, "Content-Type must be application/json")
        try:
            event = WebhookEvent.model_validate_json(body)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(body)" for e in exc.errors())
            return _reject(400, f"not a Hajatek event (invalid: {fields})")
        if event.type not in KNOWN_TYPES:
            return _reject(400, f"unknown event type {event.type!r}")
        try:
            store = inbox()
        except LookupError as exc:  # after the signature: the caller is Hajatek, which retries a 503
            logger.warning("webhook %s not stored: %s", event.id, exc)
            return _reject(503, f"not stored: {exc}; Hajatek will retry")
        if await store.known(event.id):
            return JSONResponse({"received": True, "duplicate": True})
        age = store.now() - event.created_at.timestamp()
        if age > store.max_age:
            logger.warning("webhook %s rejected: created %.0f s ago, beyond the replay window", event.id, age)
            return _reject(400, "event is older than the replay window")
        if await store.add(event):
            logger.info("webhook %s (%s) stored", event.id, event.type)
            await hub.announce(event.id)
        return JSONResponse({"received": True})

    return Route(WEBHOOK_PATH, receive, methods=["POST"])
