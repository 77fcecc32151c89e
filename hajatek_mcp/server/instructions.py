"""The server's instructions: a map of the tools, and the rules several tools share, said once.

Hosts put the instructions in the model's context once per conversation, and every tool's description and input
schema on every turn; so what several tools would repeat is said here, and the tools stay lean (see
:mod:`hajatek_mcp.server.schemas`): money and times, dates in store-local time, paging, categories, what revenue
counts, and how a guarded change is confirmed. Only what this configuration registers is mentioned: a read-only
server names no write tool and no confirmation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from hajatek_mcp.server.options import TOOLSETS, ServerOptions
from hajatek_mcp.server.tools import ToolSpec

__all__ = ["CONFIRM_RULE", "instructions"]

#: How the map names a tool when its name alone does not say when to use it.
_HINTS: Final = {
    "get_store": "get_store first (its local time says what 'today' is)",
    "list_customers": "list_customers (a name in any spelling)",
    "restock_report": "restock_report (what to reorder)",
    "sales_report": "sales_report for any period, groups or comparisons (never sum a page yourself)",
    "export_orders": "export_orders (every order: CSV, counts, totals)",
    "list_events": "list_events (what Hajatek reported; subscribe to hajatek://events)",
}
_TIMES: Final = "Money is in SAR. Times are ISO 8601 (2026-11-27T08:00:00Z), UTC unless a tool says store-local."
#: The tools whose since/until are store-local, where a date is a whole local day.
_LOCAL_TIMES: Final = ("list_orders", "sales_report")
_LOCAL_RULE: Final = " {} take since/until in store-local time; a date (YYYY-MM-DD) there is a whole day."
_PAGING: Final = (
    "Lists are newest first, limit up to 100 (default 20): when has_more, call again with page=next_page. A search "
    "that stops at its bound says so (complete: false) and how to go on."
)
_CATEGORY: Final = "A category is a slug, as products show it (perfumes-oud)."
_REVENUE: Final = "Revenue: order totals with VAT and shipping, of processing, shipped and delivered orders."
CONFIRM_RULE: Final = (
    "Guarded changes need the merchant's yes: the client asks them, or the first call changes nothing and returns a "
    "preview with a confirm_token; show the preview and, once they agree, repeat the same call with confirm_token."
)
_BULK: Final = "Several changes at once: a bulk_ tool (one preview for all), not one call each."


def instructions(options: ServerOptions, tools: Sequence[ToolSpec]) -> str:
    """The instructions of a server with ``options`` that registers ``tools``."""
    names = {t.name for t in tools}
    times = _TIMES
    if local := [name for name in _LOCAL_TIMES if name in names]:
        times += (
            f" {' and '.join(local)} take since/until in store-local time; a date (YYYY-MM-DD) there is a whole day."
        )
    lines = [
        "Tools for one Hajatek store (Saudi e-commerce).",
        *(
            "- " + ", ".join(_HINTS.get(t.name, t.name) for t in tools if t.toolset == toolset)
            for toolset in TOOLSETS
            if toolset in options.toolsets
        ),
        times,
        _PAGING,
    ]
    if names & {"list_products", "restock_report"}:
        lines.append(_CATEGORY)
    if names & {"get_analytics", "sales_report"}:
        lines.append(_REVENUE)
    if options.read_only:
        lines.append("Read-only mode: nothing can be changed.")
    elif options.confirm != "none" and any(t.guarded for t in tools):
        lines.append(CONFIRM_RULE)
    if any(name.startswith("bulk_") for name in names):
        lines.append(_BULK)
    if options.sandbox:
        lines.append("This is the SANDBOX demo store, not a live shop: changes affect no real customer.")
    return "\n".join(lines)
