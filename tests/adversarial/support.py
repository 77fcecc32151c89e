"""What the adversarial tests share: an elicitation callback that records the question, and the audit's entries."""

from __future__ import annotations

import json
from typing import Any

from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.types import TextResourceContents


class Asked:
    """An elicitation callback that records every question and gives one answer."""

    def __init__(self, action: str = "accept", content: dict[str, Any] | None = None) -> None:
        self.action, self.content = action, content if content is not None or action != "accept" else {"confirm": True}
        self.questions: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.questions.append(params.message)
        return types.ElicitResult(action=self.action, content=self.content)  # type: ignore[arg-type]


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def audit_entries(client: Client) -> list[dict[str, Any]]:
    """hajatek://audit's entries, newest first."""
    result = await client.read_resource("hajatek://audit")
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    entries: list[dict[str, Any]] = json.loads(content.text)["entries"]
    return entries
