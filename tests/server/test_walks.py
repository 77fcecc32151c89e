"""Bounded walks over the order listing and the catalog, against the sandbox and its own data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.walks import orders_in_window, products_upto

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(sandbox_app: Starlette) -> AsyncIterator[HajatekClient]:
    async with HajatekClient(
        "sk_sandbox_business",
        store_id="str_sandbox",
        base_url="http://sandbox.local/v1",
        plan="business",
        transport=httpx2.ASGITransport(app=sandbox_app),
    ) as c:
        yield c


def _truth(app: Starlette, since: datetime | None, until: datetime | None) -> list[str]:
    """The ids of orders created in [since, until], newest first, straight from the sandbox's database."""
    db = app.state.sandbox.store.db
    rows = db.query("SELECT id, created_at FROM orders ORDER BY created_at DESC, id DESC")
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return [
        row["id"]
        for row in rows
        if (since is None or row["created_at"] >= since.strftime(fmt))
        and (until is None or row["created_at"] <= until.strftime(fmt))
    ]


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def test_a_window_deep_in_the_listing_is_found_by_bisection_and_read_whole(
    client: HajatekClient, sandbox_app: Starlette
) -> None:
    since, until = NOW - timedelta(days=60), NOW - timedelta(days=53)
    window = await orders_in_window(client, since=since, until=until)
    assert [o.id for o in window.orders] == _truth(sandbox_app, since, until)
    assert window.complete
    assert window.orders
    # 1,200 orders are 12 pages: page 1, about 3 probes, then the one or two pages of the week
    assert window.requests <= 7


async def test_a_walk_cut_short_resumes_with_nothing_skipped_or_repeated(
    client: HajatekClient, sandbox_app: Starlette
) -> None:
    since = NOW - timedelta(days=45)
    expected = _truth(sandbox_app, since, None)
    got: list[str] = []
    until: datetime | None = None
    calls = 0
    while True:
        window = await orders_in_window(client, since=since, until=until, max_requests=2)
        calls += 1
        got.extend(o.id for o in window.orders)
        if window.complete:
            break
        assert window.resume_until is not None
        until = window.resume_until
        assert calls < 50
    assert got == expected
    assert calls > 2  # the bound did cut it


async def test_max_items_cuts_on_a_whole_second(client: HajatekClient, sandbox_app: Starlette) -> None:
    window = await orders_in_window(client, max_items=7)
    assert not window.complete
    assert len(window.orders) <= 7
    assert window.resume_until is not None
    assert all(o.created_at is not None and o.created_at > window.resume_until for o in window.orders)
    rest = await orders_in_window(client, until=window.resume_until, max_items=5)
    assert [o.id for o in window.orders + rest.orders] == _truth(sandbox_app, None, None)[
        : len(window.orders) + len(rest.orders)
    ]


async def test_server_side_filter_and_status(client: HajatekClient, sandbox_app: Starlette) -> None:
    window = await orders_in_window(client, status="delivered", keep=lambda o: o.total > 1000)
    db = sandbox_app.state.sandbox.store.db
    rows = db.query(
        "SELECT id FROM orders WHERE status = 'delivered' AND total > 100000 ORDER BY created_at DESC, id DESC"
    )
    assert [o.id for o in window.orders] == [row["id"] for row in rows]


async def test_the_catalog_walk_is_bounded(client: HajatekClient, sandbox_app: Starlette) -> None:
    whole = await products_upto(client)
    count = sandbox_app.state.sandbox.store.db.query_one("SELECT COUNT(*) FROM products")[0]
    assert whole.complete
    assert len(whole.products) == count == whole.total
    part = await products_upto(client, max_requests=1)
    assert not part.complete
    assert len(part.products) == 100
    assert part.requests == 1
