"""The model is shown lean input schemas; the tools still check, and explain, everything they declare.

What a tool publishes is derived from its declaration (:func:`hajatek_mcp.server.schemas.published`): never a
stricter promise than the declaration, the same names, types, enums and required arguments, ids by their prefix;
no prose, text lengths or sanity caps. Those are enforced on the call, and a refusal still names the argument, the
bound and the accepted form. Whatever the tools leave to the instructions (paging, categories, confirmation) the
instructions say.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.app import build_server, selected_tools
from hajatek_mcp.server.arguments import StrictTool
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.schemas import EXPLAINED_ONCE, SANITY_CAP, published
from tests.support import Connect, text

DECLARED_ONLY = ("description", "maxLength", "minLength", "format", "title")


def _client() -> HajatekClient:
    return HajatekClient("sk_unused", store_id="str_unused")  # never called: the tests only list


def _tools(server: MCPServer[Any]) -> list[StrictTool]:
    """The tools the model is shown, with their declarations (not the MCP Apps view's own approve_change)."""
    tools = [tool for tool in server._tool_manager.list_tools() if tool.name != "approve_change"]
    assert tools
    assert all(isinstance(tool, StrictTool) for tool in tools)
    return [tool for tool in tools if isinstance(tool, StrictTool)]


def _walk(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, list):
        return [node for item in schema for node in _walk(item)]
    if not isinstance(schema, dict):
        return []
    return [schema, *(node for value in schema.values() for node in _walk(value))]


def test_published_schemas_drop_prose_lengths_and_caps_but_keep_what_a_call_must_get_right() -> None:
    server = build_server(ServerOptions(), _client)
    for tool in _tools(server):
        shown, declared = tool.parameters, tool.declared
        assert shown["additionalProperties"] is False, tool.name
        assert shown.get("required") == declared.get("required"), tool.name
        assert shown["properties"].keys() == declared["properties"].keys(), tool.name
        for name, argument in shown["properties"].items():
            full = declared["properties"][name]
            assert argument.get("type") == full.get("type"), (tool.name, name)
            assert argument.get("enum") == full.get("enum"), (tool.name, name)
            if name not in EXPLAINED_ONCE:
                assert argument.get("default") == full.get("default"), (tool.name, name)
            for node in _walk(argument):
                assert not set(DECLARED_ONLY) & node.keys(), (tool.name, name, node)
                assert not any(node.get(cap, 0) >= SANITY_CAP for cap in ("maximum", "exclusiveMaximum")), node
                assert node.get("minimum") not in (0, 1), (tool.name, name, node)
            for node, full_node in zip(_walk(argument), _walk(full), strict=False):
                if "pattern" in node:  # an id's prefix, of the declared pattern
                    assert full_node["pattern"].startswith(node["pattern"]), (tool.name, name)
                    assert node["pattern"] in ("^prod_", "^ord_", "^cus_"), (tool.name, name, node)


def test_publishing_leaves_the_declaration_as_it_was() -> None:
    declared = {
        "type": "object",
        "properties": {
            "product_id": {"type": "string", "pattern": "^prod_[A-Za-z0-9_]+$", "description": "prod_…"},
            "note": {"type": "string", "maxLength": 500, "description": "reason"},
            "stock": {"type": "integer", "minimum": 0, "maximum": 1000000},
            "days": {"type": "integer", "minimum": 1, "maximum": 90, "default": 30},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        },
    }
    before = json.dumps(declared, sort_keys=True)
    shown = published(declared)
    assert json.dumps(declared, sort_keys=True) == before
    assert shown["properties"] == {
        "product_id": {"type": "string", "pattern": "^prod_"},
        "note": {"type": "string"},
        "stock": {"type": "integer"},
        "days": {"type": "integer", "maximum": 90, "default": 30},
        "limit": {"type": "integer"},
    }


@pytest.mark.parametrize(
    ("options", "mentioned"),
    [
        (ServerOptions(), ("limit up to 100 (default 20)", "page=next_page", "slug", "confirm_token")),
        (ServerOptions(read_only=True), ("limit up to 100 (default 20)", "page=next_page", "slug")),
        (ServerOptions(toolsets=frozenset({"customers"})), ("limit up to 100 (default 20)", "page=next_page")),
    ],
)
def test_the_instructions_explain_every_argument_the_schemas_leave_to_them(
    options: ServerOptions, mentioned: tuple[str, ...]
) -> None:
    server = build_server(options, _client)
    instructions = server.instructions or ""
    used = {name for tool in _tools(server) for name in tool.parameters["properties"]} & EXPLAINED_ONCE
    for phrase in mentioned:
        assert phrase in instructions
    assert all(name in instructions for name in used - {"page", "limit"}), used
    assert ("confirm_token" in instructions) == ("confirm_token" in used)
    assert ("slug" in instructions) == ("category" in used)
    assert {t.name for t in selected_tools(options)} == {t.name for t in _tools(server)}


@pytest.mark.parametrize(
    ("tool", "arguments", "sentence"),
    [
        (
            "create_product",
            {"name": "Oud", "price": 10, "category": "perfumes-oud", "description": "x" * 5001},
            "description is too long: at most 5000 characters.",
        ),
        (
            "create_product",
            {"name": "Oud", "price": 10, "category": "Oud Perfumes"},
            "category “Oud Perfumes” is not in the expected form (slug, e.g. perfumes-oud).",
        ),
        ("get_product", {"product_id": "prod_ab cd"}, "product_id “prod_ab cd” is not in the expected form (prod_…)."),
        (
            "update_product",
            {"product_id": "prod_0001", "price": 5, "confirm_token": "cfm_short"},
            "confirm_token “cfm_short” is not in the expected form (from a preview; omit on the first call).",
        ),
        ("update_product", {"product_id": "prod_0001", "stock": 2_000_000}, "stock “2000000” must be at most 1000000."),
        ("list_orders", {"limit": 500}, "limit “500” must be at most 100."),
        ("list_orders", {"page": 0}, "page “0” must be at least 1."),
        ("export_orders", {"since": "last week"}, "since “last week” is not a date and time: use ISO 8601"),
    ],
)
async def test_what_the_schema_no_longer_shows_is_still_refused_with_its_bound_and_form(
    connect: Connect, tool: str, arguments: dict[str, Any], sentence: str
) -> None:
    async with connect() as client:
        before = text(await client.call_tool("list_products", {"limit": 100}))
        refused = await client.call_tool(tool, arguments)
        assert refused.is_error
        assert sentence in text(refused)
        assert "Nothing was done" in text(refused)
        assert text(await client.call_tool("list_products", {"limit": 100})) == before  # nothing was changed


async def test_the_tools_stay_within_the_context_budget(connect: Connect) -> None:
    """The benchmark's budget, checked where a change to a tool is made: ≤ 400 model-visible bytes per tool."""
    async with connect() as client:
        tools = (await client.list_tools()).tools
    visible = [
        len(json.dumps({"name": t.name, "description": t.description, "inputSchema": t.input_schema},
                       ensure_ascii=False, separators=(",", ":")).encode())
        for t in tools
    ]  # fmt: skip
    assert len(visible) == 18
    assert sum(visible) / len(visible) <= 400, sum(visible) / len(visible)
