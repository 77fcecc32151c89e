"""The HTTP transports' locks: bearer token, Host and Origin checks, body limit, binding rule, no secret leaks.

Each test serves ``http_app(...)`` (the real server on the in-process sandbox) with uvicorn on 127.0.0.1 in a
thread (:class:`tests.support.Loopback`), and talks to it over real sockets: raw HTTP for the refusals, a real MCP
client in both eras for the accepted path. Every byte the server sends and every log record (at DEBUG) is checked
for the secrets afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hajatek_mcp.server import Shop
from hajatek_mcp.server.http import (
    MAX_REQUEST_BODY,
    HttpSecurity,
    HttpTransport,
    allowed_hosts,
    check_bind,
    http_app,
    is_loopback,
)
from hajatek_mcp.settings import SettingsError
from tests.support import SANDBOX_KEY, Loopback

TOKEN = "canary-AUTH-TOKEN-7f3a9c2e5b1d4f6a8c0e2b4d6f8a1c3e"
WRONG_TOKEN = "canary-WRONG-TOKEN-0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
#: Never in a response or a log line: the token, a wrong token a client presented, the upstream API key.
SECRETS = (TOKEN, WRONG_TOKEN, SANDBOX_KEY)

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
REQUEST_TIMEOUT = httpx2.Timeout(30.0)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Wire:
    """ASGI wrapper keeping every byte the server sends (headers and streamed bodies) and every status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sent = bytearray()
        self.statuses: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])
                for name, value in message.get("headers", []):
                    self.sent += name + b": " + value + b"\n"
            elif message["type"] == "http.response.body":
                self.sent += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, record)


@dataclass
class Live:
    """One ``http_app`` served on a loopback port."""

    transport: HttpTransport
    base: str
    wire: Wire

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def endpoint(self) -> str:
        return self.url("/mcp" if self.transport == "streamable-http" else "/sse")


Serve = Callable[..., Live]


@pytest.fixture
def serve(
    make_server: Callable[..., MCPServer[Shop]], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Serve]:
    """``serve("sse", auth_token=None, ...)``: start a server with that ``HttpSecurity``; token ``TOKEN`` by default.

    On teardown, checks that no secret appeared in any response or log record of the whole test.
    """
    caplog.set_level(logging.DEBUG)
    # uvicorn's default logging config (the sandbox's own server installs it when a test runs that in process) stops
    # its loggers propagating; undo that here so the capture sees them, as the CLI's logging does.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        caplog.set_level(logging.DEBUG, logger=name)
        for attribute, value in (("propagate", True), ("handlers", []), ("disabled", False)):
            monkeypatch.setattr(logging.getLogger(name), attribute, value)
    wires: list[Wire] = []
    with ExitStack() as servers:

        def start(transport: HttpTransport, *, routes: tuple[BaseRoute, ...] = (), **security: Any) -> Live:
            security.setdefault("auth_token", SecretStr(TOKEN))
            server = make_server()
            wire = Wire(http_app(server, transport, host="127.0.0.1", security=HttpSecurity(**security), routes=routes))
            wires.append(wire)
            return Live(transport, servers.enter_context(Loopback(wire, timeout_graceful_shutdown=3)), wire)

        yield start
    sent = b"".join(bytes(wire.sent) for wire in wires)
    records = [record for when in ("setup", "call", "teardown") for record in caplog.get_records(when)]
    logged = "\n".join(logging.Formatter().format(record) for record in records)  # with any traceback
    assert "Started server process" in logged  # the capture did see the server's logs
    for secret in SECRETS:
        assert secret.encode() not in sent, f"a response carried the secret {secret[:12]}…"
        assert secret not in logged, f"a log line carried the secret {secret[:12]}…"


@asynccontextmanager
async def connected(live: Live, mode: str, token: str | None = TOKEN) -> AsyncIterator[Client]:
    """A real MCP client on ``live`` in ``mode``, sending ``token`` on every request."""
    headers = {} if token is None else bearer(token)
    if live.transport == "sse":
        async with Client(sse_client(live.endpoint, headers=headers), mode=mode) as client:
            yield client
    else:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=REQUEST_TIMEOUT) as http,
            Client(streamable_http_client(live.endpoint, http_client=http), mode=mode) as client,
        ):
            yield client


def post_initialize(live: Live, **headers: str) -> httpx2.Response:
    return httpx2.post(live.url("/mcp"), json=INITIALIZE, headers={**MCP_HEADERS, **headers})


def assert_unauthorized(response: httpx2.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "unauthorized"
    assert "Authorization: Bearer" in body["message"]


TRANSPORTS = pytest.mark.parametrize("transport", ["streamable-http", "sse"])


# --- bearer token ------------------------------------------------------------------------------------------------


def test_streamable_http_without_a_token_is_refused_with_401_for_every_method(serve: Serve) -> None:
    live = serve("streamable-http")
    assert_unauthorized(post_initialize(live))
    assert_unauthorized(httpx2.get(live.url("/mcp"), headers={"Accept": "text/event-stream"}))
    assert_unauthorized(httpx2.delete(live.url("/mcp"), headers={"Mcp-Session-Id": "abc"}))


def test_sse_without_a_token_is_refused_with_401_on_the_stream_and_the_message_endpoint(serve: Serve) -> None:
    live = serve("sse")
    assert_unauthorized(httpx2.get(live.url("/sse")))
    assert_unauthorized(httpx2.post(live.url("/messages/?session_id=" + "0" * 32), json=INITIALIZE))


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {WRONG_TOKEN}", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer"],
    ids=["other", "prefix", "longer", "basic-scheme", "no-scheme", "scheme-only"],
)
def test_a_wrong_authorization_header_is_refused_with_401(serve: Serve, authorization: str) -> None:
    live = serve("streamable-http")
    response = post_initialize(live, Authorization=authorization)
    assert_unauthorized(response)


def test_the_refusal_never_echoes_the_presented_token(serve: Serve) -> None:
    live = serve("streamable-http")
    response = post_initialize(live, **bearer(WRONG_TOKEN))
    assert_unauthorized(response)
    assert WRONG_TOKEN not in response.text
    assert WRONG_TOKEN not in str(response.headers)


def test_the_scheme_is_case_insensitive_and_the_right_token_is_accepted(serve: Serve) -> None:
    live = serve("streamable-http")
    response = post_initialize(live, Authorization=f"bearer {TOKEN}")
    assert response.status_code == 200
    assert response.headers["mcp-session-id"]


def test_a_session_id_is_not_a_credential(serve: Serve) -> None:
    live = serve("streamable-http")
    session = post_initialize(live, **bearer()).headers["mcp-session-id"]
    response = httpx2.post(
        live.url("/mcp"),
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={**MCP_HEADERS, "Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-11-25"},
    )
    assert_unauthorized(response)


@TRANSPORTS
async def test_with_the_token_a_real_client_lists_tools_and_calls_one(serve: Serve, transport: str, mode: str) -> None:
    live = serve(transport)
    async with connected(live, mode) as client:
        tools = (await client.list_tools()).tools
        assert "get_store" in {tool.name for tool in tools}
        result = await client.call_tool("get_store", {})
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["id"] == "str_sandbox"
        failed = await client.call_tool("get_order", {"order_id": "ord_does_not_exist"})
        assert failed.is_error


@TRANSPORTS
async def test_a_client_with_a_wrong_token_cannot_connect(serve: Serve, transport: str, mode: str) -> None:
    live = serve(transport)
    with pytest.raises(Exception):  # noqa: PT011, B017  # the SDK's error differs per transport and era
        async with connected(live, mode, token=WRONG_TOKEN) as client:
            await client.list_tools()
    assert set(live.wire.statuses) == {401}  # nothing got past the guard


# --- Host and Origin (DNS rebinding) ------------------------------------------------------------------------------


def test_a_foreign_host_is_refused_with_421_even_with_the_token(serve: Serve) -> None:
    live = serve("streamable-http")
    response = post_initialize(live, Host="evil.example", **bearer())
    assert response.status_code == 421
    assert response.json()["error"] == "misdirected_request"
    assert "--allowed-host" in response.json()["message"]


def test_a_foreign_origin_is_refused_with_403_even_with_the_token(serve: Serve) -> None:
    live = serve("streamable-http")
    response = post_initialize(live, Origin="http://evil.example", **bearer())
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_origin"
    assert "--allowed-origin" in response.json()["message"]


def test_without_a_token_host_and_origin_are_still_checked(serve: Serve) -> None:
    live = serve("streamable-http", auth_token=None)
    assert post_initialize(live).status_code == 200
    assert post_initialize(live, Host="evil.example").status_code == 421
    assert post_initialize(live, Origin="http://evil.example").status_code == 403
    assert post_initialize(live, Origin="null").status_code == 403


def test_loopback_origins_and_a_request_without_origin_are_accepted(serve: Serve) -> None:
    live = serve("streamable-http")
    assert post_initialize(live, **bearer()).status_code == 200
    assert post_initialize(live, Origin=live.base, **bearer()).status_code == 200
    assert post_initialize(live, Origin="http://localhost:5173", **bearer()).status_code == 200


def test_configured_hosts_and_origins_are_accepted(serve: Serve) -> None:
    live = serve(
        "streamable-http",
        allowed_hosts=("mcp.example.com", "api.example.com:8443"),
        allowed_origins=("https://chatgpt.com",),
    )
    assert post_initialize(live, Origin="https://chatgpt.com", **bearer()).status_code == 200
    assert post_initialize(live, Origin="https://chatgpt.com.evil.example", **bearer()).status_code == 403
    assert post_initialize(live, Host="mcp.example.com", **bearer()).status_code == 200
    assert post_initialize(live, Host="mcp.example.com:443", **bearer()).status_code == 200
    assert post_initialize(live, Host="api.example.com:8443", **bearer()).status_code == 200
    assert post_initialize(live, Host="api.example.com:9000", **bearer()).status_code == 421
    assert post_initialize(live, Host="mcp.example.com.evil.example", **bearer()).status_code == 421


def test_sse_refuses_a_foreign_host_and_origin_without_a_traceback(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    live = serve("sse")
    assert httpx2.get(live.url("/sse"), headers={"Host": "evil.example", **bearer()}).status_code == 421
    assert httpx2.get(live.url("/sse"), headers={"Origin": "http://evil.example", **bearer()}).status_code == 403
    message = httpx2.post(live.url("/messages/?session_id=" + "0" * 32), json=INITIALIZE, headers={"Host": "evil"})
    assert message.status_code == 421
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


def test_allowed_hosts_accept_names_with_and_without_ports() -> None:
    hosts = allowed_hosts("127.0.0.2", ["MCP.example.com", "api.example.com:8443", "::1"])
    assert {"127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.2:*", "mcp.example.com", "mcp.example.com:*"} <= hosts
    assert "api.example.com:8443" in hosts
    assert "api.example.com:*" not in hosts
    assert not {host for host in allowed_hosts("0.0.0.0", []) if host.startswith("0.0.0.0")}  # noqa: S104


# --- body limit, public routes -----------------------------------------------------------------------------------


@TRANSPORTS
def test_a_body_over_the_limit_is_refused_with_413(serve: Serve, transport: HttpTransport) -> None:
    live = serve(transport)
    path = "/mcp" if transport == "streamable-http" else "/messages/?session_id=" + "0" * 32
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * MAX_REQUEST_BODY + b'"}}'
    headers = {**MCP_HEADERS, **bearer(), "Content-Type": "application/json"}
    response = httpx2.post(live.url(path), content=body, headers=headers)
    assert response.status_code == 413


def test_healthz_answers_without_a_token_and_without_store_data(serve: Serve) -> None:
    live = serve("streamable-http")
    response = httpx2.get(live.url("/healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def _webhook(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


def test_extra_routes_are_not_behind_the_token_but_mcp_still_is(serve: Serve) -> None:
    live = serve("streamable-http", routes=(Route("/webhooks/hajatek", _webhook, methods=["POST"]),))
    response = httpx2.post(live.url("/webhooks/hajatek"), content=b"{}")
    assert response.status_code == 200
    assert response.json() == {"received": 2}
    assert_unauthorized(post_initialize(live))


def test_an_unknown_path_is_refused_like_mcp_when_a_token_is_set(serve: Serve) -> None:
    live = serve("streamable-http")
    assert_unauthorized(httpx2.get(live.url("/.env")))
    assert_unauthorized(httpx2.get(live.url("/mcp/")))


# --- binding -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_binds_need_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, HttpSecurity())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "mcp.example.com", ""])  # noqa: S104
def test_other_binds_without_a_token_are_refused_naming_the_fix(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(SettingsError) as refused:
        check_bind(host, HttpSecurity())
    message = str(refused.value)
    assert "\n" not in message
    assert "HAJATEK_MCP_AUTH_TOKEN" in message
    assert "--auth-token" in message


def test_other_binds_are_allowed_with_a_token(caplog: pytest.LogCaptureFixture) -> None:
    check_bind("0.0.0.0", HttpSecurity(auth_token=SecretStr(TOKEN)))  # noqa: S104
    assert TOKEN not in caplog.text


def test_the_explicit_opt_out_allows_an_open_bind_and_says_so_loudly(caplog: pytest.LogCaptureFixture) -> None:
    check_bind("0.0.0.0", HttpSecurity(allow_unauthenticated_remote=True))  # noqa: S104
    assert "WITHOUT authentication" in caplog.text


def test_the_http_security_repr_hides_the_token() -> None:
    assert TOKEN not in repr(HttpSecurity(auth_token=SecretStr(TOKEN)))
