"""sales_report, restock_report, list_products(stock_below, sort) and get_store's local time, through a real MCP
client in both protocol eras, each figure against a ground truth computed straight from the sandbox's database
(amounts in halalas there)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette

from hajatek_mcp.server import reporting
from tests.support import NOW, Connect, sandbox_http, structured, text

RIYADH = ZoneInfo("Asia/Riyadh")
PAID = ("processing", "shipped", "delivered")
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def pinned() -> float:
    """The server's clock, pinned at the sandbox's time (2026-11-27T12:00Z, 15:00 in Riyadh)."""
    return NOW.timestamp()


# -- the ground truth, from the sandbox's database ------------------------------------------------------------------


@dataclass
class Sold:
    id: str
    customer_id: str
    status: str
    total: int
    city: str
    created: datetime
    lines: list[tuple[str, int, int]] = field(default_factory=list)  # product id, quantity, price

    @property
    def paid(self) -> bool:
        return self.status in PAID

    @property
    def day(self) -> date:
        return self.created.astimezone(RIYADH).date()


def orders(app: Starlette, since: datetime, until: datetime) -> list[Sold]:
    """The orders created in [since, until], with their lines."""
    db = app.state.sandbox.store.db
    rows = db.query(
        "SELECT id, customer_id, status, total, city, created_at FROM orders WHERE created_at BETWEEN ? AND ?",
        (since.astimezone(UTC).strftime(UTC_FORMAT), until.astimezone(UTC).strftime(UTC_FORMAT)),
    )
    found = {
        r["id"]: Sold(
            r["id"],
            r["customer_id"],
            r["status"],
            r["total"],
            r["city"],
            datetime.strptime(r["created_at"], UTC_FORMAT).replace(tzinfo=UTC),
        )
        for r in rows
    }
    for line in db.query("SELECT order_id, product_id, quantity, price FROM order_items ORDER BY order_id, position"):
        if line["order_id"] in found:
            found[line["order_id"]].lines.append((line["product_id"], line["quantity"], line["price"]))
    return list(found.values())


def local(day: str, *, end: bool = False) -> datetime:
    """Local midnight of ``day`` in Riyadh, or the last second of that day."""
    start = datetime.fromisoformat(day).replace(tzinfo=RIYADH)
    return start + timedelta(days=1, seconds=-1) if end else start


def sar(halalas: int) -> Decimal:
    return Decimal(halalas) / 100


def amount(value: float) -> Decimal:
    return Decimal(str(value))


def percent(now: Decimal, before: Decimal) -> float | None:
    if not before:
        return None
    return float(((now - before) * 100 / before).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def totals(found: list[Sold]) -> dict[str, Any]:
    paid = [o for o in found if o.paid]
    revenue = sum(o.total for o in paid)
    return {
        "revenue": sar(revenue),
        "orders": len(found),
        "paid_orders": len(paid),
        "units": sum(q for o in paid for _, q, _ in o.lines),
        "average_order_value": (sar(revenue) / len(paid)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "cancelled": sum(o.status == "cancelled" for o in found),
        "cancelled_amount": sar(sum(o.total for o in found if o.status == "cancelled")),
        "refunded": sum(o.status == "refunded" for o in found),
        "refunded_amount": sar(sum(o.total for o in found if o.status == "refunded")),
    }


def reported(figures: dict[str, Any]) -> dict[str, Any]:
    """A result's totals with amounts as decimals, to compare with :func:`totals`."""
    money = ("revenue", "average_order_value", "cancelled_amount", "refunded_amount")
    return {k: amount(v) if k in money else v for k, v in figures.items()}


def by_order(found: list[Sold], key: Any) -> dict[str, tuple[Decimal, int, int]]:
    """Revenue, paid orders and units of the paid orders by ``key(order)``."""
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for o in found:
        if o.paid:
            g = groups[key(o)]
            g[0] += o.total
            g[1] += 1
            g[2] += sum(q for _, q, _ in o.lines)
    return {k: (sar(v[0]), v[1], v[2]) for k, v in groups.items()}


def by_line(found: list[Sold], key: Any) -> dict[str, tuple[Decimal, int, int]]:
    """Line sales (price × quantity), paid orders holding such a line, and units, by ``key(product_id)``."""
    sales: Counter[str] = Counter()
    units: Counter[str] = Counter()
    holders: dict[str, set[str]] = defaultdict(set)
    for o in found:
        if o.paid:
            for product, quantity, price in o.lines:
                sales[key(product)] += quantity * price
                units[key(product)] += quantity
                holders[key(product)].add(o.id)
    return {k: (sar(sales[k]), len(holders[k]), units[k]) for k in sales}


def rows(groups: list[dict[str, Any]], field_name: str = "revenue") -> dict[str, tuple[Decimal, int, int]]:
    return {g["key"]: (amount(g[field_name]), g["paid_orders"], g["units"]) for g in groups}


def ranked(expected: dict[str, tuple[Decimal, int, int]]) -> list[str]:
    return sorted(expected, key=lambda k: (-expected[k][0], -expected[k][2], k))


# -- get_store --------------------------------------------------------------------------------------------------------


async def test_get_store_gives_the_stores_local_time_and_week(connect: Connect) -> None:
    async with connect(clock=pinned) as client:
        store = await structured(client, "get_store", {})
    assert store["timezone"] == "Asia/Riyadh"
    assert store["local_time"] == "2026-11-27T15:00:00+03:00"
    assert store["week_starts"] == "Sunday"


# -- sales_report -----------------------------------------------------------------------------------------------------


async def test_sales_by_day_match_the_database(connect: Connect, sandbox_app: Starlette) -> None:
    async with connect(clock=pinned) as client:
        report = await structured(
            client, "sales_report", {"since": "2026-11-01", "until": "2026-11-15", "group_by": "day"}
        )
    found = orders(sandbox_app, local("2026-11-01"), local("2026-11-15", end=True))
    assert report["since"] == "2026-11-01T00:00:00+03:00"
    assert report["until"] == "2026-11-15T23:59:59+03:00"
    assert report["timezone"] == "Asia/Riyadh"
    assert "VAT and shipping" in report["revenue_is"]
    assert report["complete"] is True
    assert reported(report["totals"]) == totals(found)
    expected = by_order(found, lambda o: o.day.isoformat())
    days = [(date(2026, 11, 1) + timedelta(days=n)).isoformat() for n in range(15)]
    assert [g["key"] for g in report["groups"]] == days
    assert rows(report["groups"]) == {d: expected.get(d, (Decimal(0), 0, 0)) for d in days}


async def test_weeks_start_on_sunday_in_riyadh_and_compare_with_the_period_before(
    connect: Connect, sandbox_app: Starlette
) -> None:
    async with connect(clock=pinned) as client:
        report = await structured(
            client,
            "sales_report",
            {"since": "2026-10-04", "until": "2026-10-31", "group_by": "week", "compare": "previous_period"},
        )
    found = orders(sandbox_app, local("2026-10-04"), local("2026-10-31", end=True))
    before = orders(sandbox_app, local("2026-09-06"), local("2026-10-03", end=True))
    assert report["week_starts"] == "Sunday"
    keys = [g["key"] for g in report["groups"]]
    assert keys == ["2026-10-04/2026-10-10", "2026-10-11/2026-10-17", "2026-10-18/2026-10-24", "2026-10-25/2026-10-31"]
    for key in keys:
        first, last = (date.fromisoformat(d) for d in key.split("/"))
        assert (first.strftime("%A"), last.strftime("%A")) == ("Sunday", "Saturday")

    def week(o: Sold) -> str:
        start = o.day - timedelta(days=(o.day.weekday() + 1) % 7)
        return f"{start}/{start + timedelta(days=6)}"

    assert rows(report["groups"]) == by_order(found, week)
    assert reported(report["totals"]) == totals(found)
    previous = report["previous"]
    assert (previous["since"], previous["until"]) == ("2026-09-06T00:00:00+03:00", "2026-10-03T23:59:59+03:00")
    assert previous["complete"] is True
    assert reported(previous["totals"]) == totals(before)
    now, then = totals(found), totals(before)
    assert report["change_pct"] == {
        k: percent(Decimal(now[k]), Decimal(then[k]))
        for k in ("revenue", "orders", "paid_orders", "units", "average_order_value")
    }
    earlier = by_order(before, lambda o: week(Sold(**{**o.__dict__, "created": o.created + timedelta(days=28)})))
    for group in report["groups"]:
        assert group["change_pct"] == percent(amount(group["revenue"]), earlier[group["key"]][0])


async def test_products_are_ranked_by_line_sales_against_the_same_hours_a_week_before(
    connect: Connect, sandbox_app: Starlette
) -> None:
    async with connect(clock=pinned) as client:
        report = await structured(
            client, "sales_report", {"since": "2026-11-22", "group_by": "product", "top": 5, "compare": "previous_week"}
        )
    found = orders(sandbox_app, local("2026-11-22"), NOW)
    before = orders(sandbox_app, local("2026-11-15"), NOW - timedelta(days=7))
    assert report["until"] == "2026-11-27T15:00:00+03:00"
    assert report["previous"]["since"] == "2026-11-15T00:00:00+03:00"
    assert report["previous"]["until"] == "2026-11-20T15:00:00+03:00"
    assert reported(report["previous"]["totals"]) == totals(before)
    expected = by_line(found, lambda p: p)
    order = ranked(expected)
    assert [g["key"] for g in report["groups"]] == order[:5]
    assert rows(report["groups"], "sales") == {k: expected[k] for k in order[:5]}
    assert all("revenue" not in g for g in report["groups"])
    assert "before shipping and VAT" in report["sales_is"]
    rest = report["rest"]
    assert rest["groups"] == len(order) - 5
    assert amount(rest["sales"]) == sum(expected[k][0] for k in order[5:])
    assert rest["units"] == sum(expected[k][2] for k in order[5:])
    earlier = by_line(before, lambda p: p)
    for group in report["groups"]:
        assert group.get("change_pct") == percent(amount(group["sales"]), earlier.get(group["key"], (0,))[0])


async def test_categories_come_from_the_catalog(connect: Connect, sandbox_app: Starlette) -> None:
    async with connect(clock=pinned) as client:
        report = await structured(client, "sales_report", {"since": "2026-11-01", "group_by": "category"})
    category = {
        r["id"]: r["category"] for r in sandbox_app.state.sandbox.store.db.query("SELECT id, category FROM products")
    }
    expected = by_line(orders(sandbox_app, local("2026-11-01"), NOW), lambda p: category[p])
    assert [g["key"] for g in report["groups"]] == ranked(expected)
    assert rows(report["groups"], "sales") == expected
    assert "unknown_products" not in report
    assert "rest" not in report


@pytest.mark.parametrize(("group_by", "key"), [("city", lambda o: o.city), ("customer", lambda o: o.customer_id)])
async def test_cities_and_customers_rank_by_revenue_with_the_rest_counted(
    connect: Connect, sandbox_app: Starlette, group_by: str, key: Any
) -> None:
    async with connect(clock=pinned) as client:
        report = await structured(client, "sales_report", {"since": "2026-11-08", "group_by": group_by, "top": 3})
    expected = by_order(orders(sandbox_app, local("2026-11-08"), NOW), key)
    order = ranked(expected)
    assert [g["key"] for g in report["groups"]] == order[:3]
    assert rows(report["groups"]) == {k: expected[k] for k in order[:3]}
    assert report["rest"]["groups"] == len(order) - 3
    assert amount(report["rest"]["revenue"]) == sum(expected[k][0] for k in order[3:])
    assert amount(report["totals"]["revenue"]) == sum(v[0] for v in expected.values())


async def test_a_date_until_includes_that_whole_local_day(connect: Connect, sandbox_app: Starlette) -> None:
    found = orders(sandbox_app, local("2026-11-26"), local("2026-11-26", end=True))
    late = [o for o in found if o.created.astimezone(RIYADH).hour >= 21]  # after 18:00 UTC
    early = [o for o in found if o.created.astimezone(RIYADH).hour < 3]  # before midnight UTC
    assert late
    assert early
    async with connect(clock=pinned) as client:
        report = await structured(client, "sales_report", {"since": "2026-11-26", "until": "2026-11-26"})
    assert report["until"] == "2026-11-26T23:59:59+03:00"
    assert reported(report["totals"]) == totals(found)
    assert [g["key"] for g in report["groups"]] == ["2026-11-26"]


async def test_a_period_past_the_bound_says_what_it_covered_and_resumes(
    connect: Connect, sandbox_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reporting, "ORDER_PAGES", 2)
    calls: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"since": "2026-10-01", "group_by": "week", "compare": "previous_period"}
    async with connect(clock=pinned) as client:
        while True:
            result = await client.call_tool("sales_report", arguments)
            assert not result.is_error, text(result)
            assert result.structured_content is not None
            calls.append(result.structured_content)
            if result.structured_content["complete"]:
                break
            arguments = {"since": "2026-10-01", "until": result.structured_content["resume_until"]}
            assert len(calls) < 20
    first = calls[0]
    assert len(calls) > 2
    assert first["complete"] is False
    assert "previous" not in first
    resume = datetime.fromisoformat(first["resume_until"])
    assert resume.utcoffset() == timedelta(hours=3)
    assert f"until={first['resume_until']}" in first["note"]
    assert "No comparison" in first["note"]
    assert reported(first["totals"]) == totals(orders(sandbox_app, resume + timedelta(seconds=1), NOW))
    whole = totals(orders(sandbox_app, local("2026-10-01"), NOW))
    assert sum(c["totals"]["orders"] for c in calls) == whole["orders"]
    assert sum(amount(c["totals"]["revenue"]) for c in calls) == whole["revenue"]


async def test_a_previous_period_past_the_bound_gives_no_change(
    connect: Connect, sandbox_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = orders(sandbox_app, local("2026-11-20"), NOW)
    assert len(found) < 100  # the period fits in one page; the period before does not
    monkeypatch.setattr(reporting, "ORDER_PAGES", 1)
    async with connect(clock=pinned) as client:
        report = await structured(client, "sales_report", {"since": "2026-11-20", "compare": "previous_period"})
    assert report["complete"] is True
    assert reported(report["totals"]) == totals(found)
    assert report["previous"]["complete"] is False
    # the same length (7 days 15 hours) just before, to the second
    assert (report["previous"]["since"], report["previous"]["until"]) == (
        "2026-11-12T09:00:00+03:00",
        "2026-11-19T23:59:59+03:00",
    )
    assert "change_pct" not in report
    assert all("change_pct" not in g for g in report["groups"])
    assert "no change computed" in report["note"]


async def test_sales_report_refuses_what_it_cannot_read(connect: Connect) -> None:
    async with connect(clock=pinned) as client:
        future = await client.call_tool("sales_report", {"since": "2026-12-01"})
        assert future.is_error
        assert "2026-11-27T15:00:00+03:00" in text(future)
        unreadable = await client.call_tool("sales_report", {"since": "last week"})
        assert unreadable.is_error
        assert "YYYY-MM-DD" in text(unreadable)
        too_many_days = await client.call_tool("sales_report", {"since": "2026-01-01", "group_by": "day"})
        assert too_many_days.is_error
        assert "group by week" in text(too_many_days)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("sales_report", {"since": "2026-11-01", "group_by": "category"}),
        ("restock_report", {}),
        ("list_products", {"stock_below": 5}),
    ],
)
async def test_an_upstream_failure_mid_walk_is_an_error_that_says_what_happened(
    connect: Connect, sandbox_app: Starlette, tool: str, arguments: dict[str, Any]
) -> None:
    async with sandbox_http(sandbox_app) as http:
        for path in ("/v1/orders", "/v1/products"):
            fault = {"path": path, "status": 503, "count": 100}
            assert (await http.post("/_sandbox/faults", json=fault)).status_code == 201
        async with connect(clock=pinned) as client:
            await structured(client, "get_store", {})  # the zone is known: the failure comes mid-walk
            failed = await client.call_tool(tool, arguments)
            assert failed.is_error
            assert "Hajatek API error 503" in text(failed)
            assert (await http.delete("/_sandbox/faults")).status_code == 200
            assert not (await client.call_tool(tool, arguments)).is_error


async def test_get_analytics_says_where_local_periods_are_and_the_instructions_what_revenue_is(
    connect: Connect,
) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        instructions = client.instructions or ""
    description = tools["get_analytics"].description or ""
    assert "UTC midnight" in description
    assert "sales_report" in description
    assert "store-local" in (tools["sales_report"].description or "")
    assert "Revenue: order totals with VAT and shipping, of processing, shipped and delivered orders." in instructions
