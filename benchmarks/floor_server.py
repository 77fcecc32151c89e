"""The floor of the per-call overhead: a server that does no work but return our exact ``list_orders`` result.

``python benchmarks/floor_server.py PAGE.json`` serves, over stdio, one tool ``canned`` whose result is built from
the saved ``OrderPage`` by our own ``tool_result`` (same structured content, same text, same output schema as
``list_orders``), with no API request, no resolver and no view building. Its round trip minus the bare trivial
tool's is what the size of the result alone costs through the SDK (serialising, the pipe, parsing, and the client's
re-validation against the output schema); ours can only be slower than this floor.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from hajatek_mcp.server.app import _tool  # our schema slimming, so the output schema is list_orders' own
from hajatek_mcp.server.tools.base import ToolSpec
from hajatek_mcp.server.views import OrderPage, tool_result

PAGE: dict[str, object] = {}


async def canned() -> Annotated[CallToolResult, OrderPage]:
    """Our list_orders result, with nothing computed."""
    return tool_result(OrderPage.model_validate(PAGE), note="More results: call again with page=2.")


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as file:
        PAGE.update(json.load(file))
    spec = ToolSpec("canned", "", "orders", "Canned", read_only=True, destructive=False, idempotent=True)
    MCPServer("floor", log_level="WARNING", tools=[_tool(spec, canned)]).run("stdio")
