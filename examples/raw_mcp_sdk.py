"""hajatek-mcp from the MCP Python SDK 2.x itself: start the server, list the tools and call one, with no model.

The base every Python framework builds on. It needs only the SDK, not hajatek-mcp's own package:

    python -m venv ~/.venvs/mcp && ~/.venvs/mcp/bin/pip install "mcp>=2.3,<3"
    HAJATEK_MCP_COMMAND=$(which hajatek-mcp) ~/.venvs/mcp/bin/python examples/raw_mcp_sdk.py

Over stdio it always runs; set HAJATEK_MCP_URL (``hajatek-mcp serve --sandbox --transport streamable-http``, then
http://127.0.0.1:8000/mcp) and HAJATEK_MCP_SSE_URL (``--transport sse --port 8001``, then http://127.0.0.1:8001/sse)
to try those transports too; ``remote_bearer_client.py`` adds a bearer token. An agent loop of your own sends
``tools[i].name``, ``.description`` and ``.input_schema`` to the model and answers each tool call it makes with
``await client.call_tool(name, arguments)``.
"""

from __future__ import annotations

import asyncio
import os
import shutil

from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client


def servers() -> dict[str, Client]:
    """One client per transport: stdio always, HTTP and SSE when a server URL is given."""
    command = os.environ.get("HAJATEK_MCP_COMMAND") or shutil.which("hajatek-mcp") or "hajatek-mcp"
    found = {"stdio": Client(StdioServerParameters(command=command, args=["--sandbox"]))}
    if url := os.environ.get("HAJATEK_MCP_URL"):
        found["streamable-http"] = Client(url)  # a URL string is streamable HTTP
    if sse_url := os.environ.get("HAJATEK_MCP_SSE_URL"):
        found["sse"] = Client(sse_client(sse_url))
    return found


async def main() -> None:
    for transport, client in servers().items():
        async with client:
            tools = (await client.list_tools()).tools
            print(f"[{transport}] {len(tools)} tools:", ", ".join(tool.name for tool in tools))
            result = await client.call_tool("list_orders", {"status": "pending", "limit": 3})
            if result.is_error:  # a tool's error is a result for the model to read, not an exception
                raise SystemExit(f"list_orders failed: {result.content}")
            page = result.structured_content or {}
            print(f"[{transport}] list_orders status=pending limit=3:")
            for order in page["orders"]:
                print(f"  {order['id']}  {order['status']}  {order['total']} {page['currency']}")


if __name__ == "__main__":
    asyncio.run(main())
