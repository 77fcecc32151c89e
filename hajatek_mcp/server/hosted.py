"""``build_hosted_server``: one server for many merchants, each connecting their own store (multi-tenant mode).

The same tools, resources and prompts as :func:`~hajatek_mcp.server.build_server`, but no store is configured: the
built-in OAuth server's consent page asks each merchant for their store id and API key, checks them live, keeps them
encrypted (:class:`~hajatek_mcp.server.tenants.TenantStore`), and grants a token that belongs to that store alone.
Each request then acts on the store of its token (:class:`~hajatek_mcp.server.tenants.Tenants`); each store's
webhooks arrive at ``POST /webhooks/hajatek/{store_id}``, verified with its own secret. See docs/hosting.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

from hajatek_mcp.server.app import HajatekServer, assemble_server, request_store
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.server.fanout import relay_for
from hajatek_mcp.server.oauth import OAuthSetup, OAuthStore
from hajatek_mcp.server.oauth.connect import ConnectedStore
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.receiver import EventHub, tenant_webhook_route
from hajatek_mcp.server.tenants import TenantConnector, Tenants

__all__ = ["WEBHOOK_TEMPLATE", "build_hosted_server", "disconnect_store"]

#: Where a store's webhooks go on a multi-tenant server (the merchant registers it in the Hajatek dashboard).
WEBHOOK_TEMPLATE = "/webhooks/hajatek/{store_id}"

StoreCheck = Callable[[str, SecretStr], Awaitable[ConnectedStore]]


def build_hosted_server(options: ServerOptions, tenants: Tenants, check: StoreCheck) -> HajatekServer:
    """The multi-tenant server over ``tenants``; ``check`` proves a merchant's key opens their store.

    ``options`` must name an OAuth issuer (the built-in authorization server is how a store connects) and no store
    id or webhook secret of its own. The server owns ``tenants`` from here: :meth:`HajatekServer.close` closes it.
    """
    if options.oauth_issuer is None or options.oauth_external is not None:
        raise ValueError("multi-tenant mode needs the built-in OAuth server: set --oauth-issuer https://…")
    if options.store_id is not None or options.webhook_secret is not None:
        raise ValueError("multi-tenant mode takes no store of its own: each merchant connects theirs")
    hub = EventHub(request_store, relay_for(options.redis_url))
    running = 0

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[Tenants]:
        nonlocal running
        running += 1  # legacy SSE runs one lifespan per connection: the last one out closes the clients
        try:
            yield tenants
        finally:
            running -= 1
            if running == 0:
                await tenants.aclose()

    oauth = OAuthSetup(
        options.oauth_issuer, None, tenants.backend, clock=options.clock, connector=TenantConnector(tenants, check)
    )
    server = assemble_server(options, lifespan, hub, oauth, tenants.backend)
    server.on_close.insert(0, tenants.backend.close)  # last: after the stores that use it
    server.on_close.append(tenants.close)

    async def inbox_of(store_id: str) -> EventInbox:
        return (await tenants.shop(store_id)).inbox

    server.webhook_routes = [tenant_webhook_route(tenants.webhook_secret, inbox_of, hub)]
    server.webhook_status = f"webhook receiver on at POST {WEBHOOK_TEMPLATE}, each store with its own secret"
    server.tenants = tenants
    return server


async def disconnect_store(
    drop: Callable[[str], Awaitable[bool]], grants: OAuthStore, audit: AuditLog, store_id: str
) -> tuple[bool, int]:
    """Disconnect ``store_id``: every token of it revoked (``grants``), its key and secret deleted (``drop``:
    :meth:`Tenants.disconnect` in a server, :meth:`TenantStore.disconnect` from the command line).

    Returns (whether it was connected, how many tokens were revoked). Audited in the OAuth server's log.
    """
    revoked = await grants.revoke_subject(store_id)
    was_connected = await drop(store_id)
    await audit.record(
        "oauth.disconnect", {"store_id": store_id}, "executed", "host", target=store_id, detail=f"{revoked} tokens"
    )
    return was_connected, revoked
