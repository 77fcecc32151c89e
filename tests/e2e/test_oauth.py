"""Remote access over OAuth 2.1, end to end against ``hajatek-mcp serve --oauth-issuer`` on 127.0.0.1.

The full flow runs headlessly with the SDK's own OAuth client (discovery, registration, PKCE, consent, token,
a tool call, refresh, revocation); the negative cases drive the endpoints by hand, as an attacker would.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from tests.e2e.support import TokenMemory
from tests.support import HttpServer, free_port, running_server, server_env

PASSPHRASE = "correct horse battery staple"
REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the test reads the redirect's Location header


@pytest.fixture(scope="module")
def oauth_server(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    port = free_port()
    with running_server(
        script, "streamable-http", tmp_path_factory.mktemp("oauth"), "--oauth-issuer", f"http://127.0.0.1:{port}",
        extra_env={"HAJATEK_OAUTH_PASSPHRASE": PASSPHRASE}, port=port,
    ) as server:  # fmt: skip
        yield server


def consent_form(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


async def approve(http: httpx2.AsyncClient, authorize_url: str, scope: str = "store.write", **extra: str) -> str:
    """What the merchant's browser does: follow /authorize to the consent page, sign in, allow. Returns Location."""
    page = await http.get(authorize_url, follow_redirects=True)
    assert page.status_code == 200, page.text
    form = {**consent_form(page.text), "passphrase": PASSPHRASE, "scope": scope, "action": "approve", **extra}
    answer = await http.post(str(page.url).split("?")[0], data=form)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def query(url: str) -> dict[str, str]:
    return dict(httpx2.URL(url).params)


async def test_the_full_flow_with_the_sdk_oauth_client(oauth_server: HttpServer) -> None:
    redirected: list[str] = []
    async with httpx2.AsyncClient() as browser:

        async def redirect_handler(url: str) -> None:
            redirected.append(await approve(browser, url))

        async def callback_handler() -> AuthorizationCodeResult:
            params = query(redirected[-1])
            return AuthorizationCodeResult(code=params["code"], state=params.get("state"))

        storage = TokenMemory()
        metadata = OAuthClientMetadata.model_validate(
            {"client_name": "E2E agent", "redirect_uris": [REDIRECT], "scope": "store.read store.write"}
        )
        auth = OAuthClientProvider(
            server_url=oauth_server.url("/mcp"),
            client_metadata=metadata,
            storage=storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            Client(streamable_http_client(oauth_server.url("/mcp"), http_client=http), mode="legacy") as client,
        ):
            store = await client.call_tool("get_store", {})
            assert not store.is_error
            created = await client.call_tool(
                "create_product", {"name": "OAuth Oud", "price": 99, "category": "perfumes-oud"}
            )
            assert not created.is_error, created.content
        assert storage.tokens is not None
        assert storage.tokens.scope == "store.read store.write"
        first = storage.tokens
        assert storage.client is not None

        # refresh: new tokens, the old access token stops working (rotation)
        refreshed = await browser.post(oauth_server.url("/token"), data={
            "grant_type": "refresh_token", "refresh_token": first.refresh_token, "client_id": storage.client.client_id,
            **({"client_secret": storage.client.client_secret} if storage.client.client_secret else {}),
        })  # fmt: skip
        assert refreshed.status_code == 200, refreshed.text
        second = refreshed.json()
        assert second["access_token"] != first.access_token
        assert await mcp_status(browser, oauth_server, first.access_token) == 401
        assert await mcp_status(browser, oauth_server, second["access_token"]) == 200

        # revocation: the token stops working
        revoked = await browser.post(oauth_server.url("/revoke"), data={
            "token": second["access_token"], "client_id": storage.client.client_id,
            **({"client_secret": storage.client.client_secret} if storage.client.client_secret else {}),
        })  # fmt: skip
        assert revoked.status_code == 200, revoked.text
        assert await mcp_status(browser, oauth_server, second["access_token"]) == 401


async def mcp_status(http: httpx2.AsyncClient, server: HttpServer, token: str) -> int:
    """The status of an MCP initialize request carrying ``token``."""
    response = await http.post(
        server.url("/mcp"),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
                 "Content-Type": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}},
    )  # fmt: skip
    return response.status_code


class Flow:
    """The authorization code flow by hand, for the negative cases."""

    def __init__(self, http: httpx2.AsyncClient, server: HttpServer) -> None:
        self.http, self.server = http, server
        self.verifier = secrets.token_urlsafe(48)
        self.client: dict[str, Any] = {}

    async def register(self, scope: str = "store.read store.write") -> None:
        response = await self.http.post(self.server.url("/register"), json={
            "client_name": "Negative tester", "redirect_uris": [REDIRECT], "scope": scope,
            "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none",
        })  # fmt: skip
        assert response.status_code == 201, response.text
        self.client = response.json()

    def authorize_url(self, *, redirect_uri: str = REDIRECT, scope: str = "store.read store.write",
                      resource: str | None = None) -> str:  # fmt: skip
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).decode().rstrip("=")
        params = {"response_type": "code", "client_id": self.client["client_id"], "redirect_uri": redirect_uri,
                  "code_challenge": challenge, "code_challenge_method": "S256", "state": "st4te", "scope": scope,
                  "resource": resource or self.server.url("/mcp")}  # fmt: skip
        return str(httpx2.URL(self.server.url("/authorize"), params=params))

    async def code(self, scope: str = "store.write") -> str:
        location = await approve(self.http, self.authorize_url(), scope=scope)
        return query(location)["code"]

    async def token(self, code: str, verifier: str | None = None) -> httpx2.Response:
        return await self.http.post(self.server.url("/token"), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier or self.verifier, "client_id": self.client["client_id"],
        })  # fmt: skip


@pytest.fixture
async def flow_http() -> Any:
    async with httpx2.AsyncClient() as http:
        yield http


async def test_a_wrong_pkce_verifier_gets_no_token(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        response = await flow.token(await flow.code(), verifier=secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_an_authorization_code_works_once(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        code = await flow.code()
        assert (await flow.token(code)).status_code == 200
        again = await flow.token(code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_an_unknown_or_forged_token_is_refused_with_a_challenge(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        assert await mcp_status(http, oauth_server, "hjk_at_" + "x" * 43) == 401
        response = await http.post(oauth_server.url("/mcp"), json={})
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


async def test_a_token_for_another_audience_is_not_issued(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        response = await http.get(flow.authorize_url(resource="https://other.example/mcp"))
    assert response.status_code in {302, 303, 400}
    if response.status_code in {302, 303}:
        assert query(response.headers["location"])["error"] == "invalid_target"


async def test_a_read_only_grant_cannot_write(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        token = (await flow.token(await flow.code(scope="store.read"))).json()
        assert token["scope"] == "store.read"
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as authed,
            Client(streamable_http_client(oauth_server.url("/mcp"), http_client=authed), mode="legacy") as client,
        ):
            assert not (await client.call_tool("list_orders", {"limit": 1})).is_error
            refused = await client.call_tool("create_product", {"name": "X", "price": 5, "category": "toys"})
    assert refused.is_error
    assert "read-only access" in refused.content[0].text  # type: ignore[union-attr]


async def test_an_unregistered_redirect_uri_is_refused(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        response = await http.get(flow.authorize_url(redirect_uri="https://evil.example/steal"))
    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("location", "")


async def test_a_consent_without_the_csrf_token_grants_nothing(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        page = await http.get(flow.authorize_url(), follow_redirects=True)
        fields = consent_form(page.text)
        forged = await http.post(
            oauth_server.url("/oauth/consent"),
            data={"request": fields["request"], "passphrase": PASSPHRASE, "scope": "store.write", "action": "approve"},
        )
        assert forged.status_code == 403
        assert "location" not in forged.headers
        still = await http.post(oauth_server.url("/oauth/consent"), data={**fields, "passphrase": "wrong guess",
                                                                        "action": "approve"})  # fmt: skip
    assert still.status_code == 401
    assert "Wrong passphrase" in still.text


async def test_the_consent_page_cannot_be_framed(oauth_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        page = await http.get(flow.authorize_url(), follow_redirects=True)
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "Negative tester" in page.text


@pytest.mark.parametrize(
    ("case", "scopes", "lifetime", "status"),
    [("expired", ["store.read", "store.write"], -60.0, 401), ("missing-scope", [], 3600.0, 403)],
)
async def test_expired_tokens_and_tokens_without_the_scope_are_refused(
    oauth_server: HttpServer, case: str, scopes: list[str], lifetime: float, status: int
) -> None:
    import time

    from hajatek_mcp.server.oauth.store import Grant, OAuthStore

    token = f"hjk_at_{case}_" + secrets.token_urlsafe(16)
    store = OAuthStore(oauth_server.log.parent / "oauth.db")  # as the server would have issued it
    try:
        resource = oauth_server.url("/mcp")
        await store.add_token(
            token, Grant("access", f"grt_{case}", "client_x", scopes, resource, None, time.time() + lifetime)
        )
    finally:
        store.close()
    async with httpx2.AsyncClient() as http:
        response_status = await mcp_status(http, oauth_server, token)
    assert response_status == status


async def test_the_cli_lists_and_revokes_granted_apps(oauth_server: HttpServer, script: Path) -> None:
    async with httpx2.AsyncClient() as http:
        flow = Flow(http, oauth_server)
        await flow.register()
        token = (await flow.token(await flow.code(scope="store.read"))).json()["access_token"]
        assert await mcp_status(http, oauth_server, token) == 200
        env = server_env(oauth_server.log.parent)
        listed = await anyio.run_process([str(script), "oauth", "clients"], env=env)
        assert flow.client["client_id"] in listed.stdout.decode()
        revoked = await anyio.run_process([str(script), "oauth", "revoke", flow.client["client_id"]], env=env)
        assert "Revoked" in revoked.stdout.decode()
        assert await mcp_status(http, oauth_server, token) == 401
