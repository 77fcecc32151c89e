"""The locked-down HTTP transports as an operator runs them: ``hajatek-mcp serve --sandbox`` in a subprocess.

A non-loopback bind without a token is refused before anything listens. With ``HAJATEK_MCP_AUTH_TOKEN`` set, MCP
requests without or with a wrong token get 401 and a real client with the token works in both eras. Servers run
at DEBUG with canary secrets in their environment; neither responses nor stderr may ever contain them.
(Traffic stays on loopback: the refused bind never binds, and the accepted servers listen on 127.0.0.1.)
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path
from typing import Literal

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from tests.support import PROTOCOL_VERSION, REQUEST_TIMEOUT, STARTUP_TIMEOUT, HttpServer, free_port, running_server

Transport = Literal["streamable-http", "sse"]

TOKEN = "canary-e2e-AUTH-TOKEN-3c9e1a7f5b2d8e4a6c0f9b1d3e5a7c9e"
WRONG_TOKEN = "canary-e2e-WRONG-TOKEN-8d6b4f2a0e9c7b5d3f1a8e6c4b2d0f9a"
#: Secrets in the server's environment (the API key is read into settings even with --sandbox) and the sandbox's
#: own upstream key, which the server sends on every API call.
CANARIES = {
    "HAJATEK_MCP_AUTH_TOKEN": TOKEN,
    "HAJATEK_WEBHOOK_SECRET": "canary-e2e-WEBHOOK-SECRET-5f7a9c1e3b5d7f9a1c3e",
    "HAJATEK_API_KEY": "sk_live_canary_e2e_API_KEY_2b4d6f8a0c2e4a6c",
}
SECRETS = (*CANARIES.values(), WRONG_TOKEN, "sk_sandbox_pro")

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
TRANSPORTS = pytest.mark.parametrize("transport", ["streamable-http", "sse"])


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secured_server(script: Path, transport: Transport, data_dir: Path) -> AbstractContextManager[HttpServer]:
    """``hajatek-mcp serve --sandbox --log-level DEBUG`` on 127.0.0.1 with the canary secrets; stopped on exit."""
    return running_server(script, transport, data_dir, "--log-level", "DEBUG", extra_env=CANARIES)


@pytest.fixture(scope="module")
def secured_http(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with secured_server(script, "streamable-http", tmp_path_factory.mktemp("secured-http")) as server:
        yield server


@pytest.fixture(scope="module")
def secured_sse(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with secured_server(script, "sse", tmp_path_factory.mktemp("secured-sse")) as server:
        yield server


@asynccontextmanager
async def client_with_token(server: HttpServer, transport: Transport, mode: str) -> AsyncIterator[Client]:
    if transport == "sse":
        async with Client(
            sse_client(server.url("/sse"), headers=bearer()), mode=mode, read_timeout_seconds=REQUEST_TIMEOUT
        ) as client:
            yield client
    else:
        async with (
            httpx2.AsyncClient(headers=bearer(), timeout=httpx2.Timeout(REQUEST_TIMEOUT)) as http,
            Client(
                streamable_http_client(server.url("/mcp"), http_client=http),
                mode=mode,
                read_timeout_seconds=REQUEST_TIMEOUT,
            ) as client,
        ):
            yield client


def assert_unauthorized(response: httpx2.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


# --- binding -------------------------------------------------------------------------------------------------------


@TRANSPORTS
def test_serving_all_interfaces_without_a_token_is_refused_before_listening(
    script: Path, env: dict[str, str], transport: Transport
) -> None:
    port = free_port()
    result = subprocess.run(  # noqa: S603  # our own console script, fixed arguments
        [str(script), "serve", "--sandbox", "--transport", transport, "--host", "0.0.0.0", "--port", str(port)],  # noqa: S104  # refused before it binds
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hajatek-mcp: refusing to serve MCP on 0.0.0.0")
    assert "HAJATEK_MCP_AUTH_TOKEN" in lines[0]
    assert "--auth-token" in lines[0]


# --- bearer token --------------------------------------------------------------------------------------------------


def test_streamable_http_refuses_requests_without_or_with_a_wrong_token(secured_http: HttpServer) -> None:
    url = secured_http.url("/mcp")
    assert_unauthorized(httpx2.post(url, json=INITIALIZE, headers=MCP_HEADERS))
    assert_unauthorized(httpx2.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **bearer(WRONG_TOKEN)}))
    assert_unauthorized(httpx2.get(url, headers={"Accept": "text/event-stream"}))
    assert_unauthorized(httpx2.delete(url, headers={"Mcp-Session-Id": "0" * 32}))


def test_sse_refuses_requests_without_or_with_a_wrong_token(secured_sse: HttpServer) -> None:
    assert_unauthorized(httpx2.get(secured_sse.url("/sse")))
    assert_unauthorized(httpx2.get(secured_sse.url("/sse"), headers=bearer(WRONG_TOKEN)))
    assert_unauthorized(httpx2.post(secured_sse.url("/messages/?session_id=" + "0" * 32), json=INITIALIZE))


def test_a_foreign_origin_is_refused_with_403_even_with_the_token(secured_http: HttpServer) -> None:
    headers = {**MCP_HEADERS, **bearer(), "Origin": "http://evil.example"}
    assert httpx2.post(secured_http.url("/mcp"), json=INITIALIZE, headers=headers).status_code == 403


def test_healthz_needs_no_token(secured_http: HttpServer) -> None:
    response = httpx2.get(secured_http.url("/healthz"))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_streamable_http_client_with_the_token_works(secured_http: HttpServer, mode: str) -> None:
    async with client_with_token(secured_http, "streamable-http", mode) as client:
        assert client.protocol_version == PROTOCOL_VERSION[mode]
        result = await client.call_tool("get_store", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["id"] == "str_sandbox"


async def test_sse_client_with_the_token_works(secured_sse: HttpServer, mode: str) -> None:
    async with client_with_token(secured_sse, "sse", mode) as client:
        assert client.protocol_version == PROTOCOL_VERSION[mode]
        result = await client.call_tool("get_store", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["id"] == "str_sandbox"


# --- secrets -------------------------------------------------------------------------------------------------------


@TRANSPORTS
async def test_no_secret_reaches_a_response_or_the_debug_log(
    script: Path, tmp_path: Path, transport: Transport
) -> None:
    """One server's whole life: refusals, both eras' sessions with tool calls and a tool error; then its stderr."""
    seen: list[str] = []
    with secured_server(script, transport, tmp_path) as server:
        endpoint = server.url("/mcp" if transport == "streamable-http" else "/sse")
        for headers in ({}, bearer(WRONG_TOKEN), {**bearer(), "Host": "evil.example"}, {**bearer(), "Origin": "null"}):
            if transport == "sse":
                response = httpx2.get(endpoint, headers=headers)
            else:
                response = httpx2.post(endpoint, json=INITIALIZE, headers={**MCP_HEADERS, **headers})
            assert response.status_code in {401, 403, 421}
            seen += [response.text, str(response.headers)]
        for mode in ("auto", "legacy"):
            async with client_with_token(server, transport, mode) as client:
                results = [
                    await client.call_tool("get_store", {}),
                    await client.call_tool("list_orders", {"limit": 3}),
                    await client.call_tool("get_order", {"order_id": "ord_does_not_exist"}),
                ]
                resource = await client.read_resource("hajatek://catalog")
            assert results[-1].is_error
            seen += [text_of(result) for result in results]
            seen += [str(result.structured_content) for result in results]
            seen.append(resource.model_dump_json())
    log = server.log.read_text(encoding="utf-8")
    assert "DEBUG" in log  # the log really is at DEBUG level
    assert "refused" in log  # and it saw the refusals
    for secret in SECRETS:
        assert all(secret not in part for part in seen), f"a response carried {secret[:16]}…"
        assert secret not in log, f"the server's stderr carried {secret[:16]}…"
