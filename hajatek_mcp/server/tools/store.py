"""Store tools."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Resolve
from mcp.types import CallToolResult

from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.base import ToolSpec
from hajatek_mcp.server.views import StoreView


@upstream
async def get_store(shop: Annotated[Shop, Resolve(current_shop)]) -> Annotated[CallToolResult, StoreView]:
    """The store's name, currency, country, timezone and plan. Call first to know which store you act on."""
    store = await shop.client.get_store()
    return shop.result(StoreView.of(store, sandbox=shop.options.sandbox))


TOOLS = (ToolSpec(get_store, "store", "Get store", read_only=True, destructive=False, idempotent=True),)
