"""The hosted endpoint for many merchants as replicas: two multi-tenant servers behind HAProxy, on one PostgreSQL and
one Redis.

Both replicas run in the test's event loop (uvicorn on 127.0.0.1), built by :func:`~hajatek_mcp.wiring.hosted_server`
as ``serve --multi-tenant`` builds them, each with its own data dir: what they share is the database, Redis and the
settings every replica must have alike (issuer, master key, request-state keys). Debian's HAProxy runs
``docs/deploy/haproxy.cfg`` in front of them, and the balancer's address is the OAuth issuer and the webhook URL.

Two merchants connect their stores through the balancer: registration, the consent page, its form and the token
exchange each land on whichever replica is next, so the OAuth state lives in the database or the flow breaks. Then
each agent, in both eras, sees its own store only, a guarded change previewed through one request is confirmed
through the next, a store's webhook reaches whichever replica and the store's agent reads it, and each store's rate
budget is kept in Redis, once per store.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx2
from pydantic import SecretStr
from redis.asyncio import Redis

from hajatek_mcp.sandbox import InProcessTransport, SandboxConfig, create_multi_app, multi_store_configs
from hajatek_mcp.server.http import HttpSecurity, http_app
from hajatek_mcp.settings import Settings
from hajatek_mcp.wiring import hosted_server
from tests.server.tenants_support import (
    WRITE,
    Deliveries,
    Hosted,
    Merchant,
    connect,
    merchant_client,
    owners,
    store_id_of,
)
from tests.servers import fresh_database, require_haproxy
from tests.support import Loopback, free_port, stop, structured, text

CONFIG = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "haproxy.cfg"
REPLICAS = 2


@asynccontextmanager
async def replicas(data_dir: Path, database_url: str, redis_url: str) -> AsyncIterator[Hosted]:
    """Two stores, two replicas, HAProxy in front; both merchants connected (write scope) through the balancer."""
    haproxy = require_haproxy()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    webhook_secrets = {store_id_of(k): "whsec_" + secrets.token_urlsafe(18) for k in (1, 2)}
    deliveries = Deliveries()
    base = SandboxConfig(
        webhook_url=origin + "/webhooks/hajatek/{store_id}",
        webhook_secret="unused",  # each store signs with its own secret
        webhook_transport=deliveries,
        webhook_backoff=0.0,
    )
    sandbox = create_multi_app(multi_store_configs(2, base, webhook_secrets=webhook_secrets))
    shared = {
        "multi_tenant": True,
        "master_key": SecretStr(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()),
        "oauth_issuer": origin,
        "base_url": "http://sandbox.local/v1",
        "max_retries": 0,
        "database_url": SecretStr(database_url),
        "redis_url": SecretStr(redis_url),
        "request_state_keys": SecretStr(secrets.token_urlsafe(32)),
    }
    servers = [
        hosted_server(
            Settings(data_dir=data_dir / f"replica{n}", **shared),  # type: ignore[arg-type]
            transport="streamable-http",
            api_transport=InProcessTransport(sandbox),
        )
        for n in range(REPLICAS)
    ]
    balancer: subprocess.Popen[bytes] | None = None
    try:
        async with sandbox.state.sandbox, AsyncExitStack() as stack:
            ports = []
            for server in servers:
                app = http_app(
                    server,
                    "streamable-http",
                    host="127.0.0.1",
                    security=HttpSecurity(oauth=True),
                    routes=server.public_routes,
                    services=server.services,
                    readiness=server.readiness,
                )
                replica = Loopback(app)
                await stack.enter_async_context(replica)
                ports.append(replica.sock.getsockname()[1])
            slots = {f"HAJATEK_REPLICA_{n + 1}": f"127.0.0.1:{ports[n % REPLICAS]}" for n in range(3)}
            log = (data_dir / "haproxy.log").open("wb")
            stack.callback(log.close)
            balancer = subprocess.Popen(  # noqa: S603, ASYNC220  # Debian's haproxy, fixed arguments; exits when stopped
                [haproxy, "-f", str(CONFIG), "-db"],
                env={"HAJATEK_LB_BIND": f"127.0.0.1:{port}", **slots},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
            with anyio.fail_after(30):
                while True:
                    try:
                        if (await http.get(origin + "/readyz")).status_code == 200:
                            break
                    except httpx2.TransportError:
                        pass
                    assert balancer.poll() is None, (data_dir / "haproxy.log").read_text()
                    await anyio.sleep(0.1)
            merchants = []
            for k in (1, 2):
                store_id = store_id_of(k)
                key = "sk_sandbox_pro" if k == 1 else f"sk_sandbox{k}_pro"
                token = await connect(http, origin, store_id, key, webhook_secrets[store_id], WRITE)
                merchants.append(Merchant(store_id, WRITE, token))
            yield Hosted(origin, merchants, deliveries, sandbox)
    finally:
        if balancer is not None:
            stop(balancer)
        for server in servers:
            server.close()
        for store in sandbox.state.stores.values():
            store.state.sandbox.store.close()


async def test_merchants_connect_and_work_through_the_balancer_whichever_replica_answers(
    tmp_path: Path, postgres_url: str, redis: str, mode: str
) -> None:
    database = fresh_database(postgres_url, f"tenant_replicas_{'legacy' if mode == 'legacy' else 'stateless'}")
    async with replicas(tmp_path, database, redis) as hosted:
        one, two = hosted.merchants
        async with (
            merchant_client(hosted.origin, one, mode) as first,
            merchant_client(hosted.origin, two, mode) as second,
        ):
            for merchant, client in ((one, first), (two, second)):
                listing = await client.call_tool("list_products", {"limit": 5})
                assert not listing.is_error, text(listing)
                assert set(owners(text(listing))) == {merchant.store_id}

            product = (await structured(first, "list_products", {"limit": 1}))["products"][0]
            cut = {"product_id": product["id"], "price": round(product["price"] / 10, 2)}
            preview = await structured(first, "update_product", cut)
            assert preview["outcome"] == "confirmation_required"
            done = await structured(first, "update_product", {**cut, "confirm_token": preview["confirm_token"]})
            assert done["outcome"] == "done"
            refused = await second.call_tool("update_product", {**cut, "confirm_token": preview["confirm_token"]})
            assert refused.is_error  # store 1's token, and store 1's product, are nothing to store 2

            order = (await structured(second, "list_orders", {"status": "pending", "limit": 1}))["orders"][0]["id"]
            await structured(second, "update_order_status", {"order_id": order, "status": "processing"})
            with anyio.fail_after(20):  # the sandbox's webhook went to the balancer, so to either replica
                while True:
                    events = await structured(second, "list_events", {})
                    if any(e.get("data", {}).get("order_id") == order for e in events["events"]):
                        break
                    await anyio.sleep(0.2)
            assert set(owners(text(await first.call_tool("list_events", {})), hosted.deliveries)) <= {one.store_id}

    budgets = Redis.from_url(redis, decode_responses=True)
    try:
        held = await budgets.keys("hajatek:rate:*:finished")
    finally:
        await budgets.aclose()
    assert len(held) == 2  # one budget per store's key, shared by the replicas
