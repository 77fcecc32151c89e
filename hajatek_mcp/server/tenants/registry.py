"""The shops a multi-tenant server has open: one per connected store in use, bounded, closed when idle.

A request of a multi-tenant server carries an access token that belongs to one store (its ``subject``); the
server's middleware asks :meth:`Tenants.use` for that store's :class:`~hajatek_mcp.server.shop.Shop` and holds it
for the length of the request. A shop is opened on first use from the store's credentials (decrypted from
:class:`~.store.TenantStore`), and is cheap: its API client shares one connection pool with every other store's
(:class:`SharedTransport`), has its own key, its own rate governor sized by the store's plan and its own product
hints, and builds nothing until its first request. Its audit log, confirmation tokens, event inbox, exports and
customer directory are views, bound to its store id, over state files the whole server opens once.

At most ``max_open`` shops are kept; beyond that, and after ``idle_after`` seconds unused, a shop no request holds
is closed (its client's connections go back to the shared pool). Nothing is looked up by anything the model sends.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import anyio
import httpx2
from pydantic import SecretStr

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.audit import SCHEMA as AUDIT_SCHEMA
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.backend import StateBackend
from hajatek_mcp.server.confirmations import SCHEMA as TOKENS_SCHEMA
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.directory import SCHEMA as DIRECTORY_SCHEMA
from hajatek_mcp.server.directory import CustomerDirectory
from hajatek_mcp.server.events import SCHEMA as EVENTS_SCHEMA
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.server.exports import SCHEMA as EXPORTS_SCHEMA
from hajatek_mcp.server.exports import ExportStore
from hajatek_mcp.server.locks import TargetLocks
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.shop import NotConnectedError, Shop
from hajatek_mcp.server.tenants.store import TenantCredentials, TenantStore
from hajatek_mcp.storage import Database, Schema

if TYPE_CHECKING:
    from hajatek_mcp.server.oauth.connect import ConnectedStore

__all__ = ["DEFAULT_IDLE_AFTER", "DEFAULT_MAX_OPEN", "SharedTransport", "TenantConnector", "Tenants"]

logger = logging.getLogger("hajatek_mcp.tenants")

#: Shops kept open at most (each an idle API client of a few KB, its connections in the shared pool).
DEFAULT_MAX_OPEN: Final = 5000
#: Seconds a shop may stay unused before it is closed.
DEFAULT_IDLE_AFTER: Final = 900.0
#: Seconds between two looks for idle shops (done on the way into a request, so nothing runs in the background).
SWEEP_EVERY: Final = 60.0

#: The state files every store's views share, with the schema each is opened with.
_FILES: Final[dict[str, Schema]] = {
    "audit.db": AUDIT_SCHEMA,
    "confirmations.db": TOKENS_SCHEMA,
    "events.db": EVENTS_SCHEMA,
    "exports.db": EXPORTS_SCHEMA,
    "directory.db": DIRECTORY_SCHEMA,
}


class SharedTransport(httpx2.AsyncBaseTransport):
    """One connection pool for every store's client: closing one store's client leaves the pool to the others.

    The registry closes the pool itself (:meth:`close_pool`) when the server stops.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """A store's client closing: the shared pool stays open."""

    async def close_pool(self) -> None:
        await self._inner.aclose()


#: Opens the API client of a store from its credentials (the caller sets base URL, timeouts, the shared transport).
ClientFactory = Callable[[TenantCredentials], HajatekClient]


@dataclass
class _Open:
    shop: Shop
    in_flight: int = 0
    last_used: float = 0.0


class Tenants:
    """The connected stores' shops, opened on first use (see the module docstring).

    ``store`` is owned by the caller until :meth:`close`, which also closes the shared state files. ``backend``
    says where they are (default: the data dir of ``options``, or its PostgreSQL database).
    """

    def __init__(
        self,
        store: TenantStore,
        options: ServerOptions,
        open_client: ClientFactory,
        *,
        max_open: int = DEFAULT_MAX_OPEN,
        idle_after: float = DEFAULT_IDLE_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
        backend: StateBackend | None = None,
    ) -> None:
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.store = store
        self.options = options
        self.max_open = max_open
        self.idle_after = idle_after
        self.locks = TargetLocks()  # keys carry the store id (Shop.hold), so one table serves every store
        self._open_client = open_client
        self._monotonic = monotonic
        self.backend = backend or StateBackend(options.state_dir, options.database_url)
        self._files = {name: _database(self.backend, name, schema) for name, schema in _FILES.items()}
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._opening = anyio.Lock()
        self._last_sweep = monotonic()

    # -- shops -------------------------------------------------------------------------------------------------------

    @property
    def open_count(self) -> int:
        """How many shops are open right now."""
        return len(self._open)

    def is_open(self, store_id: str) -> bool:
        return store_id in self._open

    @asynccontextmanager
    async def use(self, store_id: str) -> AsyncIterator[Shop]:
        """The shop of ``store_id`` for the length of a request (:class:`NotConnectedError` if it is not connected).

        A shop in use is never closed under its request; the look for idle shops runs here, on the way in.
        """
        entry = await self._entry(store_id)
        entry.in_flight += 1
        entry.last_used = self._monotonic()
        try:
            yield entry.shop
        finally:
            entry.in_flight -= 1
            entry.last_used = self._monotonic()

    async def shop(self, store_id: str) -> Shop:
        """The open shop of ``store_id``, opening it if needed (for callers that hold no request, e.g. webhooks)."""
        return (await self._entry(store_id)).shop

    async def _entry(self, store_id: str) -> _Open:
        now = self._monotonic()
        if now - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = now
            await self.sweep()
        entry = self._open.get(store_id)
        if entry is not None:
            self._open.move_to_end(store_id)
            return entry
        async with self._opening:
            entry = self._open.get(store_id)  # opened while this request waited
            if entry is None:
                credentials = await self.store.credentials(store_id)
                if credentials is None:
                    raise NotConnectedError(store_id)
                entry = _Open(self._new_shop(credentials), last_used=now)
                self._open[store_id] = entry
                await self._trim()
            return entry

    def _new_shop(self, credentials: TenantCredentials) -> Shop:
        options, store_id, clock = self.options, credentials.store_id, self.options.clock
        files = self._files
        return Shop(
            client=self._open_client(credentials),
            options=options,
            audit=AuditLog(files["audit.db"], store_id=store_id, clock=clock),
            confirmations=ConfirmationStore(
                files["confirmations.db"], store_id=store_id, ttl=options.confirm_ttl, clock=clock
            ),
            inbox=EventInbox(
                files["events.db"],
                store_id=store_id,
                retention_days=options.event_retention_days,
                max_age=options.webhook_max_age,
                clock=clock,
                receiving=credentials.webhook_secret is not None,
            ),
            exports=ExportStore(files["exports.db"], store_id=store_id, clock=clock),
            directory=CustomerDirectory(files["directory.db"], store_id=store_id, clock=clock),
            locks=self.locks,
            hosted=True,
        )

    async def _trim(self) -> None:
        """Close the least recently used shops no request holds while more than ``max_open`` are open."""
        for store_id in list(self._open):
            if len(self._open) <= self.max_open:
                return
            if self._open[store_id].in_flight == 0:
                await self._close(store_id)

    async def sweep(self) -> int:
        """Close every shop unused for ``idle_after`` seconds that no request holds; how many were closed."""
        cutoff = self._monotonic() - self.idle_after
        idle = [s for s, e in self._open.items() if e.in_flight == 0 and e.last_used <= cutoff]
        for store_id in idle:
            await self._close(store_id)
        if idle:
            logger.info("closed %d idle store connections (%d open)", len(idle), len(self._open))
        return len(idle)

    async def forget(self, store_id: str) -> None:
        """Close the shop of ``store_id`` (its key changed or it was disconnected): the next request reopens it.

        Requests holding it finish on the client they started with.
        """
        entry = self._open.pop(store_id, None)
        if entry is not None:
            await entry.shop.client.aclose()

    async def _close(self, store_id: str) -> None:
        entry = self._open.pop(store_id)
        await entry.shop.client.aclose()

    async def aclose(self) -> None:
        """Close every open shop's client (the server stopped serving); shops reopen on the next use."""
        while self._open:
            _, entry = self._open.popitem(last=False)
            await entry.shop.client.aclose()

    # -- credentials -------------------------------------------------------------------------------------------------

    async def webhook_secret(self, store_id: str) -> SecretStr | None:
        """The signing secret of ``store_id``'s webhooks, read at each delivery (None: not connected or none set)."""
        credentials = await self.store.credentials(store_id)
        return None if credentials is None else credentials.webhook_secret

    async def disconnect(self, store_id: str) -> bool:
        """Delete the store's credentials and close its shop; False when it was not connected.

        The caller revokes the store's OAuth grants (they belong to the authorization server's store).
        """
        await self.forget(store_id)
        return await self.store.disconnect(store_id)

    def close(self) -> None:
        """Close the state files and the tenant store; call it once the server has stopped."""
        try:
            for database in self._files.values():
                database.close()
        finally:
            self.store.close()


def _database(backend: StateBackend, name: str, schema: Schema) -> Database:
    """One database per state file, shared by every store's views."""
    opened = backend.open(name, schema)
    return opened if isinstance(opened, Database) else Database(opened, schema)


class TenantConnector:
    """What the consent page uses to connect a store: check its key live, then keep it (encrypted).

    ``check`` is :class:`~hajatek_mcp.server.oauth.connect.ApiStoreCheck` in production. A store that connects
    again replaces its key and secret, and its open shop is closed so the next request uses the new key.
    """

    def __init__(self, tenants: Tenants, check: Callable[[str, SecretStr], Awaitable[ConnectedStore]]) -> None:
        self.tenants = tenants
        self._check = check

    async def check(self, store_id: str, api_key: SecretStr) -> ConnectedStore:
        return await self._check(store_id, api_key)

    async def save(self, store: ConnectedStore, api_key: SecretStr, webhook_secret: SecretStr | None) -> None:
        new = await self.tenants.store.connect(store.store_id, store.name, store.plan, api_key, webhook_secret)
        await self.tenants.forget(store.store_id)
        logger.info("store %s %s", store.store_id, "connected" if new else "connected again: its key was replaced")
