"""``GET /analytics/summary``, computed from the orders in the database (docs/api.md, "Analytics").

The period ends at sandbox time and starts at midnight UTC of its first day: ``today`` since midnight, ``7d`` the
six days before today and today, and so on. Orders count by ``created_at``; paid orders are ``processing``,
``shipped`` or ``delivered``; revenue is the sum of their totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from hajatek_mcp.api.models import ORDER_STATUSES, OrderStatus

from .db import Database
from .values import CURRENCY, amount, average, iso

__all__ = ["PAID_STATUSES", "PERIODS", "period_start", "summary"]

PERIODS: Mapping[str, int] = {"today": 0, "7d": 6, "30d": 29, "90d": 89}
#: The statuses whose orders count as paid (revenue, ``paid_orders_count``); docs/api.md, "Analytics".
PAID_STATUSES: tuple[OrderStatus, ...] = ("processing", "shipped", "delivered")
TOP_PRODUCTS = 5


def period_start(now: datetime, period: str) -> datetime:
    """Midnight UTC of the first day of ``period`` ending at ``now``."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=PERIODS[period])


def summary(db: Database, now: datetime, period: str) -> dict[str, Any]:
    start, end = iso(period_start(now, period)), iso(now)
    window = (start, end)
    by_status = dict.fromkeys(ORDER_STATUSES, 0)
    revenue = paid = 0
    for status, total in db.query("SELECT status, total FROM orders WHERE created_at BETWEEN ? AND ?", window):
        by_status[status] += 1
        if status in PAID_STATUSES:
            paid += 1
            revenue += total
    lines = db.query(
        "SELECT i.product_id, i.name, i.quantity, i.price, p.name AS current_name FROM order_items i"
        " JOIN orders o ON o.id = i.order_id LEFT JOIN products p ON p.id = i.product_id"
        " WHERE o.created_at BETWEEN ? AND ? AND o.status IN (?, ?, ?) ORDER BY o.created_at, o.id",
        [*window, *PAID_STATUSES],
    )
    sold: dict[str, list[Any]] = {}
    for line in lines:
        entry = sold.setdefault(line["product_id"], [line["product_id"], "", 0, 0])
        # The current name if the product still exists, else the name on its latest line item.
        entry[1] = line["current_name"] or line["name"]
        entry[2] += line["quantity"]
        entry[3] += line["quantity"] * line["price"]
    ranked = sorted(sold.values(), key=lambda e: (-e[2], -e[3], e[0]))[:TOP_PRODUCTS]
    new_customers = db.query_one("SELECT COUNT(*) FROM customers WHERE created_at BETWEEN ? AND ?", window)
    return {
        "period": period,
        "start": start,
        "end": end,
        "currency": CURRENCY,
        "revenue": amount(revenue),
        "orders_count": sum(by_status.values()),
        "paid_orders_count": paid,
        "average_order_value": average(revenue, paid),
        "orders_by_status": by_status,
        "top_products": [
            {"product_id": pid, "name": name, "quantity": quantity, "revenue": amount(total)}
            for pid, name, quantity, total in ranked
        ],
        "new_customers": int(new_customers[0]) if new_customers is not None else 0,
    }
