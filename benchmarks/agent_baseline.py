"""The agent tasks solved with the 0.1 tools: the baseline of ``agent_tasks``, measured once and recorded.

``python -m benchmarks.agent_baseline`` runs each task of :mod:`benchmarks.merchant_tasks` with the best sequence of
calls a capable agent could make with the twelve tools of 0.1 (no customer search or filter, fixed analytics
periods, one product per update, exports inline) and writes ``benchmarks/results/agent_tasks_baseline.json``. It
runs on the tools of the commit that recorded it (see that file): later tools answer differently, so the full
benchmark reads the recorded figures instead of running this again.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import anyio

from benchmarks.agent_tasks import measure
from benchmarks.agent_world import NOW, RIYADH, Agent, halalas
from benchmarks.merchant_tasks import TASKS, Facts

Solver = Callable[[Agent, Facts], Awaitable[Any]]
PAID = ("processing", "shipped", "delivered")
RESULT = Path(__file__).parent / "results" / "agent_tasks_baseline.json"


def _rows(agent: Agent) -> list[dict[str, str]]:
    """The CSV an export attached, as rows."""
    return list(csv.DictReader(io.StringIO(agent.attachments[0])))


def _local_day(created: str) -> str:
    return datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(RIYADH).strftime("%Y-%m-%d")


async def _all(agent: Agent, tool: str, key: str, **arguments: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        result = await agent.call(tool, page=page, limit=100, **arguments)
        items += result[key]
        if not result["has_more"]:
            return items
        page += 1


async def _find_customer(agent: Agent, name: str) -> dict[str, Any]:
    page = 1
    while True:
        result = await agent.call("list_customers", page=page, limit=100)
        for customer in result["customers"]:
            if customer["name"] == name:
                return dict(customer)
        page += 1


async def _latest_order_of(agent: Agent, customer_id: str) -> dict[str, Any]:
    page = 1
    while True:
        result = await agent.call("list_orders", page=page, limit=100)
        for order in result["orders"]:
            if order["customer_id"] == customer_id:
                return dict(order)
        page += 1


async def week_vs_week(agent: Agent, facts: Facts) -> Any:
    await agent.call("export_orders", since="2026-11-08T00:00:00+03:00", until="2026-11-21T23:59:59+03:00")
    weeks = {"last": {"revenue": 0, "orders": 0}, "before": {"revenue": 0, "orders": 0}}
    for row in _rows(agent):
        week = weeks["last" if _local_day(row["created_at"]) >= "2026-11-15" else "before"]
        week["orders"] += 1
        week["revenue"] += halalas(row["total"]) if row["status"] in PAID else 0
    return weeks


async def late_order(agent: Agent, facts: Facts) -> Any:
    customer = await _find_customer(agent, facts["name"])
    order = await _latest_order_of(agent, customer["id"])
    return {"order_id": order["id"], "status": order["status"]}


async def raise_oud(agent: Agent, facts: Facts) -> Any:
    products = (await agent.call("list_products", search="oud", limit=100))["products"]
    for product in products:
        price = (Decimal(str(product["price"])) * Decimal("1.1")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        await agent.call("update_product", product_id=product["id"], price=str(price))
    return [p["id"] for p in products]


async def restock(agent: Agent, facts: Facts) -> Any:
    products = await _all(agent, "list_products", "products")
    await agent.call("export_orders", since=(NOW - timedelta(days=30)).isoformat())
    sold: Counter[str] = Counter()
    for row in _rows(agent):
        if row["status"] not in ("cancelled", "refunded") and row["products"]:
            for line in row["products"].split(";"):
                quantity, product_id = line.split("x", 1)
                sold[product_id] += int(quantity)
    return {
        p["id"]: sold[p["id"]] - p["stock"]
        for p in products
        if p["status"] == "active" and sold[p["id"]] - p["stock"] > 0
    }


async def low_stock_alerts(agent: Agent, facts: Facts) -> Any:
    events = (await agent.call("list_events", type="inventory.low", since="2026-11-27T00:00:00+03:00"))["events"]
    return sorted(e["data"]["product_id"] for e in events)


async def order_in_arabic(agent: Agent, facts: Facts) -> Any:
    order = await agent.call("get_order", order_id=facts["order_id"])
    lines = []
    for item in order["items"]:
        found = (await agent.call("list_products", search=item["name"], limit=5))["products"]
        name_ar = next((p["name_ar"] for p in found if p["id"] == item["product_id"]), None)
        lines.append([item["product_id"], name_ar, item["quantity"]])
    return lines


async def top_products(agent: Agent, facts: Facts) -> Any:
    prices = {p["id"]: halalas(p["price"]) for p in await _all(agent, "list_products", "products")}
    await agent.call("export_orders", since="2026-10-29T00:00:00+03:00")
    revenue: Counter[str] = Counter()
    for row in _rows(agent):
        if row["status"] in PAID:
            for line in row["products"].split(";"):
                quantity, product_id = line.split("x", 1)
                revenue[product_id] += int(quantity) * prices.get(product_id, 0)
    return [pid for pid, _ in sorted(revenue.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]


async def best_city(agent: Agent, facts: Facts) -> Any:
    # Orders in a listing or an export carry no city: the customer's city stands in for the order's.
    cities = {c["id"]: c["city"] for c in await _all(agent, "list_customers", "customers")}
    await agent.call("export_orders", since="2026-11-01T00:00:00+03:00")
    by_city: Counter[str] = Counter()
    for row in _rows(agent):
        if row["status"] in PAID:
            by_city[cities.get(row["customer_id"], "?")] += halalas(row["total"])
    city, revenue = max(by_city.items(), key=lambda kv: (kv[1], kv[0]))
    return {"city": city, "revenue": revenue}


async def ship_three(agent: Agent, facts: Facts) -> Any:
    for order_id in facts["ids"]:
        await agent.call("update_order_status", order_id=order_id, status="shipped")
    return facts["ids"]


async def top_customers(agent: Agent, facts: Facts) -> Any:
    await agent.call("export_orders", since="2026-08-30T00:00:00+03:00")
    spent: Counter[str] = Counter()
    for row in _rows(agent):
        if row["status"] in PAID:
            spent[row["customer_id"]] += halalas(row["total"])
    return [cid for cid, _ in sorted(spent.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]


async def pending_count(agent: Agent, facts: Facts) -> Any:
    return (await agent.call("list_orders", status="pending", limit=1))["total"]


async def price_and_stock(agent: Agent, facts: Facts) -> Any:
    found = (await agent.call("list_products", search=facts["name"], limit=5))["products"]
    product = next(p for p in found if p["name"] == facts["name"])
    return {"price": halalas(product["price"]), "stock": product["stock"]}


async def cancel_restock(agent: Agent, facts: Facts) -> Any:
    done = await agent.call("update_order_status", order_id=facts["order_id"], status="cancelled")
    returned = {}
    for item in done["result"]["items"]:
        found = (await agent.call("list_products", search=item["name"], limit=5))["products"]
        stock = next(p["stock"] for p in found if p["id"] == item["product_id"])
        returned[item["product_id"]] = {"returned": item["quantity"], "stock": stock}
    return returned


async def customer_spend(agent: Agent, facts: Facts) -> Any:
    customer = await _find_customer(agent, facts["name"])
    order = await _latest_order_of(agent, customer["id"])
    return {"total_spent": halalas(customer["total_spent"]), "last_order": order["id"]}


async def daily_sales(agent: Agent, facts: Facts) -> Any:
    await agent.call("export_orders", since="2026-11-15T00:00:00+03:00", until="2026-11-21T23:59:59+03:00")
    days = {f"2026-11-{15 + n:02d}": 0 for n in range(7)}
    for row in _rows(agent):
        if row["status"] in PAID:
            days[_local_day(row["created_at"])] += halalas(row["total"])
    return days


SOLVERS: dict[str, Solver] = {
    name: fn
    for name, fn in globals().items()
    if name in {t.name for t in TASKS} and callable(fn)  # one solver per task, named after it
}


def main() -> None:
    import subprocess  # noqa: PLC0415

    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    results = anyio.run(measure, SOLVERS)
    RESULT.write_text(json.dumps({"commit": commit, "tasks": results}, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
