"""Views inside the host: MCP Apps (the ``io.modelcontextprotocol/ui`` extension) for the tools a merchant would
rather see than read.

A tool with a view carries ``_meta.ui.resourceUri`` naming a ``ui://hajatek/…`` resource: one self-contained HTML
document (inline script and style, nothing fetched), served as ``text/html;profile=mcp-app``, that a host which
negotiated the extension renders in a sandboxed frame and feeds with the tool's result. Everything else about the tool
is unchanged: its text and structured content are what a client without the extension gets, and ``_meta`` is not
part of what the model reads, so the model-visible ``tools/list`` does not grow.

How a view talks to the host: ``bridge.js``, a small hand-written implementation of the view side of the protocol
(``ui/initialize``, ``initialized``, the tool input and result, host context, size, teardown), inlined into each view.
The official ``App`` class of ``@modelcontextprotocol/ext-apps`` bundles zod and the TypeScript client (about 665 KB
minified), more than four times the 150 KB a view may weigh; the bridge is about 3 KB and is proven against the official
host bridge (``AppBridge``) in real Chromium by ``tests/e2e/test_apps_browser.py``. Views build every element with
``textContent``: a product name is data, never markup.

Views, each light or dark after the host's theme and right to left for an Arabic locale:

- the catalog (``list_products``): each product with its price in SAR and its stock, low stock (under
  :data:`~hajatek_mcp.server.resources.LOW_STOCK`) and out of stock marked, Arabic names first in Arabic;
- the dashboard (``get_analytics``): revenue, orders, average order and new customers of the period, orders by status
  as bars, top products, and revenue (bars) and paid orders (line) by store-local day, which the view asks
  ``sales_report`` for through the host (the tool result has totals only);
- the orders (``list_orders`` and ``get_order``, one view): a table with status badges and totals, or one order with
  its facts, line items (Arabic names first in Arabic), totals, status history, and a button per status it may move
  to (``update_order_status`` through the host; a change that needs the merchant's yes shows the card in place);
- the confirmation card (``update_product``, ``delete_product``, ``update_order_status`` and the two bulk tools): a
  guarded change's facts
  with Approve and Decline, the click the model cannot make (:mod:`~hajatek_mcp.server.ui.approve`); for a change
  that needed no yes, what was done.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from importlib import resources as package_files
from typing import Any, Final

from mcp.server.apps import APP_MIME_TYPE, Apps, client_supports_apps
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import FunctionResource
from mcp.server.mcpserver.tools import Tool
from mcp.types import ListResourcesResult, ListToolsResult

from hajatek_mcp.server.resources import LOW_STOCK
from hajatek_mcp.server.tools import GUARDED

__all__ = [
    "VIEWS",
    "app_tools",
    "extension",
    "is_view",
    "register",
    "tool_meta",
    "view_html",
    "visible_resources",
    "visible_tools",
]

#: Tool name → (view file stem, title, description).
VIEWS: Final[dict[str, tuple[str, str, str]]] = {
    "list_products": ("catalog", "Catalog", "Products with price and stock; low and out of stock marked."),
    "get_analytics": ("dashboard", "Analytics", "The period's totals, revenue by day, orders by status, top products."),
    "list_orders": ("orders", "Orders", "Orders with status badges and totals; one order with its items and history."),
    "get_order": ("orders", "Orders", "Orders with status badges and totals; one order with its items and history."),
    **dict.fromkeys(GUARDED, ("confirm", "Confirm a change", "A guarded change's facts with Approve and Decline.")),
}


def _uri(stem: str) -> str:
    return f"ui://hajatek/{stem}.html"


def is_view(uri: object) -> bool:
    """Whether ``uri`` is one of the views (listed only to a client that negotiated the extension)."""
    return str(uri).startswith("ui://")


def tool_meta(tool: str) -> dict[str, Any] | None:
    """The ``_meta`` of ``tool``: its view, for a host that renders one (None: the tool has no view)."""
    view = VIEWS.get(tool)
    return {"ui": {"resourceUri": _uri(view[0])}} if view else None


@cache
def view_html(stem: str) -> str:
    """The self-contained document of a view: its HTML with the shared style and the bridge inlined."""
    here = package_files.files(__name__)
    html = (here / f"{stem}.html").read_text(encoding="utf-8")
    return (
        html.replace("/*BASE*/", (here / "base.css").read_text(encoding="utf-8"))
        .replace("/*BRIDGE*/", (here / "bridge.js").read_text(encoding="utf-8"))
        .replace("/*CARD*/", (here / "card.js").read_text(encoding="utf-8"))
        .replace("<!--CARD-->", (here / "card.html").read_text(encoding="utf-8").strip())
        .replace("__LOW_STOCK__", str(LOW_STOCK))
    )


def visible_resources(ctx: ServerRequestContext[Any], listed: ListResourcesResult) -> ListResourcesResult:
    """``resources/list`` as ``ctx``'s client should see it: the views only if it negotiated MCP Apps."""
    if not client_supports_apps(ctx):
        listed.resources = [r for r in listed.resources if not is_view(r.uri)]
    return listed


def visible_tools(ctx: ServerRequestContext[Any], listed: ListToolsResult) -> ListToolsResult:
    """``tools/list`` as ``ctx``'s client should see it: the card's app-only tool only if it negotiated MCP Apps (its
    host then keeps it from the model)."""
    if not client_supports_apps(ctx):
        listed.tools = [t for t in listed.tools if "app" not in (t.meta or {}).get("ui", {}).get("visibility", ())]
    return listed


def extension() -> Apps:
    """The extension, advertised to 2026-07-28 clients in ``server/discover`` (:func:`register` adds the views)."""
    return Apps()


def app_tools(present: Collection[str]) -> list[Tool]:
    """The tools only views call: the confirmation card's ``approve_change``, when a guarded tool is ``present``."""
    if not any(tool in present for tool in GUARDED):
        return []
    from hajatek_mcp.server.ui.approve import ANNOTATIONS, approve_change  # noqa: PLC0415  # built with the tools

    approve = Tool.from_function(
        approve_change,
        name="approve_change",
        title=ANNOTATIONS.title,
        description=" ".join((approve_change.__doc__ or "").split()),
        annotations=ANNOTATIONS,
        meta={"ui": {"resourceUri": _uri("confirm"), "visibility": ["app"]}},
    )
    return [approve]


def register(server: MCPServer[Any], present: Collection[str]) -> None:
    """Serve the view of every tool ``present`` that has one (read when a host asks for it, not at start); the
    confirmation card's tool is one of :func:`app_tools`."""
    served: set[str] = set()
    for tool, (stem, title, description) in VIEWS.items():
        if tool in present and stem not in served:
            served.add(stem)
            server.add_resource(
                FunctionResource(
                    uri=_uri(stem),
                    name=f"view-{stem}",
                    title=title,
                    description=description,
                    mime_type=APP_MIME_TYPE,
                    fn=lambda stem=stem: view_html(stem),
                )
            )
