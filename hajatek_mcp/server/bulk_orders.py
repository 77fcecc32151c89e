"""Planning ``bulk_update_order_status``: each order's move, the ones the lifecycle forbids, and the money at stake.

Each order is read once (``GET /orders/{id}``: at most 100 requests). An order already in the status, or one the
lifecycle (:data:`~hajatek_mcp.api.ORDER_TRANSITIONS`) does not let move there, is skipped with the reason. Cancels
and refunds lead with the money and the units that go back; a cancel also holds the locks of the products it
restocks, as ``update_order_status`` does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from mcp.server.mcpserver import Resolve
from mcp.server.mcpserver.exceptions import ToolError

from hajatek_mcp.api import ORDER_TRANSITIONS, HajatekError, NotFoundError, Order
from hajatek_mcp.server.bulk import MAX_ITEMS, Batch, BulkPlan, Item, ItemNote, Values, read_failed, reconcile
from hajatek_mcp.server.confirmations import ConfirmationError
from hajatek_mcp.server.guards import may_write
from hajatek_mcp.server.safety import clean, quote
from hajatek_mcp.server.shop import Shop, current_shop

__all__ = ["TOOL", "plan_bulk_orders"]

TOOL = "bulk_update_order_status"


async def _read(shop: Shop, order_ids: list[str]) -> tuple[dict[str, Order], dict[str, str]]:
    found: dict[str, Order] = {}
    missing: dict[str, str] = {}
    for order_id in order_ids:
        try:
            found[order_id] = await shop.client.get_order(order_id)
        except NotFoundError:
            missing[order_id] = "not found: no order has this id"
    return found, missing


def _item(order: Order, status: str) -> Item:
    restocked = tuple(sorted({i.product_id for i in order.items})) if status == "cancelled" else ()
    who = quote(order.customer_name or order.customer_id, 40)
    line = f"{order.id}: {clean(order.status)} → {status}, {order.total:,.2f} SAR, customer {who}"
    return Item(id=order.id, before={"status": order.status}, after={"status": status}, line=line, related=restocked)


def _skip(order: Order, status: str) -> str | None:
    if order.status == status:
        return f"already {status}"
    allowed = ORDER_TRANSITIONS.get(order.status)
    if allowed is None or status not in allowed:
        nxt = ", ".join(sorted(allowed)) if allowed else "none, it is final"
        return f"a {clean(order.status)} order cannot move to {status} (allowed next: {nxt})"
    return None


def _summary(plan: BulkPlan, orders: dict[str, Order], status: str) -> str:
    assert plan.batch is not None  # noqa: S101  # a summary is written for a batch
    count = len(plan.items)
    total = sum((orders[i.id].total for i in plan.items), Decimal(0))
    units = sum(line.quantity for i in plan.items for line in orders[i.id].items)
    orders_text = f"{count} order{'s' * (count != 1)}"
    text = {
        "cancelled": f"Cancel {orders_text} ({total:,.2f} SAR; {units} items go back into stock)",
        "refunded": f"Refund {orders_text} ({total:,.2f} SAR) to their customers; this cannot be undone",
    }.get(status, f"Set {orders_text} to {status}")
    notes = [
        (len(plan.done), "already applied"),
        (len(plan.failed), "cannot be applied"),
        (len(plan.skipped), "skipped"),
    ]
    return " ".join([f"{text} (batch {plan.batch.id}).", *(f"{n} {what}." for n, what in notes if n)])


async def plan_bulk_orders(
    shop: Annotated[Shop, Resolve(current_shop)],
    order_ids: list[str],
    status: str,
    note: str | None = None,
    confirm_token: str | None = None,
) -> BulkPlan:
    change: dict[str, Any] = {"status": status} | ({"note": note} if note else {})
    plan = BulkPlan(tool=TOOL, arguments={"order_ids": order_ids, **change}, change=change)
    if not may_write():  # refused by the tool before anything is read or asked
        plan.error = "read-only grant"
        return plan
    if not order_ids:
        raise ToolError("order_ids is empty: give the orders to move.")
    if len(set(order_ids)) != len(order_ids):
        raise ToolError("order_ids lists an order twice: give each once.")
    if len(order_ids) > MAX_ITEMS:
        raise ToolError(
            f"{len(order_ids)} order_ids given; a batch takes at most {MAX_ITEMS}: split it into several calls. "
            "Nothing was read or changed."
        )
    try:
        if confirm_token is None:
            await _preview(shop, plan, order_ids, status)
        else:
            await _confirming(shop, plan, confirm_token, status)
    except HajatekError as exc:
        plan.error = read_failed(exc, confirm_token)
    return plan


async def _preview(shop: Shop, plan: BulkPlan, order_ids: list[str], status: str) -> None:
    orders, missing = await _read(shop, order_ids)
    plan.skipped = [ItemNote(id=i, reason=r) for i, r in missing.items()]
    for order in sorted(orders.values(), key=lambda o: o.id):
        reason = _skip(order, status)
        if reason is None:
            plan.items.append(_item(order, status))
        else:
            plan.skipped.append(ItemNote(id=order.id, reason=reason))
    if not plan.items:
        plan.summary = f"Nothing would change: all {len(plan.skipped)} selected orders are skipped (see why)."
        return
    plan.batch = Batch.of(TOOL, plan.arguments, plan.items)
    plan.summary = _summary(plan, orders, status)


async def _confirming(shop: Shop, plan: BulkPlan, token: str, status: str) -> None:
    try:
        plan.batch = Batch.from_payload(await shop.confirmations.payload(token, TOOL, plan.arguments))
    except ConfirmationError as exc:
        plan.error, plan.refused = str(exc), True
        return
    if plan.batch is None:
        plan.error, plan.refused = "This confirm_token is not one of a bulk change: call again without it.", True
        return
    orders, missing = await _read(shop, [i.id for i in plan.batch.items])
    now: dict[str, Values | str] = {oid: {"status": o.status} for oid, o in orders.items()} | missing
    pending = reconcile(plan, plan.batch, now)
    if plan.error is None:
        plan.items = [_item(orders[oid], status) for oid in pending]
        plan.summary = _summary(plan, orders, status)
