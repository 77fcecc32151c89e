"""The one visible registry of tools, grouped by domain; each module lists its tools with their metadata."""

from __future__ import annotations

from hajatek_mcp.server.tools import analytics, catalog, customers, events, export, orders, store
from hajatek_mcp.server.tools.base import ToolSpec

__all__ = ["TOOLS", "ToolSpec"]

TOOLS: tuple[ToolSpec, ...] = (
    *store.TOOLS,
    *catalog.TOOLS,
    *orders.TOOLS,
    *export.TOOLS,
    *customers.TOOLS,
    *analytics.TOOLS,
    *events.TOOLS,
)
