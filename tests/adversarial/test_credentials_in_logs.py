"""Issue #14, finding 9: a credential reaches no log line, at any log level.

A credential in a URL's query string is refused with 400 on every path, and uvicorn's access log (on at INFO) records
request lines without their query strings, so not even an accepted URL's query is logged. A secret pasted with a
line break or other invisible character is refused by the settings, before the HTTP stack could log it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server.http import HttpSecurity, http_app
from tests.support import CANARY_API_KEY, NOW, SANDBOX_KEY, running_server, server_env

#: The served token, and a value sent only in query strings. (Not the suite's session canaries: the test's own HTTP
#: client logs the URLs it requests, on the client side.)
TOKEN = "mcp_SECRETCANARY_token_4f0c2a9e7b5d3f1a8c6e4b2d0f9a7c5e"
QUERY_CANARY = "SECRETCANARY-in-a-query-7d1e"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "adversary", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}


def test_a_token_in_the_url_is_refused_and_no_log_line_at_info_carries_a_query(script: Path, tmp_path: Path) -> None:
    token = {"HAJATEK_MCP_AUTH_TOKEN": TOKEN}
    with running_server(script, "streamable-http", tmp_path, "--log-level", "INFO", extra_env=token) as server:
        in_url = httpx2.post(server.url(f"/mcp?access_token={TOKEN}"), json=INITIALIZE,
                             headers={"Accept": MCP_HEADERS["Accept"]}, timeout=30)  # fmt: skip
        accepted = httpx2.post(server.url(f"/mcp?trace={QUERY_CANARY}"), json=INITIALIZE, headers=MCP_HEADERS,
                               timeout=30)  # fmt: skip
        health = httpx2.get(server.url(f"/healthz?note={QUERY_CANARY}"), timeout=30)
    log = server.log.read_text()
    assert in_url.status_code == 400, in_url.text
    assert in_url.json()["error"] == "credential_in_query"
    assert "'access_token'" in in_url.json()["message"]
    assert "Authorization: Bearer" in in_url.json()["message"]
    assert TOKEN not in in_url.text
    assert (accepted.status_code, health.status_code) == (200, 200)
    # The access log is on at INFO and records each request line, without its query string.
    assert '"POST /mcp HTTP/1.1" 400' in log, log
    assert '"POST /mcp HTTP/1.1" 200' in log, log
    assert '"GET /healthz HTTP/1.1" 200' in log, log
    assert TOKEN not in log
    assert QUERY_CANARY not in log


@pytest.fixture(scope="module")
def app() -> Iterator[Starlette]:
    """The HTTP app of a server on the in-process sandbox (no lifespan: the refusals come before the SDK)."""
    sandbox = create_app(SandboxConfig(now=NOW, seed=42))

    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1",
                             transport=httpx2.ASGITransport(app=sandbox))  # fmt: skip

    server = build_server(ServerOptions(sandbox=True), connect)
    yield http_app(server, "streamable-http", host="127.0.0.1", security=HttpSecurity())
    sandbox.state.sandbox.store.close()


REFUSED = ["access_token", "Access-Token", "ACCESS_TOKEN", "token", "refresh_token", "id_token", "auth_token",
           "api_key", "apikey", "X-Api-Key", "hajatek_api_key", "key", "secret", "client_secret", "password",
           "passphrase", "code_verifier", "auth", "authorization", "bearer", "credential",
           "access%5Ftoken"]  # fmt: skip
#: OAuth's authorization request, the consent page's request id, SSE's session id and ordinary parameters.
ALLOWED = ["client_id", "redirect_uri", "state", "scope", "response_type", "code_challenge", "code_challenge_method",
           "resource", "request", "session_id", "code", "page", "monkey", "tokens_used"]  # fmt: skip


@pytest.mark.parametrize("name", REFUSED)
@pytest.mark.parametrize("path", ["/healthz", "/mcp", "/webhooks/hajatek", "/authorize"])
async def test_a_credential_named_in_the_query_is_refused_on_every_path(app: Starlette, name: str, path: str) -> None:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        response = await http.get(f"{path}?state=xyz&{name}={QUERY_CANARY}")
    assert response.status_code == 400
    assert response.json()["error"] == "credential_in_query"
    assert QUERY_CANARY not in response.text


@pytest.mark.parametrize("name", ALLOWED)
async def test_oauth_and_ordinary_query_parameters_pass(app: Starlette, name: str) -> None:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        response = await http.get(f"/healthz?{name}=value")
    assert response.status_code == 200


def test_an_api_key_pasted_with_a_line_break_stops_the_cli_with_one_line_that_does_not_quote_it(
    script: Path, tmp_path: Path
) -> None:
    env = {**server_env(tmp_path), "HAJATEK_API_KEY": f"{CANARY_API_KEY}\nX-Injected: yes",
           "HAJATEK_STORE_ID": "str_x", "HAJATEK_LOG_LEVEL": "DEBUG"}  # fmt: skip
    done = subprocess.run([str(script), "tools"], env=env, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("hajatek-mcp: HAJATEK_API_KEY is invalid (contains whitespace or a control")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert CANARY_API_KEY not in done.stderr + done.stdout
