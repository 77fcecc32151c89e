"""sales_report's figures: the orders of a store-local period, read within a bound, totalled and grouped.

Revenue is :data:`REVENUE_IS`, as Hajatek's analytics counts it. A period is read newest first with
:func:`~hajatek_mcp.server.walks.orders_in_window`: at most :data:`ORDER_PAGES` pages of 100 orders per call, the
comparison window included, plus the few requests that find where a window starts (about log₂ of the listing's
pages: 11 for 200,000 orders); category groups read at most :data:`CATALOG_PAGES` pages of the catalog. A period the
bound cannot cover is reported for the part it covered, newest first, with ``resume_until`` to go on from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from hajatek_mcp.api import HajatekClient, Order
from hajatek_mcp.server.localtime import WEEK_STARTS, StoreZone, day_of, local_iso, week_of
from hajatek_mcp.server.views import Money, View
from hajatek_mcp.server.walks import PAGE, Coverage, Span, orders_in_spans, products_upto

__all__ = [
    "CATALOG_PAGES",
    "ORDER_PAGES",
    "PAID",
    "REVENUE_IS",
    "Compare",
    "GroupBy",
    "SalesReport",
    "build_sales_report",
    "percent",
]

#: Order pages (100 orders each) one call reads at most, the comparison window included.
ORDER_PAGES = 50
#: Catalog pages (100 products each) read at most to know each product's category.
CATALOG_PAGES = 20
#: Day or week rows one report lists at most (92 days: "the last 90 days" and a quarter; about 6 KB).
MAX_TIME_GROUPS = 92
#: The statuses of paid orders: their totals are revenue.
PAID = frozenset({"processing", "shipped", "delivered"})
REVENUE_IS = (
    "sum of order totals (with VAT and shipping) of orders in processing, shipped or delivered, created in the period"
)
SALES_IS = "price × quantity of the group's lines in paid orders, before shipping and VAT"
GroupBy = Literal["day", "week", "product", "category", "customer", "city"]
Compare = Literal["previous_period", "previous_week"]
_CENT = Decimal("0.01")
_TICK = timedelta(microseconds=1)  # the ends of a span are inclusive


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def percent(now: Decimal | int, before: Decimal | int) -> float | None:
    """The change from ``before`` to ``now`` in percent, one decimal; None when ``before`` is zero."""
    if not before:
        return None
    change = (Decimal(now) - Decimal(before)) * 100 / Decimal(before)
    return float(change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class Totals(View):
    revenue: Money
    orders: int = Field(description="any status")
    paid_orders: int
    units: int = Field(description="in paid orders")
    average_order_value: Money
    cancelled: int
    cancelled_amount: Money
    refunded: int
    refunded_amount: Money

    @classmethod
    def of(cls, orders: Iterable[Order]) -> Totals:
        revenue, cancelled, refunded = Decimal(0), Decimal(0), Decimal(0)
        count = paid = units = n_cancelled = n_refunded = 0
        for order in orders:
            count += 1
            if order.status in PAID:
                paid += 1
                revenue += order.total
                units += sum(i.quantity for i in order.items)
            elif order.status == "cancelled":
                n_cancelled += 1
                cancelled += order.total
            elif order.status == "refunded":
                n_refunded += 1
                refunded += order.total
        return cls(
            revenue=_money(revenue),
            orders=count,
            paid_orders=paid,
            units=units,
            average_order_value=_money(revenue / paid) if paid else Decimal("0.00"),
            cancelled=n_cancelled,
            cancelled_amount=_money(cancelled),
            refunded=n_refunded,
            refunded_amount=_money(refunded),
        )

    def change(self, before: Totals) -> dict[str, float]:
        """Percent change of each figure that had one before."""
        pairs: dict[str, tuple[Decimal | int, Decimal | int]] = {
            "revenue": (self.revenue, before.revenue),
            "orders": (self.orders, before.orders),
            "paid_orders": (self.paid_orders, before.paid_orders),
            "units": (self.units, before.units),
            "average_order_value": (self.average_order_value, before.average_order_value),
        }
        changes = {name: percent(now, then) for name, (now, then) in pairs.items()}
        return {name: value for name, value in changes.items() if value is not None}


class Previous(View):
    since: str
    until: str
    complete: bool
    totals: Totals


class Group(View):
    key: str = Field(description="day, week, id, slug or city")
    name: str | None = None
    revenue: Money | None = None
    sales: Money | None = Field(default=None, description="product and category groups: see sales_is")
    paid_orders: int
    units: int
    change_pct: float | None = Field(default=None, description="of revenue or sales vs previous")


class Rest(View):
    groups: int = Field(description="groups not listed")
    revenue: Money | None = None
    sales: Money | None = None
    units: int


class SalesReport(View):
    timezone: str
    since: str = Field(description="store-local")
    until: str = Field(description="store-local, inclusive")
    currency: str = "SAR"
    revenue_is: str
    totals: Totals
    previous: Previous | None = None
    change_pct: dict[str, float] | None = Field(default=None, description="totals against previous")
    group_by: str
    week_starts: str | None = None
    sales_is: str | None = None
    groups: list[Group]
    rest: Rest | None = None
    unknown_products: int | None = Field(default=None, description="sold products not found in the catalog")
    complete: bool
    resume_until: str | None = Field(default=None, description="when not complete: pass as until to go on")
    note: str | None = None


@dataclass
class _Bucket:
    amount: Decimal = Decimal(0)
    paid_orders: int = 0
    units: int = 0
    name: str | None = None
    products: set[str] = field(default_factory=set)


class _Grouper:
    """Puts paid orders (or their lines) in groups; previous-period orders are shifted onto the current period."""

    def __init__(self, group_by: GroupBy, tz: tzinfo, categories: dict[str, str]) -> None:
        self.group_by, self.tz, self.categories = group_by, tz, categories

    def time_key(self, moment: datetime) -> str:
        return _time_key(day_of(moment, self.tz), self.group_by)

    def add(self, buckets: dict[str, _Bucket], orders: Iterable[Order], shift: timedelta = timedelta(0)) -> None:
        for order in orders:
            if order.status not in PAID or order.created_at is None:
                continue
            if self.group_by in ("product", "category"):
                self._add_lines(buckets, order)
                continue
            key, name = self._order_key(order, order.created_at + shift)
            bucket = buckets.setdefault(key, _Bucket(name=name))
            bucket.amount += order.total
            bucket.paid_orders += 1
            bucket.units += sum(i.quantity for i in order.items)

    def _order_key(self, order: Order, moment: datetime) -> tuple[str, str | None]:
        if self.group_by == "customer":
            return order.customer_id or "unknown", order.customer_name
        if self.group_by == "city":
            city = (order.shipping_address or {}).get("city")
            return (city.strip() if isinstance(city, str) and city.strip() else "unknown"), None
        return self.time_key(moment), None

    def _add_lines(self, buckets: dict[str, _Bucket], order: Order) -> None:
        counted: set[str] = set()
        for item in order.items:
            if self.group_by == "product":
                key, name = item.product_id, item.name
            else:
                key, name = self.categories.get(item.product_id, "unknown"), None
            bucket = buckets.setdefault(key, _Bucket(name=name))
            bucket.amount += item.price * item.quantity
            bucket.units += item.quantity
            bucket.products.add(item.product_id)
            if key not in counted:
                bucket.paid_orders += 1
                counted.add(key)


def _time_key(day: date, group_by: str) -> str:
    if group_by == "week":
        start = week_of(day)
        return f"{start.isoformat()}/{(start + timedelta(days=6)).isoformat()}"
    return day.isoformat()


def time_keys(span: Span, group_by: str, tz: tzinfo) -> list[str]:
    """Every day or week key of ``span``, in order."""
    first, last = day_of(span.since, tz), day_of(span.until, tz)
    step = timedelta(days=7 if group_by == "week" else 1)
    if group_by == "week":
        first = week_of(first)
    keys = []
    while first <= last:
        keys.append(_time_key(first, group_by))
        first += step
    return keys


def _count_keys(span: Span, group_by: str, tz: tzinfo) -> int:
    first, last = day_of(span.since, tz), day_of(span.until, tz)
    if group_by == "week":
        return (week_of(last) - week_of(first)).days // 7 + 1
    return (last - first).days + 1


def previous_span(current: Span, compare: Compare, tz: tzinfo) -> Span:
    """The span ``compare`` names: the same length just before, or the same local hours seven days earlier."""
    if compare == "previous_period":
        # In whole seconds: a period ending at a day's last instant or at a whole second ("now") has the length one
        # would say ("7 days", "3 days 15 hours"), and so the previous one starts at a round time.
        length = timedelta(seconds=round((current.until + _TICK - current.since).total_seconds()))
        return Span(current.since - length, current.since - _TICK)
    week = timedelta(days=7)  # wall-clock arithmetic in the store's zone: the same local hours
    return Span(current.since.astimezone(tz) - week, current.until.astimezone(tz) - week)


@dataclass
class SalesQuery:
    """What sales_report was asked: the parsed period and the options."""

    span: Span
    group_by: GroupBy
    compare: Compare | None
    top: int


async def build_sales_report(
    client: HajatekClient, zone: StoreZone, query: SalesQuery, *, max_pages: int | None = None
) -> SalesReport:
    """The report of ``query`` in ``zone``, reading at most ``max_pages`` (default :data:`ORDER_PAGES`) pages."""
    tz, span, group_by = zone.tz, query.span, query.group_by
    timed = group_by in ("day", "week")
    if timed and _count_keys(span, group_by, tz) > MAX_TIME_GROUPS:
        advice = "group by week, or shorten it" if group_by == "day" else "shorten it"
        raise ToolError(f"The period has more than {MAX_TIME_GROUPS} {group_by}s: {advice}.")
    pages = ORDER_PAGES if max_pages is None else max_pages
    try:
        previous = previous_span(span, query.compare, tz) if query.compare else None
    except OverflowError:
        raise ToolError("There is no period before this one to compare with: it starts too early.") from None
    now, before = await orders_in_spans(client, span, previous, pages)
    if not now.complete:
        before = None  # a comparison with part of a period would mislead
    notes: list[str] = []
    grouper = _Grouper(group_by, tz, await _categories(client, notes) if group_by == "category" else {})
    buckets: dict[str, _Bucket] = {}
    grouper.add(buckets, now.orders)
    lines = group_by in ("product", "category")
    report = SalesReport(
        timezone=zone.name,
        since=local_iso(span.since, tz),
        until=local_iso(span.until, tz),
        revenue_is=REVENUE_IS,
        totals=Totals.of(now.orders),
        group_by=group_by,
        week_starts=WEEK_STARTS if group_by == "week" else None,
        sales_is=SALES_IS if lines else None,
        groups=[],
        complete=now.complete,
    )
    if now.resume_until is not None:
        report.resume_until = local_iso(now.resume_until, tz)
        notes.append(
            f"Partial: one call reads at most {pages * PAGE:,} orders; these figures are for orders after "
            f"{report.resume_until}. For the rest call again with until={report.resume_until}, or ask for a shorter "
            "period."
        )
    earlier = _compare(report, previous, before, grouper, notes, shift=span.since - (previous or span).since)
    keys = time_keys(Span(now.resume_until or span.since, span.until), group_by, tz) if timed else None
    report.groups, report.rest = _rows(buckets, earlier, keys, query.top, lines=lines)
    if group_by == "category" and "unknown" in buckets:
        report.unknown_products = len(buckets["unknown"].products)
    report.note = " ".join(notes) or None
    return report


async def _categories(client: HajatekClient, notes: list[str]) -> dict[str, str]:
    """Each product's category, from the catalog as far as its bound."""
    catalog = await products_upto(client, max_requests=CATALOG_PAGES)
    if not catalog.complete:
        notes.append(f"Categories come from the newest {len(catalog.products):,} products; older ones are unknown.")
    return {p.id: p.category or "unknown" for p in catalog.products}


def _compare(
    report: SalesReport,
    previous: Span | None,
    before: Coverage | None,
    grouper: _Grouper,
    notes: list[str],
    *,
    shift: timedelta,
) -> dict[str, _Bucket] | None:
    """Fill in the previous period and the changes; the previous period's groups, when it was read whole."""
    if previous is None:
        return None
    if before is None:
        notes.append("No comparison: the period alone takes more than one call.")
        return None
    tz = grouper.tz
    report.previous = Previous(
        since=local_iso(previous.since, tz),
        until=local_iso(previous.until, tz),
        complete=before.complete,
        totals=Totals.of(before.orders),
    )
    if not before.complete:
        notes.append("The previous period did not fit in this call's bound: no change computed; shorten the period.")
        return None
    report.change_pct = report.totals.change(report.previous.totals)
    earlier: dict[str, _Bucket] = {}
    grouper.add(earlier, before.orders, shift=shift)
    return earlier


def _rows(
    buckets: dict[str, _Bucket], earlier: dict[str, _Bucket] | None, keys: list[str] | None, top: int, *, lines: bool
) -> tuple[list[Group], Rest | None]:
    """Day and week rows in order, every one of them; other groups ranked by amount, the first ``top`` and the rest."""

    def row(key: str, bucket: _Bucket) -> Group:
        change = percent(bucket.amount, earlier.get(key, _Bucket()).amount) if earlier is not None else None
        amount = _money(bucket.amount)
        return Group(
            key=key,
            name=bucket.name,
            revenue=None if lines else amount,
            sales=amount if lines else None,
            paid_orders=bucket.paid_orders,
            units=bucket.units,
            change_pct=change,
        )

    if keys is not None:
        return [row(key, buckets.get(key, _Bucket())) for key in keys], None
    ranked = sorted(buckets.items(), key=lambda kv: (-kv[1].amount, -kv[1].units, kv[0]))
    shown, hidden = ranked[:top], ranked[top:]
    rest = None
    if hidden:
        amount = _money(sum((b.amount for _, b in hidden), Decimal(0)))
        rest = Rest(
            groups=len(hidden),
            revenue=None if lines else amount,
            sales=amount if lines else None,
            units=sum(b.units for _, b in hidden),
        )
    return [row(key, bucket) for key, bucket in shown], rest
