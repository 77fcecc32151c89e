"""Hajatek's signed webhooks in, "the inbox changed" out: the webhook routes and :class:`EventHub`.

``POST /webhooks/hajatek`` (one store) or ``POST /webhooks/hajatek/{store_id}`` (a multi-tenant server, each store
verified with its own secret): size limit → signature (constant time, before parsing) → JSON and shape → replay
window → the store's inbox → 2xx → that store's subscribers of ``hajatek://events`` are told. A redelivery of a
known event id answers 2xx and stores nothing. Nothing rejected is stored or announced.

:class:`EventHub` fans an announcement out to 2026-07-28 listeners (:class:`StoreBus`, the SDK's subscription seam)
and to handshake-era sessions that sent ``resources/subscribe``, each only for the store its subscriber's request
was for: a subscriber of one store never hears of another's events. With a relay
(:class:`~hajatek_mcp.server.fanout.RedisRelay`, ``HAJATEK_REDIS_URL``) every announcement goes through Redis and
each replica delivers it to its own subscribers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.server.subscriptions import ResourceUpdated, ServerEvent
from pydantic import SecretStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hajatek_mcp.api import InvalidSignatureError, WebhookEvent, verify_signature
from hajatek_mcp.api.webhooks import SIGNATURE_HEADER
from hajatek_mcp.server.events import EVENTS_URI, KNOWN_TYPES, MAX_WEBHOOK_BODY, WEBHOOK_PATH, EventInbox

if TYPE_CHECKING:
    from hajatek_mcp.server.fanout import RedisRelay

__all__ = ["EventHub", "StoreBus", "tenant_webhook_route", "webhook_route"]

logger = logging.getLogger("hajatek_mcp.events")

Listener = Callable[[ServerEvent], None]


class StoreBus:
    """The SDK's subscription bus (``subscriptions/listen``), keeping each store's events to its own listeners.

    A listener is registered inside its listen request, so ``store_of`` (the store of the request being served)
    says whose events it gets. :meth:`publish` (the SDK's own, for list changes) reaches every listener.
    """

    def __init__(self, store_of: Callable[[], str]) -> None:
        self._store_of = store_of
        self._listeners: dict[object, tuple[str, Listener]] = {}
        self.relay: RedisRelay | None = None
        """Set by :class:`EventHub`: where :meth:`publish` goes so that every replica hears it."""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        key, store_id = object(), self._store_of()
        self._listeners[key] = (store_id, listener)

        def unsubscribe() -> None:
            self._listeners.pop(key, None)

        return unsubscribe

    async def publish(self, event: ServerEvent) -> None:
        if self.relay is not None and self.relay.listening:
            try:
                await self.relay.publish(None, event)
                return
            except Exception as exc:  # Redis down: this replica's listeners still hear it
                logger.warning("%s: the event reaches this replica's listeners only", exc)
        await self._deliver(event, None)

    async def publish_to(self, store_id: str, event: ServerEvent) -> None:
        await self._deliver(event, store_id)

    async def publish_to_all(self, event: ServerEvent) -> None:
        """Every listener of this replica (an SDK event another replica published)."""
        await self._deliver(event, None)

    async def _deliver(self, event: ServerEvent, store_id: str | None) -> None:
        for owner, listener in list(self._listeners.values()):
            if store_id is not None and owner != store_id:
                continue
            try:
                listener(event)
            except Exception:  # one broken listener must not starve the others
                logger.exception("a subscription listener failed; the others still hear of the event")


class EventHub:
    """Tells subscribers of ``hajatek://events`` of a store that a new event of that store arrived, in both eras."""

    def __init__(self, store_of: Callable[[], str], relay: RedisRelay | None = None) -> None:
        self._store_of = store_of
        self.bus = StoreBus(store_of)
        self.bus.relay = relay
        self.relay = relay
        self._sessions: dict[tuple[str, str], set[ServerSession]] = {}

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Hear the other replicas' announcements while open (nothing to do without a relay)."""
        if self.relay is None:
            yield
            return
        async with self.relay.running(self._arrived):
            yield

    def install(self, server: MCPServer[object]) -> None:
        """Register handshake-era ``resources/subscribe`` and ``resources/unsubscribe`` on ``server``.

        MCPServer has no public hook for these; the SDK's own conformance server registers them the same way.
        """
        lowlevel = server._lowlevel_server  # private, see the docstring
        lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, self._unsubscribe)

    async def _subscribe(
        self, ctx: ServerRequestContext[object], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        self._sessions.setdefault((self._store_of(), str(params.uri)), set()).add(ctx.session)
        return types.EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[object], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        self._sessions.get((self._store_of(), str(params.uri)), set()).discard(ctx.session)
        return types.EmptyResult()

    async def announce(self, store_id: str, event_id: str) -> None:
        """Tell ``store_id``'s subscribers, on every replica when there is a relay, that ``event_id`` arrived."""
        for uri in (EVENTS_URI, f"{EVENTS_URI}/{event_id}"):
            event = ResourceUpdated(uri=uri)
            if self.relay is not None and self.relay.listening:
                try:
                    await self.relay.publish(store_id, event)
                    continue
                except Exception as exc:  # Redis down: this replica's subscribers still hear it
                    logger.warning("%s: event %s announced on this replica only", exc, event_id)
            await self._arrived(store_id, event)

    async def _arrived(self, store_id: str | None, event: ServerEvent) -> None:
        """Deliver an announcement to this replica's subscribers (of ``store_id``; None: every listener)."""
        if store_id is None:
            await self.bus.publish_to_all(event)
            return
        await self.bus.publish_to(store_id, event)
        if isinstance(event, ResourceUpdated):
            uri = event.uri
            sessions = self._sessions.get((store_id, uri), set())
            for session in list(sessions):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # a closed session must not stop the others; it is dropped
                    logger.debug("dropping a closed subscriber of %s", uri)
                    sessions.discard(session)


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


async def _receive(  # noqa: PLR0911  # one return per check, in the order they run
    request: Request,
    secret: SecretStr,
    inbox: Callable[[], Awaitable[EventInbox]],
    hub: EventHub,
    max_body: int,
) -> Response:
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
        store = await inbox()
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
        logger.info("webhook %s (%s) stored for %s", event.id, event.type, store.store_id)
        await hub.announce(store.store_id, event.id)
    return JSONResponse({"received": True})


def webhook_route(
    inbox: Callable[[], EventInbox], hub: EventHub, secret: SecretStr, *, max_body: int = MAX_WEBHOOK_BODY
) -> Route:
    """``POST /webhooks/hajatek`` for the one store a server serves, signed with its secret.

    ``inbox`` returns the inbox of the store the webhooks are for, or raises LookupError while that store is not open
    (then Hajatek is asked to retry). A webhook carries no MCP session, so the caller looks the store up by id among
    the open shops (:class:`~hajatek_mcp.server.shop.OpenShops`), never takes whichever shop opened last.
    """

    async def current() -> EventInbox:
        return inbox()

    async def receive(request: Request) -> Response:
        return await _receive(request, secret, current, hub, max_body)

    return Route(WEBHOOK_PATH, receive, methods=["POST"])


def tenant_webhook_route(
    secret_of: Callable[[str], Awaitable[SecretStr | None]],
    inbox_of: Callable[[str], Awaitable[EventInbox]],
    hub: EventHub,
    *,
    max_body: int = MAX_WEBHOOK_BODY,
) -> Route:
    """``POST /webhooks/hajatek/{store_id}`` on a multi-tenant server: each store's events at its own address.

    Verified with that store's own signing secret, read at each delivery (a store that connected again with a new
    secret, or disconnected, is taken at its word at once). A store that is not connected, or gave no secret, is
    404: nothing can be verified, so nothing is stored, and the body is not read.
    """

    async def receive(request: Request) -> Response:
        store_id = request.path_params["store_id"]
        secret = await secret_of(store_id)
        if secret is None:
            logger.warning("webhook for %s refused: no store connected with a signing secret", store_id)
            return _reject(
                404,
                "no store is connected here with a webhook signing secret: connect the store (with its secret) "
                "through this server's sign-in page first",
            )
        return await _receive(request, secret, lambda: inbox_of(store_id), hub, max_body)

    return Route(WEBHOOK_PATH + "/{store_id:str}", receive, methods=["POST"])
