"""Business rules: the order lifecycle table, stock, product writes, and the events they record."""

from __future__ import annotations

from itertools import product

import httpx2
import pytest

STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled", "refunded")
ALLOWED = {
    ("pending", "processing"),
    ("pending", "cancelled"),
    ("processing", "shipped"),
    ("processing", "cancelled"),
    ("processing", "refunded"),
    ("shipped", "delivered"),
    ("shipped", "refunded"),
    ("delivered", "refunded"),
}
ADMIN = "http://sandbox/_sandbox"


@pytest.mark.parametrize(("current", "target"), [pair for pair in product(STATUSES, STATUSES) if pair[0] != pair[1]])
async def test_status_changes_follow_the_lifecycle_table(client, first_order, events, current, target) -> None:
    order = await first_order(client, current)

    response = await client.put(f"/orders/{order['id']}/status", json={"status": target, "note": "from a test"})

    if (current, target) in ALLOWED:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target
        assert response.json()["updated_at"] == "2026-03-15T12:00:00Z"
        assert next(e["type"] for e in await events(client)) == "order.updated"
    else:
        assert response.status_code == 409
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("invalid_transition", "status")
        assert current in error["message"]
        assert (await client.get(f"/orders/{order['id']}")).json() == order
        assert await events(client) == []


@pytest.mark.parametrize("status", STATUSES)
async def test_setting_the_current_status_again_is_a_200_no_op(client, first_order, events, status: str) -> None:
    order = await first_order(client, status)

    responses = [await client.put(f"/orders/{order['id']}/status", json={"status": status}) for _ in range(2)]

    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].json() == responses[1].json() == order
    assert await events(client) == []


async def test_paying_an_order_fires_order_updated_and_payment_completed(client, first_order, events) -> None:
    order = await first_order(client, "pending")

    await client.put(f"/orders/{order['id']}/status", json={"status": "processing"})

    fired = await events(client)
    assert [e["type"] for e in fired] == ["order.updated", "payment.completed"]
    for event in fired:
        assert event["data"] == {
            "order_id": order["id"],
            "store_id": "str_sandbox",
            "total": order["total"],
            "currency": "SAR",
            "status": "processing",
            "items": order["items"],
        }


async def test_cancelling_puts_the_items_back_in_stock(client, first_order, collect) -> None:
    order = await first_order(client, "pending")
    before = {p["id"]: p["stock"] for p in (await collect(client, "/products", "products"))[0]}

    await client.put(f"/orders/{order['id']}/status", json={"status": "cancelled"})

    after = {p["id"]: p["stock"] for p in (await collect(client, "/products", "products"))[0]}
    for item in order["items"]:
        assert after[item["product_id"]] == before[item["product_id"]] + item["quantity"]
    untouched = set(before) - {item["product_id"] for item in order["items"]}
    assert all(after[pid] == before[pid] for pid in untouched)


async def test_refunding_does_not_restock(client, first_order, collect) -> None:
    order = await first_order(client, "delivered")
    before = {p["id"]: p["stock"] for p in (await collect(client, "/products", "products"))[0]}

    await client.put(f"/orders/{order['id']}/status", json={"status": "refunded"})

    after = {p["id"]: p["stock"] for p in (await collect(client, "/products", "products"))[0]}
    assert after == before


async def test_creating_a_product_returns_201_and_fires_product_created(client, events) -> None:
    body = {"name": "Oud Gift Set", "name_ar": "طقم هدايا عود", "price": 349.5, "category": "perfumes-oud", "stock": 12}

    response = await client.post("/products", json=body)

    assert response.status_code == 201
    product_ = response.json()
    assert product_["id"] == "prod_0225"
    assert (product_["price"], product_["stock"], product_["status"], product_["currency"]) == (
        349.5,
        12,
        "active",
        "SAR",
    )
    assert product_["sku"]
    assert product_["description"] is None
    assert product_["created_at"] == product_["updated_at"] == "2026-03-15T12:00:00Z"
    [event] = await events(client)
    assert event["type"] == "product.created"
    assert event["data"] == {
        "product_id": "prod_0225",
        "store_id": "str_sandbox",
        "name": "Oud Gift Set",
        "price": 349.5,
        "currency": "SAR",
        "stock": 12,
        "category": "perfumes-oud",
    }
    found = (await client.get("/products", params={"search": "طقم هدايا"})).json()["products"]
    assert [p["id"] for p in found] == ["prod_0225"]


async def test_product_ids_are_deterministic_and_never_reused(client) -> None:
    body = {"name": "Dates Box", "price": 50, "category": "dates-coffee"}
    first = (await client.post("/products", json=body)).json()["id"]
    await client.delete(f"/products/{first}")

    second = (await client.post("/products", json=body)).json()["id"]

    assert (first, second) == ("prod_0225", "prod_0226")


async def test_an_update_is_partial_and_idempotent(client, clock) -> None:
    original = (await client.get("/products", params={"limit": 1})).json()["products"][0]
    change = {"price": 99.95, "name_ar": "اسم جديد"}

    clock.advance(60)
    once = (await client.put(f"/products/{original['id']}", json=change)).json()
    clock.advance(60)
    twice = (await client.put(f"/products/{original['id']}", json=change)).json()

    assert once == twice
    assert once["updated_at"] == "2026-03-15T12:01:00Z"
    assert (once["price"], once["name_ar"]) == (99.95, "اسم جديد")
    unchanged = {k: v for k, v in original.items() if k not in ("price", "name_ar", "updated_at")}
    assert {k: once[k] for k in unchanged} == unchanged


async def test_clearing_optional_text_with_null(client) -> None:
    response = await client.put("/products/prod_0001", json={"description": None, "name_ar": None})

    assert response.status_code == 200
    assert (response.json()["description"], response.json()["name_ar"]) == (None, None)


async def test_deleting_a_product_keeps_it_in_past_orders(client, collect) -> None:
    order = (await client.get("/orders", params={"limit": 1})).json()["orders"][0]
    item = order["items"][0]

    deleted = await client.delete(f"/products/{item['product_id']}")

    assert deleted.status_code == 200
    assert deleted.json() == {"id": item["product_id"], "deleted": True}
    products, _ = await collect(client, "/products", "products")
    assert item["product_id"] not in {p["id"] for p in products}
    assert (await client.get(f"/orders/{order['id']}")).json()["items"][0] == item
    assert (await client.delete(f"/products/{item['product_id']}")).status_code == 404


@pytest.mark.parametrize(
    ("before", "after", "fires"), [(8, 4, True), (5, 4, True), (8, 5, False), (4, 2, False), (3, 9, False)]
)
async def test_inventory_low_fires_when_stock_falls_below_the_threshold(client, events, before, after, fires) -> None:
    await client.put("/products/prod_0001", json={"stock": before})
    baseline = len(await events(client))

    await client.put("/products/prod_0001", json={"stock": after})

    new = (await events(client))[baseline:]
    if fires:
        assert [e["type"] for e in new] == ["inventory.low"]
        assert new[0]["data"] == {
            "product_id": "prod_0001",
            "store_id": "str_sandbox",
            "name": (await client.get("/products", params={"search": "DAT-0001"})).json()["products"][0]["name"],
            "stock": after,
            "threshold": 5,
        }
    else:
        assert new == []


async def test_the_low_stock_threshold_is_configurable(make_app, make_client, events) -> None:
    http = make_client(make_app(enable_admin=True, low_stock_threshold=20))

    await http.put("/products/prod_0001", json={"stock": 25})
    await http.put("/products/prod_0001", json={"stock": 19})

    [event] = await events(http, "inventory.low")
    assert (event["data"]["stock"], event["data"]["threshold"]) == (19, 20)


async def placeable(http: httpx2.AsyncClient, collect) -> dict:
    products, _ = await collect(http, "/products", "products")
    return next(p for p in products if p["status"] == "active" and p["stock"] >= 8)


async def test_placing_an_order_takes_stock_and_fires_order_created(client, collect, events) -> None:
    item = await placeable(client, collect)
    await client.put(f"/products/{item['id']}", json={"stock": 6})

    response = await client.post(
        f"{ADMIN}/orders", json={"customer_id": "cus_0042", "items": [{"product_id": item["id"], "quantity": 2}]}
    )

    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["id"], order["status"], order["customer_id"]) == ("ord_001201", "pending", "cus_0042")
    assert order["items"] == [{"product_id": item["id"], "name": item["name"], "quantity": 2, "price": item["price"]}]
    stock = (await client.get("/products", params={"search": item["sku"]})).json()["products"][0]["stock"]
    assert stock == 4
    fired = await events(client)
    assert [e["type"] for e in fired] == ["order.created", "inventory.low"]
    assert fired[0]["data"]["order_id"] == order["id"]
    assert fired[0]["data"]["status"] == "pending"
    assert fired[0]["data"]["total"] == order["total"]
    listed = (await client.get("/orders", params={"limit": 1})).json()["orders"][0]
    assert listed == order


async def test_an_order_for_more_than_the_stock_is_409_and_changes_nothing(client, collect, events) -> None:
    item = await placeable(client, collect)

    response = await client.post(
        f"{ADMIN}/orders",
        json={"customer_id": "cus_0001", "items": [{"product_id": item["id"], "quantity": item["stock"] + 1}]},
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert (await client.get("/orders")).json()["total"] == 1200
    assert await events(client) == []


async def test_only_active_products_can_be_ordered(client, collect) -> None:
    products, _ = await collect(client, "/products", "products")
    draft = next(p for p in products if p["status"] == "draft")

    response = await client.post(
        f"{ADMIN}/orders", json={"customer_id": "cus_0001", "items": [{"product_id": draft["id"], "quantity": 1}]}
    )

    assert response.status_code == 409


async def test_an_order_for_an_unknown_customer_is_404(client) -> None:
    response = await client.post(
        f"{ADMIN}/orders", json={"customer_id": "cus_9999", "items": [{"product_id": "prod_0001", "quantity": 1}]}
    )

    assert response.status_code == 404
    assert response.json()["error"]["param"] == "customer_id"


async def test_a_placed_order_counts_for_its_customer_and_in_analytics(client, collect) -> None:
    item = await placeable(client, collect)
    before = {c["id"]: c for c in (await collect(client, "/customers", "customers"))[0]}["cus_0042"]
    summary = (await client.get("/analytics/summary", params={"period": "today"})).json()

    order = (
        await client.post(
            f"{ADMIN}/orders", json={"customer_id": "cus_0042", "items": [{"product_id": item["id"], "quantity": 1}]}
        )
    ).json()
    await client.put(f"/orders/{order['id']}/status", json={"status": "processing"})

    after = {c["id"]: c for c in (await collect(client, "/customers", "customers"))[0]}["cus_0042"]
    assert after["orders_count"] == before["orders_count"] + 1
    assert round(after["total_spent"] - before["total_spent"], 2) == order["total"]
    now = (await client.get("/analytics/summary", params={"period": "today"})).json()
    assert now["orders_count"] == summary["orders_count"] + 1
    assert now["paid_orders_count"] == summary["paid_orders_count"] + 1
    assert round(now["revenue"] - summary["revenue"], 2) == order["total"]
