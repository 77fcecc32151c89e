"""A remote agent that sets headers: the MCP Python SDK over streamable HTTP with a bearer token.

Start the server (a token is required to serve anything but loopback; here it protects loopback too):

    export HAJATEK_MCP_AUTH_TOKEN=$(python -c "import secrets; print(secrets.token_hex(32))")
    hajatek-mcp serve --sandbox --transport streamable-http --port 8000 &
    python examples/remote_bearer_client.py

Any agent framework built on the MCP SDK (or any HTTP client) connects the same way: an ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import os

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main() -> None:
    url = os.environ.get("HAJATEK_MCP_URL", "http://127.0.0.1:8000/mcp")
    headers = {"Authorization": f"Bearer {os.environ['HAJATEK_MCP_AUTH_TOKEN']}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        tools = (await client.list_tools()).tools
        print(f"{len(tools)} tools:", ", ".join(tool.name for tool in tools))
        week = await client.call_tool("get_analytics", {"period": "7d"})
        summary = week.structured_content or {}
        print(
            f"last 7 days: {summary.get('revenue')} {summary.get('currency')} from {summary.get('orders_count')} orders"
        )


if __name__ == "__main__":
    asyncio.run(main())
