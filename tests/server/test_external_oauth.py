"""Tokens from an external identity provider, checked by RFC 7662 introspection (resource-server-only mode)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from hajatek_mcp.server.http import HttpSecurity, http_app
from tests.support import IdentityProvider, Loopback, loopback_socket, text


def test_external_tokens_are_checked_for_activity_audience_expiry_and_scope(
    make_server: Callable[..., MCPServer[Any]], identity_provider: IdentityProvider
) -> None:
    idp, tokens = identity_provider.url, identity_provider.tokens
    sock = loopback_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    resource = f"{public}/mcp"
    now = int(time.time())
    tokens.update({
        "good-rw": {"active": True, "aud": resource, "scope": "store.read store.write", "exp": now + 600,
                    "client_id": "chatgpt", "sub": "merchant", "iss": idp},
        "good-ro": {"active": True, "aud": [resource], "scope": "store.read", "exp": now + 600, "client_id": "bot"},
        "other-audience": {"active": True, "aud": "https://other.example/mcp", "scope": "store.read", "exp": now + 600},
        "expired": {"active": True, "aud": resource, "scope": "store.read", "exp": now - 5},
        "revoked": {"active": False},
        "no-scope": {"active": True, "aud": resource, "scope": "", "exp": now + 600},
    })  # fmt: skip
    server = make_server(oauth_issuer=public, oauth_external=identity_provider.issuer())
    app = http_app(server, "streamable-http", host="127.0.0.1", security=HttpSecurity(oauth=True))

    def initialize(token: str) -> int:
        return httpx2.post(resource, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
                  "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}).status_code  # fmt: skip

    async def call(token: str) -> tuple[bool, bool, str]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(resource, http_client=http), mode="legacy") as client,
        ):
            read = await client.call_tool("get_store", {})
            write = await client.call_tool("create_product", {"name": "IdP Oud", "price": 10, "category": "oud"})
        return read.is_error, write.is_error, text(write)

    with Loopback(app, sock):
        statuses = {name: initialize(name) for name in tokens}
        metadata = httpx2.get(f"{public}/.well-known/oauth-protected-resource/mcp").json()
        read_write = anyio.run(call, "good-rw")
        read_only = anyio.run(call, "good-ro")
    assert statuses == {"good-rw": 200, "good-ro": 200, "other-audience": 401, "expired": 401, "revoked": 401,
                        "no-scope": 403}  # fmt: skip
    assert metadata["authorization_servers"] == [idp + "/"] or metadata["authorization_servers"] == [idp]
    assert read_write[:2] == (False, False)
    assert read_only[:2] == (False, True)
    assert "read-only access" in read_only[2]
