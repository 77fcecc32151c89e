"""Every endpoint of docs/api.md over raw HTTP: shapes, pagination to the end, filters, computed figures."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx2
import pytest

PRODUCT_KEYS = {
    "id", "name", "name_ar", "description", "sku", "category", "price", "currency", "stock", "status",
    "created_at", "updated_at",
}  # fmt: skip
ORDER_KEYS = {
    "id", "store_id", "customer_id", "customer_name", "status", "currency", "items", "subtotal", "shipping", "vat",
    "total", "shipping_address", "created_at", "updated_at", "status_history",
}  # fmt: skip
CUSTOMER_KEYS = {"id", "name", "name_ar", "email", "phone", "city", "orders_count", "total_spent", "created_at"}
STORE_KEYS = {
    "id", "name", "name_ar", "currency", "country", "timezone", "plan", "email", "domain", "created_at",
}  # fmt: skip
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ID = re.compile(r"[a-z]+_[A-Za-z0-9_]+")


def dec(value: float) -> Decimal:
    """Parse a JSON money value as the docs say clients must: as a decimal of at most 2 places."""
    parsed = Decimal(str(value))
    assert parsed == parsed.quantize(Decimal("0.01")), f"{value} has more than 2 decimals"
    return parsed


@pytest.mark.parametrize(("key", "plan"), [("sk_sandbox_starter", "starter"), ("sk_sandbox_pro", "pro"),
                                           ("sk_sandbox_business", "business")])  # fmt: skip
async def test_the_store_reports_the_plan_of_the_calling_key(app, make_client, key: str, plan: str) -> None:
    response = await make_client(app, key).get("/stores/str_sandbox")

    assert response.status_code == 200
    store = response.json()
    assert set(store) == STORE_KEYS
    assert store["plan"] == plan
    assert (store["id"], store["currency"], store["country"]) == ("str_sandbox", "SAR", "SA")
    assert store["name"] == "Souq Al-Noor"
    assert store["name_ar"] == "سوق النور"
    assert TIMESTAMP.fullmatch(store["created_at"])


async def test_another_store_id_is_not_found(client: httpx2.AsyncClient) -> None:
    response = await client.get("/stores/str_xyz789")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_the_reference_curl_example_returns_ten_products(client: httpx2.AsyncClient) -> None:
    response = await client.get("/products?page=1&limit=10", headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert len(body["products"]) == 10
    assert (body["page"], body["limit"], body["has_more"]) == (1, 10, True)
    assert body["total"] >= 200


async def test_products_have_the_documented_shape(client: httpx2.AsyncClient, collect) -> None:
    products, total = await collect(client, "/products", "products")

    assert len(products) == total >= 200
    assert len({p["id"] for p in products}) == total
    for product in products:
        assert set(product) == PRODUCT_KEYS
        assert product["id"].startswith("prod_")
        assert ID.fullmatch(product["id"])
        assert product["currency"] == "SAR"
        assert dec(product["price"]) > 0
        assert isinstance(product["stock"], int)
        assert product["stock"] >= 0
        assert product["status"] in {"active", "draft", "archived"}
        assert TIMESTAMP.fullmatch(product["created_at"])
        assert product["updated_at"] >= product["created_at"]
        assert product["name"]
        assert re.search("[\u0600-\u06ff]", product["name_ar"]), "name_ar is Arabic"


async def test_listings_are_newest_first(client: httpx2.AsyncClient, collect) -> None:
    for path, key in (("/products", "products"), ("/orders", "orders"), ("/customers", "customers")):
        items, _ = await collect(client, path, key)
        order = [(item["created_at"], item["id"]) for item in items]
        assert order == sorted(order, reverse=True), path


@pytest.mark.parametrize(("path", "key"), [("/products", "products"), ("/orders", "orders"),
                                           ("/customers", "customers")])  # fmt: skip
async def test_small_pages_cover_the_listing_exactly_once(client: httpx2.AsyncClient, collect, path, key) -> None:
    everything, total = await collect(client, path, key)
    seen: list[str] = []
    page = 1
    while True:
        body = (await client.get(path, params={"page": page, "limit": 37})).json()
        seen += [item["id"] for item in body[key]]
        assert body["total"] == total
        if not body["has_more"]:
            break
        page += 1

    assert seen == [item["id"] for item in everything]
    assert page == -(-total // 37)


async def test_a_page_past_the_end_is_empty_not_an_error(client: httpx2.AsyncClient) -> None:
    response = await client.get("/customers", params={"page": 999, "limit": 100})

    assert response.status_code == 200
    body = response.json()
    assert body["customers"] == []
    assert body["has_more"] is False
    assert body["total"] >= 300


async def test_default_paging_is_page_1_of_20(client: httpx2.AsyncClient) -> None:
    body = (await client.get("/orders")).json()

    assert (body["page"], body["limit"], len(body["orders"])) == (1, 20, 20)


async def test_the_category_filter_is_exact(client: httpx2.AsyncClient, collect) -> None:
    everything, _ = await collect(client, "/products", "products")
    categories = {p["category"] for p in everything}
    assert len(categories) >= 6
    assert {"electronics", "fashion", "home-kitchen", "beauty", "perfumes-oud", "dates-coffee", "sports"} <= categories

    for category in categories:
        found, total = await collect(client, "/products", "products", category=category)
        assert total == len(found) == sum(p["category"] == category for p in everything)
        assert all(p["category"] == category for p in found)

    unknown = (await client.get("/products", params={"category": "no-such-thing"})).json()
    assert (unknown["products"], unknown["total"]) == ([], 0)


@pytest.mark.parametrize(
    ("search", "field", "expected"),
    [
        ("earbuds", "name", "wireless earbuds"),
        ("EARBUDS", "name", "wireless earbuds"),
        ("wIrElEsS", "name", "wireless"),
        ("عجوة", "name_ar", "عجوة"),
        ("سماعات", "name_ar", "سماعات"),
    ],
)
async def test_search_matches_english_and_arabic_names_case_insensitively(
    client: httpx2.AsyncClient, collect, search: str, field: str, expected: str
) -> None:
    everything, _ = await collect(client, "/products", "products")
    found, total = await collect(client, "/products", "products", search=search)

    assert total == len(found) > 0
    assert all(expected in p[field].casefold() for p in found)
    assert {p["id"] for p in found} == {p["id"] for p in everything if expected in p[field].casefold()}


async def test_search_matches_the_sku_and_combines_with_the_category(client: httpx2.AsyncClient) -> None:
    product = (await client.get("/products", params={"limit": 1})).json()["products"][0]

    by_sku = (await client.get("/products", params={"search": product["sku"].lower()})).json()
    assert product["id"] in [p["id"] for p in by_sku["products"]]

    other = "fashion" if product["category"] != "fashion" else "beauty"
    none = (await client.get("/products", params={"search": product["sku"], "category": other})).json()
    assert none["products"] == []


async def test_orders_have_totals_that_add_up(client: httpx2.AsyncClient, collect) -> None:
    orders, total = await collect(client, "/orders", "orders")
    products, _ = await collect(client, "/products", "products")
    product_ids = {p["id"] for p in products}

    assert len(orders) == total >= 1000
    for order in orders:
        assert set(order) == ORDER_KEYS
        assert order["id"].startswith("ord_")
        assert order["customer_id"].startswith("cus_")
        assert (order["store_id"], order["currency"]) == ("str_sandbox", "SAR")
        assert order["shipping_address"]["country"] == "SA"
        assert order["items"]
        subtotal = sum(item["quantity"] * dec(item["price"]) for item in order["items"])
        assert dec(order["subtotal"]) == subtotal
        taxable = subtotal + dec(order["shipping"])
        assert dec(order["vat"]) == (taxable * Decimal("0.15")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        assert dec(order["total"]) == taxable + dec(order["vat"])
        assert all(item["product_id"] in product_ids for item in order["items"])
        assert order["updated_at"] >= order["created_at"]


async def test_orders_span_the_last_90_days_in_every_status(client: httpx2.AsyncClient, collect, now) -> None:
    orders, _ = await collect(client, "/orders", "orders")
    oldest = min(datetime.fromisoformat(o["created_at"]) for o in orders)

    assert {o["status"] for o in orders} == {"pending", "processing", "shipped", "delivered", "cancelled", "refunded"}
    assert now - timedelta(days=90) <= oldest <= now - timedelta(days=80)
    assert max(o["created_at"] for o in orders) <= now.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("status", ["pending", "processing", "shipped", "delivered", "cancelled", "refunded"])
async def test_the_status_filter_pages_to_the_end(client: httpx2.AsyncClient, collect, status: str) -> None:
    everything, _ = await collect(client, "/orders", "orders")
    found, total = await collect(client, "/orders", "orders", status=status)

    assert total == len(found) == sum(o["status"] == status for o in everything) > 0
    assert all(o["status"] == status for o in found)


async def test_get_order_returns_the_same_order_as_the_listing(client: httpx2.AsyncClient) -> None:
    listed = (await client.get("/orders", params={"limit": 1})).json()["orders"][0]

    response = await client.get(f"/orders/{listed['id']}")

    assert response.status_code == 200
    assert response.json() == listed


@pytest.mark.parametrize("path", ["/orders/ord_nope", "/orders/prod_0001"])
async def test_an_unknown_order_is_not_found(client: httpx2.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_customers_are_saudi_and_their_totals_come_from_their_orders(client: httpx2.AsyncClient, collect) -> None:
    customers, total = await collect(client, "/customers", "customers")
    orders, _ = await collect(client, "/orders", "orders")

    assert len(customers) == total >= 300
    assert len({c["email"] for c in customers}) == total
    assert {"Riyadh", "Jeddah", "Dammam", "Makkah", "Madinah"} <= {c["city"] for c in customers}
    for customer in customers:
        assert set(customer) == CUSTOMER_KEYS
        assert re.fullmatch(r"\+9665\d{8}", customer["phone"])
        assert re.fullmatch(r"[a-z.]+\d+@example\.sa", customer["email"])
        mine = [o for o in orders if o["customer_id"] == customer["id"]]
        assert customer["orders_count"] == len(mine)
        spent = sum(dec(o["total"]) for o in mine if o["status"] not in ("cancelled", "refunded"))
        assert dec(customer["total_spent"]) == spent


@pytest.mark.parametrize(("period", "days"), [("today", 0), ("7d", 6), ("30d", 29), ("90d", 89), (None, 29)])
async def test_analytics_are_computed_from_the_orders(
    client: httpx2.AsyncClient, collect, now, period: str | None, days: int
) -> None:
    orders, _ = await collect(client, "/orders", "orders")
    customers, _ = await collect(client, "/customers", "customers")
    start = (now.replace(hour=0) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = now.strftime("%Y-%m-%dT%H:%M:%SZ")

    response = await client.get("/analytics/summary", params={"period": period} if period else {})

    assert response.status_code == 200
    summary = response.json()
    assert (summary["period"], summary["start"], summary["end"]) == (period or "30d", start, end)
    assert summary["currency"] == "SAR"
    in_period = [o for o in orders if start <= o["created_at"] <= end]
    paid = [o for o in in_period if o["status"] in ("processing", "shipped", "delivered")]
    revenue = sum((dec(o["total"]) for o in paid), Decimal(0))
    assert summary["orders_count"] == len(in_period)
    assert summary["paid_orders_count"] == len(paid)
    assert dec(summary["revenue"]) == revenue
    expected_aov = (revenue / len(paid)).quantize(Decimal("0.01"), "ROUND_HALF_UP") if paid else 0
    assert dec(summary["average_order_value"]) == expected_aov
    assert summary["orders_by_status"] == {
        s: sum(o["status"] == s for o in in_period)
        for s in ("pending", "processing", "shipped", "delivered", "cancelled", "refunded")
    }
    assert summary["new_customers"] == sum(start <= c["created_at"] <= end for c in customers)
    sold: dict[str, list[Any]] = {}
    for order in paid:
        for item in order["items"]:
            entry = sold.setdefault(item["product_id"], [0, Decimal(0)])
            entry[0] += item["quantity"]
            entry[1] += item["quantity"] * dec(item["price"])
    top = summary["top_products"]
    assert len(top) == min(5, len(sold))
    for product in top:
        assert set(product) == {"product_id", "name", "quantity", "revenue"}
        assert [product["quantity"], dec(product["revenue"])] == sold[product["product_id"]]
    assert [p["quantity"] for p in top] == sorted((q for q, _ in sold.values()), reverse=True)[: len(top)]


async def test_analytics_periods_follow_the_sandbox_clock(app, client: httpx2.AsyncClient, clock) -> None:
    before = (await client.get("/analytics/summary", params={"period": "today"})).json()

    clock.advance(24 * 3600)
    after = (await client.get("/analytics/summary", params={"period": "today"})).json()

    assert after["start"] == "2026-03-16T00:00:00Z"
    assert after["end"] == "2026-03-16T12:00:00Z"
    assert before["orders_count"] > 0
    assert after["orders_count"] == 0


async def test_every_response_carries_a_request_id_that_the_error_quotes(app, make_client) -> None:
    requests = [
        ("GET", "/products", "sk_sandbox_pro"),
        ("GET", "/nowhere", "sk_sandbox_pro"),
        ("GET", "http://sandbox/", None),
        ("GET", "/products", None),
        ("GET", "/products", "sk_live_wrong"),
        ("POST", "/orders", "sk_sandbox_pro"),
        ("GET", "/orders/ord_missing", "sk_sandbox_pro"),
    ]
    ids = set()
    for method, path, key in requests:
        response = await make_client(app, key).request(method, path)
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"req_[0-9a-f]{24}", request_id)
        assert response.headers["content-type"] == "application/json"
        if response.status_code >= 400:
            error = response.json()["error"]
            assert set(error) == {"code", "message", "param", "request_id"}
            assert error["request_id"] == request_id
        ids.add(request_id)
    assert len(ids) == len(requests)


@pytest.mark.parametrize(
    "header", [None, "Bearer sk_live_0123", "Bearer ", "Basic c2tfc2FuZGJveF9wcm86", "sk_sandbox_pro"]
)
async def test_a_missing_or_unknown_key_is_401_in_the_envelope(app, make_client, header: str | None) -> None:
    http = make_client(app, key=None)

    response = await http.get("/products", headers={"Authorization": header} if header else {})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "sk_live_0123" not in response.text
    assert "x-ratelimit-limit" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/products/prod_0001", "DELETE, PUT"),
        ("DELETE", "/orders", "GET, HEAD"),
        ("POST", "/orders/ord_000001/status", "PUT"),
        ("PUT", "/analytics/summary", "GET, HEAD"),
    ],
)
async def test_a_wrong_method_is_405_with_allow(client: httpx2.AsyncClient, method, path, allowed) -> None:
    response = await client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path", ["/nothing", "/products/", "/orders/ord_000001/status/extra", "http://sandbox/v2/products"]
)
async def test_unknown_paths_are_404_in_the_envelope(client: httpx2.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
