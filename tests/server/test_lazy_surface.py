"""The tools and prompts are built on their first read, not before ``initialize`` is answered; then as before."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mcp import Client
from mcp.server.mcpserver import MCPServer

from hajatek_mcp.server.lazy import LazyPrompts, LazyTools
from hajatek_mcp.server.shop import Shop
from tests.support import structured

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"
SNAPSHOT_NAMES = [tool["name"] for tool in json.loads(SNAPSHOT.read_text(encoding="utf-8"))]


def _registries(server: MCPServer[Shop]) -> tuple[LazyTools, LazyPrompts]:
    tools, prompts = server._tool_manager, server._prompt_manager  # what the built server holds
    assert isinstance(tools, LazyTools)
    assert isinstance(prompts, LazyPrompts)
    return tools, prompts


async def test_the_handshake_builds_no_tool_and_the_first_listing_builds_them_all_in_order(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    server = make_server()
    tools, _ = _registries(server)
    assert not tools.built
    async with Client(server, mode=mode) as client:
        assert not tools.built  # initialize (and 2026-07-28 discovery) answered without them
        listed = [tool.name for tool in (await client.list_tools()).tools]
        assert tools.built
        assert listed == SNAPSHOT_NAMES
        assert [tool.name for tool in (await client.list_tools()).tools] == listed  # built once, same order


async def test_a_call_before_any_listing_builds_the_tools_and_runs(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    server = make_server()
    tools, _ = _registries(server)
    async with Client(server, mode=mode) as client:
        store = await structured(client, "get_store", {})
        assert store["id"] == "str_sandbox"
        assert tools.built
        refused = await client.call_tool("list_orders", {"stauts": "pending"})
        assert refused.is_error  # the strict arguments of the lazily built tools


async def test_prompts_come_on_their_first_read(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    server = make_server(read_only=True)
    _, prompts = _registries(server)
    assert prompts._prompts == {}  # nothing registered before the first read
    async with Client(server, mode=mode) as client:
        names = [prompt.name for prompt in (await client.list_prompts()).prompts]
        assert names == ["daily_briefing", "order_triage", "restock_plan", "events_review"]
        rendered = await client.get_prompt("order_triage", {"status": "pending"})
    assert "Do not change anything" in str(rendered.messages)
