"""``hajatek-mcp demo``: a short guided tour of the sandbox store through a real MCP client.

Every step is a real MCP request to the server, the same an AI agent would send; the tour prints what happened and,
at the end, the exact text the model reads. Each run gets a fresh demo store of its own (the CLI builds it in memory),
so the tour is the same every time and the ``--sandbox`` store in the data dir is never touched.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from hajatek_mcp.scripting import echo, plural, render
from hajatek_mcp.server import Shop

__all__ = ["run_demo"]

_STEPS = 7


def _step(n: int, title: str) -> None:
    echo(f"\n[{n}/{_STEPS}] {title}")


def _data(result: CallToolResult) -> dict[str, Any]:
    if result.is_error:
        raise RuntimeError(f"the demo store answered with an error: {render(result)}")
    return result.structured_content or {}


async def run_demo(server: MCPServer[Shop]) -> int:
    echo("hajatek-mcp demo: the sandbox store, driven through a real MCP client (what an AI agent does).")
    echo("A fresh demo store for this tour, in memory: nothing here is kept, and your --sandbox store is not touched.")
    async with Client(server) as client:
        _step(1, "Connect and discover")
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
        prompts = (await client.list_prompts()).prompts
        echo(f"  {plural(len(tools), 'tool')}, {plural(len(resources), 'resource')}, {plural(len(prompts), 'prompt')}")
        echo(f"  tools: {', '.join(t.name for t in tools)}")

        _step(2, "get_store: which store am I running?")
        store = _data(await client.call_tool("get_store", {}))
        echo(f"  {store['name']} ({store['id']}), currency {store['currency']}, plan {store.get('plan')}")

        _step(3, "get_analytics(period='7d'): how did we do this week?")
        week = _data(await client.call_tool("get_analytics", {"period": "7d"}))
        paid = plural(week.get("paid_orders_count") or 0, "paid order")
        echo(
            f"  revenue {week['revenue']:,.2f} {week['currency']} from {paid} ({week['orders_count']} placed), "
            f"average order {week.get('average_order_value', 0):,.2f}"
        )
        for top in week["top_products"][:3]:
            echo(f"  top: {top.get('name')}, {top['quantity']} sold, {top['revenue']:,.2f} SAR")

        _step(4, "list_orders(status='pending', limit=5): what is waiting?")
        listing = await client.call_tool("list_orders", {"status": "pending", "limit": 5})
        pending = _data(listing)
        echo(f"  {plural(pending.get('total') or 0, 'pending order')}; the newest {len(pending['orders'])}:")
        for row in pending["orders"]:
            count, noun = plural(row["units"], "item").split(" ")
            echo(f"  {row['id']}  {row.get('created', ''):<17}  {count:>2} {noun:<5}  {row['total']:>9,.2f} SAR")

        if pending["orders"]:
            order_id = pending["orders"][0]["id"]
            _step(5, f"update_order_status({order_id}, 'processing'): the payment came in")
            moved = _data(await client.call_tool("update_order_status", {"order_id": order_id, "status": "processing"}))
            order = moved["result"]
            echo(f"  {order_id} is now {order['status']}; next it may go to {', '.join(order['allowed_next'])}")

            _step(6, "list_events: the sandbox's signed webhooks, verified and stored in the inbox")
            events: list[dict[str, Any]] = []
            with anyio.move_on_after(5):  # deliveries are asynchronous, as from the real Hajatek
                while len(events) < 2:
                    events = _data(await client.call_tool("list_events", {"limit": 5}))["events"]
                    await anyio.sleep(0.05)
            for event in events[:3]:
                echo(f"  {event['received_at']}  {event['type']:<18} {event['data'].get('order_id', '')}")

            _step(7, f"update_order_status({order_id}, 'cancelled'): a destructive change needs a yes")
            preview = _data(
                await client.call_tool("update_order_status", {"order_id": order_id, "status": "cancelled"})
            )
            echo(f"  {preview['outcome']}: {preview.get('preview')}")
            echo(
                f"  nothing changed yet; confirm_token {preview.get('confirm_token', '')[:10]}… works once, for "
                f"{preview.get('expires_in')} s, for exactly this call"
            )

        text = render(listing)
        echo("\nWhat the model read for step 4 (compact JSON, no nulls):")
        echo(f"  {text[:300]}{'…' if len(text) > 300 else ''}")
        echo(f"  {plural(len(text.encode()), 'byte')} for {plural(len(pending['orders']), 'order')}")
    echo('\nNext: add hajatek-mcp to Claude Desktop with the config in the README ("--sandbox" for this store).')
    return 0
