"""Each endpoint sends the request the contract describes and returns typed models (docs/api.md)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from hajatek_mcp.api import (
    AnalyticsSummary,
    APIResponseValidationError,
    HajatekClient,
    NotFoundError,
    Order,
    ProductCreate,
    ProductUpdate,
)
from tests.api.support import API_KEY, ScriptedAPI, reply

PRODUCT = {
    "id": "prod_001", "name": "Premium Widget", "name_ar": "قطعة ممتازة", "sku": "PW-001", "category": "electronics",
    "price": 149.99, "currency": "SAR", "stock": 12, "status": "active", "created_at": "2026-01-05T10:00:00Z",
    "updated_at": "2026-01-05T10:00:00Z", "brand": "a field the contract does not know",
}  # fmt: skip
ORDER = {
    "id": "ord_abc123", "store_id": "str_xyz789", "customer_id": "cus_0042", "status": "pending", "currency": "SAR",
    "items": [{"product_id": "prod_001", "name": "Premium Widget", "quantity": 2, "price": 149.99}],
    "subtotal": 299.98, "shipping": 25.00, "vat": 48.75, "total": 373.73, "created_at": "2026-03-15T12:00:00Z",
}  # fmt: skip


def page(key: str, items: list[dict[str, object]], **extra: object) -> dict[str, object]:
    return {key: items, "page": 1, "limit": 20, "total": len(items), "has_more": False, **extra}


async def test_every_request_carries_the_bearer_key_and_a_user_agent(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(reply(200, {"id": "str_xyz789", "name": "Souq", "currency": "SAR"}))
    async with make_client() as client:
        store = await client.get_store()
    sent = api.requests[0]
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["user-agent"].startswith("hajatek-mcp/")
    assert (sent.method, sent.url.path) == ("GET", "/v1/stores/str_xyz789")
    assert store.id == "str_xyz789"


async def test_get_store_without_a_store_id_says_which_setting_to_fill(
    make_client: Callable[..., HajatekClient],
) -> None:
    async with make_client(store_id=None) as client:
        with pytest.raises(ValueError, match="HAJATEK_STORE_ID"):
            await client.get_store()


async def test_list_products_sends_filters_and_reads_the_page(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(reply(200, page("products", [PRODUCT], has_more=True, total=41)))
    async with make_client() as client:
        result = await client.list_products(page=2, limit=10, category="electronics", search="عود")
    params = api.requests[0].url.params
    assert dict(params) == {"page": "2", "limit": "10", "category": "electronics", "search": "عود"}
    assert result.total == 41
    assert result.has_more
    assert result.next_page == 2
    product = result.items[0]
    assert product.price == Decimal("149.99")
    assert isinstance(product.price, Decimal)
    assert product.model_extra == {"brand": "a field the contract does not know"}


async def test_unset_filters_are_not_sent(api: ScriptedAPI, make_client: Callable[..., HajatekClient]) -> None:
    api.then(reply(200, page("orders", [])))
    async with make_client() as client:
        await client.list_orders()
    assert dict(api.requests[0].url.params) == {"page": "1", "limit": "20"}


async def test_create_product_posts_exact_money_and_returns_the_product(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(reply(201, PRODUCT))
    new = ProductCreate(name="Premium Widget", price=Decimal("149.99"), category="electronics", stock=12)
    async with make_client() as client:
        product = await client.create_product(new)
    sent = api.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/products")
    assert sent.headers["content-type"] == "application/json"
    assert sent.content == b'{"name":"Premium Widget","price":149.99,"category":"electronics","stock":12}'
    assert product.id == "prod_001"


async def test_update_product_sends_only_the_changed_fields(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(reply(200, {**PRODUCT, "price": 99.5}))
    async with make_client() as client:
        product = await client.update_product("prod_001", ProductUpdate(price=Decimal("99.50")))
    assert (api.requests[0].method, api.requests[0].url.path) == ("PUT", "/v1/products/prod_001")
    assert list(api.bodies()) == [{"price": 99.5}]
    assert product.price == Decimal("99.5")


def test_an_empty_product_update_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        ProductUpdate()


def test_product_input_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="price"):
        ProductCreate(name="x", price=Decimal("1.999"), category="toys")
    with pytest.raises(ValueError, match="colour"):
        ProductCreate.model_validate({"name": "x", "price": "1", "category": "toys", "colour": "red"})


async def test_delete_product(api: ScriptedAPI, make_client: Callable[..., HajatekClient]) -> None:
    api.then(reply(200, {"id": "prod_001", "deleted": True}))
    async with make_client() as client:
        result = await client.delete_product("prod_001")
    assert (api.requests[0].method, api.requests[0].url.path) == ("DELETE", "/v1/products/prod_001")
    assert result.deleted


async def test_ids_cannot_escape_their_path_segment(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(reply(200, ORDER))
    async with make_client() as client:
        await client.get_order("ord_1/../../stores/str_other")
    assert api.requests[0].url.raw_path == b"/v1/orders/ord_1%2F..%2F..%2Fstores%2Fstr_other"


async def test_orders_list_get_and_status_update(api: ScriptedAPI, make_client: Callable[..., HajatekClient]) -> None:
    api.then(reply(200, page("orders", [ORDER])), reply(200, ORDER), reply(200, {**ORDER, "status": "processing"}))
    async with make_client() as client:
        listing = await client.list_orders(status="pending", limit=5)
        order = await client.get_order("ord_abc123")
        moved = await client.update_order_status("ord_abc123", "processing", note="paid by bank transfer")
    assert dict(api.requests[0].url.params) == {"status": "pending", "page": "1", "limit": "5"}
    assert isinstance(listing.items[0], Order)
    assert order.total == Decimal("373.73")
    assert order.subtotal + order.shipping + order.vat == order.total  # type: ignore[operator]
    assert order.items[0].quantity == 2
    assert (api.requests[2].method, api.requests[2].url.path) == ("PUT", "/v1/orders/ord_abc123/status")
    assert list(api.bodies())[2] == {"status": "processing", "note": "paid by bank transfer"}
    assert moved.status == "processing"


async def test_list_customers(api: ScriptedAPI, make_client: Callable[..., HajatekClient]) -> None:
    customer = {"id": "cus_0042", "name": "Noura", "orders_count": 7, "total_spent": 1893.40}
    api.then(reply(200, page("customers", [customer])))
    async with make_client() as client:
        result = await client.list_customers(page=1, limit=50)
    assert api.requests[0].url.path == "/v1/customers"
    assert result.items[0].total_spent == Decimal("1893.40")


async def test_analytics_summary(api: ScriptedAPI, make_client: Callable[..., HajatekClient]) -> None:
    api.then(reply(200, {
        "period": "7d", "currency": "SAR", "revenue": 182340.55, "orders_count": 412, "paid_orders_count": 351,
        "average_order_value": 519.49, "orders_by_status": {"pending": 20},
        "top_products": [{"product_id": "prod_001", "name": "W", "quantity": 88, "revenue": 13199.12}],
    }))  # fmt: skip
    async with make_client() as client:
        summary = await client.get_analytics_summary("7d")
    assert dict(api.requests[0].url.params) == {"period": "7d"}
    assert isinstance(summary, AnalyticsSummary)
    assert summary.revenue == Decimal("182340.55")
    assert summary.top_products[0].revenue == Decimal("13199.12")


async def test_iterate_walks_every_page_until_has_more_is_false(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    def page_n(n: int, has_more: bool) -> object:
        items = [{**PRODUCT, "id": f"prod_{n}{i}"} for i in range(2)]
        return reply(200, {"products": items, "page": n, "limit": 2, "total": 6, "has_more": has_more})

    api.then(page_n(1, True), page_n(2, True), page_n(3, False))
    async with make_client() as client:
        ids = [p.id async for p in client.iterate(client.list_products, category="electronics", limit=2)]
    assert ids == ["prod_10", "prod_11", "prod_20", "prod_21", "prod_30", "prod_31"]
    assert [r.url.params["page"] for r in api.requests] == ["1", "2", "3"]
    assert {r.url.params["category"] for r in api.requests} == {"electronics"}


async def test_a_listing_without_its_array_is_a_response_error(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(reply(200, {"data": [], "page": 1}))
    async with make_client() as client:
        with pytest.raises(APIResponseValidationError, match="'products'"):
            await client.list_products()


async def test_requests_carry_a_timeout(api: ScriptedAPI, make_client: Callable[..., HajatekClient]) -> None:
    api.then(reply(200, page("customers", [])))
    async with make_client(timeout=7.5) as client:
        await client.list_customers()
    timeout = api.requests[0].extensions["timeout"]
    assert timeout["read"] == 7.5
    assert timeout["connect"] == 7.5


async def test_find_product_walks_the_listing_because_the_api_has_no_get_by_id(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    def listing(n: int, ids: list[str], has_more: bool) -> object:
        items = [{**PRODUCT, "id": i} for i in ids]
        return reply(200, {"products": items, "page": n, "limit": 100, "total": 3, "has_more": has_more})

    api.then(listing(1, ["prod_a", "prod_b"], True), listing(2, ["prod_c"], False), listing(1, ["prod_a"], False))
    async with make_client() as client:
        found = await client.find_product("prod_c")
        with pytest.raises(NotFoundError, match="prod_x not found"):
            await client.find_product("prod_x")
    assert found.id == "prod_c"
    assert [r.url.params["page"] for r in api.requests] == ["1", "2", "1"]
