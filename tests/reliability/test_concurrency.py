"""Fifty concurrent agents on the same products and orders, through one server, over real HTTP on 127.0.0.1.

The agents mix reads and writes (renames, stock and price changes, status changes that are often refused, new
products) on a starter key whose rate limit is scaled down to a one-second window, so the rate governor is working
the whole time. Then:

- no call hangs (every call and the whole run are bounded) and none is a protocol error;
- the upstream answered no request with 429: the governor kept the burst inside the plan;
- every write attempt is in the audit log, and every change in the store is one an executed write asked for: no
  product field holds a value no logged write set, no product appeared that no logged create made, no order changed
  status more often than logged writes asked;
- the sandbox's final state equals a serial replay of the log's executed writes, in log order, on a fresh sandbox.

The replay holds because the server runs writes to one target one at a time and logs each before the next starts
(finding B8 was that the log recorded a write when its answer arrived, which two answers overtaking each other could
put out of the store's order); a deterministic test below forces that overtaking.

The shared orders hold none of the shared products, so a status change (which may restock) and a stock change
never touch the same row: the replay order then only matters per target, which is what the audit log orders.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient, ProductCreate, ProductUpdate, RateLimitError
from hajatek_mcp.sandbox import Sandbox, SandboxConfig, create_app
from tests.reliability.support import ClientSpec, Live, StatusLog, eventually, live_sandbox, server_on
from tests.support import NOW, audit_rows, clean_output, sandbox_http, text, walk

AGENTS = 50
OPS_PER_AGENT = 5
#: The starter plan, scaled: LIMIT requests per WINDOW seconds (the governor and the sandbox agree on it).
LIMIT, WINDOW = 80, 1.0
STATUSES = ["pending", "processing", "shipped", "delivered", "cancelled", "refunded"]
OPEN = {"pending", "processing", "shipped", "delivered"}
#: A product's fields that writes set, as the API shows them; snapshots compare these.
FIELDS = ("id", "sku", "name", "name_ar", "description", "category", "price", "stock", "status")


def config() -> SandboxConfig:
    return SandboxConfig(now=NOW, seed=42, rate_window=WINDOW, plan_limits={"starter": LIMIT, "pro": 500,
                                                                            "business": None})  # fmt: skip


@pytest.fixture
def live() -> Iterator[Live]:
    with live_sandbox(config()) as served:
        yield served


async def shared_targets(app: Starlette) -> tuple[list[str], list[str]]:
    """Five of the newest products (the price guard's lookup finds them on page one) and the ten newest open orders
    that do not contain them."""
    async with sandbox_http(app) as http:
        products = [p["id"] for p in (await http.get("/v1/products", params={"limit": 5})).json()["products"]]
        orders, _ = await walk(http, "/v1/orders", "orders")
    shared = set(products)
    apart = [o["id"] for o in orders if o["status"] in OPEN and not {i["product_id"] for i in o["items"]} & shared]
    return products, apart[:10]


def script(agent: int, products: list[str], orders: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """What one agent does: a seeded mix of reads and writes on the shared targets."""
    rng = random.Random(agent)  # noqa: S311  # a reproducible workload, not cryptography
    steps: list[tuple[str, dict[str, Any]]] = []
    for n in range(OPS_PER_AGENT):
        product, order = rng.choice(products), rng.choice(orders)
        steps.append(rng.choice([
            ("list_products", {"limit": 10}),
            ("get_order", {"order_id": order}),
            ("list_orders", {"status": rng.choice(STATUSES), "limit": 5}),
            ("get_analytics", {"period": "7d"}),
            ("update_product", {"product_id": product, "name": f"Agent {agent} names it {n}"}),
            ("update_product", {"product_id": product, "stock": rng.randint(0, 40)}),
            ("update_product", {"product_id": product, "price": rng.choice([19.5, 75, 120.25, 400])}),
            ("update_order_status", {"order_id": order, "status": rng.choice(STATUSES)}),
            ("update_order_status", {"order_id": order, "status": rng.choice(STATUSES), "note": f"agent {agent}"}),
            ("create_product", {"name": f"Agent {agent} item {n}", "price": 10 + agent, "category": "kids-toys",
                                "sku": f"AG-{agent:02d}-{n}", "stock": n}),
        ]))  # fmt: skip
    return steps


async def snapshot(app: Starlette) -> tuple[dict[str, tuple[Any, ...]], dict[str, str]]:
    """Products by SKU (every field but ids and times) and order statuses, as the sandbox's API lists them."""
    async with sandbox_http(app) as http:
        products, _ = await walk(http, "/v1/products", "products")
        orders, _ = await walk(http, "/v1/orders", "orders")
    return {p["sku"]: tuple(p[name] for name in FIELDS[2:]) for p in products}, {o["id"]: o["status"] for o in orders}


async def replay(entries: list[dict[str, Any]]) -> tuple[dict[str, tuple[Any, ...]], dict[str, str]]:
    """Apply the executed writes, in log order, to a fresh sandbox; each must succeed there too."""
    app = create_app(config())
    try:
        async with HajatekClient("sk_sandbox_business", store_id="str_sandbox", base_url="http://replay/v1",
                                 plan="business", transport=httpx2.ASGITransport(app=app)) as api:  # fmt: skip
            for entry in entries:
                args = dict(entry["arguments"])
                if entry["tool"] == "create_product":
                    await api.create_product(ProductCreate.model_validate(args))
                elif entry["tool"] == "update_product":
                    await api.update_product(args.pop("product_id"), ProductUpdate.model_validate(args))
                elif entry["tool"] == "update_order_status":
                    await api.update_order_status(args["order_id"], args["status"], note=args.get("note"))
                else:
                    raise AssertionError(f"unexpected write in the log: {entry}")
        return await snapshot(app)
    finally:
        app.state.sandbox.store.close()


def halalas(price: Any) -> int:
    """A price (as the API shows it, or as a write gave it) in halalas, so equal prices compare equal."""
    return int(Decimal(str(price)) * 100)


async def products_by_id(app: Starlette) -> dict[str, dict[str, Any]]:
    """Every product's fields but times, by id, prices in halalas (as :func:`values_set` gives them)."""
    async with sandbox_http(app) as http:
        products, _ = await walk(http, "/v1/products", "products")
    return {p["id"]: {name: halalas(p[name]) if name == "price" else p[name] for name in FIELDS} for p in products}


def values_set(writes: list[dict[str, Any]]) -> dict[tuple[str, str], list[Any]]:
    """(product id, field) → every value an executed ``update_product`` set it to (prices in halalas)."""
    found: dict[tuple[str, str], list[Any]] = {}
    for write in (w for w in writes if w["tool"] == "update_product"):
        args = dict(write["arguments"])
        product_id = args.pop("product_id")
        for name, value in args.items():
            found.setdefault((product_id, name), []).append(halalas(value) if name == "price" else value)
    return found


def unexplained_products(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
                         writes: list[dict[str, Any]]) -> list[str]:  # fmt: skip
    """Product rows the log cannot account for: a field no executed write set (stock aside: cancellations restock),
    a product no executed create made."""
    problems = []
    set_by = values_set(writes)
    created = {w["arguments"]["sku"]: w["arguments"] for w in writes if w["tool"] == "create_product"}
    for product_id, row in after.items():
        if product_id not in before:
            wanted = created.pop(row["sku"], None)
            if wanted is None or (row["name"], row["stock"]) != (wanted["name"], wanted["stock"]):
                problems.append(f"{product_id} ({row['sku']}) was created without a matching executed write")
            continue
        for name, value in row.items():
            allowed = set_by.get((product_id, name))
            if allowed is None and name != "stock":
                allowed = [before[product_id][name]]
            if allowed is not None and value not in allowed:
                problems.append(f"{product_id}.{name} is {value!r}; the log allows {allowed!r}")
    problems += [f"{sku}: created per the log, missing from the store" for sku in created]
    return problems


def unexplained_status_changes(sandbox: Sandbox, writes: list[dict[str, Any]]) -> list[str]:
    """Status changes the store made (its ``order.updated`` events) more often than executed writes asked for."""
    asked: dict[str, list[str]] = {}
    for write in (w for w in writes if w["tool"] == "update_order_status"):
        asked.setdefault(write["arguments"]["order_id"], []).append(write["arguments"]["status"])
    problems = []
    for event in sandbox.store.list_events("order.updated"):
        order_id, status = event["data"]["order_id"], event["data"]["status"]
        if status in asked.get(order_id, []):
            asked[order_id].remove(status)
        else:
            problems.append(f"{order_id} became {status} more often than the log asked")
    return problems


async def test_fifty_concurrent_agents_hang_nowhere_earn_no_429_and_make_only_the_changes_the_log_records(
    live: Live, tmp_path: Path, mode: str
) -> None:
    products, orders = await shared_targets(live.app)
    before = await products_by_id(live.app)
    spec = ClientSpec(timeout=10.0, max_retries=2, plan="starter", key="sk_sandbox_starter", rate_limit=LIMIT,
                      rate_window=WINDOW, clock=None)  # fmt: skip
    server = server_on(live.url, spec, confirm="none", state_dir=tmp_path)
    outcomes: list[tuple[str, bool]] = []
    messages: list[str] = []

    async def agent(client: Client, number: int) -> None:
        for tool, args in script(number, products, orders):
            with anyio.fail_after(30):  # no single call may hang
                result = await client.call_tool(tool, args)
            clean_output(text(result))
            outcomes.append((tool, result.is_error))
            if result.is_error:
                messages.append(text(result))

    with anyio.fail_after(90):
        async with Client(server, mode=mode) as client, anyio.create_task_group() as agents:
            for number in range(AGENTS):
                agents.start_soon(agent, client, number)

    assert len(outcomes) == AGENTS * OPS_PER_AGENT
    assert not [m for m in messages if "error 429" in m or "rate limit" in m], "a rate limit reached an agent"
    upstream = live.log.statuses()
    assert 429 not in upstream, f"the upstream refused {upstream.count(429)} requests the governor let through"
    assert len(upstream) > LIMIT * 2, "the run must outlast a few windows for the governor to matter"
    log = await audit_rows(tmp_path)
    assert {e["outcome"] for e in log} <= {"executed", "failed", "unknown"}
    writes = [e for e in log if e["outcome"] == "executed"]
    assert not [e for e in log if e["outcome"] == "unknown"], "no answer was lost: the replay below needs it"
    assert len(writes) + len([e for e in log if e["outcome"] == "failed"]) == sum(
        tool.startswith(("update", "create")) for tool, _ in outcomes
    ), "every write attempt is in the log"
    assert unexplained_products(before, await products_by_id(live.app), writes) == []
    assert unexplained_status_changes(live.sandbox, writes) == []
    assert await replay(writes) == await snapshot(live.app), "a serial replay of the log gives the store's state"


class HoldFirstPut(httpx2.AsyncBaseTransport):
    """Holds the answer to the first PUT (already applied) until the second PUT has been answered, at most 1.5 s: two
    answers that overtake each other on the way back, as they may on two connections."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.puts = 0
        self.second_answered = anyio.Event()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PUT":
            self.puts += 1
            if self.puts == 1:
                with anyio.move_on_after(1.5):
                    await self.second_answered.wait()
            else:
                self.second_answered.set()
        return response


async def test_concurrent_writes_to_one_product_are_logged_in_the_order_the_store_applied_them(
    tmp_path: Path,
) -> None:
    app = create_app(config())
    sandbox: Sandbox = app.state.sandbox
    product_id = (await shared_targets(app))[0][0]
    link = HoldFirstPut(httpx2.ASGITransport(app=app))
    server = server_on("http://sandbox.local/v1", ClientSpec(max_retries=0), transport=link, confirm="none",
                       state_dir=tmp_path)  # fmt: skip
    try:
        async with Client(server) as client, anyio.create_task_group() as calls:
            calls.start_soon(client.call_tool, "update_product", {"product_id": product_id, "name": "First name"})
            await eventually(lambda: sandbox.store.get_product(product_id)["name"] == "First name")
            calls.start_soon(client.call_tool, "update_product", {"product_id": product_id, "name": "Second name"})
        assert sandbox.store.get_product(product_id)["name"] == "Second name", "the store applied them in turn"
        writes = [e for e in await audit_rows(tmp_path) if e["outcome"] == "executed"]
        assert [w["arguments"]["name"] for w in writes] == ["First name", "Second name"], "logged out of order"
        assert await replay(writes) == await snapshot(app)
    finally:
        sandbox.store.close()


async def test_a_cancel_that_restocks_and_a_stock_change_to_one_of_its_products_are_logged_in_store_order(
    tmp_path: Path,
) -> None:
    app = create_app(config())
    sandbox: Sandbox = app.state.sandbox
    async with sandbox_http(app) as http:
        [pending] = (await http.get("/v1/orders", params={"status": "pending", "limit": 1})).json()["orders"]
    row = {"order_id": pending["id"], "product_id": pending["items"][0]["product_id"]}
    link = HoldFirstPut(httpx2.ASGITransport(app=app))
    server = server_on("http://sandbox.local/v1", ClientSpec(max_retries=0), transport=link, confirm="none",
                       state_dir=tmp_path)  # fmt: skip
    try:
        async with Client(server) as client, anyio.create_task_group() as calls:
            cancel = {"order_id": row["order_id"], "status": "cancelled"}
            calls.start_soon(client.call_tool, "update_order_status", cancel)
            await eventually(lambda: sandbox.store.get_order(row["order_id"])["status"] == "cancelled")
            calls.start_soon(client.call_tool, "update_product", {"product_id": row["product_id"], "stock": 50})
        assert sandbox.store.get_product(row["product_id"])["stock"] == 50, "the stock was set after the restock"
        writes = [e for e in await audit_rows(tmp_path) if e["outcome"] == "executed"]
        assert [w["tool"] for w in writes] == ["update_order_status", "update_product"], "logged out of order"
        assert await replay(writes) == await snapshot(app)
    finally:
        sandbox.store.close()


async def test_a_write_whose_answer_was_lost_is_logged_as_unknown_not_failed(live: Live, tmp_path: Path) -> None:
    product_id = (await shared_targets(live.app))[0][0]
    live.inject(f"/v1/products/{product_id}", method="PUT", mode="delay", delay=0.9, count=1)
    server = server_on(live.url, ClientSpec(timeout=0.4, max_retries=0), confirm="none", state_dir=tmp_path)
    async with Client(server) as client:
        lost = await client.call_tool("update_product", {"product_id": product_id, "stock": 7})
        later = await client.call_tool("update_product", {"product_id": product_id, "stock": 9})
    assert lost.is_error
    assert "check the current state before repeating" in text(lost)
    assert not later.is_error, text(later)
    await eventually(lambda: live.sandbox.store.get_product(product_id)["stock"] == 7, within=3.0)
    log = [(e["outcome"], e["arguments"]["stock"]) for e in await audit_rows(tmp_path) if e["target"] == product_id]
    assert log == [("unknown", 7), ("executed", 9)], "the lost write may land after the next one: the log says so"


class SlowFirstRequest(httpx2.AsyncBaseTransport):
    """A link on which the first request spends ``delay`` seconds before it reaches the server, and which carries no
    ``X-RateLimit-*`` headers back (a proxy that drops them, or an API that sends none)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.sent = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent += 1
        if self.sent == 1:
            await anyio.sleep(self.delay)
        response = await self.inner.handle_async_request(request)
        for name in [n for n in response.headers if n.lower().startswith("x-ratelimit-")]:
            del response.headers[name]
        return response


async def test_a_request_slowed_on_its_way_does_not_push_the_next_one_into_a_429() -> None:
    app = create_app(SandboxConfig(now=NOW, rate_window=1.0, plan_limits={"starter": 1, "pro": 500,
                                                                          "business": None}))  # fmt: skip
    upstream = StatusLog(app, clock=time.time)
    link = SlowFirstRequest(httpx2.ASGITransport(app=upstream), delay=0.3)
    try:
        async with HajatekClient("sk_sandbox_starter", store_id="str_sandbox", base_url="http://sandbox.local/v1",
                                 plan="starter", rate_limit=1, rate_window=1.0, max_retries=0,
                                 transport=link) as api:  # fmt: skip
            await api.get_store()
            with contextlib.suppress(RateLimitError):
                await api.get_store()  # the governor lets it start one window after the first *started*
    finally:
        app.state.sandbox.store.close()
    assert upstream.statuses() == [200, 200], "the upstream refused a request the governor let through"
