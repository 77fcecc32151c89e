"""Finding 10: a client that can elicit only by URL still confirms, through the preview and the token.

A client declaring ``capabilities.elicitation = {"url": {}}`` cannot show a yes/no form. The server decides "can ask
a form" as the SDK does (form declared, or no mode declared) and gives such a client the preview-and-token path, in
both protocol eras, instead of a JSON-RPC error.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from mcp import Client, types
from mcp.client.session import ClientSession
from mcp.server.mcpserver import MCPServer

from tests.support import Asked, structured


class _UrlOnlySession(ClientSession):
    def _build_capabilities(self, version: str) -> types.ClientCapabilities:
        declared = super()._build_capabilities(version)
        return declared.model_copy(
            update={"elicitation": types.ElicitationCapability(url=types.UrlElicitationCapability())}
        )


class UrlOnlyClient(Client):
    """The SDK's client, declaring URL elicitation only (the SDK has no switch for it: its session is swapped)."""

    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        session.__class__ = _UrlOnlySession
        return session


async def test_a_url_only_client_gets_the_preview_and_token(
    make_server: Callable[..., MCPServer[Any]], mode: str
) -> None:
    asked = Asked("accept")
    async with UrlOnlyClient(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        first = await structured(client, "delete_product", {"product_id": "prod_0003"})
        assert first["outcome"] == "confirmation_required"
        done = await structured(client, "delete_product", {"product_id": "prod_0003",
                                                           "confirm_token": first["confirm_token"]})  # fmt: skip
    assert done["outcome"] == "done"
    assert not asked.questions


async def test_a_client_declaring_elicitation_without_modes_is_asked(
    make_server: Callable[..., MCPServer[Any]], mode: str
) -> None:
    asked = Asked("decline")
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        answer = await structured(client, "delete_product", {"product_id": "prod_0003"})
    assert answer["outcome"] == "declined"
    assert len(asked.questions) == 1
