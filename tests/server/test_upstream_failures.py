"""Upstream failures become is_error results that say what happened; the server keeps serving afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import Sandbox
from hajatek_mcp.server import ServerOptions, Shop, build_server
from hajatek_mcp.server.tools import TOOLS
from tests.support import Connect, Loopback, text


def faults(app: Starlette) -> Sandbox:
    sandbox: Sandbox = app.state.sandbox
    return sandbox


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "HAJATEK_API_KEY"),
        (403, "HAJATEK_STORE_ID"),
        (404, "Check the id"),
        (409, "allowed change"),
        (422, "Correct the named parameter"),
        (500, "try again in a minute"),
        (502, "try again in a minute"),
        (503, "try again in a minute"),
    ],
)
async def test_an_upstream_error_status_is_an_is_error_result_and_the_next_call_works(
    connect: Connect, sandbox_app: Starlette, status: int, expected: str
) -> None:
    faults(sandbox_app).faults.inject("/v1/orders", status=status)
    async with connect() as client:
        failed = await client.call_tool("list_orders", {})
        assert failed.is_error
        assert f"Hajatek API error {status}" in text(failed)
        assert expected in text(failed)
        recovered = await client.call_tool("list_orders", {})
        assert not recovered.is_error


async def test_a_rate_limit_storm_says_when_to_retry_and_holds_later_calls_without_hanging(
    connect: Connect, sandbox_app: Starlette
) -> None:
    faults(sandbox_app).faults.inject("/v1/customers", status=429, retry_after=300, count=1)
    async with connect() as client:
        result = await client.call_tool("list_customers", {})
        assert result.is_error
        assert "wait 300 s" in text(result)
        later = await client.call_tool("get_store", {})
        assert later.is_error
        assert "was not sent" in text(later)
        assert not faults(sandbox_app).faults.active, "the fault was used once; the pause, not the API, refused"
        assert len((await client.list_tools()).tools) == len(TOOLS), "the server keeps serving"


@pytest.mark.parametrize("mode", ["malformed", "truncated", "wrong_content_type", "drop"])
async def test_a_broken_response_is_reported_and_reads_are_retried(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    injector = faults(sandbox_app).faults
    injector.inject("/v1/stores/*", mode=mode, count=4)  # more than the retries: the call fails
    async with Client(make_server(max_retries=2)) as client:
        failed = await client.call_tool("get_store", {})
        assert failed.is_error
        assert "Error executing tool get_store" in text(failed)
        assert len(text(failed)) > 60, "the message must say what happened"
        assert not (await client.call_tool("get_store", {})).is_error  # one fault left: retried within budget


async def test_a_write_whose_response_is_lost_is_not_repeated(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette
) -> None:
    faults(sandbox_app).faults.inject("/v1/products", method="POST", mode="drop")
    args = {"name": "Lost Response Lamp", "price": 99, "category": "home-kitchen", "sku": "LRL-1"}
    async with Client(make_server(max_retries=3)) as client:
        result = await client.call_tool("create_product", args)
        assert result.is_error
        assert "check the current state" in text(result)
        found = await client.call_tool("list_products", {"search": "LRL-1"})
    assert found.structured_content is not None
    assert found.structured_content["total"] <= 1


async def test_a_wrong_key_is_an_authentication_error(make_server: Callable[..., MCPServer[Shop]]) -> None:
    async with Client(make_server(key="sk_wrong")) as client:
        result = await client.call_tool("get_store", {})
    assert result.is_error
    assert "401" in text(result)
    assert "sk_wrong" not in text(result)


@pytest.fixture
def live_sandbox(sandbox_app: Starlette) -> Iterator[str]:
    """The same sandbox served by uvicorn on 127.0.0.1, so real network timeouts apply."""
    with Loopback(sandbox_app, timeout_graceful_shutdown=3) as base:
        yield f"{base}/v1"


async def test_a_slow_upstream_times_out_with_a_clear_message(sandbox_app: Starlette, live_sandbox: str) -> None:
    faults(sandbox_app).faults.inject("/v1/analytics/summary", mode="delay", delay=1.0, count=1)

    def connect() -> HajatekClient:
        return HajatekClient("sk_sandbox_business", store_id="str_sandbox", base_url=live_sandbox, timeout=0.2,
                             max_retries=0, transport=httpx2.AsyncHTTPTransport())  # fmt: skip

    async with Client(build_server(ServerOptions(sandbox=True), connect)) as client:
        slow = await client.call_tool("get_analytics", {})
        assert slow.is_error
        assert "timed out" in text(slow)
        assert not (await client.call_tool("get_store", {})).is_error
