"""export_orders: every order matching a filter, as CSV, walking all pages with progress."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, EmbeddedResource, TextContent, TextResourceContents
from pydantic import Field

from hajatek_mcp.api import Order
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.safety import clean, present
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.base import ToolSpec
from hajatek_mcp.server.tools.params import OrderStatus
from hajatek_mcp.server.views import Money, View, compact_json

__all__ = ["TOOLS", "ExportSummary", "export_orders"]

#: Exports larger than this are refused with advice to narrow the window (keeps a result within reason).
MAX_EXPORT_ORDERS = 20_000
COLUMNS = (
    "id",
    "created_at",
    "status",
    "customer_id",
    "units",
    "products",
    "subtotal",
    "shipping",
    "vat",
    "total",
    "currency",
)
Moment = Annotated[datetime, Field(description="ISO 8601; UTC when no offset, e.g. 2026-11-01")]


class ExportSummary(View):
    orders: int
    value: Money = Field(description="sum of order totals")
    by_status: dict[str, int]
    first: str | None = Field(default=None, description="oldest created_at")
    last: str | None = Field(default=None, description="newest created_at")
    csv_uri: str
    columns: list[str]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _row(order: Order) -> list[str]:
    created = order.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if order.created_at else ""
    products = ";".join(f"{i.quantity}x{i.product_id}" for i in order.items)
    money = (order.subtotal, order.shipping, order.vat, order.total)
    cells = [
        order.id,
        created,
        order.status,
        order.customer_id or "",
        str(sum(i.quantity for i in order.items)),
        products,
        *("" if m is None else f"{m:.2f}" for m in money),
        order.currency,
    ]
    return [clean(cell) or "" for cell in cells]  # ids and statuses come from outside too


@upstream
async def export_orders(
    shop: Annotated[Shop, Resolve(current_shop)],
    ctx: Context[Shop],
    status: OrderStatus | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> Annotated[CallToolResult, ExportSummary]:
    """Every matching order as a CSV resource, walking all pages (with progress), plus a summary.

    Use for whole-store questions instead of paging list_orders; since/until filter on created_at.
    """
    start, end = _utc(since), _utc(until)
    if start and end and start > end:
        raise ToolError("'since' is after 'until': swap them or widen the window.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    count, value, by_status = 0, Decimal(0), Counter[str]()
    first: datetime | None = None
    last: datetime | None = None
    page, seen = 1, 0
    while True:  # newest first, so the walk stops at the first page older than `since`
        result = await shop.client.list_orders(status=status, page=page, limit=100)
        if page == 1 and not (start or end) and (result.total or 0) > MAX_EXPORT_ORDERS:
            raise ToolError(
                f"{result.total:,} orders match and an export holds at most {MAX_EXPORT_ORDERS:,}; nothing was "
                "exported. Narrow it with since/until (for example one month at a time) or a status."
            )
        for order in result.items:
            created = order.created_at
            if created is not None and ((end and created > end) or (start and created < start)):
                continue
            writer.writerow(_row(order))
            count += 1
            value += order.total
            by_status[order.status] += 1
            if created is not None:
                first = created if first is None else min(first, created)
                last = created if last is None else max(last, created)
        seen += len(result.items)
        await ctx.report_progress(seen, result.total, f"read {seen} orders, exported {count}")
        if count > MAX_EXPORT_ORDERS:
            raise ToolError(
                f"More than {MAX_EXPORT_ORDERS:,} orders match and an export holds at most that many; nothing was "
                "exported. Narrow since/until (for example one month at a time) or add a status."
            )
        oldest = result.items[-1].created_at if result.items else None
        if not result.has_more or (start and oldest is not None and oldest < start):
            break
        page += 1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    uri = f"hajatek://exports/orders-{stamp}.csv"
    summary = ExportSummary(
        orders=count,
        value=value,
        by_status=dict(by_status),
        csv_uri=uri,
        columns=list(COLUMNS),
        first=first.strftime("%Y-%m-%dT%H:%MZ") if first else None,
        last=last.strftime("%Y-%m-%dT%H:%MZ") if last else None,
    )
    structured = present(summary.model_dump(mode="json", exclude_none=True))
    note = "[sandbox store] " if shop.options.sandbox else ""
    brief = compact_json({k: v for k, v in structured.items() if k != "columns"})
    return CallToolResult(
        content=[
            TextContent(type="text", text=f"{note}{brief}"),
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(uri=uri, mime_type="text/csv", text=buffer.getvalue()),
            ),
        ],
        structured_content=structured,
    )


TOOLS = (ToolSpec(export_orders, "orders", "Export orders (CSV)", read_only=True, destructive=False, idempotent=True),)
