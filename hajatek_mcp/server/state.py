"""What the server's lifespan holds, and the resolver that hands it to tools.

Tools declare ``shop: Annotated[Shop, Resolve(current_shop)]`` and get the live client and options; the parameter
does not appear in the tool's input schema.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, SecretStr

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.server.views import tool_result

__all__ = ["TOOLSETS", "ExternalIssuer", "ServerOptions", "Shop", "ShopRef", "TargetLocks", "current_shop"]

#: Tool groups that ``--toolsets`` selects from.
TOOLSETS: Final = ("store", "catalog", "orders", "customers", "analytics", "events")


@dataclass(frozen=True)
class ExternalIssuer:
    """An external OAuth authorization server whose tokens are checked by introspection (RFC 7662)."""

    issuer: str
    introspection_url: str
    client_id: str
    client_secret: SecretStr


@dataclass(frozen=True)
class ServerOptions:
    """How the server is set up (from settings and CLI flags)."""

    read_only: bool = False
    toolsets: frozenset[str] = field(default_factory=lambda: frozenset(TOOLSETS))
    sandbox: bool = False
    confirm: Literal["auto", "token", "none"] = "auto"
    """How destructive changes are confirmed (see :mod:`hajatek_mcp.server.guards`)."""
    confirm_ttl: float = 300.0
    price_cut_guard: float = 0.5
    """A price cut by more than this share needs confirmation."""
    guard_window: float = 86400.0
    """Seconds of history the price and stock guards look back over for their reference (see guards)."""
    redact_pii: bool = False
    state_dir: Path | None = None
    """Where the audit log and confirmation tokens live (SQLite); None keeps them in memory."""
    clock: Callable[[], float] = time.time
    """Wall clock for token expiry, audit times and the webhook replay window (tests inject a fake)."""
    webhook_secret: SecretStr | None = None
    """Signing secret of Hajatek's webhooks; without it no receiver is served."""
    webhook_max_age: float = 86400.0
    """Events created longer ago than this (seconds) are refused unless already known (replay window)."""
    event_retention_days: float = 30.0
    oauth_issuer: str | None = None
    """Public base URL of this server (https://…) to run the built-in OAuth server; None: no OAuth."""
    oauth_passphrase: SecretStr | None = None
    """The merchant's admin passphrase, asked on the consent page."""
    oauth_external: ExternalIssuer | None = None
    """Accept tokens of an external authorization server instead of running the built-in one."""

    def __post_init__(self) -> None:
        unknown = self.toolsets - set(TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolsets {sorted(unknown)}; choose from {', '.join(TOOLSETS)}")
        if not self.toolsets:
            raise ValueError(f"choose at least one toolset from {', '.join(TOOLSETS)}")


class TargetLocks:
    """One lock per write target (a product or order id), so writes to one target run one at a time.

    The audit log then lists a target's writes in the order the store applied them, and a serial replay of its
    executed writes gives the store's state (a write whose answer was lost may still land later: the log says so). A
    write that changes several targets (a cancel restocks the order's products) holds all
    their locks, taken in sorted order so that two such writes cannot wait for each other. Writes to different
    targets still run in parallel. A lock lives only while someone holds or waits for it, so the table stays as small
    as the number of targets being written right now.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, *targets: str | None) -> AsyncIterator[None]:
        """Hold the locks of ``targets`` for the block; ``None`` (a new product, no id yet) holds nothing."""
        ids = sorted({t for t in targets if t is not None})
        async with AsyncExitStack() as stack:
            for target in ids:
                await stack.enter_async_context(self._one(target))
            yield

    @asynccontextmanager
    async def _one(self, target: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(target, (None, 0))
        lock = lock or anyio.Lock()
        self._locks[target] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[target]
            if users == 1:
                del self._locks[target]
            else:
                self._locks[target] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class Shop:
    """The store a tool acts on: the API client, how the server was started, and its durable state."""

    client: HajatekClient
    options: ServerOptions
    audit: AuditLog
    confirmations: ConfirmationStore
    inbox: EventInbox
    writes: TargetLocks = field(default_factory=TargetLocks)
    """Shared by every shop of one server (legacy SSE opens one per connection); keys carry the store id."""

    @property
    def store_id(self) -> str:
        """The store this shop acts on: every piece of local state it reads or writes is keyed by it."""
        return self.client.store_id or ""

    def hold(self, *targets: str | None) -> AbstractAsyncContextManager[None]:
        """Hold the write locks of ``targets`` (ids of this store) for a block; ``None`` holds nothing."""
        return self.writes.hold(*(None if t is None else f"{self.store_id}/{t}" for t in targets))

    def result(self, view: BaseModel, note: str | None = None) -> CallToolResult:
        """A tool result for ``view``; on the sandbox, the text says so."""
        if self.options.sandbox:
            note = f"[sandbox store] {note}" if note else "[sandbox store]"
        return tool_result(view, note=note, redact=self.options.redact_pii)


async def current_shop(ctx: Context[Shop]) -> Shop:  # async: a sync resolver would hop to a worker thread
    """Resolver: the :class:`Shop` the lifespan opened for this server."""
    return ctx.request_context.lifespan_context


class ShopRef:
    """The live :class:`Shop`, for handlers the SDK gives no ``Context`` (static resources, completions, webhooks).

    stdio and streamable HTTP enter the lifespan once; the legacy SSE transport enters it once per connection, so
    several shops may be open at once (over the same files). Any open one serves; the newest is used.
    """

    def __init__(self) -> None:
        self._open: list[Shop] = []

    def push(self, shop: Shop) -> None:
        self._open.append(shop)

    def remove(self, shop: Shop) -> None:
        self._open.remove(shop)

    def get(self) -> Shop:
        if not self._open:
            raise RuntimeError("the server is not running: the store connection opens with the server's lifespan")
        return self._open[-1]
