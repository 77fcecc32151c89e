"""Tenant isolation as a property: whatever the merchants of a multi-tenant server do, in whatever order, no one sees
another store's data.

Three merchants connect their own sandbox store through the OAuth flow (stores 1 and 2 read-and-change, store 3
read-only) and use the server over streamable HTTP at once, each with its own MCP client and token. Hypothesis draws
rounds of calls: each call is one merchant's read (products, orders, customers, reports, events, the store, audit and
event resources) or write (a small product change, an order moved along), and the calls of a round run concurrently.
After every call, nothing the merchant got back (result text, structured content, resource contents) holds an id of
another store: ``prod_``, ``ord_``, ``cus_`` and store ids tell their store by their tag, event ids by who sent them
(:class:`~tests.server.tenants_support.Deliveries`). At the end each store's audit log names only its own targets
and holds each of its own writes, and each store's inbox holds the events that store sent, and no other's.

Both protocol eras run. Hypothesis drives the examples from a worker thread while the server and the clients stay
open on the event loop; each example hops onto the loop with ``anyio.from_thread.run``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult, TextContent, TextResourceContents

from tests.server.tenants_support import READ, WRITE, Hosted, Merchant, hosted_stores, merchant_client, owners

SCOPES = (WRITE, WRITE, READ)
ISOLATION = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
READS = [
    "list_products", "get_product", "list_orders", "get_order", "list_customers", "get_customer", "sales_report",
    "get_analytics", "list_events", "read_store", "read_audit", "read_events",
]  # fmt: skip
WRITES = ["update_product", "update_order_status"]
#: Moves an order along without the merchant's yes (cancel and refund need one).
FORWARD = {"pending": "processing", "processing": "shipped", "shipped": "delivered"}
KINDS = {"prod": "products", "ord": "orders", "cus": "customers"}

#: One call: which merchant (index), what it does, and a number that picks among the ids it has seen.
calls = st.tuples(st.integers(0, len(SCOPES) - 1), st.sampled_from(READS + WRITES), st.integers(0, 10**6))
#: Rounds of one to three calls run at once; about eight calls an example.
rounds = st.lists(st.lists(calls, min_size=1, max_size=3), min_size=2, max_size=4)
#: Every merchant at once: both writers change their stores while the reader reads, then all read events and audit.
BUSY_MORNING = [
    [(0, "list_orders", 0), (1, "list_orders", 0), (2, "list_orders", 0)],
    [(0, "list_products", 0), (1, "list_products", 0), (2, "list_customers", 0)],
    [(0, "update_order_status", 1), (1, "update_order_status", 2), (2, "update_order_status", 3)],
    [(0, "update_product", 4), (1, "update_product", 5), (2, "get_order", 6)],
    [(0, "read_events", 0), (1, "list_events", 0), (2, "read_audit", 0)],
]


@dataclass
class Tenant:
    """One merchant's side: its client, the ids of its own store it has seen, and the writes that landed."""

    merchant: Merchant
    client: Client
    hosted: Hosted
    seen: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in KINDS.values()})
    writes: Counter[str] = field(default_factory=Counter)

    @property
    def store_id(self) -> str:
        return self.merchant.store_id

    def check(self, what: str, text: str) -> None:
        """``text`` (what ``what`` showed this merchant) holds no id of another store; its own ids are kept."""
        found = owners(text, self.hosted.deliveries)
        foreign = {store: sorted(ids) for store, ids in found.items() if store != self.store_id}
        assert not foreign, f"{what} showed the merchant of {self.store_id} ids of other stores: {foreign}"
        for an_id in sorted(found.get(self.store_id, ())):
            kind = KINDS.get(an_id.partition("_")[0])
            if kind is not None and an_id not in self.seen[kind]:
                self.seen[kind].append(an_id)

    def pick(self, kind: str, choice: int) -> str | None:
        ids = self.seen[kind]
        return ids[choice % len(ids)] if ids else None

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        result = await self.client.call_tool(tool, arguments)
        self.check(f"{tool}({arguments})", result_text(result))
        return result

    async def read(self, uri: str) -> str:
        result = await self.client.read_resource(uri, cache_mode="bypass")  # every read reaches the server
        text = "\n".join(c.text for c in result.contents if isinstance(c, TextResourceContents))
        self.check(f"reading {uri}", text)
        return text


def result_text(result: CallToolResult) -> str:
    """Everything a tool result shows the model: its text blocks and its structured content."""
    blocks = [b.text for b in result.content if isinstance(b, TextContent)]
    return "\n".join([*blocks, json.dumps(result.structured_content, ensure_ascii=False)])


async def act(tenant: Tenant, action: str, choice: int) -> None:
    """One call of ``action`` by ``tenant`` (checked by :meth:`Tenant.call` / :meth:`Tenant.read`)."""
    await ACTIONS[action](tenant, choice)


async def _get(tenant: Tenant, kind: str, tool: str, argument: str, listing: str, choice: int) -> None:
    an_id = tenant.pick(kind, choice)
    if an_id is None:
        await tenant.call(listing, {"limit": 5})
    else:
        await tenant.call(tool, {argument: an_id})


async def _update_product(tenant: Tenant, choice: int) -> None:
    product_id = tenant.pick("products", choice)
    if product_id is None:
        await tenant.call("list_products", {"limit": 5})
        return
    product = await tenant.call("get_product", {"product_id": product_id})
    stock = (product.structured_content or {}).get("stock") or 0
    result = await tenant.call("update_product", {"product_id": product_id, "stock": stock + 1 + choice % 5})
    _count_write(tenant, "update_product", result)


async def _update_order_status(tenant: Tenant, choice: int) -> None:
    order_id = tenant.pick("orders", choice)
    if order_id is None:
        await tenant.call("list_orders", {"limit": 5})
        return
    order = await tenant.call("get_order", {"order_id": order_id})
    status = (order.structured_content or {}).get("status", "pending")
    result = await tenant.call("update_order_status", {"order_id": order_id, "status": FORWARD.get(status, "shipped")})
    _count_write(tenant, "update_order_status", result)


def _count_write(tenant: Tenant, tool: str, result: CallToolResult) -> None:
    if not tenant.merchant.writes:
        assert result.is_error, f"the read-only merchant of {tenant.store_id} changed its store with {tool}"
    elif not result.is_error and (result.structured_content or {}).get("outcome") == "done":
        tenant.writes[tool] += 1


def _since(choice: int) -> str:
    return (datetime.now(UTC) - timedelta(days=1 + choice % 30)).date().isoformat()


ACTIONS: dict[str, Callable[[Tenant, int], Awaitable[Any]]] = {
    "list_products": lambda t, c: t.call("list_products", {"limit": 5, "page": 1 + c % 3}),
    "get_product": lambda t, c: _get(t, "products", "get_product", "product_id", "list_products", c),
    "list_orders": lambda t, c: t.call("list_orders", {"limit": 5, "page": 1 + c % 3}),
    "get_order": lambda t, c: _get(t, "orders", "get_order", "order_id", "list_orders", c),
    "list_customers": lambda t, c: t.call("list_customers", {"search": "a"} if c % 2 else {"limit": 5}),
    "get_customer": lambda t, c: _get(t, "customers", "get_customer", "customer_id", "list_customers", c),
    "sales_report": lambda t, c: t.call("sales_report", {"since": _since(c)}),
    "get_analytics": lambda t, c: t.call("get_analytics", {"period": ("7d", "30d")[c % 2]}),
    "list_events": lambda t, c: t.call("list_events", {"limit": 20}),
    "read_store": lambda t, c: t.read("hajatek://store"),
    "read_audit": lambda t, c: t.read("hajatek://audit"),
    "read_events": lambda t, c: t.read("hajatek://events"),
    "update_product": _update_product,
    "update_order_status": _update_order_status,
}


@asynccontextmanager
async def merchants_at_work(tmp_path: Path, mode: str) -> AsyncIterator[tuple[Hosted, list[Tenant]]]:
    """The hosted server with every merchant connected, and each merchant's MCP client open in era ``mode``."""
    async with hosted_stores(tmp_path, SCOPES) as hosted, AsyncExitStack() as clients:
        tenants = [
            Tenant(merchant, await clients.enter_async_context(merchant_client(hosted.origin, merchant, mode)), hosted)
            for merchant in hosted.merchants
        ]
        yield hosted, tenants


async def test_no_merchant_ever_sees_an_id_of_another_store(tmp_path: Path, mode: str) -> None:
    async with merchants_at_work(tmp_path, mode) as (hosted, tenants):

        async def run(drawn: list[list[tuple[int, str, int]]]) -> None:
            for batch in drawn:
                async with anyio.create_task_group() as group:
                    for index, action, choice in batch:
                        group.start_soon(act, tenants[index], action, choice)

        @ISOLATION
        @given(drawn=rounds)
        @example(drawn=BUSY_MORNING)
        def interleave(drawn: list[list[tuple[int, str, int]]]) -> None:
            anyio.from_thread.run(run, drawn)

        await anyio.to_thread.run_sync(interleave)

        # each store's audit log: only its own targets, and every write of its merchant
        for tenant in tenants:
            entries = json.loads(await tenant.read("hajatek://audit"))["entries"]
            targets = {entry["target"] for entry in entries if entry.get("target")}
            assert all(set(owners(target)) == {tenant.store_id} for target in targets), (tenant.store_id, targets)
            executed = Counter(entry["tool"] for entry in entries if entry["outcome"] == "executed")
            assert executed == tenant.writes, (tenant.store_id, executed, tenant.writes)
        # each store's inbox: the events that store sent, all of them
        for tenant in tenants:
            listed = await tenant.call("list_events", {"limit": 100})
            received = {event["id"] for event in (listed.structured_content or {})["events"]}
            sent = {event for event, sender in hosted.deliveries.sender.items() if sender == tenant.store_id}
            assert received == sent, tenant.store_id
        # the property was exercised: both writers changed their stores, and their stores sent events
        writers = [tenant for tenant in tenants if tenant.merchant.writes]
        assert all(sum(tenant.writes.values()) for tenant in writers), [tenant.writes for tenant in writers]
        assert set(hosted.deliveries.sender.values()) == {tenant.store_id for tenant in writers}
