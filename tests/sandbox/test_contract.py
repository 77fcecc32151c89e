"""Contract tests: the real ``HajatekClient`` against the sandbox, for every endpoint and every error status.

The client and the sandbox share one fake clock: the client's sleeps (backoff, rate governor) move the sandbox's
rate-limit window forward, so rate limiting and retries play out exactly as over the network, in no real time.
"""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import product
from typing import Any

import httpx2
import pytest

from hajatek_mcp.api import (
    ORDER_STATUSES,
    ORDER_TRANSITIONS,
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HajatekClient,
    InternalServerError,
    InvalidSignatureError,
    LookupLimitError,
    NotFoundError,
    PermissionDeniedError,
    ProductCreate,
    ProductUpdate,
    RateLimitError,
    UnprocessableEntityError,
    WebhookEvent,
    verify_signature,
)
from hajatek_mcp.api.webhooks import SIGNATURE_HEADER
from tests.support import CountingTransport, oldest, sandbox_http

PLANS = {"sk_sandbox_starter": "starter", "sk_sandbox_pro": "pro", "sk_sandbox_business": "business"}


@pytest.fixture
async def make_hajatek(clock):
    """``make_hajatek(app, key=..., **client_kwargs)``: a HajatekClient on the in-process sandbox, closed after."""
    clients: list[HajatekClient] = []

    def make(app, key: str = "sk_sandbox_business", **kwargs: Any) -> HajatekClient:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("transport", httpx2.ASGITransport(app=app))
        client = HajatekClient(
            key,
            store_id="str_sandbox",
            base_url="http://sandbox/v1",
            plan=PLANS.get(key, "starter"),
            clock=clock,
            sleep=clock.sleep,
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def hajatek(app, make_hajatek) -> HajatekClient:
    return make_hajatek(app)


# -- every endpoint --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "plan"), list(PLANS.items()))
async def test_get_store_reads_the_sandbox_store_and_the_key_plan(app, make_hajatek, key: str, plan: str) -> None:
    store = await make_hajatek(app, key).get_store()

    assert (store.id, store.name, store.name_ar, store.currency, store.plan) == (
        "str_sandbox",
        "Souq Al-Noor",
        "سوق النور",
        "SAR",
        plan,
    )
    assert store.model_extra == {}


async def test_list_products_parses_every_field_as_documented(hajatek: HajatekClient) -> None:
    page = await hajatek.list_products(page=1, limit=10)

    assert (page.page, page.limit, page.has_more, page.next_page) == (1, 10, True, 2)
    assert page.total is not None
    assert page.total >= 200
    assert len(page.items) == 10
    for item in page.items:
        assert isinstance(item.price, Decimal)
        assert item.price == item.price.quantize(Decimal("0.01"))
        assert item.model_extra == {}, "the sandbox sends exactly the documented fields"
        assert item.created_at is not None
        assert item.created_at.tzinfo is not None


@pytest.mark.parametrize(("path", "fetch"), [("products", "list_products"), ("orders", "list_orders"),
                                             ("customers", "list_customers")])  # fmt: skip
async def test_iterate_pages_every_listing_to_its_end(hajatek: HajatekClient, path: str, fetch: str) -> None:
    first = await getattr(hajatek, fetch)(limit=1)

    items = [item async for item in hajatek.iterate(getattr(hajatek, fetch))]

    assert len(items) == first.total
    assert len({item.id for item in items}) == first.total


async def test_filters_by_category_and_search_in_both_languages(hajatek: HajatekClient) -> None:
    perfumes = [p async for p in hajatek.iterate(hajatek.list_products, category="perfumes-oud")]
    english = [p async for p in hajatek.iterate(hajatek.list_products, search="DATES")]
    arabic = [p async for p in hajatek.iterate(hajatek.list_products, search="تمر")]

    assert perfumes
    assert {p.category for p in perfumes} == {"perfumes-oud"}
    assert english
    assert all("dates" in p.name.lower() for p in english)
    assert arabic
    assert all("تمر" in (p.name_ar or "") for p in arabic)


@pytest.mark.parametrize("status", ORDER_STATUSES)
async def test_list_orders_filters_by_status(hajatek: HajatekClient, status: str) -> None:
    orders = [o async for o in hajatek.iterate(hajatek.list_orders, status=status)]

    assert orders
    assert {o.status for o in orders} == {status}
    for order in orders:
        assert order.subtotal == sum(i.quantity * i.price for i in order.items)
        assert order.total == order.subtotal + order.shipping + order.vat


async def test_get_order_round_trips(hajatek: HajatekClient) -> None:
    listed = (await hajatek.list_orders(limit=1)).items[0]

    assert await hajatek.get_order(listed.id) == listed


async def test_create_update_and_delete_a_product(app, hajatek: HajatekClient, events) -> None:
    created = await hajatek.create_product(
        ProductCreate(name="Sidr Honey 500 g", name_ar="عسل سدر 500 غرام", price=Decimal("189.99"),
                      category="dates-coffee", stock=20)
    )  # fmt: skip
    updated = await hajatek.update_product(created.id, ProductUpdate(price=Decimal("179.50"), stock=3))
    again = await hajatek.update_product(created.id, ProductUpdate(price=Decimal("179.50"), stock=3))
    deleted = await hajatek.delete_product(created.id)

    assert (created.id, created.price, created.stock, created.status) == ("prod_0225", Decimal("189.99"), 20, "active")
    assert (updated.price, updated.stock) == (Decimal("179.50"), 3)
    assert again == updated
    assert (deleted.id, deleted.deleted) == (created.id, True)
    with pytest.raises(NotFoundError):
        await hajatek.delete_product(created.id)


def queries(link: CountingTransport) -> list[dict[str, str]]:
    return [dict(r.url.params) for r in link.sent]


async def oldest_id(app, listing: str) -> str:
    """The id of the oldest product or order, read from the sandbox's API beside the client under test."""
    async with sandbox_http(app) as http:
        return str((await oldest(http, f"/v1/{listing}", listing))["id"])


async def test_find_product_asks_again_the_page_that_last_showed_it_and_gets_its_current_state(
    app, make_hajatek
) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    listed = (await hajatek.list_products(category="perfumes-oud", page=2, limit=5)).items[-1]
    async with sandbox_http(app) as someone_else:  # the merchant, in the store's dashboard
        repriced = await someone_else.put(f"/v1/products/{listed.id}", json={"price": 12.34})
        assert repriced.status_code == 200, repriced.text
    link.sent.clear()

    found = await hajatek.find_product(listed.id)

    assert queries(link) == [{"page": "2", "limit": "5", "category": "perfumes-oud"}]
    assert (found.id, found.price) == (listed.id, Decimal("12.34")), "fresh from the API, not remembered"


async def test_find_product_walks_the_listing_for_a_product_never_listed(app, make_hajatek) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    oldest = await oldest_id(app, "products")

    found = await hajatek.find_product(oldest)

    assert found.id == oldest
    assert [q["page"] for q in queries(link)] == ["1", "2", "3"], "224 products, 100 a page"
    link.sent.clear()
    assert (await hajatek.find_product(oldest)).id == oldest
    assert queries(link) == [{"page": "3", "limit": "100"}], "the walk remembered where it was"


async def test_find_product_searches_by_the_name_an_order_line_gave_a_product(app, make_hajatek) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    oldest_order = await oldest_id(app, "orders")
    line = (await hajatek.get_order(oldest_order)).items[0]
    link.sent.clear()

    found = await hajatek.find_product(line.product_id)

    assert found.id == line.product_id
    assert queries(link) == [{"page": "1", "limit": "100", "search": line.name}]


async def test_find_product_walks_at_most_max_pages_and_says_so(app, make_hajatek) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    oldest = await oldest_id(app, "products")

    with pytest.raises(LookupLimitError, match=f"{oldest} is not among the newest 200 products") as caught:
        await hajatek.find_product(oldest, max_pages=2)
    assert (caught.value.product_id, caught.value.scanned) == (oldest, 200)
    assert len(link.sent) == 2
    assert (await hajatek.find_product(oldest, max_pages=3)).id == oldest
    with pytest.raises(NotFoundError):
        await hajatek.find_product("prod_9999", max_pages=3)


async def test_find_product_searches_by_name_when_the_product_moved_off_its_page(app, make_hajatek) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    last_on_page_one = (await hajatek.list_products(limit=10)).items[-1]
    other = make_hajatek(app)  # another agent adds products: the listing shifts
    for n in range(3):
        await other.create_product(ProductCreate(name=f"New {n}", price=Decimal(5), category="dates-coffee"))
    link.sent.clear()

    found = await hajatek.find_product(last_on_page_one.id)

    assert found.id == last_on_page_one.id
    assert queries(link) == [{"page": "1", "limit": "10"}, {"page": "1", "limit": "100", "search": found.name}]


async def test_find_product_walks_when_the_product_moved_and_was_renamed(app, make_hajatek) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    last_on_page_one = (await hajatek.list_products(limit=10)).items[-1]
    other = make_hajatek(app)
    await other.update_product(last_on_page_one.id, ProductUpdate(name="A name nobody searched for"))
    await other.create_product(ProductCreate(name="Newer", price=Decimal(5), category="dates-coffee"))
    link.sent.clear()

    found = await hajatek.find_product(last_on_page_one.id)

    assert (found.id, found.name) == (last_on_page_one.id, "A name nobody searched for")
    assert [q.get("search") for q in queries(link)] == [None, last_on_page_one.name, None]
    assert queries(link)[-1] == {"page": "1", "limit": "100"}


async def test_find_product_searches_by_the_new_name_after_a_rename_through_the_same_client(app, make_hajatek) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    listed = (await hajatek.list_products(limit=10)).items[-1]
    await hajatek.update_product(listed.id, ProductUpdate(name="Renamed Rose Water"))
    await make_hajatek(app).create_product(ProductCreate(name="Newer", price=Decimal(5), category="dates-coffee"))
    link.sent.clear()

    found = await hajatek.find_product(listed.id)

    assert found.name == "Renamed Rose Water"
    assert [q.get("search") for q in queries(link)] == [None, "Renamed Rose Water"]


async def test_reading_many_orders_does_not_push_out_where_a_listed_product_is(app, make_hajatek, monkeypatch) -> None:
    monkeypatch.setattr("hajatek_mcp.api.client.NAMED_KEPT", 5)
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    listed = (await hajatek.list_products(page=2, limit=50)).items[0]
    orders = [o async for o in hajatek.iterate(hajatek.list_orders)]
    assert sum(len(o.items) for o in orders) > 1_000
    link.sent.clear()

    assert (await hajatek.find_product(listed.id)).id == listed.id
    assert queries(link) == [{"page": "2", "limit": "50"}]


async def test_find_product_finds_a_new_product_in_one_request_and_forgets_a_deleted_one(app, make_hajatek) -> None:
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    created = await hajatek.create_product(
        ProductCreate(name="Saffron 5 g", price=Decimal(40), category="dates-coffee")
    )
    link.sent.clear()
    assert (await hajatek.find_product(created.id)).id == created.id
    assert len(link.sent) == 1

    await hajatek.delete_product(created.id)
    with pytest.raises(NotFoundError, match=f"{created.id} not found"):
        await hajatek.find_product(created.id)


async def test_find_product_remembers_a_bounded_number_of_positions(app, make_hajatek, monkeypatch) -> None:
    monkeypatch.setattr("hajatek_mcp.api.client.LISTED_KEPT", 30)
    link = CountingTransport(app)
    hajatek = make_hajatek(app, transport=link)
    first = (await hajatek.list_products(limit=20)).items
    second = (await hajatek.list_products(page=2, limit=20)).items
    link.sent.clear()

    assert (await hajatek.find_product(second[0].id)).id == second[0].id
    assert len(link.sent) == 1, "among the newest 30 remembered"
    link.sent.clear()
    assert (await hajatek.find_product(first[0].id)).id == first[0].id
    assert queries(link)[0] == {"page": "1", "limit": "100"}, "forgotten: found by walking"


async def test_list_customers(hajatek: HajatekClient) -> None:
    page = await hajatek.list_customers(limit=100)

    assert len(page.items) == 100
    assert all(c.phone and c.phone.startswith("+9665") for c in page.items)
    assert all(isinstance(c.total_spent, Decimal) for c in page.items)


@pytest.mark.parametrize("period", ["today", "7d", "30d", "90d", None])
async def test_analytics_summary_for_each_period(hajatek: HajatekClient, period) -> None:
    summary = await hajatek.get_analytics_summary(period)

    assert summary.period == (period or "30d")
    assert summary.orders_count == sum(summary.orders_by_status.values())
    assert summary.paid_orders_count is not None
    assert summary.paid_orders_count <= summary.orders_count
    assert isinstance(summary.revenue, Decimal)
    assert len(summary.top_products) <= 5


# -- status transitions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), list(product(ORDER_STATUSES, ORDER_STATUSES)))
async def test_update_order_status_follows_the_lifecycle(hajatek: HajatekClient, current: str, target: str) -> None:
    order = (await hajatek.list_orders(status=current, limit=1)).items[0]

    if current == target or target in ORDER_TRANSITIONS[current]:
        moved = await hajatek.update_order_status(order.id, target, note="contract test")
        assert moved.status == target
    else:
        with pytest.raises(ConflictError) as caught:
            await hajatek.update_order_status(order.id, target)
        assert (caught.value.status_code, caught.value.code, caught.value.param) == (
            409,
            "invalid_transition",
            "status",
        )
        assert caught.value.request_id
        assert (await hajatek.get_order(order.id)).status == current


# -- every error status ----------------------------------------------------------------------------------------------


async def test_400_an_unknown_parameter_is_a_bad_request(hajatek: HajatekClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        await hajatek.request("GET", "/products", params={"sort": "price"})

    assert (caught.value.status_code, caught.value.code, caught.value.param) == (400, "invalid_request", "sort")


async def test_401_an_unknown_key(app, make_hajatek) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await make_hajatek(app, "sk_live_not_a_sandbox_key").get_store()

    assert (caught.value.status_code, caught.value.code) == (401, "unauthorized")
    assert "sk_live_not_a_sandbox_key" not in str(caught.value)


async def test_403_injected_as_a_fault(app, hajatek: HajatekClient) -> None:
    app.state.sandbox.faults.inject("/v1/stores/*", status=403)

    with pytest.raises(PermissionDeniedError) as caught:
        await hajatek.get_store()

    assert caught.value.code == "forbidden"


async def test_404_an_unknown_order(hajatek: HajatekClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await hajatek.get_order("ord_missing")

    assert caught.value.code == "not_found"


async def test_409_a_duplicate_sku(hajatek: HajatekClient) -> None:
    taken = (await hajatek.list_products(limit=1)).items[0].sku

    with pytest.raises(ConflictError) as caught:
        await hajatek.create_product(ProductCreate(name="Copy", price=Decimal(1), category="beauty", sku=taken))

    assert (caught.value.code, caught.value.param) == ("conflict", "sku")


async def test_422_a_limit_over_100(hajatek: HajatekClient) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        await hajatek.list_products(limit=101)

    assert (caught.value.code, caught.value.param) == ("validation_error", "limit")
    assert "100" in caught.value.message


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_for_reads_then_raised(app, make_hajatek, clock, status: int) -> None:
    faults = app.state.sandbox.faults
    faults.inject("/v1/orders", count=1, status=status)
    recovered = await make_hajatek(app, max_retries=2).list_orders(limit=1)
    faults.inject("/v1/orders", count=None, status=status)

    with pytest.raises(InternalServerError) as caught:
        await make_hajatek(app, max_retries=2).list_orders(limit=1)

    assert len(recovered.items) == 1
    assert caught.value.status_code == status
    assert caught.value.code in {"internal_error", "unavailable"}


async def test_a_post_is_not_retried_after_a_5xx(app, make_hajatek) -> None:
    app.state.sandbox.faults.inject("/v1/products", method="POST", count=1, status=503)
    hajatek = make_hajatek(app, max_retries=3)

    with pytest.raises(InternalServerError):
        await hajatek.create_product(ProductCreate(name="Once", price=Decimal(5), category="beauty"))

    assert [p async for p in hajatek.iterate(hajatek.list_products, search="Once")] == []


async def test_a_dropped_connection_is_a_connection_error(app, hajatek: HajatekClient) -> None:
    app.state.sandbox.faults.inject("/v1/customers", mode="drop")

    with pytest.raises(APIConnectionError):
        await hajatek.list_customers()


@pytest.mark.parametrize("mode", ["malformed", "truncated", "wrong_content_type"])
async def test_a_broken_body_is_a_response_validation_error(app, hajatek: HajatekClient, mode: str) -> None:
    app.state.sandbox.faults.inject("/v1/products", mode=mode)

    with pytest.raises(APIResponseValidationError):
        await hajatek.list_products()


async def test_a_slow_server_is_a_timeout_over_http(app, clock, serve_loopback) -> None:
    app.state.sandbox.faults.inject("/v1/stores/*", mode="delay", delay=0.3)
    async with serve_loopback(app) as origin:
        hajatek = HajatekClient("sk_sandbox_pro", store_id="str_sandbox", base_url=f"{origin}/v1", plan="pro",
                                timeout=0.05, max_retries=0)  # fmt: skip
        async with hajatek:
            with pytest.raises(APITimeoutError):
                await hajatek.get_store()


# -- rate limiting per plan ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "limit"), [("sk_sandbox_starter", 4), ("sk_sandbox_pro", 6)])
async def test_the_governor_keeps_a_limited_plan_out_of_429s(make_app, make_hajatek, clock, key, limit) -> None:
    app = make_app(plan_limits={"starter": 4, "pro": 6}, rate_window=10.0)
    hajatek = make_hajatek(app, key, rate_limit=limit, rate_window=10.0)

    for _ in range(3 * limit):
        await hajatek.list_customers(limit=1)

    assert sum(clock.sleeps) >= 20, "the client waited for two more windows instead of being refused"
    assert hajatek.rate_limit_state().limit == limit


async def test_a_429_carries_retry_after_and_is_retried_after_it(make_app, make_hajatek, clock) -> None:
    app = make_app(plan_limits={"starter": 2}, rate_window=30.0)
    first = make_hajatek(app, "sk_sandbox_starter", rate_window=30.0)
    await first.list_customers(limit=1)
    await first.list_customers(limit=1)
    # other clients with the same key do not share the first one's governor: the sandbox refuses them
    impatient = make_hajatek(app, "sk_sandbox_starter", rate_window=30.0)
    patient = make_hajatek(app, "sk_sandbox_starter", max_retries=1, rate_window=30.0)

    with pytest.raises(RateLimitError) as caught:
        await impatient.list_customers(limit=1)
    page = await patient.list_customers(limit=1)

    assert (caught.value.status_code, caught.value.code, caught.value.retry_after) == (429, "rate_limited", 30)
    assert len(page.items) == 1
    assert sum(clock.sleeps) >= 30, "the patient client waited out Retry-After before its retry"


async def test_the_business_plan_sends_no_limits(hajatek: HajatekClient) -> None:
    for _ in range(30):
        await hajatek.list_customers(limit=1)

    state = hajatek.rate_limit_state()
    assert (state.limit, state.remaining) == (None, None)


# -- webhooks --------------------------------------------------------------------------------------------------------


async def test_webhook_deliveries_pass_the_client_verifier_and_parse(make_app, make_client, fake_sleep) -> None:
    secret = "whsec_contract"
    received: list[httpx2.Request] = []
    app = make_app(
        enable_admin=True,
        webhook_url="https://receiver.example/hooks",
        webhook_secret=secret,
        webhook_transport=httpx2.MockTransport(lambda r: received.append(r) or httpx2.Response(200)),
        sleep=fake_sleep,
    )
    http = make_client(app)
    created = await http.post("/products", json={"name": "Musk", "price": 30, "category": "perfumes-oud", "stock": 5})
    await http.post(
        "http://sandbox/_sandbox/orders",
        json={"customer_id": "cus_0001", "items": [{"product_id": created.json()["id"], "quantity": 1}]},
    )
    order = (await http.get("/orders", params={"limit": 1})).json()["orders"][0]
    await http.put(f"/orders/{order['id']}/status", json={"status": "processing"})
    await app.state.sandbox.webhooks.drain()

    types = set()
    for request in received:
        verify_signature(secret, request.content, request.headers[SIGNATURE_HEADER])
        event = WebhookEvent.model_validate(json.loads(request.content))
        types.add(event.type)
        with pytest.raises(InvalidSignatureError):
            verify_signature(secret, request.content + b" ", request.headers[SIGNATURE_HEADER])
    assert types == {"product.created", "order.created", "inventory.low", "order.updated", "payment.completed"}
