"""Prompts: store workflows that chain the tools. Each returns one user message the host sends to the model."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from hajatek_mcp.api.models import OrderStatus
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.shop import Shop

__all__ = ["register"]

#: Prompt arguments are written into the prompt's text, so each has a shape that cannot carry instructions.
_ISO_TIME = r"^(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?)?$"


def register(server: MCPServer[Shop], options: ServerOptions) -> None:
    """Add the workflow prompts to ``server``; write steps are left out in read-only mode."""
    act = (
        "Do not change anything: this server is read-only; list the changes for the merchant to make."
        if options.read_only
        else "Propose changes and make them only after the merchant agrees."
    )

    @server.prompt(
        name="daily_briefing",
        title="Daily briefing",
        description="Summary of sales, orders needing action and stock alerts.",
    )
    def daily_briefing(
        period: Annotated[Literal["today", "7d"], Field(description="today or 7d")] = "today",
    ) -> str:
        since = "today" if period == "today" else "the last 7 days"
        return (
            f"Give me a short briefing on my Hajatek store for {since}.\n"
            "1. get_store: the store's name and its local date and time.\n"
            f"2. sales_report(since=<the local date {'of today' if period == 'today' else '6 days ago'}>, "
            "compare='previous_week'): revenue, orders, average order value, against a week earlier.\n"
            "3. list_orders(status='pending') and list_orders(status='processing'): what needs action.\n"
            "4. restock_report(): what is out of stock or about to run out.\n"
            "Answer in at most 12 lines: numbers first, then the three most useful actions. Amounts in SAR."
        )

    @server.prompt(
        name="order_triage",
        title="Order triage",
        description="Go through open orders and propose the next step for each.",
    )
    def order_triage(
        status: Annotated[OrderStatus, Field(description="orders to triage")] = "pending",
        limit: Annotated[int, Field(ge=1, le=100, description="how many orders")] = 20,
    ) -> str:
        return (
            f"Triage my '{status}' orders.\n"
            f"1. list_orders(status='{status}', limit={limit}).\n"
            "2. get_order only for orders that look unusual (a large total, many units): it shows the customer, "
            "the items, the history and the payment.\n"
            "3. Group them: ready to move on, needs a question to the customer, looks wrong.\n"
            f"4. {act}"
            + (
                ""
                if options.read_only
                else " Move a group at once with bulk_update_order_status(order_ids=[...], status=...): one "
                "preview, one confirmation; report what it did per order."
            )
        )

    @server.prompt(
        name="restock_plan",
        title="Restock plan",
        description="Find products running low and propose reorder quantities.",
    )
    def restock_plan(
        category: Annotated[
            str, Field(pattern=r"^[a-z0-9-]{0,64}$", description="category slug, or empty for all")
        ] = "",
        threshold: Annotated[int, Field(ge=0, le=1000, description="stock below this is low")] = 5,
    ) -> str:
        scope = f"in category '{category}'" if category else "across the catalog"
        where = f", category='{category}'" if category else ""
        return (
            f"Make a restock plan {scope}.\n"
            f"1. restock_report(days=30, low_stock={threshold}{where}): products out of stock, below {threshold}, "
            "or with fewer days of cover than 30 at the rate they sold, with a reorder quantity for each.\n"
            "2. Present them most urgent first: product, stock, sold in 30 days, days of cover, reorder quantity.\n"
            f"3. {act}"
            + (
                ""
                if options.read_only
                else " When stock arrives, update_product(stock=...) for one product or "
                "bulk_update_products(product_ids=[...], stock=...) for several."
            )
        )

    @server.prompt(
        name="events_review",
        title="What happened since…",
        description="Review store events since a time: new orders, payments, stock alerts.",
    )
    def events_review(
        since: Annotated[str, Field(pattern=_ISO_TIME, description="ISO 8601 time, e.g. 2026-11-27T08:00:00Z")] = "",
    ) -> str:
        window = f"since {since}" if since else "recently"
        when = f", since='{since}'" if since else ""
        return (
            f"Tell me what happened in my Hajatek store {window}.\n"
            f"1. list_events(limit=100{when}): new orders, status changes, payments, new products, low stock; it "
            "says since when the inbox has been receiving, so say so if the window reaches back before that.\n"
            "2. For new orders worth a look (large totals, many items), get_order for details.\n"
            "3. For inventory.low events, restock_report() for the stock now and what to reorder.\n"
            "Summarise by kind, biggest items first, and end with what needs my attention. "
            f"{act}"
        )
