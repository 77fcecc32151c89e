"""The fault matrix: every tool × every upstream fault, over real HTTP on 127.0.0.1.

For each cell: the tool answers with an ``is_error`` result that says what happened and what to do (for a write that
may have been applied: check the current state before repeating it), with no traceback and no secret; the upstream
saw exactly the attempts the retry policy allows (idempotent requests are retried up to ``max_retries``, a POST only
when it provably was not processed); the server keeps serving; and the same tool succeeds once the fault clears.
``list_events`` reads the local inbox and makes no upstream request, so upstream faults cannot reach it: its own test
faults the whole API and shows it still answers. A tool's filtered mode (``list_orders`` by customer, ``list_customers``
by search) is a row of its own; a bulk tool's row is its preview, which only reads: its writes, item by item, are
test_bulk_faults.py's.

One sandbox serves the module (uvicorn takes a fifth of a second to stop); each cell acts on fresh targets, so the
cells do not depend on each other. Backoff and Retry-After waits run on a fake clock: they are counted, not slept.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from mcp import Client

from hajatek_mcp.sandbox.errors import SandboxError
from hajatek_mcp.server import HajatekServer
from hajatek_mcp.server.tools import TOOLS as REGISTERED
from tests.reliability.support import ClientSpec, Live, live_sandbox, server_on
from tests.support import FakeClock, clean_output, text

#: Client timeout in the timeout cells, and how long the sandbox sits on the request there before answering.
TIMEOUT, DELAY = 0.4, 1.0
MAX_RETRIES = 1
#: Faults are injected with this count and never used up by one call; attempts = COUNT - what is left.
COUNT = 100

Kind = Literal["read", "post", "put", "delete"]


@dataclass(frozen=True)
class UpstreamFault:
    """One way the upstream fails, what the message must say about it, and whether the client may retry it."""

    name: str
    inject: dict[str, Any]
    happened: str | tuple[str, ...]
    """What the message says happened (any one of these)."""
    advice: str
    retried: bool = True
    """An idempotent request (GET, PUT, DELETE) is retried."""
    post_retried: bool = False
    """A POST is retried: only when the upstream provably did not process it (429)."""
    unknown_for_writes: bool = False
    """For a write (POST, PUT, DELETE) the request may have been applied: the message must say to check the current
    state before repeating it."""


FAULTS = [
    UpstreamFault("500", {"status": 500}, "Hajatek API error 500", "try again in a minute", unknown_for_writes=True),
    UpstreamFault("502", {"status": 502}, "Hajatek API error 502", "try again in a minute", unknown_for_writes=True),
    UpstreamFault("503", {"status": 503}, "Hajatek API error 503", "try again in a minute", unknown_for_writes=True),
    UpstreamFault("429-with-retry-after", {"status": 429, "retry_after": 2}, "Hajatek API error 429", "wait 2 s",
                  post_retried=True),
    # The sandbox always sends Retry-After with its own 429s; a proxy's HTML 429 page carries none.
    UpstreamFault("429-without-retry-after", {"mode": "wrong_content_type", "status": 429}, "Hajatek API error 429",
                  "wait a minute", post_retried=True),
    UpstreamFault("timeout", {"mode": "delay", "delay": DELAY}, "timed out", "try again", unknown_for_writes=True),
    # uvicorn closes the socket mid-response; the client sees either a protocol error or a reset.
    UpstreamFault("dropped-connection", {"mode": "drop"}, ("failed (RemoteProtocolError)", "failed (ReadError)"),
                  "try again", unknown_for_writes=True),
    UpstreamFault("malformed-json", {"mode": "malformed"}, "malformed JSON", "try again", unknown_for_writes=True),
    UpstreamFault("truncated-json", {"mode": "truncated"}, "malformed JSON", "try again", unknown_for_writes=True),
    UpstreamFault("wrong-content-type", {"mode": "wrong_content_type"}, "instead of JSON", "HAJATEK_BASE_URL",
                  unknown_for_writes=True),
    UpstreamFault("401-mid-session", {"status": 401}, "Hajatek API error 401", "HAJATEK_API_KEY", retried=False),
]  # fmt: skip


@dataclass
class Targets:
    """Hands out products and orders no other cell has touched."""

    products: Iterator[str]
    delivered: Iterator[str]
    customers: Iterator[str]
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@dataclass(frozen=True)
class ToolCall:
    """How to call one tool with fresh arguments, and which upstream request is the one to fault."""

    tool: str
    kind: Kind
    method: str
    path: Callable[[dict[str, Any]], str]
    args: Callable[[Targets], dict[str, Any]]
    mode: str = ""
    """Names a second row of one tool (a filtered mode) in the test id."""

    @property
    def id(self) -> str:
        return f"{self.tool}[{self.mode}]" if self.mode else self.tool


def _new_product(t: Targets) -> dict[str, Any]:
    n = next(t.numbers)
    return {"name": f"Matrix Lamp {n}", "price": 99, "category": "home-kitchen", "sku": f"MTX-{n:04d}"}


TOOLS = [
    ToolCall("get_store", "read", "GET", lambda a: "/v1/stores/str_sandbox", lambda t: {}),
    ToolCall("list_products", "read", "GET", lambda a: "/v1/products", lambda t: {"limit": 5}),
    ToolCall("create_product", "post", "POST", lambda a: "/v1/products", _new_product),
    ToolCall("update_product", "put", "PUT", lambda a: f"/v1/products/{a['product_id']}",
             lambda t: {"product_id": next(t.products), "name": f"Renamed {next(t.numbers)}"}),
    ToolCall("delete_product", "delete", "DELETE", lambda a: f"/v1/products/{a['product_id']}",
             lambda t: {"product_id": next(t.products)}),
    ToolCall("list_orders", "read", "GET", lambda a: "/v1/orders", lambda t: {"limit": 5}),
    ToolCall("get_order", "read", "GET", lambda a: f"/v1/orders/{a['order_id']}",
             lambda t: {"order_id": next(t.delivered)}),
    ToolCall("update_order_status", "put", "PUT", lambda a: f"/v1/orders/{a['order_id']}/status",
             lambda t: {"order_id": next(t.delivered), "status": "refunded"}),
    ToolCall("export_orders", "read", "GET", lambda a: "/v1/orders", lambda t: {"status": "pending"}),
    ToolCall("list_customers", "read", "GET", lambda a: "/v1/customers", lambda t: {"limit": 5}),
    ToolCall("get_analytics", "read", "GET", lambda a: "/v1/analytics/summary", lambda t: {"period": "7d"}),
    # Issue #22's tools and modes: each row faults the first request the call makes. No product or customer lookup
    # by id in the API: the locator walks the catalog, the customer directory (fresh in each session) the listing.
    ToolCall("get_product", "read", "GET", lambda a: "/v1/products", lambda t: {"product_id": next(t.products)}),
    ToolCall("get_customer", "read", "GET", lambda a: "/v1/customers",
             lambda t: {"customer_id": next(t.customers)}),
    ToolCall("list_orders", "read", "GET", lambda a: "/v1/orders",
             lambda t: {"customer_id": next(t.customers), "limit": 3}, mode="customer_id"),
    ToolCall("list_customers", "read", "GET", lambda a: "/v1/customers",
             lambda t: {"search": "Noura", "limit": 5}, mode="search"),
    # The store's zone was cached by the get_store just before, so the order walk comes first.
    ToolCall("sales_report", "read", "GET", lambda a: "/v1/orders",
             lambda t: {"since": "2026-11-26", "group_by": "city"}),
    ToolCall("restock_report", "read", "GET", lambda a: "/v1/products",
             lambda t: {"days": 7, "category": "perfumes-oud"}),
    # A bulk call without a token only reads (the preview); applying is item by item: test_bulk_faults.py.
    ToolCall("bulk_update_products", "read", "GET", lambda a: "/v1/products",
             lambda t: {"product_ids": [next(t.products)], "stock": 40}, mode="preview"),
    ToolCall("bulk_update_order_status", "read", "GET", lambda a: f"/v1/orders/{a['order_ids'][0]}",
             lambda t: {"order_ids": [next(t.delivered)], "status": "refunded"}, mode="preview"),
]  # fmt: skip

#: A DELETE whose first attempt was applied and whose answer was cut off is retried; the retry's 404 means the
#: product is gone, which is what was asked: the call succeeds. Tested on its own below.
SUCCEEDS = {("delete_product", "truncated-json")}


def _cells() -> list[Any]:
    return [
        pytest.param(call, fault, id=f"{call.id}-{fault.name}")
        for call in TOOLS
        for fault in FAULTS
        if (call.tool, fault.name) not in SUCCEEDS
    ]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with live_sandbox() as served:
        yield served


@pytest.fixture(scope="module")
def targets(live: Live) -> Targets:
    store = live.sandbox.store
    # Off the first page, so the renames and deletes leave alone what the list cells show.
    pages = [store.list_products(page=n, limit=100, category=None, search=None) for n in (2, 3)]
    products = [p["id"] for page in pages for p in page.items]
    delivered = [o["id"] for o in store.list_orders(page=1, limit=100, status="delivered").items]
    customers = [c["id"] for c in store.list_customers(page=2, limit=100).items]
    return Targets(iter(products), iter(delivered), iter(customers))


@pytest.fixture(scope="module")
def servers(live: Live) -> dict[float, HajatekServer]:
    """One server per client timeout, built once (building one takes ~0.1 s); each ``Client`` opens its own lifespan,
    so every cell still gets a fresh API client, rate governor and audit log."""
    return {
        timeout: server_on(live.url, ClientSpec(timeout=timeout, max_retries=MAX_RETRIES), confirm="none")
        for timeout in (TIMEOUT, 5.0)
    }


@pytest.fixture(autouse=True)
def no_faults(live: Live) -> Iterator[None]:
    live.sandbox.faults.clear()
    yield
    live.sandbox.faults.clear()


def expected_attempts(call: ToolCall, fault: UpstreamFault) -> int:
    retried = fault.post_retried if call.kind == "post" else fault.retried
    return MAX_RETRIES + 1 if retried else 1


@pytest.mark.parametrize(("call", "fault"), _cells())
async def test_every_tool_reports_every_upstream_fault_and_recovers_when_it_clears(
    live: Live, servers: dict[float, HajatekServer], targets: Targets, call: ToolCall, fault: UpstreamFault
) -> None:
    async with Client(servers[TIMEOUT if fault.name == "timeout" else 5.0]) as client:
        assert not (await client.call_tool("get_store", {})).is_error, "healthy before the fault"
        args = call.args(targets)
        injected = live.inject(call.path(args), method=call.method, count=COUNT, **fault.inject)

        failed = await client.call_tool(call.tool, args)

        message = text(failed)
        assert failed.is_error, message
        clean_output(message)
        happened = (fault.happened,) if isinstance(fault.happened, str) else fault.happened
        assert any(h in message for h in happened), message
        advice = "check the current state" if call.kind != "read" and fault.unknown_for_writes else fault.advice
        assert advice.lower() in message.lower(), message
        assert injected.remaining is not None
        assert COUNT - injected.remaining == expected_attempts(call, fault), "attempts the upstream saw"

        live.sandbox.faults.clear()
        assert len((await client.list_tools()).tools) == len(REGISTERED), "the server keeps serving"
        recovered = await client.call_tool(call.tool, call.args(targets))
        assert not recovered.is_error, text(recovered)


async def test_a_delete_whose_cut_off_answer_is_retried_into_a_404_counts_as_done(
    live: Live, servers: dict[float, HajatekServer], targets: Targets
) -> None:
    product_id = next(targets.products)
    injected = live.inject(f"/v1/products/{product_id}", method="DELETE", count=COUNT, mode="truncated")
    async with Client(servers[5.0]) as client:
        result = await client.call_tool("delete_product", {"product_id": product_id})
    assert not result.is_error, text(result)
    assert injected.remaining == COUNT - 2, "the first attempt deleted it, the retry found it gone"
    with pytest.raises(SandboxError):
        live.sandbox.store.get_product(product_id)


@pytest.mark.parametrize("fault", [f for f in FAULTS if f.retried], ids=lambda f: f.name)
async def test_a_read_recovers_within_its_retry_budget_when_the_fault_is_brief(
    live: Live, fault: UpstreamFault
) -> None:
    clock = FakeClock()
    timeout = TIMEOUT if fault.name == "timeout" else 5.0
    server = server_on(live.url, ClientSpec(timeout=timeout, max_retries=2, clock=clock))
    injected = live.inject("/v1/orders", method="GET", count=2, **fault.inject)
    async with Client(server) as client:
        result = await client.call_tool("list_orders", {"limit": 3})
    assert not result.is_error, text(result)
    assert injected not in live.sandbox.faults.active, "both faulty answers were used: the third attempt worked"
    if "retry_after" in fault.inject:
        assert clock.now >= 1000.0 + 2 * fault.inject["retry_after"], "each retry waited out the Retry-After"


async def test_list_events_reads_the_local_inbox_so_an_upstream_outage_does_not_reach_it(live: Live) -> None:
    server = server_on(live.url, ClientSpec(max_retries=0))
    everything = live.inject("/v1/*", count=None, status=503)
    async with Client(server) as client:
        assert (await client.call_tool("get_store", {})).is_error
        events = await client.call_tool("list_events", {"limit": 5})
    assert not events.is_error, text(events)
    assert everything.remaining is None
