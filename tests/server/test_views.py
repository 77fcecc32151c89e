"""MCP Apps views, as a client sees them: a host that negotiated the extension finds each view and can read it; any
other client sees nothing new but a ``_meta`` it ignores. Each view is one self-contained document within budget.

(How a view looks and behaves in a real host: tests/e2e/test_apps_browser.py.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.server.mcpserver import MCPServer
from mcp.types import TextResourceContents

from hajatek_mcp.server import Shop
from hajatek_mcp.server.ui import VIEWS, view_html

APPS = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
BUDGET = 150_000


def model_visible(tool: Any) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}


async def test_a_host_with_apps_finds_each_view_and_reads_it(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode, extensions=APPS) as host:  # type: ignore[arg-type]
        tools = {t.name: t for t in (await host.list_tools()).tools}
        listed = {str(r.uri): r for r in (await host.list_resources()).resources}
        assert tools["approve_change"].meta == {
            "ui": {"resourceUri": "ui://hajatek/confirm.html", "visibility": ["app"]}
        }
        for tool, (stem, _, _) in VIEWS.items():
            uri = f"ui://hajatek/{stem}.html"
            assert tools[tool].meta == {"ui": {"resourceUri": uri}}
            assert listed[uri].mime_type == APP_MIME_TYPE
            read = (await host.read_resource(uri)).contents[0]
            assert isinstance(read, TextResourceContents)
            assert read.mime_type == APP_MIME_TYPE
            assert read.text == view_html(stem)


async def test_a_client_without_apps_sees_nothing_new_but_the_meta(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    server = make_server()
    async with Client(server, mode=mode) as plain, Client(server, mode=mode, extensions=APPS) as host:  # type: ignore[arg-type]
        plain_resources = [str(r.uri) for r in (await plain.list_resources()).resources]
        host_resources = [str(r.uri) for r in (await host.list_resources()).resources]
        plain_tools = [model_visible(t) for t in (await plain.list_tools()).tools]
        host_tools = [model_visible(t) for t in (await host.list_tools()).tools]
    assert not any(uri.startswith("ui://") for uri in plain_resources)
    assert [uri for uri in host_resources if not uri.startswith("ui://")] == plain_resources
    # What the model reads does not grow: the one tool more is the card's, which the host keeps from the model.
    assert [t for t in host_tools if t["name"] != "approve_change"] == plain_tools
    assert "approve_change" not in [t["name"] for t in plain_tools]


async def test_a_server_without_the_catalog_toolset_serves_no_catalog_view(
    make_server: Callable[..., MCPServer[Shop]],
) -> None:
    async with Client(make_server(toolsets=frozenset({"orders"})), extensions=APPS) as host:  # type: ignore[arg-type]
        listed = [str(r.uri) for r in (await host.list_resources()).resources]
    assert "ui://hajatek/catalog.html" not in listed


@pytest.mark.parametrize("stem", sorted({stem for stem, _, _ in VIEWS.values()}))
def test_a_view_is_one_self_contained_document_within_budget(stem: str) -> None:
    html = view_html(stem)
    assert len(html.encode()) <= BUDGET
    assert html.startswith("<!doctype html>")
    assert "/*BASE*/" not in html
    assert "/*BRIDGE*/" not in html
    assert "/*CARD*/" not in html
    assert "<!--CARD-->" not in html
    assert "__LOW_STOCK__" not in html
    # Nothing fetched: no external script, style, font, image or frame, no network call from script.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"@import|url\(|<link\b|fetch\(|XMLHttpRequest|WebSocket|EventSource", html)
    # Data becomes text, never markup.
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", html)
