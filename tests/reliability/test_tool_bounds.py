"""Every bounded tool answers within its bound and says when it stopped early, in seconds: the calls of
``python -m benchmarks.scale_tools`` (the same code, imported), on the seeded store with the bounds lowered so that
224 products, 320 customers and 1,200 orders stand for the 50,000 products, 20,320 customers and 200,000 orders of
the full run (docs/reliability.md has its figures). Each call's upstream requests are counted in front of the sandbox
and held to the bound its module documents; each answer is checked against the sandbox's database, and one that is
partial must say so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from benchmarks.scale_calls import Row
from benchmarks.scale_tools import run_scenarios
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import bulk_products, directory, guards, order_facts, reporting
from hajatek_mcp.server.tools import export, lookups, orders
from tests.support import NOW

#: Tools whose widest call must stop early on the small store with small bounds, and say so.
STOPS_EARLY = {
    "get_product",
    "list_products",
    "get_customer",
    "list_customers",
    "list_orders",
    "sales_report",
    "restock_report",
    "get_order",
    "bulk_update_products",
    "export_orders",
}


@pytest.fixture
def narrow_sandbox() -> Iterator[Starlette]:
    """The seeded sandbox serving the narrowest reading of the API, as the full run does: no assumed fields (an order
    names no customer), so the server finds names itself."""
    app = create_app(SandboxConfig(now=NOW, seed=42, assumed_fields=False))
    yield app
    app.state.sandbox.store.close()


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bound scaled to the seeded store, as it is to 200,000 orders: a walk that stops, and a store beyond it."""
    for module in (guards, lookups, bulk_products):  # the guards' constant, and the tools that took it by name
        monkeypatch.setattr(module, "LOOKUP_PAGES", 1)  # 100 of 224 products: stands for 2,000 of 50,224
    monkeypatch.setattr(reporting, "CATALOG_PAGES", 1)
    monkeypatch.setattr(directory, "PAGES", 1)  # 100 of 320 customers: stands for 2,000 of 20,320
    monkeypatch.setattr(order_facts, "CUSTOMER_PAGES", 1)
    monkeypatch.setattr(order_facts, "NAME_LOOKUPS", 1)  # an order of two products stands for one of 21
    monkeypatch.setattr(lookups, "ORDER_PAGES", 2)  # 200 of 1,200 orders: stands for 2,000 of 201,200
    monkeypatch.setattr(orders, "ORDER_PAGES", 2)
    monkeypatch.setattr(reporting, "ORDER_PAGES", 3)  # stands for 5,000
    monkeypatch.setattr(export, "MAX_EXPORT_ORDERS", 150)  # stands for 20,000


async def test_every_bounded_tool_stays_within_its_bound_and_says_when_it_stopped(
    narrow_sandbox: Starlette, small_bounds: None, mode: str
) -> None:
    rows = await run_scenarios(narrow_sandbox, mode=mode)

    assert len(rows) >= 20
    over = [(r.tool, r.arguments, f"{r.requests} > {r.bound}") for r in rows if r.requests > r.bound]
    assert not over, f"over their bound: {over}"
    silent = [(r.tool, r.arguments) for r in rows if r.partial and not r.said]
    assert not silent, f"partial without saying so: {silent}"
    stopped = {r.tool for r in rows if r.partial and r.said}
    assert stopped >= STOPS_EARLY, f"never made to stop early: {STOPS_EARLY - stopped}"


@pytest.mark.parametrize(
    ("requests", "partial", "said", "holds"),
    [(20, False, False, True), (21, False, False, False), (20, True, True, True), (20, True, False, False)],
)
def test_a_call_holds_only_within_its_bound_and_honest(requests: int, partial: bool, said: bool, holds: bool) -> None:
    row = Row("sales_report", "since=…", requests, 20, 0.1, 1000, partial=partial, said=said)
    assert row.ok is holds
    assert ("**NO**" not in row.cells()) is holds
