"""hajatek-mcp in LangChain / LangGraph through langchain-mcp-adapters: list the tools and call one, with no model.

langchain-mcp-adapters pins MCP SDK 1.x, so it lives in its own environment and starts hajatek-mcp (installed
elsewhere with MCP SDK 2.x) as a separate process; the two speak the same wire protocol.

    python -m venv ~/.venvs/langchain && ~/.venvs/langchain/bin/pip install langchain-mcp-adapters
    HAJATEK_MCP_COMMAND=$(which hajatek-mcp) ~/.venvs/langchain/bin/python examples/langchain_adapters.py

Over stdio it always runs; set HAJATEK_MCP_URL (``hajatek-mcp serve --sandbox --transport streamable-http``, then
http://127.0.0.1:8000/mcp) and HAJATEK_MCP_SSE_URL (``--transport sse --port 8001``, then http://127.0.0.1:8001/sse)
to try those transports too. In a real agent the model picks the tools itself (``pip install langchain``):

    from langchain.agents import create_agent

    tools = await MultiServerMCPClient(connections).get_tools()
    agent = create_agent("openai:gpt-5", tools)
    await agent.ainvoke({"messages": [{"role": "user", "content": "Which orders are waiting to be shipped?"}]})
"""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

from langchain_mcp_adapters.client import MultiServerMCPClient


def connections() -> dict[str, Any]:
    """One connection per transport: stdio always, HTTP and SSE when a server URL is given."""
    command = os.environ.get("HAJATEK_MCP_COMMAND") or shutil.which("hajatek-mcp") or "hajatek-mcp"
    found: dict[str, Any] = {"stdio": {"transport": "stdio", "command": command, "args": ["--sandbox"]}}
    if url := os.environ.get("HAJATEK_MCP_URL"):
        found["streamable-http"] = {"transport": "streamable_http", "url": url}
    if sse_url := os.environ.get("HAJATEK_MCP_SSE_URL"):
        found["sse"] = {"transport": "sse", "url": sse_url}
    return found


async def main() -> None:
    for transport, connection in connections().items():
        # Each tool call opens its own session; for one long-lived session use
        # ``async with client.session("hajatek") as s: tools = await load_mcp_tools(s)``.
        client = MultiServerMCPClient({"hajatek": connection})
        tools = {tool.name: tool for tool in await client.get_tools()}
        print(f"[{transport}] {len(tools)} tools:", ", ".join(tools))
        # The BaseTool an agent calls: arguments in, the content blocks the model reads out.
        blocks = await tools["list_orders"].ainvoke({"status": "pending", "limit": 3})
        text = "\n".join(block["text"] for block in blocks if block["type"] == "text")
        print(f"[{transport}] list_orders status=pending limit=3:\n{text}")


if __name__ == "__main__":
    asyncio.run(main())
