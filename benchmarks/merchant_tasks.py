"""The merchant requests of the agent task benchmark, each with its ground truth read straight from the sandbox.

A task is a request in the merchant's words, the facts it depends on (picked from the seeded store, so the request
names a real customer or order), the ground truth computed with SQL over the sandbox's own database (never through
our server), and a check of an answer against it. A solution (``benchmarks/agent_tasks.py``) answers with a plain
dict; for a request that changes the store, the check also reads the database afterwards.

Definitions the truths use, as the tools state them: revenue is the sum of order totals (with VAT and shipping) of
orders in processing, shipped or delivered, created in the period; a product's revenue is its lines' quantity ×
price in those orders; periods are calendar days in the store's time zone (Asia/Riyadh, +03:00), and a Saudi week
starts on Sunday. Amounts are compared in halalas, exactly.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from benchmarks.agent_world import NOW, World, iso, local_midnight

__all__ = ["TASKS", "Task"]

PAID = ("processing", "shipped", "delivered")
Facts = dict[str, Any]


@dataclass(frozen=True)
class Task:
    name: str
    request: str
    """The merchant's words; ``{placeholders}`` are filled from the facts."""
    truth: Callable[[World, Facts], Any]
    check: Callable[[Any, Any, World], list[str]]
    facts: Callable[[World], Awaitable[Facts]] | None = None

    def words(self, facts: Facts) -> str:
        return self.request.format(**facts)


def _same(what: str, answer: Any, truth: Any) -> list[str]:
    return [] if answer == truth else [f"{what}: answered {answer!r}, truth {truth!r}"]


def _equal(answer: Any, truth: Any, world: World) -> list[str]:
    return _same("answer", answer, truth)


def _window(since: str, until: str | None) -> tuple[str, str]:
    """Local days ``since`` .. ``until`` (inclusive; None: until now) as created_at bounds [start, end)."""
    end = local_midnight(until) + timedelta(days=1) if until else NOW + timedelta(seconds=1)
    return iso(local_midnight(since)), iso(end)


def _revenue(world: World, start: str, end: str) -> dict[str, int]:
    rows = world.query("SELECT status, total FROM orders WHERE created_at >= ? AND created_at < ?", (start, end))
    return {"revenue": sum(r["total"] for r in rows if r["status"] in PAID), "orders": len(rows)}


# --- 1. How did last week go against the week before? ---------------------------------------------------------------


def _weeks(world: World, facts: Facts) -> Any:
    return {
        "last": _revenue(world, *_window("2026-11-15", "2026-11-21")),
        "before": _revenue(world, *_window("2026-11-08", "2026-11-14")),
    }


# --- 2. Noura says her last order hasn't arrived -------------------------------------------------------------------


async def _noura(world: World) -> Facts:
    rows = world.query(
        "SELECT c.id, c.name, o.id AS order_id, o.status FROM customers c JOIN orders o ON o.customer_id = c.id"
        " WHERE c.name LIKE 'Noura %' ORDER BY c.id, o.created_at DESC, o.id DESC"
    )
    latest: dict[str, Any] = {}
    for row in rows:
        latest.setdefault(row["id"], row)
    names = Counter(row["name"] for row in latest.values())
    shipped = [row for row in latest.values() if row["status"] == "shipped" and names[row["name"]] == 1]
    pick = (shipped or [row for row in latest.values() if names[row["name"]] == 1])[0]
    return {"name": pick["name"], "customer_id": pick["id"]}


def _latest_order(world: World, facts: Facts) -> Any:
    row = world.query(
        "SELECT id, status FROM orders WHERE customer_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
        (facts["customer_id"],),
    )[0]
    return {"order_id": row["id"], "status": row["status"]}


# --- 3. Raise every oud perfume by 10% --------------------------------------------------------------------------------


def _oud_prices(world: World, facts: Facts) -> Any:
    raised = {}
    for row in world.query("SELECT id, name, price FROM products"):
        if "oud" in row["name"].casefold():
            raised[row["id"]] = int((Decimal(row["price"]) * Decimal("1.1")).quantize(Decimal(1), ROUND_HALF_UP))
    others = {r["id"]: r["price"] for r in world.query("SELECT id, price FROM products") if r["id"] not in raised}
    return {"raised": raised, "others": others}


def _check_prices(answer: Any, truth: Any, world: World) -> list[str]:
    now = {r["id"]: r["price"] for r in world.query("SELECT id, price FROM products")}
    problems = [f"{pid}: price {now[pid]} != {want}" for pid, want in truth["raised"].items() if now[pid] != want]
    problems += [f"{pid} changed, it is no oud" for pid, was in truth["others"].items() if now[pid] != was]
    return problems + _same("products raised", sorted(answer or []), sorted(truth["raised"]))


# --- 4. Which products are about to run out, and how many to reorder? ---------------------------------------------

RESTOCK_DAYS = 30


def _restock(world: World, facts: Facts) -> Any:
    """Units sold over the last 30 days (orders neither cancelled nor refunded, pending included: it took its
    stock); the units to order so that stock covers 30 more days at that rate. Archived products are left out."""
    start, end = iso(NOW - timedelta(days=RESTOCK_DAYS)), iso(NOW + timedelta(seconds=1))
    sold: Counter[str] = Counter()
    for row in world.query(
        "SELECT i.product_id, i.quantity FROM order_items i JOIN orders o ON o.id = i.order_id"
        " WHERE o.created_at >= ? AND o.created_at < ? AND o.status NOT IN ('cancelled', 'refunded')",
        (start, end),
    ):
        sold[row["product_id"]] += row["quantity"]
    reorder = {}
    for row in world.query("SELECT id, stock FROM products WHERE status != 'archived'"):
        need = math.ceil(sold[row["id"]] / RESTOCK_DAYS * RESTOCK_DAYS) - row["stock"]
        if need > 0:
            reorder[row["id"]] = need
    return reorder


# --- 5. Any low-stock alerts today? ---------------------------------------------------------------------------------


async def _run_low(world: World) -> Facts:
    """Two customers' orders take two products below the low-stock level (5): Hajatek sends inventory.low."""
    rows = world.query(
        "SELECT id, stock FROM products WHERE status = 'active' AND stock BETWEEN 8 AND 40 ORDER BY id LIMIT 2"
    )
    for n, row in enumerate(rows):
        world.sandbox.store.place_order(f"cus_{n + 1:04d}", [(row["id"], row["stock"] - 2)])
    await world.settle()
    return {}


def _low_alerts(world: World, facts: Facts) -> Any:
    today = iso(local_midnight("2026-11-27"))
    rows = world.query("SELECT body FROM events WHERE type = 'inventory.low' AND created_at >= ?", (today,))
    return sorted(json.loads(r["body"])["data"]["product_id"] for r in rows)


# --- 6. Show an order with the Arabic product names ------------------------------------------------------------------


async def _an_order(world: World) -> Facts:
    row = world.query(
        "SELECT o.id FROM orders o WHERE (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id) >= 3"
        " ORDER BY o.created_at DESC LIMIT 1"
    )[0]
    return {"order_id": row["id"]}


def _arabic_lines(world: World, facts: Facts) -> Any:
    rows = world.query(
        "SELECT i.product_id, p.name_ar, i.quantity FROM order_items i JOIN products p ON p.id = i.product_id"
        " WHERE i.order_id = ? ORDER BY i.position",
        (facts["order_id"],),
    )
    return [[r["product_id"], r["name_ar"], r["quantity"]] for r in rows]


# --- 7. Five best sellers by revenue over the last 30 days ----------------------------------------------------------


def _top_products(world: World, facts: Facts) -> Any:
    start, end = _window("2026-10-29", None)
    revenue: Counter[str] = Counter()
    for row in world.query(
        "SELECT i.product_id, i.quantity * i.price AS amount FROM order_items i JOIN orders o ON o.id = i.order_id"
        " WHERE o.created_at >= ? AND o.created_at < ? AND o.status IN (?, ?, ?)",
        (start, end, *PAID),
    ):
        revenue[row["product_id"]] += row["amount"]
    return [pid for pid, _ in sorted(revenue.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]


# --- 8. Which city brought the most revenue this month? ------------------------------------------------------------


def _best_city(world: World, facts: Facts) -> Any:
    start, end = _window("2026-11-01", None)
    by_city: Counter[str] = Counter()
    for row in world.query(
        "SELECT city, total FROM orders WHERE created_at >= ? AND created_at < ? AND status IN (?, ?, ?)",
        (start, end, *PAID),
    ):
        by_city[row["city"]] += row["total"]
    city, revenue = max(by_city.items(), key=lambda kv: (kv[1], kv[0]))
    return {"city": city, "revenue": revenue}


# --- 9. Mark three orders as shipped -------------------------------------------------------------------------------


async def _three_processing(world: World) -> Facts:
    rows = world.query("SELECT id FROM orders WHERE status = 'processing' ORDER BY created_at, id LIMIT 3")
    ids = [r["id"] for r in rows]
    return {"ids": ids, "a": ids[0], "b": ids[1], "c": ids[2]}


def _shipped(world: World, facts: Facts) -> Any:
    return facts["ids"]


def _check_shipped(answer: Any, truth: Any, world: World) -> list[str]:
    marks = ", ".join("?" * len(truth))
    rows = world.query(f"SELECT id, status FROM orders WHERE id IN ({marks})", truth)
    problems = [f"{r['id']} is {r['status']}" for r in rows if r["status"] != "shipped"]
    return problems + _same("orders shipped", sorted(answer or []), sorted(truth))


# --- 10. Top three customers by spend over the last 90 days ---------------------------------------------------------


def _top_customers(world: World, facts: Facts) -> Any:
    start, end = _window("2026-08-30", None)
    spent: Counter[str] = Counter()
    for row in world.query(
        "SELECT customer_id, total FROM orders WHERE created_at >= ? AND created_at < ? AND status IN (?, ?, ?)",
        (start, end, *PAID),
    ):
        spent[row["customer_id"]] += row["total"]
    return [cid for cid, _ in sorted(spent.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]


# --- 11. How many orders wait to be processed? ----------------------------------------------------------------------


def _pending(world: World, facts: Facts) -> Any:
    return world.query("SELECT COUNT(*) AS n FROM orders WHERE status = 'pending'")[0]["n"]


# --- 12. Price and stock of a product, by name -----------------------------------------------------------------------


async def _a_product(world: World) -> Facts:
    row = world.query("SELECT name FROM products WHERE category = 'dates-coffee' ORDER BY id LIMIT 1 OFFSET 5")[0]
    return {"name": row["name"]}


def _price_stock(world: World, facts: Facts) -> Any:
    row = world.query("SELECT price, stock FROM products WHERE name = ?", (facts["name"],))[0]
    return {"price": row["price"], "stock": row["stock"]}


# --- 13. Cancel an order: what went back to stock? ------------------------------------------------------------------


async def _a_pending_order(world: World) -> Facts:
    row = world.query(
        "SELECT o.id FROM orders o WHERE o.status = 'pending'"
        " ORDER BY (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id) DESC, o.id LIMIT 1"
    )[0]
    return {"order_id": row["id"]}


def _returned(world: World, facts: Facts) -> Any:
    rows = world.query(
        "SELECT i.product_id, i.quantity, p.stock FROM order_items i JOIN products p ON p.id = i.product_id"
        " WHERE i.order_id = ?",
        (facts["order_id"],),
    )
    return {r["product_id"]: {"returned": r["quantity"], "stock": r["stock"] + r["quantity"]} for r in rows}


def _check_returned(answer: Any, truth: Any, world: World) -> list[str]:
    status = world.query("SELECT status FROM orders WHERE id = ?", (world.facts["order_id"],))[0]["status"]
    return _same("status", status, "cancelled") + _same("returned to stock", answer, truth)


# --- 14. How much has a customer spent, and when did they last order? ----------------------------------------------


async def _a_regular(world: World) -> Facts:
    rows = world.query(
        "SELECT c.id, c.name FROM customers c WHERE (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id) >= 5"
        " AND (SELECT COUNT(*) FROM customers d WHERE d.name = c.name) = 1 ORDER BY c.id LIMIT 1 OFFSET 3"
    )
    return {"name": rows[0]["name"], "customer_id": rows[0]["id"]}


def _spend(world: World, facts: Facts) -> Any:
    rows = world.query(
        "SELECT id, status, total FROM orders WHERE customer_id = ? ORDER BY created_at DESC, id DESC",
        (facts["customer_id"],),
    )
    spent = sum(r["total"] for r in rows if r["status"] not in ("cancelled", "refunded"))
    return {"total_spent": spent, "last_order": rows[0]["id"]}


# --- 15. Sales by day last week ---------------------------------------------------------------------------------------


def _daily(world: World, facts: Facts) -> Any:
    days = {}
    for n in range(7):
        day = f"2026-11-{15 + n:02d}"
        days[day] = _revenue(world, *_window(day, day))["revenue"]
    return days


TASKS: tuple[Task, ...] = (
    Task("week_vs_week", "How did last week go compared with the week before?", _weeks, _equal),
    Task("late_order", "{name} says her last order hasn't arrived. What's going on?", _latest_order, _equal, _noura),
    Task("raise_oud", "Raise the price of every oud perfume by 10%.", _oud_prices, _check_prices),
    Task("restock", "Which products are about to run out, and how many should I reorder?", _restock, _equal),
    Task("low_stock_alerts", "Did we get any low-stock alerts today?", _low_alerts, _equal, _run_low),
    Task(
        "order_in_arabic",
        "Show me order {order_id} with the product names in Arabic.",
        _arabic_lines,
        _equal,
        _an_order,
    ),
    Task("top_products", "What were my five best sellers by revenue over the last 30 days?", _top_products, _equal),
    Task("best_city", "Which city brought in the most revenue this month?", _best_city, _equal),
    Task("ship_three", "Mark orders {a}, {b} and {c} as shipped.", _shipped, _check_shipped, _three_processing),
    Task("top_customers", "Who were my top three customers by spend over the last 90 days?", _top_customers, _equal),
    Task("pending_count", "How many orders are waiting for me to process?", _pending, _equal),
    Task(
        "price_and_stock", "What's the price of the {name}, and how many do we have?", _price_stock, _equal, _a_product
    ),
    Task(
        "cancel_restock",
        "Cancel order {order_id}, the customer changed her mind. What went back into stock?",
        _returned,
        _check_returned,
        _a_pending_order,
    ),
    Task(
        "customer_spend",
        "How much has {name} spent with us, and what was their last order?",
        _spend,
        _equal,
        _a_regular,
    ),
    Task("daily_sales", "Show me sales by day for last week.", _daily, _equal),
)
