"""The registry of a multi-tenant server's open shops (:class:`~hajatek_mcp.server.tenants.Tenants`).

Against the multi-store sandbox in process: each shop talks to its own store with its own key, its state views see
only its store's rows, the number of open shops is bounded, idle ones are closed (never one a request holds), a
store that connects again gets a shop with its new key, and a store that is not connected gets none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx2
import pytest
from pydantic import SecretStr

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import InProcessTransport, SandboxConfig, create_multi_app, multi_store_configs
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.shop import NotConnectedError
from hajatek_mcp.server.tenants import MasterKeys, SharedTransport, TenantCredentials, Tenants, TenantStore
from tests.support import FakeClock

STORES = {"str_sandbox": "sk_sandbox_pro", "str_sandbox2": "sk_sandbox2_pro", "str_sandbox3": "sk_sandbox3_starter"}


class Counting(httpx2.AsyncBaseTransport):
    """The shared pool's transport, counting closes: a store's client closing must not close it."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner, self.closed = inner, 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed += 1


class World:
    def __init__(self, tenants: Tenants, pool: Counting, clock: FakeClock, opened: list[str]) -> None:
        self.tenants, self.pool, self.clock, self.opened = tenants, pool, clock, opened


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    app = create_multi_app(multi_store_configs(3, SandboxConfig()))
    async with app.state.sandbox:
        pool = Counting(InProcessTransport(app))
        shared = SharedTransport(pool)
        opened: list[str] = []

        def open_client(credentials: TenantCredentials) -> HajatekClient:
            opened.append(credentials.store_id)
            return HajatekClient(
                credentials.api_key, store_id=credentials.store_id, plan="pro", base_url="http://sandbox/v1",
                transport=shared,
            )  # fmt: skip

        store = TenantStore(tmp_path / "tenants.db", MasterKeys.parse(MasterKeys.generate()))
        for store_id, key in STORES.items():
            await store.connect(store_id, store_id, "pro", SecretStr(key), SecretStr(f"whsec-{store_id}"))
        clock = FakeClock()
        tenants = Tenants(store, ServerOptions(state_dir=tmp_path), open_client, max_open=2, monotonic=clock)
        try:
            yield World(tenants, pool, clock, opened)
        finally:
            await tenants.aclose()
            tenants.close()


async def test_each_shop_reads_its_own_store_with_its_own_key(world: World) -> None:
    for store_id in ("str_sandbox", "str_sandbox2"):
        async with world.tenants.use(store_id) as shop:
            store = await shop.client.get_store()
            products = await shop.client.list_products(limit=3)
        assert store.id == store_id
        tagged = store_id != "str_sandbox"
        assert all(("_s2_" in p.id) == tagged for p in products.items)


async def test_state_views_are_bound_to_their_store(world: World) -> None:
    async with world.tenants.use("str_sandbox") as a:
        await a.audit.record("update_product", {"price": 1}, "executed", "elicitation", target="prod_0001")
    async with world.tenants.use("str_sandbox2") as b:
        assert await b.audit.recent(10) == []
        await b.audit.record("update_product", {"price": 2}, "executed", "elicitation", target="prod_s2_0001")
    async with world.tenants.use("str_sandbox") as a:
        assert [e["target"] for e in await a.audit.recent(10)] == ["prod_0001"]


async def test_a_store_that_is_not_connected_gets_no_shop(world: World) -> None:
    with pytest.raises(NotConnectedError, match="str_unknown is not connected"):
        async with world.tenants.use("str_unknown"):
            pass
    assert "str_unknown" not in world.opened


async def test_open_shops_are_bounded_least_recently_used_first(world: World) -> None:
    for store_id in ("str_sandbox", "str_sandbox2", "str_sandbox3"):
        async with world.tenants.use(store_id) as shop:
            await shop.client.get_store()
    assert world.tenants.open_count == 2
    assert not world.tenants.is_open("str_sandbox")  # the least recently used went
    assert world.pool.closed == 0  # closing a store's client leaves the shared pool open
    async with world.tenants.use("str_sandbox") as shop:  # reopened on demand
        assert (await shop.client.get_store()).id == "str_sandbox"
    assert world.opened == ["str_sandbox", "str_sandbox2", "str_sandbox3", "str_sandbox"]


async def test_a_shop_in_use_is_never_closed_under_its_request(world: World) -> None:
    async with world.tenants.use("str_sandbox") as held:
        for store_id in ("str_sandbox2", "str_sandbox3"):
            async with world.tenants.use(store_id):
                pass
        assert world.tenants.is_open("str_sandbox")  # over the bound, but held: the others went instead
        assert (await held.client.get_store()).id == "str_sandbox"
        world.clock.advance(10_000)
        assert await world.tenants.sweep() >= 1
        assert world.tenants.is_open("str_sandbox")


async def test_idle_shops_are_closed_after_the_idle_time(world: World) -> None:
    async with world.tenants.use("str_sandbox"):
        pass
    world.clock.advance(world.tenants.idle_after - 1)
    assert await world.tenants.sweep() == 0
    world.clock.advance(2)
    assert await world.tenants.sweep() == 1
    assert world.tenants.open_count == 0


async def test_a_store_that_connects_again_gets_its_new_key_at_once(world: World) -> None:
    async with world.tenants.use("str_sandbox2") as shop:
        assert (await shop.client.get_store()).id == "str_sandbox2"
        assert shop.receives_events  # connected with its signing secret
        assert shop.hosted
    await world.tenants.store.connect("str_sandbox2", "Dar Al-Oud", "starter", SecretStr("sk_sandbox2_starter"), None)
    await world.tenants.forget("str_sandbox2")
    async with world.tenants.use("str_sandbox2") as shop:
        assert shop.client.plan == "pro"  # the factory's choice in this test; the key is what changed
        assert await world.tenants.webhook_secret("str_sandbox2") is None
        assert not shop.receives_events


async def test_disconnect_closes_the_shop_and_forgets_the_key(world: World) -> None:
    async with world.tenants.use("str_sandbox3"):
        pass
    assert await world.tenants.disconnect("str_sandbox3") is True
    assert not world.tenants.is_open("str_sandbox3")
    assert await world.tenants.webhook_secret("str_sandbox3") is None
    with pytest.raises(NotConnectedError):
        await world.tenants.shop("str_sandbox3")
    assert await world.tenants.disconnect("str_sandbox3") is False


async def test_concurrent_first_requests_open_one_shop(world: World) -> None:
    shops = []

    async def one() -> None:
        async with world.tenants.use("str_sandbox") as shop:
            shops.append(shop)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(one)
    assert len({id(s) for s in shops}) == 1
    assert world.opened == ["str_sandbox"]
