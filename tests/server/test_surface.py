"""What the agent sees: the tool list (pinned), resources, templates, prompts, completions, read-only, toolsets."""

from __future__ import annotations

import importlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import MCPError
from mcp.types import PromptReference, ResourceTemplateReference, TextResourceContents

from hajatek_mcp.server.schemas import inline_refs as _inline_refs
from hajatek_mcp.server.tools import TOOLS
from tests.support import Connect

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"

#: Pinned by hand: (readOnly, destructive, idempotent, openWorld) per tool. Changing one is a product decision.
ANNOTATIONS = {
    "get_store": (True, False, True, True),
    "list_products": (True, False, True, True),
    "get_product": (True, False, True, True),
    "create_product": (False, False, False, True),
    "update_product": (False, True, True, True),
    "delete_product": (False, True, True, True),
    "bulk_update_products": (False, True, True, True),
    "restock_report": (True, False, True, True),
    "list_orders": (True, False, True, True),
    "get_order": (True, False, True, True),
    "update_order_status": (False, True, True, True),
    "bulk_update_order_status": (False, True, True, True),
    "export_orders": (True, False, True, True),
    "list_customers": (True, False, True, True),
    "get_customer": (True, False, True, True),
    "get_analytics": (True, False, True, True),
    "sales_report": (True, False, True, True),
    "list_events": (True, False, True, False),
}


def wire(model: Any) -> Any:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


async def test_tools_list_matches_the_snapshot_and_the_pinned_annotations(connect: Connect) -> None:
    async with connect() as client:
        tools = (await client.list_tools()).tools
    listed = [{k: v for k, v in wire(t).items() if k != "_meta"} for t in tools]
    assert [t["name"] for t in listed] == list(ANNOTATIONS)
    for tool in listed:
        hints = tool["annotations"]
        pinned = (hints["readOnlyHint"], hints["destructiveHint"], hints["idempotentHint"], hints["openWorldHint"])
        assert pinned == ANNOTATIONS[tool["name"]], tool["name"]
        assert tool["title"]
        assert 20 <= len(tool["description"]) <= 300, tool["name"]
        assert tool["outputSchema"]["type"] == "object"
        assert "$ref" not in json.dumps(tool["outputSchema"]), "output schemas are inlined (a client validates rows)"
        assert "title" not in tool["inputSchema"]
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(listed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert listed == json.loads(SNAPSHOT.read_text(encoding="utf-8")), (
        "tools/list changed: UPDATE_SNAPSHOTS=1 to accept"
    )


def test_inlining_refs_keeps_sibling_keys_and_leaves_a_recursive_schema_alone() -> None:
    schema = {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": {"$ref": "#/$defs/Row", "description": "one row"}}},
        "$defs": {"Row": {"type": "object", "properties": {"id": {"type": "string"}}}},
    }
    _inline_refs(schema)
    assert schema == {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}},
                                                           "description": "one row"}}},
    }  # fmt: skip
    recursive = {"$ref": "#/$defs/Node", "$defs": {"Node": {"properties": {"next": {"$ref": "#/$defs/Node"}}}}}
    before = json.dumps(recursive)
    _inline_refs(recursive)
    assert json.dumps(recursive) == before


async def test_read_only_registers_no_tool_that_writes(connect: Connect) -> None:
    async with connect(read_only=True) as client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == {n for n, hints in ANNOTATIONS.items() if hints[0]}
        assert all(t.annotations and t.annotations.read_only_hint for t in tools)
        result = await client.call_tool("update_order_status", {"order_id": "ord_000001", "status": "shipped"})
        assert result.is_error
        assert "update_order_status is not available: this server is read-only" in result.content[0].text  # type: ignore[union-attr]
        assert client.instructions is not None
        assert "Read-only mode" in client.instructions


async def test_toolsets_limit_what_is_registered(connect: Connect) -> None:
    async with connect(toolsets=frozenset({"orders", "analytics"})) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {
        "list_orders",
        "get_order",
        "update_order_status",
        "bulk_update_order_status",
        "export_orders",
        "get_analytics",
        "sales_report",
    }


def test_unknown_toolsets_are_refused() -> None:
    from hajatek_mcp.server import ServerOptions

    with pytest.raises(ValueError, match="choose from store, catalog, orders, customers, analytics"):
        ServerOptions(toolsets=frozenset({"payments"}))


async def test_static_resources(connect: Connect) -> None:
    async with connect() as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert uris == {"hajatek://store", "hajatek://catalog", "hajatek://analytics", "hajatek://audit",
                        "hajatek://events"}  # fmt: skip
        store = json.loads(_text(await client.read_resource("hajatek://store")))
        catalog = json.loads(_text(await client.read_resource("hajatek://catalog")))
        analytics = json.loads(_text(await client.read_resource("hajatek://analytics")))
    assert store["id"] == "str_sandbox"
    assert catalog["sandbox"] is True
    assert catalog["products"] >= 200
    assert len(catalog["categories"]) >= 6
    assert catalog["low_stock"]
    assert all(p["stock"] < catalog["low_stock_threshold"] for p in catalog["low_stock"])
    assert analytics["period"] == "30d"


async def test_resource_templates(connect: Connect) -> None:
    async with connect() as client:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert templates == {
            "hajatek://catalog/{category}",
            "hajatek://orders/{order_id}",
            "hajatek://events/{event_id}",
            "hajatek://exports/{name}",
        }
        catalog = json.loads(_text(await client.read_resource("hajatek://catalog")))
        category = next(iter(catalog["categories"]))
        products = json.loads(_text(await client.read_resource(f"hajatek://catalog/{category}")))
        assert len(products["products"]) == catalog["categories"][category]
        orders = await client.call_tool("list_orders", {"limit": 1})
        assert orders.structured_content is not None
        order_id = orders.structured_content["orders"][0]["id"]
        order = json.loads(_text(await client.read_resource(f"hajatek://orders/{order_id}")))
        assert order["id"] == order_id
        assert order["items"]


async def test_unknown_resources_are_not_found_errors(connect: Connect) -> None:
    async with connect() as client:
        for uri in ("hajatek://orders/ord_999999", "hajatek://orders/nope", "hajatek://catalog/no-such-category"):
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            assert caught.value.code == -32602, uri


async def test_prompts_chain_the_tools(connect: Connect) -> None:
    async with connect() as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"daily_briefing", "order_triage", "restock_plan", "events_review"}
        assert all(p.description and p.title for p in prompts.values())
        briefing = await client.get_prompt("daily_briefing", {"period": "7d"})
        triage = await client.get_prompt("order_triage", {"status": "processing", "limit": "5"})
        restock = await client.get_prompt("restock_plan", {"category": "perfumes-oud", "threshold": "12"})
    assert "compare='previous_week'" in briefing.messages[0].content.text  # type: ignore[union-attr]
    assert "list_orders(status='processing', limit=5)" in triage.messages[0].content.text  # type: ignore[union-attr]
    step = "restock_report(days=30, low_stock=12, category='perfumes-oud')"
    assert step in restock.messages[0].content.text  # type: ignore[union-attr]


async def test_read_only_prompts_do_not_ask_for_changes(connect: Connect) -> None:
    async with connect(read_only=True) as client:
        triage = await client.get_prompt("order_triage", {})
    assert "read-only" in triage.messages[0].content.text  # type: ignore[union-attr]


async def test_completions_for_categories_statuses_and_periods(connect: Connect) -> None:
    async with connect() as client:
        template = ResourceTemplateReference(type="ref/resource", uri="hajatek://catalog/{category}")
        categories = await client.complete(template, {"name": "category", "value": "p"})
        statuses = await client.complete(
            PromptReference(type="ref/prompt", name="order_triage"), {"name": "status", "value": "pro"}
        )
        periods = await client.complete(
            PromptReference(type="ref/prompt", name="daily_briefing"), {"name": "period", "value": ""}
        )
    assert categories.completion.values
    assert all(v.startswith("p") for v in categories.completion.values)
    assert statuses.completion.values == ["processing"]
    assert "7d" in periods.completion.values


def _text(result: Any) -> str:
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    return content.text


async def test_an_unknown_prompt_or_bad_argument_is_invalid_params_not_an_internal_error(connect: Connect) -> None:
    async with connect() as client:
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("no_such_prompt", {})
        with pytest.raises(MCPError) as bad:
            await client.get_prompt("daily_briefing", {"period": "bogus"})
    assert unknown.value.code == -32602
    assert "no_such_prompt" in unknown.value.message
    assert bad.value.code == -32602
    assert "period" in bad.value.message


def test_each_registry_row_names_its_function_and_says_whether_it_takes_a_confirm_token() -> None:
    for spec in TOOLS:
        module = importlib.import_module(f"hajatek_mcp.server.tools.{spec.module}")
        assert spec.name in module.__all__, spec
        assert spec.fn.__name__ == spec.name
        assert spec.guarded == ("confirm_token" in inspect.signature(spec.fn).parameters), spec.name
    assert len({spec.name for spec in TOOLS}) == len(TOOLS)
