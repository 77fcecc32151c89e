"""The one visible registry of tools: each tool's name, module and metadata, in the order ``tools/list`` shows.

The order is by toolset, and within one, the everyday look-up first, then its changes, then the reports. The tool
functions are imported when the tools are built (on the first ``tools/list`` or call: see
:mod:`hajatek_mcp.server.lazy`), not when the server starts: the ``initialize`` answer and the instructions need only
this table. ``tests/server/test_surface.py`` checks each row against its function.
"""

from __future__ import annotations

from hajatek_mcp.server.tools.base import ToolSpec

__all__ = ["GUARDED", "TOOLS", "ToolSpec"]

_READ = {"read_only": True, "destructive": False, "idempotent": True}

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("get_store", "store", "store", "Get store", **_READ),
    ToolSpec("list_products", "catalog", "catalog", "List products", **_READ),
    ToolSpec("get_product", "lookups", "catalog", "Get product", **_READ),
    ToolSpec("create_product", "catalog", "catalog", "Create product", read_only=False, destructive=False,
             idempotent=False),
    ToolSpec("update_product", "catalog", "catalog", "Update product", read_only=False, destructive=True,
             idempotent=True, guarded=True),
    ToolSpec("delete_product", "catalog", "catalog", "Delete product", read_only=False, destructive=True,
             idempotent=True, guarded=True),
    ToolSpec("bulk_update_products", "bulk", "catalog", "Bulk update products", read_only=False, destructive=True,
             idempotent=True, guarded=True),
    ToolSpec("restock_report", "reports", "catalog", "Restock report", **_READ),
    ToolSpec("list_orders", "orders", "orders", "List orders", **_READ),
    ToolSpec("get_order", "orders", "orders", "Get order", **_READ),
    ToolSpec("update_order_status", "orders", "orders", "Update order status", read_only=False, destructive=True,
             idempotent=True, guarded=True),
    ToolSpec("bulk_update_order_status", "bulk", "orders", "Bulk update order status", read_only=False,
             destructive=True, idempotent=True, guarded=True),
    ToolSpec("export_orders", "export", "orders", "Export orders (CSV)", **_READ),
    ToolSpec("list_customers", "customers", "customers", "List customers", **_READ),
    ToolSpec("get_customer", "lookups", "customers", "Get customer", **_READ),
    ToolSpec("get_analytics", "analytics", "analytics", "Get analytics", **_READ),
    ToolSpec("sales_report", "reports", "analytics", "Sales report", **_READ),
    ToolSpec("list_events", "events", "events", "List store events", **_READ,
             open_world=False),  # reads the server's own inbox, not the store
)  # fmt: skip

GUARDED: tuple[str, ...] = tuple(spec.name for spec in TOOLS if spec.guarded)
"""The tools whose changes may need the merchant's yes (they take a ``confirm_token``)."""
