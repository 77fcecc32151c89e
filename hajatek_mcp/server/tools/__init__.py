"""The one visible registry of tools; each module lists its tools with their metadata, this one their order.

The order is what ``tools/list`` shows: by toolset, and within one, the everyday look-up first, then its changes,
then the reports.
"""

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

ORDER = (
    "get_store",
    "list_products",
    "get_product",
    "create_product",
    "update_product",
    "delete_product",
    "bulk_update_products",
    "restock_report",
    "list_orders",
    "get_order",
    "update_order_status",
    "bulk_update_order_status",
    "export_orders",
    "list_customers",
    "get_customer",
    "get_analytics",
    "sales_report",
    "list_events",
)

_BY_NAME = {
    spec.name: spec
    for module in (store, catalog, lookups, orders, bulk, reports, export, customers, analytics, events)
    for spec in module.TOOLS
}
if set(_BY_NAME) != set(ORDER):  # a tool added to a module but not placed here (or the reverse) fails at import
    raise RuntimeError(f"tools and their order disagree: {sorted(set(_BY_NAME) ^ set(ORDER))}")

TOOLS: tuple[ToolSpec, ...] = tuple(_BY_NAME[name] for name in ORDER)
