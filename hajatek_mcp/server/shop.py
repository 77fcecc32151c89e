"""The store a request acts on (:class:`Shop`), and how each kind of handler finds the shop of its request.

The server's lifespan opens a :class:`Shop`: the API client of one store and that store's local state. Every
handler reaches the shop of the request it serves, never merely "an open one":

- **Tools and their resolvers** declare ``shop: Annotated[Shop, Resolve(current_shop)]``; the SDK runs
  :func:`current_shop` with the request's ``Context`` and leaves the parameter out of the input schema.
- **Resources and completions** get no ``Context`` in mcp 2.3 (a static resource that declares one is refused, a
  template runs no ``Resolve``, a completion handler is called with the reference and argument only). The server
  registers :func:`bind_request_shop` as SDK middleware (``MCPServer(middleware=...)``, which wraps every inbound
  request once its session is known): it binds the lifespan context of the session serving the request for the length
  of that request, and :func:`request_shop` reads it.
- **The webhook route** serves no MCP request at all: it looks its store up by id in :class:`OpenShops`.

A multi-tenant server's lifespan context is no shop but a :class:`ShopSource` (the registry of connected stores,
:class:`~hajatek_mcp.server.tenants.Tenants`): the middleware takes the store from the request's access token (its
``subject``, set when the merchant connected the store) and holds that store's shop for the request, so tools,
resources, prompts and completions all act on the store of the token, and nothing the model sends names a store.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp import MCPError
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.types import INVALID_REQUEST, CallToolResult
from pydantic import BaseModel

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.directory import CustomerDirectory
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.server.exports import ExportStore
from hajatek_mcp.server.locks import TargetLocks
from hajatek_mcp.server.options import ServerOptions

__all__ = [
    "NotConnectedError",
    "OpenShops",
    "Shop",
    "ShopSource",
    "bind_request_shop",
    "current_shop",
    "request_shop",
]


@dataclass
class Shop:
    """The store a tool acts on: the API client, how the server was started, and its durable state."""

    client: HajatekClient
    options: ServerOptions
    audit: AuditLog
    confirmations: ConfirmationStore
    inbox: EventInbox
    exports: ExportStore
    directory: CustomerDirectory
    locks: TargetLocks = field(default_factory=TargetLocks)
    """The per-target write locks. Shared by every shop of one server (legacy SSE opens one per connection); keys
    carry the store id."""
    hosted: bool = False
    """A store connected to a multi-tenant server (its webhook secret came from the merchant, not the environment)."""

    @property
    def store_id(self) -> str:
        """The store this shop acts on: every piece of local state it reads or writes is keyed by it."""
        return self.client.store_id or ""

    @property
    def receives_events(self) -> bool:
        """Whether this store's webhooks are received (a signing secret is configured or was given at connect)."""
        return self.inbox.receiving is True

    def hold(self, *targets: str | None) -> AbstractAsyncContextManager[None]:
        """Hold the write locks of ``targets`` (ids of this store) for a block; ``None`` holds nothing."""
        return self.locks.hold(*(None if t is None else f"{self.store_id}/{t}" for t in targets))

    def result(self, view: BaseModel, note: str | None = None) -> CallToolResult:
        """A tool result for ``view``; on the sandbox, the text says so."""
        if self.options.sandbox:
            note = f"[sandbox store] {note}" if note else "[sandbox store]"
        from hajatek_mcp.server.views import tool_result  # noqa: PLC0415  # the views load with the tools

        return tool_result(view, note=note, redact=self.options.redact_pii)


class NotConnectedError(LookupError):
    """A store that is not (or no longer) connected to this multi-tenant server."""

    def __init__(self, store_id: str) -> None:
        super().__init__(
            f"store {store_id} is not connected to this server (it was disconnected, or never connected): connect it "
            "again from your AI application's settings, where the server's sign-in page asks for its API key"
        )
        self.store_id = store_id


class ShopSource(Protocol):
    """Where a multi-tenant server's requests get their shop: by the store their access token belongs to."""

    def use(self, store_id: str) -> AbstractAsyncContextManager[Shop]: ...


async def current_shop(ctx: Context[Any]) -> Shop:  # async: a sync resolver would hop to a worker thread
    """Resolver: the :class:`Shop` of this request (bound by :func:`bind_request_shop`, else its lifespan's)."""
    shop = _request_shop.get(None)
    return shop if shop is not None else ctx.request_context.lifespan_context


_request_shop: ContextVar[Shop | None] = ContextVar("hajatek_request_shop", default=None)


def token_store() -> str:
    """The store the request's access token belongs to (its ``subject``), for a multi-tenant server."""
    token = get_access_token()
    if token is None or not token.subject:
        raise MCPError(
            INVALID_REQUEST,
            "this server serves connected stores only: sign in through its OAuth page to connect your store",
        )
    return token.subject


async def bind_request_shop(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """SDK middleware: the rest of the request runs with its shop bound for :func:`request_shop`.

    One store: the session's lifespan context is the shop. Several (a :class:`ShopSource`): the shop of the store
    the request's access token belongs to, held for the length of the request.
    """
    source = ctx.lifespan_context
    if isinstance(source, Shop):
        token = _request_shop.set(source)
        try:
            return await call_next(ctx)
        finally:
            _request_shop.reset(token)
    try:
        async with source.use(token_store()) as shop:
            token = _request_shop.set(shop)
            try:
                return await call_next(ctx)
            finally:
                _request_shop.reset(token)
    except NotConnectedError as exc:  # only opening the shop raises it
        raise MCPError(INVALID_REQUEST, str(exc)) from None


def request_shop() -> Shop:
    """The :class:`Shop` of the MCP request being served, for handlers the SDK gives no ``Context``."""
    shop = _request_shop.get()
    if shop is None:
        raise RuntimeError("no MCP request is being served here: only a request's handlers have a shop")
    return shop


class OpenShops:
    """The shops this server's lifespans hold open, by store id: how the webhook route finds its store.

    A webhook is no MCP request, so there is no session whose lifespan context could say which shop it is for. It is
    for the store whose secret signed it: the store this server is configured for (``ServerOptions.store_id``, else
    the one store its lifespan opens). The route looks that store up here by id, so shops of two stores are never
    taken for one another, whichever opened last; without a configured store, it finds one only while a single store
    is open. stdio and streamable HTTP open one shop; legacy SSE opens one per connection, all of the same store over
    the same files and locks, so any of them serves.
    """

    def __init__(self) -> None:
        self._by_store: dict[str, list[Shop]] = {}

    def add(self, shop: Shop) -> None:
        self._by_store.setdefault(shop.store_id, []).append(shop)

    def remove(self, shop: Shop) -> None:
        shops = self._by_store[shop.store_id]
        shops.remove(shop)
        if not shops:
            del self._by_store[shop.store_id]

    def get(self, store_id: str | None) -> Shop:
        """An open shop of ``store_id`` (None: of the one store open); LookupError when there is none or several."""
        if store_id is None:
            if len(self._by_store) > 1:
                raise LookupError(f"shops of {len(self._by_store)} stores are open and none is configured")
            store_id = next(iter(self._by_store), "")
        shops = self._by_store.get(store_id)
        if not shops:
            raise LookupError("the store is not open: it opens with the server's lifespan")
        return shops[0]
