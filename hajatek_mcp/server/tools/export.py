"""export_orders: every order matching a filter, as CSV, walking its pages with progress.

Bounded: an export holds at most :data:`MAX_EXPORT_ORDERS` orders, so one call reads at most that many orders' pages
(100 each) and one more, plus, with ``until``, the few requests that find where the window starts (about log₂ of the
listing's pages). An unfiltered export of a bigger store is refused from the first page's total.

The CSV is kept at its own address for :data:`~hajatek_mcp.server.exports.EXPORT_TTL_HOURS` hours (see
:mod:`hajatek_mcp.server.exports`), readable with ``resources/read``. A small one (at most :data:`INLINE_MAX_BYTES`)
also comes inline; a bigger one is only linked: the summary already answers counts and totals, and the model should
not pay for thousands of rows it did not ask to read.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, EmbeddedResource, ResourceLink, TextContent, TextResourceContents
from pydantic import Field

from hajatek_mcp.api import Order
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.safety import present
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.params import OrderStatus
from hajatek_mcp.server.views import Money, View, compact_json
from hajatek_mcp.server.walks import page_reaching

__all__ = ["ExportSummary", "export_orders"]

#: Exports larger than this are refused with advice to narrow the window (keeps a result within reason).
MAX_EXPORT_ORDERS = 20_000
#: A CSV up to this many bytes (UTF-8) also comes inline in the result (about 25 orders); a bigger one is only linked.
INLINE_MAX_BYTES = 4096
COLUMNS = (
    "id",
    "created_at",
    "status",
    "customer_id",
    "customer_name",
    "city",
    "units",
    "products",
    "subtotal",
    "shipping",
    "vat",
    "total",
    "currency",
)
#: Columns of outside free text: a spreadsheet must not read them as formulas.
_TEXT_COLUMNS = frozenset({"customer_name", "city"})
Moment = Annotated[datetime, Field(description="ISO 8601; UTC when no offset, e.g. 2026-11-01")]


class ExportSummary(View):
    orders: int
    value: Money = Field(description="sum of order totals")
    by_status: dict[str, int]
    first: str | None = Field(default=None, description="oldest created_at")
    last: str | None = Field(default=None, description="newest created_at")
    csv_uri: str = Field(description="resources/read it for the rows")
    expires_at: str = Field(description="csv_uri is readable until then (UTC)")
    inline: bool = Field(description="the CSV is also in this result")
    columns: list[str]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _row(order: Order) -> dict[str, str]:
    created = order.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if order.created_at else ""
    city = (order.shipping_address or {}).get("city")
    money = (order.subtotal, order.shipping, order.vat, order.total)
    cells = [
        order.id,
        created,
        order.status,
        order.customer_id or "",
        order.customer_name or "",
        city if isinstance(city, str) else "",
        str(sum(i.quantity for i in order.items)),
        ";".join(f"{i.quantity}x{i.product_id}" for i in order.items),
        *("" if m is None else f"{m:.2f}" for m in money),
        order.currency,
    ]
    return dict(zip(COLUMNS, cells, strict=True))


def _csv(rows: Sequence[dict[str, str]], columns: Sequence[str], *, redact: bool) -> str:
    """The CSV of ``rows``: every cell through the boundary (ids and statuses come from outside too)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = [present(row[column], redact=redact, key=column) or "" for column in columns]
        writer.writerow(_defused(c) if col in _TEXT_COLUMNS else c for col, c in zip(columns, cells, strict=True))
    return buffer.getvalue()


def _defused(cell: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @) gets a leading apostrophe (OWASP's advice)."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@") else cell


class _Tally:
    """The matching orders as CSV rows, and the summary's figures, gathered in one pass."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.value = Decimal(0)
        self.by_status = Counter[str]()
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, order: Order) -> None:
        self.rows.append(_row(order))
        self.value += order.total
        self.by_status[order.status] += 1
        if (created := order.created_at) is not None:
            self.first = created if self.first is None else min(self.first, created)
            self.last = created if self.last is None else max(self.last, created)

    def columns(self) -> list[str]:
        """Every column, but customer_name only when some order carries one (the API may not send it)."""
        return [c for c in COLUMNS if c != "customer_name" or any(r["customer_name"] for r in self.rows)]


async def _matching(
    shop: Shop, ctx: Context[Shop], status: OrderStatus | None, start: datetime | None, end: datetime | None
) -> AsyncIterator[Order]:
    """The orders matching the filter, newest first, reporting progress a page at a time; refuses an export too big.

    With ``end``, the walk starts at the first page that reaches back to it (found by bisection), not at the newest
    order: an export of last month reads last month, not everything since."""
    seen, count = 0, 0
    page, first = (1, None) if end is None else (await page_reaching(shop.client, end, status=status))[:2]
    while True:  # newest first, so the walk stops at the first page older than `since`
        result = first if first is not None else await shop.client.list_orders(status=status, page=page, limit=100)
        first = None
        if page == 1 and not (start or end) and (result.total or 0) > MAX_EXPORT_ORDERS:
            raise ToolError(
                f"{result.total:,} orders match and an export holds at most {MAX_EXPORT_ORDERS:,}; nothing was "
                "exported. Narrow it with since/until (for example one month at a time) or a status."
            )
        for order in result.items:
            created = order.created_at
            if created is not None and ((end and created > end) or (start and created < start)):
                continue
            count += 1
            yield order
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


@upstream
async def export_orders(
    shop: Annotated[Shop, Resolve(current_shop)],
    ctx: Context[Shop],
    status: OrderStatus | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> Annotated[CallToolResult, ExportSummary]:
    """All matching orders as CSV at csv_uri for 24 h, with counts and value by status. since/until: UTC, on
    created_at."""
    start, end = _utc(since), _utc(until)
    if start and end and start > end:
        raise ToolError("'since' is after 'until': swap them or widen the window.")
    tally = _Tally()
    async for order in _matching(shop, ctx, status, start, end):
        tally.add(order)
    columns = tally.columns()
    text = _csv(tally.rows, columns, redact=shop.options.redact_pii)
    saved = await shop.exports.save("orders", text)
    size = len(text.encode())
    summary = ExportSummary(
        orders=len(tally.rows),
        value=tally.value,
        by_status=dict(tally.by_status),
        first=tally.first.strftime("%Y-%m-%dT%H:%MZ") if tally.first else None,
        last=tally.last.strftime("%Y-%m-%dT%H:%MZ") if tally.last else None,
        csv_uri=saved.uri,
        expires_at=saved.expires_at,
        inline=size <= INLINE_MAX_BYTES,
        columns=columns,
    )
    return _result(shop, summary, text, size)


def _result(shop: Shop, summary: ExportSummary, text: str, size: int) -> CallToolResult:
    """The summary as text and structured content; the CSV inline when small, else a link to it and how to read it."""
    structured = present(summary.model_dump(mode="json", exclude_none=True))
    brief = compact_json({k: v for k, v in structured.items() if k != "columns"})
    block: ContentBlock
    if summary.inline:
        note = None
        block = EmbeddedResource(
            type="resource", resource=TextResourceContents(uri=summary.csv_uri, mime_type="text/csv", text=text)
        )
    else:
        note = f"CSV not inline ({size:,} bytes): resources/read csv_uri for rows; counts and totals are here."
        name = summary.csv_uri.rsplit("/", 1)[-1]
        block = ResourceLink(type="resource_link", uri=summary.csv_uri, name=name, mime_type="text/csv", size=size)
    if shop.options.sandbox:
        note = f"[sandbox store] {note}" if note else "[sandbox store]"
    return CallToolResult(
        content=[TextContent(type="text", text=f"{note}\n{brief}" if note else brief), block],
        structured_content=structured,
    )
