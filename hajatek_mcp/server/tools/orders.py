"""Order tools: list (by status, customer and dates), read with what the server knows, move through the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from mcp.server.mcpserver import ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.api.models import ORDER_TRANSITIONS
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.guards import Confirm, WritePlan, ask_order_status, plan_order_status
from hajatek_mcp.server.localtime import ZONES, LocalBound, parse_bound
from hajatek_mcp.server.order_facts import enrich, restocked, stock_of
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.customers import CustomerId
from hajatek_mcp.server.tools.params import ConfirmToken, Limit, OrderId, OrderStatus, PageNumber
from hajatek_mcp.server.views import OrderDetail, OrderPage, OrderRow
from hajatek_mcp.server.walks import orders_in_window
from hajatek_mcp.server.writes import Guarded, guarded

__all__ = ["ORDER_PAGES", "get_order", "list_orders", "update_order_status"]

#: Listing pages (100 orders each) one filtered list_orders call reads past the start of its window: 2,000 orders.
ORDER_PAGES = 20


@upstream
async def list_orders(
    shop: Annotated[Shop, Resolve(current_shop)],
    *,
    status: OrderStatus | None = None,
    customer_id: CustomerId | None = None,
    since: LocalBound | None = None,
    until: LocalBound | None = None,
    page: PageNumber = 1,
    limit: Limit = 20,
) -> Annotated[CallToolResult, OrderPage]:
    """Orders by status, customer_id or since/until."""
    if customer_id is None and since is None and until is None:
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
    if page != 1:
        raise ToolError(
            "page is for the plain listing: with customer_id, since or until, go on with until=resume_until."
        )
    start, end = await _window(shop, since, until)
    keep = None if customer_id is None else (lambda order: order.customer_id == customer_id)
    window = await orders_in_window(
        shop.client, since=start, until=end, status=status, keep=keep, max_items=limit, max_requests=ORDER_PAGES
    )
    resume = _utc(window.resume_until)
    note = None
    if not window.complete:
        note = (
            f"Not all shown: read {window.scanned:,} orders, back to {resume}. More may match: call again with the "
            f"same filters and until={resume}."
        )
    elif not window.orders:
        note = f"No order matches ({window.scanned:,} orders in the window read)."
    view = OrderPage(
        orders=[OrderRow.of(o) for o in window.orders],
        page=1,
        has_more=not window.complete,
        complete=window.complete,
        resume_until=resume,
        note=note,
    )
    return shop.result(view)


async def _window(shop: Shop, since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """``since`` and ``until`` as instants: a date is a whole day of the store's time zone."""
    if since is None and until is None:
        return None, None
    zone = (await ZONES.get(shop.client)).tz
    try:
        start = parse_bound(since, zone, end=False) if since else None
        end = parse_bound(until, zone, end=True) if until else None
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    if start and end and start > end:
        raise ToolError(f"since ({since}) is after until ({until}): nothing can match.")
    return start, end


def _utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


@upstream
async def get_order(
    shop: Annotated[Shop, Resolve(current_shop)], order_id: OrderId
) -> Annotated[CallToolResult, OrderDetail]:
    """An order in full: customer, lines, totals with VAT, address, history, payment, allowed_next."""
    order = await shop.client.get_order(order_id)
    view = OrderDetail.of(order)
    return shop.result(view, await enrich(shop, order, view))


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
    """Move an order pending→processing→shipped→delivered (see allowed_next). Cancel and refund are guarded."""
    arguments = {"order_id": order_id, "status": status, "note": note}

    async def execute() -> OrderDetail:
        if status != "cancelled":
            return OrderDetail.of(await shop.client.update_order_status(order_id, status, note=note))
        return await _cancel(shop, order_id, note)

    return await guarded(
        shop, "update_order_status", arguments, plan=plan, answer=answer, confirm_token=confirm_token, execute=execute
    )


async def _cancel(shop: Shop, order_id: str, note: str | None) -> OrderDetail:
    """Cancel, and say what went back to stock: each line's product read before and after (the API is assumed to
    restock on cancel, docs/api.md). An order already cancelled, or that may not be, reads no stock."""
    current = await shop.client.get_order(order_id)
    if "cancelled" not in ORDER_TRANSITIONS.get(current.status, ()):  # already cancelled (a no-op), or refused
        return OrderDetail.of(await shop.client.update_order_status(order_id, "cancelled", note=note))
    products = list(dict.fromkeys(item.product_id for item in current.items))
    before = await stock_of(shop.client, products)
    view = OrderDetail.of(await shop.client.update_order_status(order_id, "cancelled", note=note))
    view.restocked = restocked(current, before, await stock_of(shop.client, products))
    return view
