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
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.directory import CustomerDirectory
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.server.exports import ExportStore
from hajatek_mcp.server.locks import TargetLocks
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.views import tool_result

__all__ = ["OpenShops", "Shop", "bind_request_shop", "current_shop", "request_shop"]


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

    @property
    def store_id(self) -> str:
        """The store this shop acts on: every piece of local state it reads or writes is keyed by it."""
        return self.client.store_id or ""

    def hold(self, *targets: str | None) -> AbstractAsyncContextManager[None]:
        """Hold the write locks of ``targets`` (ids of this store) for a block; ``None`` holds nothing."""
        return self.locks.hold(*(None if t is None else f"{self.store_id}/{t}" for t in targets))

    def result(self, view: BaseModel, note: str | None = None) -> CallToolResult:
        """A tool result for ``view``; on the sandbox, the text says so."""
        if self.options.sandbox:
            note = f"[sandbox store] {note}" if note else "[sandbox store]"
        return tool_result(view, note=note, redact=self.options.redact_pii)


async def current_shop(ctx: Context[Shop]) -> Shop:  # async: a sync resolver would hop to a worker thread
    """Resolver: the :class:`Shop` of the session serving this request (its lifespan context)."""
    return ctx.request_context.lifespan_context


_request_shop: ContextVar[Shop] = ContextVar("hajatek_request_shop")


async def bind_request_shop(ctx: ServerRequestContext[Shop, Any], call_next: CallNext) -> HandlerResult:
    """SDK middleware: the rest of the request runs with its session's shop bound for :func:`request_shop`."""
    token = _request_shop.set(ctx.lifespan_context)
    try:
        return await call_next(ctx)
    finally:
        _request_shop.reset(token)


def request_shop() -> Shop:
    """The :class:`Shop` of the MCP request being served, for handlers the SDK gives no ``Context``."""
    try:
        return _request_shop.get()
    except LookupError:
        raise RuntimeError("no MCP request is being served here: only a request's handlers have a shop") from None


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
