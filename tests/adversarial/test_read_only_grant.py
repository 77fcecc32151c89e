"""Finding 7: a read-only grant is refused before anything is read or anyone is asked.

An app granted ``store.read`` calls ``delete_product``: the merchant must not be asked about a change the app may not
make, and the store must not be read for its preview. Proof that nothing was read: a product that does not exist
gets the read-only refusal, not "not found". Tokens come from an external identity provider (RFC 7662), served on
127.0.0.1, and the MCP client speaks streamable HTTP to the server on 127.0.0.1.
"""

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
from tests.support import Asked, IdentityProvider, Loopback, loopback_socket


def test_a_read_only_grant_is_refused_before_any_read_or_question(
    make_server: Callable[..., MCPServer[Any]], identity_provider: IdentityProvider, mode: str
) -> None:
    sock = loopback_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    identity_provider.tokens["ro"] = {"active": True, "aud": f"{public}/mcp", "scope": "store.read",
                                      "exp": int(time.time()) + 600}  # fmt: skip
    server = make_server(oauth_issuer=public, oauth_external=identity_provider.issuer())
    app = http_app(server, "streamable-http", host="127.0.0.1", security=HttpSecurity(oauth=True))
    asked = Asked("accept")

    async def calls() -> list[tuple[bool, str]]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer ro"}, timeout=30) as http,
            Client(streamable_http_client(f"{public}/mcp", http_client=http), mode=mode,
                   elicitation_callback=asked) as client,  # type: ignore[arg-type]
        ):  # fmt: skip
            answers = []
            for tool, arguments in [
                ("delete_product", {"product_id": "prod_9999"}),
                ("delete_product", {"product_id": "prod_0001"}),
                ("update_product", {"product_id": "prod_0001", "price": 0.01}),
                ("update_order_status", {"order_id": "ord_000001", "status": "refunded"}),
            ]:
                result = await client.call_tool(tool, arguments)
                answers.append((result.is_error, str(getattr(result.content[0], "text", ""))))
            return answers

    with Loopback(app, sock):
        answers = anyio.run(calls)
    assert not asked.questions, "nobody may be asked about a change a read-only grant cannot make"
    for is_error, message in answers:
        assert is_error
        assert "read-only access" in message
        assert "not found" not in message.lower(), "the product was looked up before the scope was checked"
