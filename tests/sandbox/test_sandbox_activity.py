"""Live activity: new orders and lifecycle moves at a configured rate, through the same rules and webhooks."""

from __future__ import annotations

import asyncio

import httpx2

SECRET = "whsec_activity"


async def test_a_tick_places_an_order_and_moves_another(client, app, events) -> None:
    before = (await client.get("/orders", params={"limit": 1})).json()

    actions = app.state.sandbox.activity.step()

    after = (await client.get("/orders", params={"limit": 1})).json()
    assert len(actions) == 2
    assert after["total"] == before["total"] + 1
    assert after["orders"][0]["id"] == "ord_001201"
    assert "ord_001201" in actions[0]
    types = [e["type"] for e in await events(client)]
    assert types[0] == "order.created"
    assert "order.updated" in types


async def test_ticks_are_deterministic_for_a_seed(make_app) -> None:
    first, second = make_app(), make_app()

    runs = [[app.state.sandbox.activity.step() for _ in range(10)] for app in (first, second)]

    assert runs[0] == runs[1]


async def test_many_ticks_keep_every_order_total_and_stock_consistent(client, app, collect) -> None:
    for _ in range(60):
        app.state.sandbox.activity.step()

    orders, total = await collect(client, "/orders", "orders")
    products, _ = await collect(client, "/products", "products")
    assert total == len(orders) > 1200
    assert all(p["stock"] >= 0 for p in products)
    new = [o for o in orders if o["id"] > "ord_001200"]
    assert len(new) == 60
    assert {o["status"] for o in new} <= {"pending", "processing", "shipped", "delivered", "cancelled", "refunded"}


async def test_the_loop_ticks_at_the_configured_rate(make_app, fake_sleep) -> None:
    app = make_app(activity=120, sleep=fake_sleep)

    ticks = await app.state.sandbox.activity.run(max_steps=5)

    assert ticks == 5
    assert fake_sleep.calls == [0.5] * 5


async def test_activity_runs_in_the_background_while_the_sandbox_is_open(make_app, make_client) -> None:
    ticked = asyncio.Event()
    received: list[httpx2.Request] = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > 3:  # after three ticks, wait to be cancelled
            ticked.set()
            await asyncio.Event().wait()

    app = make_app(
        activity=30,
        sleep=sleep,
        webhook_url="https://receiver.example/hooks",
        webhook_secret=SECRET,
        webhook_transport=httpx2.MockTransport(lambda request: received.append(request) or httpx2.Response(200)),
    )
    sandbox = app.state.sandbox

    async with sandbox:
        await ticked.wait()
        await sandbox.webhooks.drain()
        orders = (await make_client(app).get("/orders", params={"limit": 1})).json()

    assert slept[:3] == [2.0, 2.0, 2.0]
    assert orders["total"] == 1203
    assert any(b'"order.created"' in request.content for request in received)


async def test_activity_is_off_by_default(app, client) -> None:
    async with app.state.sandbox:
        await asyncio.sleep(0)
        total = (await client.get("/orders")).json()["total"]

    assert total == 1200
    assert await app.state.sandbox.activity.run(max_steps=3) == 0
