"""Scale, CI-sized: the seeded store grown to 5,224 products and 21,200 orders, driven through a real MCP client.

The checks are those of ``python -m benchmarks.reliability_scale`` (the same code, imported), which runs them at
50,000 products and 200,000 orders and over 10,000 calls; docs/reliability.md has its figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette

from benchmarks.reliability_scale import (
    NOW,
    PERIODS,
    Report,
    check_analytics,
    check_listings,
    check_resources,
    grow_store,
    iterate_under_plan,
    report_guard_lookup,
)
from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server.guards import LOOKUP_PAGES

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS, ORDERS = 5_000, 20_000
#: The starter plan scaled down: LIMIT requests per WINDOW seconds, for the sandbox and the client alike.
LIMIT, WINDOW = 60, 1.0


@pytest.fixture(scope="module")
def large_store() -> Iterator[tuple[Starlette, dict[str, int]]]:
    app = create_app(SandboxConfig(now=NOW, seed=42, rate_window=WINDOW,
                                   plan_limits={"starter": LIMIT, "pro": 500, "business": None}))  # fmt: skip
    totals = grow_store(app.state.sandbox, products=PRODUCTS, orders=ORDERS)
    yield app, totals
    app.state.sandbox.store.close()


async def raw_orders(app: Starlette) -> list[tuple[datetime, str, Decimal]]:
    """Every order as the API pages it out (business key), for the recount."""
    orders = []
    async with HajatekClient("sk_sandbox_business", store_id="str_sandbox", base_url="http://sandbox.local/v1",
                             plan="business", transport=httpx2.ASGITransport(app=app)) as api:  # fmt: skip
        async for order in api.iterate(api.list_orders):
            assert order.created_at is not None
            orders.append((order.created_at.astimezone(UTC), order.status, order.total))
    return orders


async def test_listings_of_a_large_store_stay_paginated_with_right_totals(
    large_store: tuple[Starlette, dict[str, int]],
) -> None:
    app, totals = large_store
    assert totals == {"products": 224 + PRODUCTS, "orders": 1_200 + ORDERS}
    report = Report()
    await check_listings(app, totals, report, repeats=2)
    assert len(report.rows) == 3
    assert not report.failed, report.markdown()


async def test_iterating_every_order_of_a_large_store_stays_within_the_plans_rate_limit(
    large_store: tuple[Starlette, dict[str, int]],
) -> None:
    app, totals = large_store
    report = Report()
    seen = await iterate_under_plan(app, totals, report, limit=LIMIT, window=WINDOW)
    assert not report.failed, report.markdown()
    assert len(seen) == totals["orders"]
    assert report.figures["iterate_requests"] > 3 * LIMIT, "the walk spans several windows"


async def test_get_analytics_on_a_large_store_equals_a_recount_of_the_raw_orders(
    large_store: tuple[Starlette, dict[str, int]],
) -> None:
    app, _ = large_store
    report = Report()
    await check_analytics(app, await raw_orders(app), report)
    assert len(report.rows) == len(PERIODS)
    assert not report.failed, report.markdown()


async def test_the_price_guard_finds_a_listed_product_in_one_request_on_a_large_store(
    large_store: tuple[Starlette, dict[str, int]],
) -> None:
    app, totals = large_store
    report = Report()
    await report_guard_lookup(app, report)
    assert not report.failed, report.markdown()
    assert report.figures["guard_lookup_listed_requests"] == 1
    assert totals["products"] // 100 > LOOKUP_PAGES, "the catalog is larger than the guard will walk"
    assert report.figures["guard_lookup_requests"] == LOOKUP_PAGES, "never listed: a bounded walk"
    assert report.figures["guard_lookup_after_search_requests"] == 1


async def test_catalog_resources_and_completions_stay_bounded_on_a_large_store(
    large_store: tuple[Starlette, dict[str, int]],
) -> None:
    app, _ = large_store
    report = Report()
    await check_resources(app, report)
    assert len(report.rows) == 3
    assert not report.failed, report.markdown()


def test_memory_stays_flat_over_a_thousand_calls_on_a_large_store(tmp_path: Path) -> None:
    # In a process of its own: this test session keeps every log record (the canary check), which would count.
    figures = tmp_path / "scale.json"
    command = [sys.executable, "-m", "benchmarks.reliability_scale", "--products", "2000", "--orders", "5000",
               "--calls", "1000", "--checks", "memory", "--budget", "120", "--json", str(figures)]  # fmt: skip
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)  # noqa: S603
    assert run.returncode == 0, run.stdout + run.stderr
    [row] = json.loads(figures.read_text())["rows"][1:]
    assert row["check"] == "memory flat over 1,000 calls"
    assert row["ok"] is True, row
