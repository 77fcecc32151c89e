"""What the sandbox models for agent-grade answers (docs/api.md, assumed): customers' names on orders, status history
with notes, customers' Arabic names; ``inventory.low`` once per crossing on every path; a version-1 file upgraded with
its data; unfinished deliveries resumed; in-process answers that wait for their webhooks."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hajatek_mcp.api.models import ORDER_TRANSITIONS
from hajatek_mcp.sandbox import InProcessTransport, SandboxConfig, create_app
from hajatek_mcp.sandbox.db import SCHEMA
from hajatek_mcp.sandbox.seed import generate
from tests.support import walk

HOOK_URL = "http://receiver.test/hooks"
SECRET = "whsec_sandbox_history"
ARABIC_NAME = re.compile(r"[\u0621-\u064a]+ [\u0621-\u064a]+")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def customer_names(http: httpx2.AsyncClient) -> dict[str, str]:
    customers, _ = await walk(http, "/customers", "customers")
    return {c["id"]: c["name"] for c in customers}


async def set_stock(http: httpx2.AsyncClient, product_id: str, stock: int) -> None:
    response = await http.put(f"/products/{product_id}", json={"stock": stock})
    assert response.status_code == 200, response.text


def low_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["product_id"] for e in events if e["type"] == "inventory.low"]


# --- orders: the customer's name and the status history ---------------------------------------------------------------


async def test_every_seeded_order_shows_its_customer_and_a_history_consistent_with_its_status(client) -> None:
    orders, total = await walk(client, "/orders", "orders")
    names = await customer_names(client)

    assert total == len(orders) == 1200
    for order in orders:
        steps = order["status_history"]
        assert order["customer_name"] == names[order["customer_id"]]
        assert steps[0] == {"status": "pending", "at": order["created_at"], "note": None}
        assert steps[-1]["status"] == order["status"]
        assert steps[-1]["at"] == order["updated_at"]
        assert [s["at"] for s in steps] == sorted(s["at"] for s in steps), order["id"]
        for before, after in itertools.pairwise(steps):
            assert after["status"] in ORDER_TRANSITIONS[before["status"]], (order["id"], steps)
    paid = [o for o in orders if o["status"] in ("shipped", "delivered", "refunded")]
    assert all(o["status_history"][1]["status"] == "processing" for o in paid), "paid orders went through payment"


async def test_a_status_change_keeps_its_note_in_the_history(client, clock, first_order, now) -> None:
    order = await first_order(client, "pending")
    clock.advance(60)
    paid = await client.put(f"/orders/{order['id']}/status", json={"status": "processing", "note": "Paid by Mada"})
    clock.advance(3600)
    await client.put(f"/orders/{order['id']}/status", json={"status": "shipped", "note": "SMSA 290011"})
    again = await client.put(f"/orders/{order['id']}/status", json={"status": "shipped", "note": "a no-op"})
    clock.advance(60)
    await client.put(f"/orders/{order['id']}/status", json={"status": "delivered"})

    shown = (await client.get(f"/orders/{order['id']}")).json()

    assert paid.status_code == 200
    assert paid.json()["status_history"][-1] == {
        "status": "processing",
        "at": iso(now + timedelta(seconds=60)),
        "note": "Paid by Mada",
    }
    assert len(again.json()["status_history"]) == 3, "setting the same status again records nothing"
    assert shown["status_history"] == [
        {"status": "pending", "at": order["created_at"], "note": None},
        {"status": "processing", "at": iso(now + timedelta(seconds=60)), "note": "Paid by Mada"},
        {"status": "shipped", "at": iso(now + timedelta(seconds=3660)), "note": "SMSA 290011"},
        {"status": "delivered", "at": iso(now + timedelta(seconds=3720)), "note": None},
    ]
    assert shown["updated_at"] == iso(now + timedelta(seconds=3720))


async def test_a_seeded_orders_first_change_follows_the_history_it_was_shown_with(client, first_order) -> None:
    order = await first_order(client, "shipped")

    moved = await client.put(f"/orders/{order['id']}/status", json={"status": "delivered", "note": "Signed by Ali"})

    assert moved.json()["status_history"][:-1] == order["status_history"]
    assert moved.json()["status_history"][-1]["note"] == "Signed by Ali"
    assert (await client.get(f"/orders/{order['id']}")).json()["status_history"] == moved.json()["status_history"]


async def test_a_placed_order_starts_with_one_pending_step_and_its_customers_name(client) -> None:
    customer = (await client.get("/customers", params={"limit": 1})).json()["customers"][0]
    product = next(
        p for p in (await walk(client, "/products", "products"))[0] if p["status"] == "active" and p["stock"]
    )

    placed = await client.post(
        "http://sandbox/_sandbox/orders",
        json={"customer_id": customer["id"], "items": [{"product_id": product["id"], "quantity": 1}]},
    )

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["customer_name"] == customer["name"]
    assert order["status_history"] == [{"status": "pending", "at": order["created_at"], "note": None}]


# --- customers: Arabic names, no search -------------------------------------------------------------------------------


async def test_customers_carry_their_name_in_arabic(client) -> None:
    customers, _ = await walk(client, "/customers", "customers")
    by_name = {c["name"]: c["name_ar"] for c in customers}

    assert all(ARABIC_NAME.fullmatch(c["name_ar"]) for c in customers), "two Arabic words, no Latin letters"
    nouras = [ar for name, ar in by_name.items() if name.startswith("Noura ")]
    assert nouras
    assert all(ar.startswith("نورة ") for ar in nouras)
    qahtanis = [ar for name, ar in by_name.items() if name.endswith(" Al-Qahtani")]
    assert qahtanis
    assert all(ar.endswith(" القحطاني") for ar in qahtanis)


async def test_customers_cannot_be_searched_the_api_has_no_such_parameter(client) -> None:
    response = await client.get("/customers", params={"search": "Noura"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "search"


async def test_the_assumed_fields_can_be_left_out_for_the_narrowest_reading(make_app, make_client, first_order) -> None:
    http = make_client(make_app(assumed_fields=False))
    order = await first_order(http, "pending")

    moved = (await http.put(f"/orders/{order['id']}/status", json={"status": "processing", "note": "x"})).json()
    customer = (await http.get("/customers", params={"limit": 1})).json()["customers"][0]

    for shown in (order, moved, (await http.get(f"/orders/{order['id']}")).json()):
        assert "customer_name" not in shown
        assert "status_history" not in shown
    assert "name_ar" not in customer


# --- inventory.low: exactly once per crossing, on every path ---------------------------------------------------------


async def test_a_stock_update_fires_inventory_low_once_per_crossing(client, events) -> None:
    product = next(p for p in (await walk(client, "/products", "products"))[0] if p["stock"] >= 20)
    pid = product["id"]

    for stock in (6, 5, 4, 2, 0, 4, 5, 9, 3, 3, 1):
        await set_stock(client, pid, stock)
    lows = [e for e in await events(client, "inventory.low") if e["data"]["product_id"] == pid]

    assert [(e["data"]["stock"], e["data"]["threshold"]) for e in lows] == [(4, 5), (3, 5)], "5→4 and 9→3 only"
    assert lows[0]["data"]["name"] == product["name"]


async def test_an_order_placed_through_the_admin_api_fires_inventory_low_for_each_product_it_takes_below(
    client, events
) -> None:
    products = [p for p in (await walk(client, "/products", "products"))[0] if p["status"] == "active"][:3]
    for product, stock in zip(products, (7, 5, 9), strict=True):
        await set_stock(client, product["id"], stock)
    customer = (await client.get("/customers", params={"limit": 1})).json()["customers"][0]["id"]
    lines = [{"product_id": p["id"], "quantity": q} for p, q in zip(products, (3, 1, 2), strict=True)]

    placed = await client.post("http://sandbox/_sandbox/orders", json={"customer_id": customer, "items": lines})

    assert placed.status_code == 201, placed.text
    recorded = await events(client)
    assert low_ids(recorded) == [products[0]["id"], products[1]["id"]], "7→4 and 5→4 cross; 9→7 does not"
    kinds = [e["type"] for e in recorded if e["type"] in ("order.created", "inventory.low")]
    assert kinds == ["order.created", "inventory.low", "inventory.low"]


async def test_cancelling_and_creating_never_fire_inventory_low(client, events, first_order) -> None:
    order = await first_order(client, "pending")
    await client.put(f"/orders/{order['id']}/status", json={"status": "cancelled"})
    await client.post("/products", json={"name": "Rare Oud", "price": 900, "category": "perfumes-oud", "stock": 1})

    assert await events(client, "inventory.low") == []


async def test_live_activity_fires_inventory_low_exactly_once_per_crossing(app, client, events) -> None:
    products, _ = await walk(client, "/products", "products")
    for product in products:
        if product["status"] == "active" and product["stock"] > 5:
            await set_stock(client, product["id"], 5)  # one unit from the threshold: no event yet
    crossings: list[str] = []

    for _ in range(40):
        before = {p["id"]: p["stock"] for p in (await walk(client, "/products", "products"))[0]}
        app.state.sandbox.activity.step()
        after = {p["id"]: p["stock"] for p in (await walk(client, "/products", "products"))[0]}
        crossings += sorted(pid for pid, stock in before.items() if stock >= 5 > after[pid])

    assert len(crossings) >= 10
    assert sorted(low_ids(await events(client))) == sorted(crossings)


# --- a file of schema version 1 ---------------------------------------------------------------------------------------


def write_version_1_file(path: Path, now: datetime) -> None:
    """A ``sandbox.db`` as release 0.2 left it (schema 1): the seeded store of seed 42, one pending event."""
    data = generate(42, now)
    assert isinstance(SCHEMA.migrations[0], str)
    with closing(sqlite3.connect(path)) as old:
        old.executescript(SCHEMA.migrations[0])
        old.execute("PRAGMA user_version=1")
        for table, rows in (
            ("store", [data.store]),
            ("products", data.products),
            ("customers", data.customers),
            ("orders", data.orders),
            ("order_items", data.order_items),
            ("counters", data.counters),
        ):
            old.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)  # noqa: S608
        old.commit()


async def test_a_version_1_file_is_upgraded_with_its_data_and_serves_what_a_fresh_store_serves(
    tmp_path, now, make_app, make_client
) -> None:
    path = tmp_path / "sandbox.db"
    write_version_1_file(path, now)

    upgraded, fresh = make_client(make_app(db_path=str(path))), make_client(make_app())

    for listing, key in (("/orders", "orders"), ("/customers", "customers"), ("/products", "products")):
        assert await walk(upgraded, listing, key) == await walk(fresh, listing, key)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA.version,) == (2,)
    pending = (await upgraded.get("/orders", params={"status": "pending", "limit": 1})).json()["orders"][0]
    moved = await upgraded.put(f"/orders/{pending['id']}/status", json={"status": "processing", "note": "paid"})
    assert moved.json()["status_history"][-1]["note"] == "paid"


async def test_reset_clears_recorded_history(app, client, first_order) -> None:
    order = await first_order(client, "pending")
    await client.put(f"/orders/{order['id']}/status", json={"status": "processing", "note": "paid"})

    assert (await client.post("http://sandbox/_sandbox/reset")).status_code == 200

    assert (await client.get(f"/orders/{order['id']}")).json()["status_history"] == order["status_history"]


# --- deliveries: resumed after a restart, settled in process ----------------------------------------------------------


def recording(received: list[httpx2.Request], status: int = 200) -> httpx2.MockTransport:
    def receive(request: httpx2.Request) -> httpx2.Response:
        received.append(request)
        return httpx2.Response(status)

    return httpx2.MockTransport(receive)


async def test_a_delivery_cut_off_by_a_shutdown_is_resumed_by_the_next_run(tmp_path, now, clock, fake_sleep) -> None:
    never = asyncio.Event()

    async def stuck(request: httpx2.Request) -> httpx2.Response:
        await never.wait()
        return httpx2.Response(200)

    settings: dict[str, Any] = {"db_path": str(tmp_path / "sandbox.db"), "now": now, "clock": clock}
    settings.update(sleep=fake_sleep, webhook_url=HOOK_URL, webhook_secret=SECRET)
    first = create_app(SandboxConfig(**settings, webhook_transport=httpx2.MockTransport(stuck)))
    first.state.sandbox.store.update_product("prod_0001", {"stock": 10})
    first.state.sandbox.store.update_product("prod_0001", {"stock": 2})  # inventory.low, its delivery stuck
    await asyncio.sleep(0)
    await first.state.sandbox.aclose()
    received: list[httpx2.Request] = []

    second = create_app(SandboxConfig(**settings, webhook_transport=recording(received)))
    async with second.state.sandbox as sandbox:
        await sandbox.webhooks.drain()
        [event] = sandbox.store.list_events("inventory.low")

    assert [json.loads(r.content)["id"] for r in received] == [event["id"]], "the recorded event, once"
    assert event["delivery"] == {"status": "delivered", "attempts": 1, "last_error": None}


async def test_a_delivery_older_than_a_day_is_given_up_not_resumed(tmp_path, now, clock, fake_sleep) -> None:
    never = asyncio.Event()

    async def stuck(request: httpx2.Request) -> httpx2.Response:
        await never.wait()
        return httpx2.Response(200)

    settings: dict[str, Any] = {"db_path": str(tmp_path / "sandbox.db"), "clock": clock, "sleep": fake_sleep}
    settings.update(webhook_url=HOOK_URL, webhook_secret=SECRET)
    first = create_app(SandboxConfig(**settings, now=now, webhook_transport=httpx2.MockTransport(stuck)))
    first.state.sandbox.store.update_product("prod_0001", {"stock": 10})
    first.state.sandbox.store.update_product("prod_0001", {"stock": 2})
    await asyncio.sleep(0)
    await first.state.sandbox.aclose()
    received: list[httpx2.Request] = []

    later = create_app(SandboxConfig(**settings, now=now + timedelta(hours=25), webhook_transport=recording(received)))
    async with later.state.sandbox as sandbox:
        [event] = sandbox.store.list_events()

    assert received == []
    assert event["delivery"]["status"] == "failed"
    assert "not resumed" in event["delivery"]["last_error"]


async def test_entering_the_sandbox_resumes_nothing_of_its_own_run(make_app, make_client, first_order) -> None:
    received: list[httpx2.Request] = []
    app = make_app(webhook_url=HOOK_URL, webhook_secret=SECRET, webhook_transport=recording(received))
    http = make_client(app)
    order = await first_order(http, "pending")
    await http.put(f"/orders/{order['id']}/status", json={"status": "processing"})  # two deliveries under way

    async with app.state.sandbox as sandbox:
        await sandbox.webhooks.drain()

    assert sorted(json.loads(r.content)["type"] for r in received) == ["order.updated", "payment.completed"]


@pytest.mark.parametrize("answer", [200, 503], ids=["delivered", "refused"])
async def test_an_in_process_answer_comes_once_its_webhooks_were_offered(
    make_app, first_order, fake_sleep, answer: int
) -> None:
    received: list[httpx2.Request] = []
    hooks = {"webhook_url": HOOK_URL, "webhook_secret": SECRET, "webhook_transport": recording(received, answer)}
    app = make_app(**hooks, sleep=fake_sleep, webhook_max_attempts=2)
    transport = InProcessTransport(app)
    headers = {"Authorization": "Bearer sk_sandbox_pro"}
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox/v1", headers=headers) as http:
        order = await first_order(http, "pending")
        moved = await http.put(f"/orders/{order['id']}/status", json={"status": "processing"})
        seen = {json.loads(r.content)["type"] for r in received}

    assert moved.status_code == 200
    assert seen == {"order.updated", "payment.completed"}, "both offered before the answer came back"
    await app.state.sandbox.webhooks.drain()
    assert len(received) == (2 if answer == 200 else 4), "a refused delivery is retried in the background"
