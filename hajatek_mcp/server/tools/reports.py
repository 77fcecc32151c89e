"""Reports the API has no endpoint for: sales over a store-local period (:mod:`hajatek_mcp.server.reporting`) and
what to restock, both read within a fixed bound of requests and honest when it stopped them.

restock_report reads at most :data:`~hajatek_mcp.server.reporting.CATALOG_PAGES` catalog pages (2,000 products)
and :data:`~hajatek_mcp.server.reporting.ORDER_PAGES` order pages (5,000 orders) per call.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Annotated, Literal

from mcp.server.mcpserver import Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.api import HajatekClient, Product
from hajatek_mcp.server import reporting
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.localtime import ZONES, LocalBound, local_iso, parse_bound
from hajatek_mcp.server.reporting import Compare, GroupBy, SalesQuery, SalesReport, build_sales_report
from hajatek_mcp.server.resources import LOW_STOCK
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.params import Category
from hajatek_mcp.server.views import View
from hajatek_mcp.server.walks import PAGE, Span, orders_in_window, products_upto

__all__ = ["RestockReport", "restock_report", "sales_report"]

#: Orders whose units count as sold: every one not cancelled or refunded (a pending order has taken its stock).
SOLD = frozenset({"pending", "processing", "shipped", "delivered"})
SOLD_IS = "units in orders not cancelled or refunded (pending included: their stock is taken)"
Top = Annotated[int, Field(ge=1, le=50, description="ranked groups listed")]
Until = Annotated[str | None, Field(max_length=40, description="as since, inclusive; default now")]


def _now(shop: Shop) -> datetime:
    """The time now, whole seconds (the server's clock: the store's time, read in its zone)."""
    return datetime.fromtimestamp(shop.options.clock(), UTC).replace(microsecond=0)


@upstream
async def sales_report(
    shop: Annotated[Shop, Resolve(current_shop)],
    *,
    since: LocalBound,
    until: Until = None,
    group_by: GroupBy = "day",
    compare: Annotated[
        Compare | None, Field(description="previous_period: same length just before; previous_week: 7 days earlier")
    ] = None,
    top: Top = 10,
) -> Annotated[CallToolResult, SalesReport]:
    """Sales by store-local day: revenue, orders, units, cancellations, refunds; grouped (weeks start Sunday),
    optionally compared; until inclusive."""
    zone = await ZONES.get(shop.client)
    now = _now(shop)
    try:
        start = parse_bound(since, zone.tz, end=False).astimezone(UTC)
        end = min(parse_bound(until, zone.tz, end=True).astimezone(UTC), now) if until else now
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    except OverflowError:
        raise ToolError("since or until is out of range: give times of this century.") from None
    if start > end:
        later = "until" if until and end < now else f"now ({local_iso(now, zone.tz)})"
        raise ToolError(f"since ({local_iso(start, zone.tz)}) is after {later}: nothing to report.")
    report = await build_sales_report(shop.client, zone, SalesQuery(Span(start, end), group_by, compare, top))
    return shop.result(report, zone.note)


class RestockRow(View):
    id: str
    name: str
    stock: int
    sold: int
    per_day: float
    cover_days: float | None = Field(default=None, description="stock / per_day; none when nothing sold")
    reorder: int | None = Field(default=None, description="units to reach target_days of cover")
    why: Literal["out", "low", "cover"] = Field(description="out of stock, below low_stock, or cover < target_days")


class RestockReport(View):
    since: str = Field(description="sales counted from (UTC)")
    until: str
    sold_is: str
    target_days: int
    low_stock: int
    products: list[RestockRow] = Field(description="most urgent first")
    more: int = Field(description="further products needing action, not listed")
    checked: int = Field(description="products checked (archived ones skipped)")
    complete: bool
    note: str | None = None


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def restock(
    client: HajatekClient,
    now: datetime,
    *,
    days: int,
    target_days: int,
    low_stock: int,
    category: str | None,
    limit: int,
) -> RestockReport:
    """The restock report; bounds read from :mod:`~hajatek_mcp.server.reporting` at call time."""
    catalog = await products_upto(client, category=category, max_requests=reporting.CATALOG_PAGES)
    since = now - timedelta(days=days)
    walk = await orders_in_window(client, since=since, until=now, max_requests=reporting.ORDER_PAGES)
    sold: Counter[str] = Counter()
    for order in walk.orders:
        if order.status in SOLD:
            for item in order.items:
                sold[item.product_id] += item.quantity
    counted_from = since if walk.complete else (walk.resume_until or now)
    span = Fraction(round((now - counted_from).total_seconds()), 86400)
    checked = [p for p in catalog.products if p.status != "archived" and p.stock is not None]
    rows = [r for p in checked if (r := _row(p, sold[p.id], span, target_days, low_stock)) is not None]
    rows.sort(key=lambda r: (r.stock > 0, math.inf if r.cover_days is None else r.cover_days, -r.sold, r.stock, r.id))
    notes = []
    if not catalog.complete:
        notes.append(
            f"Checked the newest {len(catalog.products):,} of {catalog.total or 'more'} products (the bound is "
            f"{reporting.CATALOG_PAGES * PAGE:,}): pass category= to check the others one category at a time."
        )
    if not walk.complete:
        notes.append(
            f"Sales counted from {_utc(counted_from)} only (the window holds more than "
            f"{reporting.ORDER_PAGES * PAGE:,} orders): rates are per day of that span; try fewer days."
        )
    return RestockReport(
        since=_utc(counted_from),
        until=_utc(now),
        sold_is=SOLD_IS,
        target_days=target_days,
        low_stock=low_stock,
        products=rows[:limit],
        more=max(0, len(rows) - limit),
        checked=len(checked),
        complete=catalog.complete and walk.complete,
        note=" ".join(notes) or None,
    )


def _row(product: Product, sold: int, span: Fraction, target: int, low: int) -> RestockRow | None:
    """The product's row when it needs action, else None."""
    stock = product.stock or 0
    per_day = Fraction(sold) / span if span else Fraction(0)
    cover = Fraction(stock) / per_day if per_day else None
    if stock == 0:
        why: Literal["out", "low", "cover"] = "out"
    elif stock < low:
        why = "low"
    elif cover is not None and cover < target:
        why = "cover"
    else:
        return None
    return RestockRow(
        id=product.id,
        name=product.name,
        stock=stock,
        sold=sold,
        per_day=round(float(per_day), 2),
        cover_days=None if cover is None else round(float(cover), 1),
        reorder=max(0, math.ceil(per_day * target - stock)) if per_day else None,
        why=why,
    )


@upstream
async def restock_report(
    shop: Annotated[Shop, Resolve(current_shop)],
    *,
    days: Annotated[int, Field(ge=1, le=90, description="sales window")] = 30,
    target_days: Annotated[int | None, Field(ge=1, le=365, description="cover wanted; default days")] = None,
    low_stock: Annotated[int, Field(ge=0, le=10_000)] = LOW_STOCK,
    category: Category | None = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> Annotated[CallToolResult, RestockReport]:
    """What to reorder, most urgent first: out of stock, under low_stock, or under target_days of cover at the recent
    pace."""
    report = await restock(
        shop.client,
        _now(shop),
        days=days,
        target_days=days if target_days is None else target_days,
        low_stock=low_stock,
        category=category,
        limit=limit,
    )
    return shop.result(report)
