"""Customer tools: the listing, and a search over the server's customer directory (the API has none)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.server.directory import Coverage, Entry
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.matching import terms
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.params import Limit, PageNumber
from hajatek_mcp.server.views import CustomerPage, CustomerView

__all__ = ["CustomerId", "coverage_note", "entry_view", "list_customers"]

CustomerId = Annotated[str, Field(pattern=r"^cus_[A-Za-z0-9_]+$", description="cus_…")]
Search = Annotated[str, Field(min_length=1, max_length=100, description="name (Arabic or English), email or phone")]


@upstream
async def list_customers(
    shop: Annotated[Shop, Resolve(current_shop)], search: Search | None = None, page: PageNumber = 1, limit: Limit = 20
) -> Annotated[CallToolResult, CustomerPage]:
    """Customers. search: a name in any spelling, an email or a phone (then no totals: get_customer has them)."""
    if search is not None:
        return await _search(shop, search, page, limit)
    result = await shop.client.list_customers(page=page, limit=limit)
    await shop.directory.saw(result.items, first=(page - 1) * limit, total=result.total)
    customers = [CustomerView.of(c) for c in result.items]
    view = CustomerPage(
        customers=customers, page=result.page, total=result.total, has_more=result.has_more, next_page=result.next_page
    )
    more = f"More results: call again with page={result.next_page}." if result.has_more else None
    return shop.result(view, more)


async def _search(shop: Shop, search: str, page: int, limit: int) -> CallToolResult:
    wanted = terms(search)
    if wanted.empty:
        raise ToolError("search has no letters or digits to match: give part of a name, an email or a phone number.")
    coverage = await shop.directory.refresh(shop.client)
    found, count = await shop.directory.search(wanted, offset=(page - 1) * limit, limit=limit)
    more = (page - 1) * limit + len(found) < count
    view = CustomerPage(
        customers=[entry_view(e) for e in found],
        page=page,
        total=count,
        has_more=more,
        next_page=page + 1 if more else None,
        complete=None if coverage.complete else False,
        note=None if coverage.complete else coverage_note(coverage, "searched"),
    )
    return shop.result(view, f"More results: call again with page={page + 1}." if more else None)


def entry_view(entry: Entry) -> CustomerView:
    return CustomerView(
        id=entry.id, name=entry.name, name_ar=entry.name_ar, email=entry.email, phone=entry.phone, city=entry.city
    )


def coverage_note(coverage: Coverage, done: str) -> str:
    """How much of the customer list the directory holds, and how to get further."""
    of = f" of {coverage.total:,}" if coverage.total is not None else ""
    return (
        f"Only the newest {coverage.read:,}{of} customers were {done}: the API has no customer search, so the server "
        f"reads {coverage.per_call:,} more per call. Call again to go further."
    )
