"""The server over HTTP: ``hajatek-mcp serve --sandbox --transport streamable-http|sse`` on a loopback port.

Each transport's process starts once per module; the tests here only read, so they do not depend on each other.
"""

from __future__ import annotations

import json

import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.types import TextResourceContents

from tests.e2e.support import ALL_TOOLS
from tests.support import PROTOCOL_VERSION, REQUEST_TIMEOUT, HttpServer

_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}},
}
_MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def streamable_http(server: HttpServer, mode: str) -> Client:
    return Client(server.url("/mcp"), mode=mode, read_timeout_seconds=REQUEST_TIMEOUT)


def sse(server: HttpServer, mode: str) -> Client:
    return Client(sse_client(server.url("/sse")), mode=mode, read_timeout_seconds=REQUEST_TIMEOUT)


def catalog_overview(contents: object) -> dict[str, object]:
    assert isinstance(contents, TextResourceContents)
    assert contents.mime_type == "application/json"
    overview: dict[str, object] = json.loads(contents.text)
    return overview


# --- streamable HTTP ---------------------------------------------------------------------------------------------


async def test_streamable_http_lists_every_tool(streamable_http_server: HttpServer, mode: str) -> None:
    async with streamable_http(streamable_http_server, mode) as client:
        assert client.protocol_version == PROTOCOL_VERSION[mode]
        assert client.server_info is not None
        assert client.server_info.name == "hajatek"
        tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == ALL_TOOLS


async def test_streamable_http_get_store_returns_the_sandbox_store(
    streamable_http_server: HttpServer, mode: str
) -> None:
    async with streamable_http(streamable_http_server, mode) as client:
        result = await client.call_tool("get_store", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["id"] == "str_sandbox"


async def test_streamable_http_list_orders_filters_by_status(streamable_http_server: HttpServer, mode: str) -> None:
    async with streamable_http(streamable_http_server, mode) as client:
        result = await client.call_tool("list_orders", {"status": "shipped", "limit": 5})
    assert not result.is_error
    assert result.structured_content is not None
    orders = result.structured_content["orders"]
    assert len(orders) == 5
    assert {order["status"] for order in orders} == {"shipped"}


async def test_streamable_http_catalog_resource_counts_products_per_category(
    streamable_http_server: HttpServer, mode: str
) -> None:
    async with streamable_http(streamable_http_server, mode) as client:
        result = await client.read_resource("hajatek://catalog")
    overview = catalog_overview(result.contents[0])
    categories = overview["categories"]
    assert isinstance(categories, dict)
    assert categories
    assert sum(categories.values()) == overview["products"]


def test_streamable_http_accepts_a_local_origin(streamable_http_server: HttpServer) -> None:
    """The control for the two rejections below: the same request from the server's own origin succeeds."""
    origin = streamable_http_server.url("")
    response = httpx2.post(
        streamable_http_server.url("/mcp"), json=_INITIALIZE, headers={**_MCP_HEADERS, "Origin": origin}
    )
    assert response.status_code == 200


def test_streamable_http_rejects_a_foreign_host_header_with_421(streamable_http_server: HttpServer) -> None:
    response = httpx2.post(
        streamable_http_server.url("/mcp"), json=_INITIALIZE, headers={**_MCP_HEADERS, "Host": "evil.example"}
    )
    assert response.status_code == 421


def test_streamable_http_rejects_a_foreign_origin_with_403(streamable_http_server: HttpServer) -> None:
    response = httpx2.post(
        streamable_http_server.url("/mcp"),
        json=_INITIALIZE,
        headers={**_MCP_HEADERS, "Origin": "http://evil.example"},
    )
    assert response.status_code == 403


# --- SSE ---------------------------------------------------------------------------------------------------------


async def test_sse_lists_every_tool(sse_server: HttpServer, mode: str) -> None:
    async with sse(sse_server, mode) as client:
        assert client.protocol_version == PROTOCOL_VERSION[mode]
        tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == ALL_TOOLS


async def test_sse_get_store_returns_the_sandbox_store(sse_server: HttpServer, mode: str) -> None:
    async with sse(sse_server, mode) as client:
        result = await client.call_tool("get_store", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["id"] == "str_sandbox"


async def test_sse_list_orders_filters_by_status(sse_server: HttpServer, mode: str) -> None:
    async with sse(sse_server, mode) as client:
        result = await client.call_tool("list_orders", {"status": "delivered", "limit": 5})
    assert not result.is_error
    assert result.structured_content is not None
    assert {order["status"] for order in result.structured_content["orders"]} == {"delivered"}


async def test_sse_catalog_resource_counts_products_per_category(sse_server: HttpServer, mode: str) -> None:
    async with sse(sse_server, mode) as client:
        result = await client.read_resource("hajatek://catalog")
    overview = catalog_overview(result.contents[0])
    assert isinstance(overview["categories"], dict)
    assert sum(overview["categories"].values()) == overview["products"]


def test_sse_rejects_a_foreign_host_header_with_421(sse_server: HttpServer) -> None:
    response = httpx2.get(sse_server.url("/sse"), headers={"Host": "evil.example"})
    assert response.status_code == 421
