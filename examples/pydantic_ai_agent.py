"""hajatek-mcp in Pydantic AI: list the tools and call one through the agent's MCP toolset, with no model.

Pydantic AI installs in its own environment and starts hajatek-mcp (installed elsewhere) as a separate process:

    python -m venv ~/.venvs/pydantic-ai && ~/.venvs/pydantic-ai/bin/pip install "pydantic-ai-slim[mcp]"
    HAJATEK_MCP_COMMAND=$(which hajatek-mcp) ~/.venvs/pydantic-ai/bin/python examples/pydantic_ai_agent.py

Over stdio it always runs; set HAJATEK_MCP_URL (``hajatek-mcp serve --sandbox --transport streamable-http``, then
http://127.0.0.1:8000/mcp) and HAJATEK_MCP_SSE_URL (``--transport sse --port 8001``, then http://127.0.0.1:8001/sse)
to try those transports too. In a real agent the model picks the tools itself:

    from pydantic_ai import Agent

    agent = Agent("openai:gpt-5", toolsets=[toolset])
    result = await agent.run("Which orders are waiting to be shipped?")
"""

from __future__ import annotations

import asyncio
import os
import shutil

from fastmcp.client.transports import StdioTransport
from pydantic_ai.mcp import MCPToolset


def toolsets() -> dict[str, MCPToolset[None]]:
    """One toolset per transport: stdio always, HTTP and SSE when a server URL is given."""
    command = os.environ.get("HAJATEK_MCP_COMMAND") or shutil.which("hajatek-mcp") or "hajatek-mcp"
    found = {"stdio": MCPToolset(StdioTransport(command, ["--sandbox"]), id="hajatek")}
    # A URL picks the transport: a path ending in /sse is SSE, anything else streamable HTTP.
    if url := os.environ.get("HAJATEK_MCP_URL"):
        found["streamable-http"] = MCPToolset(url, id="hajatek")
    if sse_url := os.environ.get("HAJATEK_MCP_SSE_URL"):
        found["sse"] = MCPToolset(sse_url, id="hajatek")
    return found


async def main() -> None:
    for transport, toolset in toolsets().items():
        async with toolset:  # one session for everything inside; an agent run opens it by itself
            tools = await toolset.list_tools()
            print(f"[{transport}] {len(tools)} tools:", ", ".join(tool.name for tool in tools))
            # What the agent does with a model's tool call; the structured result comes back as a dict.
            page = await toolset.direct_call_tool("list_orders", {"status": "pending", "limit": 3})
            print(f"[{transport}] list_orders status=pending limit=3:")
            for order in page["orders"]:
                print(f"  {order['id']}  {order['status']}  {order['total']} {page['currency']}")


if __name__ == "__main__":
    asyncio.run(main())
