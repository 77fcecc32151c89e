"""hajatek-mcp with the OpenAI Agents SDK: list the tools and call one, against the sandbox, with no model.

The Agents SDK installs in its own environment and starts hajatek-mcp (installed elsewhere) as a separate process:

    python -m venv ~/.venvs/agents && ~/.venvs/agents/bin/pip install openai-agents
    HAJATEK_MCP_COMMAND=$(which hajatek-mcp) ~/.venvs/agents/bin/python examples/openai_agents_sdk.py

Over stdio it always runs; set HAJATEK_MCP_URL (``hajatek-mcp serve --sandbox --transport streamable-http``, then
http://127.0.0.1:8000/mcp) and HAJATEK_MCP_SSE_URL (``--transport sse --port 8001``, then http://127.0.0.1:8001/sse)
to try those transports too. In a real agent the model picks the tools itself:

    from agents import Agent, Runner

    agent = Agent(name="Shop assistant", instructions="Help run the store.", mcp_servers=[server])
    result = await Runner.run(agent, "Which orders are waiting to be shipped?")
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil

from agents.mcp import MCPServer, MCPServerSse, MCPServerStdio, MCPServerStreamableHttp


def servers() -> dict[str, MCPServer]:
    """One server per transport: stdio always, HTTP and SSE when a server URL is given."""
    command = os.environ.get("HAJATEK_MCP_COMMAND") or shutil.which("hajatek-mcp") or "hajatek-mcp"
    found: dict[str, MCPServer] = {
        "stdio": MCPServerStdio(
            name="hajatek", params={"command": command, "args": ["--sandbox"]}, cache_tools_list=True
        )
    }
    if url := os.environ.get("HAJATEK_MCP_URL"):
        found["streamable-http"] = MCPServerStreamableHttp(name="hajatek", params={"url": url}, cache_tools_list=True)
    if sse_url := os.environ.get("HAJATEK_MCP_SSE_URL"):
        found["sse"] = MCPServerSse(name="hajatek", params={"url": sse_url}, cache_tools_list=True)
    return found


async def main() -> None:
    for transport, server in servers().items():
        async with server:
            tools = await server.list_tools()
            print(f"[{transport}] {len(tools)} tools:", ", ".join(tool.name for tool in tools))
            # What the agent runner does with a model's tool call.
            result = await server.call_tool("list_orders", {"status": "pending", "limit": 3})
            page = result.structured_content or json.loads(result.content[0].text.split("\n")[-1])  # type: ignore[union-attr]
            print(f"[{transport}] list_orders status=pending limit=3:")
            for order in page["orders"]:
                print(f"  {order['id']}  {order['status']}  {order['total']} {page['currency']}")


if __name__ == "__main__":
    asyncio.run(main())
