"""Customer tools."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Resolve
from mcp.types import CallToolResult

from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.base import ToolSpec
from hajatek_mcp.server.tools.params import Limit, PageNumber
from hajatek_mcp.server.views import CustomerPage, CustomerView


@upstream
async def list_customers(
    shop: Annotated[Shop, Resolve(current_shop)], page: PageNumber = 1, limit: Limit = 20
) -> Annotated[CallToolResult, CustomerPage]:
    """Customers newest first, with contact details, order count and total spent (SAR). Follow next_page."""
    result = await shop.client.list_customers(page=page, limit=limit)
    customers = [CustomerView.of(c) for c in result.items]
    view = CustomerPage(
        customers=customers, page=result.page, total=result.total, has_more=result.has_more, next_page=result.next_page
    )
    more = f"More results: call again with page={result.next_page}." if result.has_more else None
    return shop.result(view, more)


TOOLS = (ToolSpec(list_customers, "customers", "List customers", read_only=True, destructive=False, idempotent=True),)
