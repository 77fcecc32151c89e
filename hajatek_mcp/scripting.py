"""``hajatek-mcp tools`` and ``hajatek-mcp call``: the server's tools from a terminal, through a real MCP client."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, EmbeddedResource, TextContent, TextResourceContents

from hajatek_mcp.server import Shop
from hajatek_mcp.settings import SettingsError

__all__ = ["call_tool", "echo", "parse_arguments", "print_tools", "render"]


def echo(text: str = "", *, err: bool = False) -> None:
    """Terminal output of the scripting commands (these never run while stdout carries MCP)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def parse_arguments(pairs: Sequence[str], json_object: str | None) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as JSON when they are JSON: numbers, true, null) plus a ``--json`` object."""
    arguments: dict[str, Any] = {}
    if json_object:
        try:
            parsed = json.loads(json_object)
        except ValueError as exc:
            raise SettingsError(f"--json is not valid JSON ({exc}): pass one object, e.g. '{{\"limit\": 5}}'") from None
        if not isinstance(parsed, dict):
            raise SettingsError("--json must be a JSON object, e.g. '{\"limit\": 5}'")
        arguments.update(parsed)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SettingsError(f"argument '{pair}' is not key=value: write e.g. status=pending")
        try:
            arguments[key] = json.loads(value)
        except ValueError:
            arguments[key] = value
    return arguments


def render(result: CallToolResult) -> str:
    """The text a model would read from ``result``, embedded resources included."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, EmbeddedResource) and isinstance(block.resource, TextResourceContents):
            parts.append(f"--- {block.resource.uri} ({block.resource.mime_type}) ---\n{block.resource.text}")
    return "\n".join(parts)


async def print_tools(server: MCPServer[Shop]) -> int:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    width = max(len(t.name) for t in tools)
    for tool in tools:
        hints = tool.annotations
        kind = "read" if hints and hints.read_only_hint else "write"
        summary = (tool.description or "").splitlines()[0]
        echo(f"{tool.name:<{width}}  {kind:<5}  {summary}")
    return 0


async def call_tool(server: MCPServer[Shop], name: str, arguments: dict[str, Any]) -> int:
    async with Client(server) as client:
        result = await client.call_tool(name, arguments)
    text = render(result)
    echo(text, err=result.is_error)
    return 1 if result.is_error else 0
