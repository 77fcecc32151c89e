"""The reference solutions of the agent tasks: the calls a capable agent makes from the tool descriptions alone.

Each takes the agent and the facts the request names (a customer's name, an order id) and answers with what the
merchant is told, as a plain dict the task checks. Nothing here reads the sandbox: only tool results.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.agent_world import Agent, halalas

__all__ = ["SOLUTIONS"]

Facts = dict[str, Any]
Solver = Callable[[Agent, Facts], Awaitable[Any]]


async def week_vs_week(agent: Agent, facts: Facts) -> Any:
    report = await agent.call(
        "sales_report", since="2026-11-15", until="2026-11-21", group_by="week", compare="previous_period"
    )
    now, before = report["totals"], report["previous"]["totals"]
    return {
        "last": {"revenue": halalas(now["revenue"]), "orders": now["orders"]},
        "before": {"revenue": halalas(before["revenue"]), "orders": before["orders"]},
    }


async def late_order(agent: Agent, facts: Facts) -> Any:
    found = (await agent.call("list_customers", search=facts["name"]))["customers"]
    customer = await agent.call("get_customer", customer_id=found[0]["id"])
    latest = customer["recent_orders"][0]
    return {"order_id": latest["id"], "status": latest["status"]}


async def _confirmed(agent: Agent, tool: str, **arguments: Any) -> dict[str, Any]:
    """A bulk change: its preview (shown to the merchant), then the same call with its token; the host asks them."""
    preview = await agent.call(tool, **arguments)
    return await agent.call(tool, **arguments, confirm_token=preview["confirm_token"])


async def raise_oud(agent: Agent, facts: Facts) -> Any:
    return (await _confirmed(agent, "bulk_update_products", search="oud", price_percent=10))["applied"]


async def restock(agent: Agent, facts: Facts) -> Any:
    report = await agent.call("restock_report", days=30, limit=100)
    return {row["id"]: row["reorder"] for row in report["products"] if row.get("reorder")}


async def low_stock_alerts(agent: Agent, facts: Facts) -> Any:
    events = (await agent.call("list_events", type="inventory.low", since="2026-11-27T00:00:00+03:00"))["events"]
    return sorted(e["data"]["product_id"] for e in events)


async def order_in_arabic(agent: Agent, facts: Facts) -> Any:
    order = await agent.call("get_order", order_id=facts["order_id"])
    return [[item["product_id"], item.get("name_ar"), item["quantity"]] for item in order["items"]]


async def top_products(agent: Agent, facts: Facts) -> Any:
    report = await agent.call("sales_report", since="2026-10-29", group_by="product", top=5)
    return [group["key"] for group in report["groups"]]


async def best_city(agent: Agent, facts: Facts) -> Any:
    report = await agent.call("sales_report", since="2026-11-01", group_by="city", top=1)
    best = report["groups"][0]
    return {"city": best["key"], "revenue": halalas(best["revenue"])}


async def ship_three(agent: Agent, facts: Facts) -> Any:
    done = await _confirmed(agent, "bulk_update_order_status", order_ids=facts["ids"], status="shipped")
    return done["applied"]


async def top_customers(agent: Agent, facts: Facts) -> Any:
    report = await agent.call("sales_report", since="2026-08-30", group_by="customer", top=3)
    return [group["key"] for group in report["groups"]]


async def pending_count(agent: Agent, facts: Facts) -> Any:
    return (await agent.call("list_orders", status="pending", limit=1))["total"]


async def price_and_stock(agent: Agent, facts: Facts) -> Any:
    found = (await agent.call("list_products", search=facts["name"], limit=5))["products"]
    product = next(p for p in found if p["name"] == facts["name"])
    return {"price": halalas(product["price"]), "stock": product["stock"]}


async def cancel_restock(agent: Agent, facts: Facts) -> Any:
    done = await agent.call("update_order_status", order_id=facts["order_id"], status="cancelled")
    return {
        line["product_id"]: {"returned": line["quantity"], "stock": line["stock"]}
        for line in done["result"]["restocked"]
    }


async def customer_spend(agent: Agent, facts: Facts) -> Any:
    found = (await agent.call("list_customers", search=facts["name"]))["customers"]
    customer = await agent.call("get_customer", customer_id=found[0]["id"])
    return {"total_spent": halalas(customer["total_spent"]), "last_order": customer["recent_orders"][0]["id"]}


async def daily_sales(agent: Agent, facts: Facts) -> Any:
    report = await agent.call("sales_report", since="2026-11-15", until="2026-11-21", group_by="day")
    return {group["key"]: halalas(group["revenue"]) for group in report["groups"]}


SOLUTIONS: dict[str, Solver] = {
    "week_vs_week": week_vs_week,
    "late_order": late_order,
    "raise_oud": raise_oud,
    "restock": restock,
    "low_stock_alerts": low_stock_alerts,
    "order_in_arabic": order_in_arabic,
    "top_products": top_products,
    "best_city": best_city,
    "ship_three": ship_three,
    "top_customers": top_customers,
    "pending_count": pending_count,
    "price_and_stock": price_and_stock,
    "cancel_restock": cancel_restock,
    "customer_spend": customer_spend,
    "daily_sales": daily_sales,
}
