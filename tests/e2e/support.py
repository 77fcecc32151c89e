"""What the end-to-end tests import besides :mod:`tests.support` (which runs the console script): the tool names
the server lists, by kind and toolset, and the ``stdio`` fixture's type."""

from __future__ import annotations

from collections.abc import Callable

from mcp import Client

ALL_TOOLS = [
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
]
WRITE_TOOLS = {
    "create_product",
    "update_product",
    "delete_product",
    "bulk_update_products",
    "update_order_status",
    "bulk_update_order_status",
}
READ_TOOLS = [name for name in ALL_TOOLS if name not in WRITE_TOOLS]
TOOLSETS = ("store", "catalog", "orders", "customers", "analytics", "events")

#: What the ``stdio`` fixture gives: ``async with stdio("--read-only") as client``.
StdioConnect = Callable[..., Client]
