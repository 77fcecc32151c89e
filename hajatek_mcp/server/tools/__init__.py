"""The one visible registry of tools, grouped by domain; each module lists its tools with their metadata."""

from __future__ import annotations

from hajatek_mcp.server.tools import (
    analytics,
    bulk,
    catalog,
    customers,
    events,
    export,
    lookups,
    orders,
    reports,
    store,
)
from hajatek_mcp.server.tools.base import ToolSpec

__all__ = ["TOOLS", "ToolSpec"]

TOOLS: tuple[ToolSpec, ...] = (
    *store.TOOLS,
    *catalog.TOOLS,
    *lookups.TOOLS,
    *orders.TOOLS,
    *bulk.TOOLS,
    *reports.TOOLS,
    *export.TOOLS,
    *customers.TOOLS,
    *analytics.TOOLS,
    *events.TOOLS,
)
