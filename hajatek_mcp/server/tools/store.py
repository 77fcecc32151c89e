"""Store tools."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from mcp.server.mcpserver import Resolve
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.localtime import WEEK_STARTS, ZONES, local_iso
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.views import StoreView

__all__ = ["get_store"]


class StoreNow(StoreView):
    """The store, with its current local time: "today" and "last 2 days" need no guessing."""

    local_time: str = Field(description="the store's time now, ISO with offset")
    week_starts: str = WEEK_STARTS


@upstream
async def get_store(shop: Annotated[Shop, Resolve(current_shop)]) -> Annotated[CallToolResult, StoreNow]:
    """Store name, currency, timezone, local time and plan. Call first."""
    store = await shop.client.get_store()
    zone = ZONES.put(shop.store_id, store.timezone)
    now = datetime.fromtimestamp(shop.options.clock(), UTC)
    base = StoreView.of(store, sandbox=shop.options.sandbox)
    view = StoreNow(**base.model_dump(), local_time=local_iso(now, zone.tz))
    return shop.result(view, zone.note)
