"""The demo store: what the seed holds, determinism, and persistence in a file database."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.sandbox.seed import generate

LISTINGS = (("/products", "products"), ("/orders", "orders"), ("/customers", "customers"))


def test_the_seed_is_a_realistic_saudi_store(now) -> None:
    data = generate(42, now)
    # column positions: products (…, category 5, price 6, stock 7, status 8), customers (…, city 4)
    categories = Counter(p[5] for p in data.products)
    stocks = [p[7] for p in data.products]

    assert len(data.products) >= 200
    assert len(categories) >= 6
    assert min(categories.values()) >= 20
    assert sum(0 < s < 5 for s in stocks) >= 10, "some products are low on stock"
    assert sum(s == 0 for s in stocks) >= 5, "some are sold out"
    assert {p[8] for p in data.products} == {"active", "draft", "archived"}
    assert len(data.customers) >= 300
    assert len({c[4] for c in data.customers}) >= 8
    assert len(data.orders) >= 1000
    assert {o[2] for o in data.orders} == {"pending", "processing", "shipped", "delivered", "cancelled", "refunded"}
    product_ids = {p[0] for p in data.products}
    assert all(item[2] in product_ids for item in data.order_items)


def test_the_same_seed_and_now_give_the_same_data(now) -> None:
    assert generate(42, now) == generate(42, now)
    assert generate(42, now) != generate(43, now)


@pytest.mark.parametrize("seed", [0, 1, 7, 2024, 99999])
def test_every_seed_has_every_order_status(now, seed: int) -> None:
    statuses = {order[2] for order in generate(seed, now).orders}

    assert statuses == {"pending", "processing", "shipped", "delivered", "cancelled", "refunded"}


async def test_two_sandboxes_with_the_same_seed_serve_identical_listings(make_app, make_client, collect) -> None:
    first, second = make_client(make_app()), make_client(make_app())

    for path, key in LISTINGS:
        assert await collect(first, path, key) == await collect(second, path, key)
    for http in (first, second):
        assert (await http.get("/analytics/summary")).json() == (await first.get("/analytics/summary")).json()


async def test_a_different_seed_gives_a_different_store(make_app, make_client) -> None:
    first, other = make_client(make_app(seed=42)), make_client(make_app(seed=43))

    assert (await first.get("/products")).json() != (await other.get("/products")).json()


async def test_seed_timestamps_follow_now(make_app, make_client) -> None:
    later = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)

    newest = (await make_client(make_app(now=later)).get("/orders", params={"limit": 1})).json()["orders"][0]

    assert newest["created_at"].startswith("2027-01-01T") or newest["created_at"].startswith("2026-12-31T")


async def test_state_persists_across_a_restart_with_a_file_database(tmp_path, now, clock, make_client) -> None:
    config = SandboxConfig(db_path=str(tmp_path / "sandbox.db"), now=now, clock=clock)
    first = create_app(config)
    http = make_client(first)
    created = (
        await http.post("/products", json={"name": "Sidr Honey", "price": 120, "category": "dates-coffee"})
    ).json()
    order = (await http.get("/orders", params={"status": "pending", "limit": 1})).json()["orders"][0]
    await http.put(f"/orders/{order['id']}/status", json={"status": "processing"})
    await first.state.sandbox.aclose()

    restarted = create_app(config)
    try:
        again = make_client(restarted)
        found = (await again.get("/products", params={"search": "Sidr"})).json()["products"]
        reloaded = (await again.get(f"/orders/{order['id']}")).json()
        total = (await again.get("/products")).json()["total"]
        next_id = await again.post("/products", json={"name": "Honey 2", "price": 5, "category": "dates-coffee"})
    finally:
        await restarted.state.sandbox.aclose()

    assert found == [created]
    assert reloaded["status"] == "processing"
    assert total == 225, "the seed was not written a second time"
    assert next_id.json()["id"] == "prod_0226"


async def test_a_file_database_is_not_reseeded_with_another_seed(tmp_path, now, clock, make_client) -> None:
    path = str(tmp_path / "sandbox.db")
    first = create_app(SandboxConfig(db_path=path, now=now, clock=clock, seed=1))
    before = (await make_client(first).get("/customers")).json()
    await first.state.sandbox.aclose()

    second = create_app(SandboxConfig(db_path=path, now=now, clock=clock, seed=2))
    try:
        after = (await make_client(second).get("/customers")).json()
    finally:
        await second.state.sandbox.aclose()

    assert after == before
