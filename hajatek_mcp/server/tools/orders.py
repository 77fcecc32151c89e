"""Order tools: list, read, move through the lifecycle, export."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.guards import Confirm, WritePlan, ask_order_status, plan_order_status
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.base import ToolSpec
from hajatek_mcp.server.tools.params import ConfirmToken, Limit, OrderId, OrderStatus, PageNumber
from hajatek_mcp.server.views import OrderDetail, OrderPage, OrderRow
from hajatek_mcp.server.writes import Guarded, guarded


@upstream
async def list_orders(
    shop: Annotated[Shop, Resolve(current_shop)],
    status: OrderStatus | None = None,
    page: PageNumber = 1,
    limit: Limit = 20,
) -> Annotated[CallToolResult, OrderPage]:
    """Orders newest first: id, status, total (SAR), units, customer, created (UTC). Follow next_page for more."""
    result = await shop.client.list_orders(status=status, page=page, limit=limit)
    view = OrderPage(
        orders=[OrderRow.of(o) for o in result.items],
        page=result.page,
        total=result.total,
        has_more=result.has_more,
        next_page=result.next_page,
    )
    more = f"More results: call again with page={result.next_page}." if result.has_more else None
    return shop.result(view, more)


@upstream
async def get_order(
    shop: Annotated[Shop, Resolve(current_shop)], order_id: OrderId
) -> Annotated[CallToolResult, OrderDetail]:
    """One order in full: line items, totals with VAT, address, and the statuses it may move to next."""
    return shop.result(OrderDetail.of(await shop.client.get_order(order_id)))


@upstream
async def update_order_status(
    shop: Annotated[Shop, Resolve(current_shop)],
    plan: Annotated[WritePlan, Resolve(plan_order_status)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(ask_order_status)],
    *,
    order_id: OrderId,
    status: OrderStatus,
    note: Annotated[str | None, Field(max_length=500, description="reason, kept on the order")] = None,
    confirm_token: ConfirmToken | None = None,
) -> Annotated[CallToolResult, Guarded[OrderDetail]]:
    """Move an order along pending→processing→shipped→delivered (see allowed_next). Cancel or refund needs the
    merchant's yes: given a preview, show it and repeat the call with its confirm_token."""
    arguments = {"order_id": order_id, "status": status, "note": note}

    async def execute() -> OrderDetail:
        return OrderDetail.of(await shop.client.update_order_status(order_id, status, note=note))

    return await guarded(
        shop, "update_order_status", arguments, plan=plan, answer=answer, confirm_token=confirm_token, execute=execute
    )


TOOLS = (
    ToolSpec(list_orders, "orders", "List orders", read_only=True, destructive=False, idempotent=True),
    ToolSpec(get_order, "orders", "Get order", read_only=True, destructive=False, idempotent=True),
    ToolSpec(update_order_status, "orders", "Update order status", read_only=False, destructive=True, idempotent=True),
)

__all__ = ["TOOLS"]
