"""hajatek-mcp with the OpenAI Agents SDK: list the tools and call one, against the sandbox, with no model.

    python -m pip install . openai-agents
    python examples/openai_agents_sdk.py

In a real agent, pass ``mcp_servers=[server]`` to ``agents.Agent(...)`` and the model picks the tools itself.
"""

from __future__ import annotations

import asyncio
import json
import shutil

from agents.mcp import MCPServerStdio


async def main() -> None:
    command = shutil.which("hajatek-mcp") or "hajatek-mcp"
    async with MCPServerStdio(
        name="hajatek", params={"command": command, "args": ["--sandbox"]}, cache_tools_list=True
    ) as server:
        tools = await server.list_tools()
        print(f"{len(tools)} tools:", ", ".join(tool.name for tool in tools))
        result = await server.call_tool("list_orders", {"status": "pending", "limit": 3})
        orders = result.structured_content or json.loads(result.content[0].text.split("\n")[-1])  # type: ignore[union-attr]
        for order in orders["orders"]:
            print(f"{order['id']}  {order['status']}  {order['total']} SAR")


if __name__ == "__main__":
    asyncio.run(main())
