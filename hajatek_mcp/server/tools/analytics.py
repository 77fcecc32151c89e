"""Analytics tools."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Resolve
from mcp.types import CallToolResult

from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.params import AnalyticsPeriod
from hajatek_mcp.server.views import AnalyticsView

__all__ = ["get_analytics"]


@upstream
async def get_analytics(
    shop: Annotated[Shop, Resolve(current_shop)], period: AnalyticsPeriod = "30d"
) -> Annotated[CallToolResult, AnalyticsView]:
    """Hajatek's totals from UTC midnight: revenue, orders by status, top products, new customers. For local dates,
    groups or comparisons: sales_report."""
    return shop.result(AnalyticsView.of(await shop.client.get_analytics_summary(period)))
