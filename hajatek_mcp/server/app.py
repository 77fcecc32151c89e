"""``build_server``: the MCP face of a Hajatek store.

A plain constructor: it registers the tools the options allow (toolsets, read-only), the resources and the prompts,
and a lifespan that opens the API client and closes it on shutdown. Nothing runs at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool

from hajatek_mcp import __version__
from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import prompts, resources
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.guards import CONFIRM_HINT
from hajatek_mcp.server.state import TOOLSETS, ServerOptions, Shop, ShopRef
from hajatek_mcp.server.tools import TOOLS, ToolSpec

__all__ = ["build_server", "selected_tools"]

_TOOLSET_MAP = {
    "store": "get_store first",
    "catalog": "list_products (filter by category/search), create_product, update_product, delete_product",
    "orders": "list_orders (filter by status), get_order (line items, allowed next statuses), update_order_status",
    "customers": "list_customers",
    "analytics": "get_analytics for totals over a period (never sum a page yourself)",
}


def selected_tools(options: ServerOptions) -> list[ToolSpec]:
    """The tools this configuration registers: the chosen toolsets, and no write tool when read-only."""
    return [t for t in TOOLS if t.toolset in options.toolsets and (t.read_only or not options.read_only)]


def _instructions(options: ServerOptions) -> str:
    lines = [
        "Tools for one Hajatek store (Saudi e-commerce; money in SAR, times in UTC).",
        *(f"- {_TOOLSET_MAP[name]}" for name in TOOLSETS if name in options.toolsets),
        "Lists are paged: when has_more is true, call again with page=next_page.",
    ]
    if options.read_only:
        lines.append("Read-only mode: nothing can be changed.")
    elif options.confirm != "none":
        lines.append(CONFIRM_HINT)
    if options.sandbox:
        lines.append("This is the SANDBOX demo store, not a live shop: changes affect no real customer.")
    return "\n".join(lines)


def _slim(schema: Any) -> None:
    """Make a generated schema lean without changing what it accepts or promises.

    Drops pydantic's ``title`` keys (they repeat the property names) and writes an optional ``X | None = None``
    as plain ``X``: the property is already optional by not being required. Every byte is paid on every list.
    """
    if isinstance(schema, dict):
        if isinstance(schema.get("title"), str):
            del schema["title"]
        options = schema.get("anyOf")
        optional = "default" in schema and schema["default"] is None
        if optional and isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            del schema["default"]
            del schema["anyOf"]
            other = next(o for o in options if o != {"type": "null"})
            for key, value in other.items():
                schema.setdefault(key, value)
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for prop in value.values():
                    _slim(prop)
            else:
                _slim(value)
    elif isinstance(schema, list):
        for item in schema:
            _slim(item)


def _tool(spec: ToolSpec) -> Tool:
    tool = Tool.from_function(
        spec.fn, name=spec.name, title=spec.title, description=" ".join((spec.fn.__doc__ or "").split()),
        annotations=spec.annotations,
    )  # fmt: skip
    _slim(tool.parameters)
    _slim(tool.fn_metadata.output_schema)
    return tool


def build_server(
    options: ServerOptions, connect: Callable[[], AbstractAsyncContextManager[HajatekClient]]
) -> MCPServer[Shop]:
    """The MCP server for one store.

    ``connect`` opens the API client (a ``HajatekClient`` is its own context manager); the lifespan owns it and
    closes it, and whatever stands behind it, on shutdown.
    """

    ref = ShopRef()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Shop]) -> AsyncIterator[Shop]:
        state = options.state_dir
        if state is not None:
            state.mkdir(parents=True, exist_ok=True)
        audit = AuditLog(state / "audit.db" if state else None, clock=options.clock)
        confirmations = ConfirmationStore(
            state / "confirmations.db" if state else None, ttl=options.confirm_ttl, clock=options.clock
        )
        try:
            async with connect() as client:
                shop = Shop(client=client, options=options, audit=audit, confirmations=confirmations)
                ref.set(shop)
                try:
                    yield shop
                finally:
                    ref.set(None)
        finally:
            audit.close()
            confirmations.close()

    server: MCPServer[Shop] = MCPServer(
        "hajatek",
        title="Hajatek store" + (" (sandbox)" if options.sandbox else ""),
        description="Run a Hajatek store: catalog, orders, customers and analytics.",
        instructions=_instructions(options),
        version=__version__,
        website_url="https://github.com/hajatek/hajatek-mcp",
        lifespan=lifespan,
        tools=[_tool(spec) for spec in selected_tools(options)],
        log_level="WARNING",
    )
    resources.register(server, options, ref)
    prompts.register(server, options)
    return server
