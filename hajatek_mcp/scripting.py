"""``hajatek-mcp tools`` and ``hajatek-mcp call``: the server's tools from a terminal, through a real MCP client.

On a terminal, ``call`` is an elicitation-capable client: a guarded change shows its question and asks y/N (the
person at the keyboard is the human in the loop). ``--yes`` answers yes for scripts. Without either, the client
declares no elicitation and the server answers with its preview and a confirmation token, as to any such client.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, Literal

import anyio
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.server.mcpserver import MCPServer
from mcp.types import (
    CallToolResult,
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    EmbeddedResource,
    TextContent,
    TextResourceContents,
)

from hajatek_mcp.server import Shop
from hajatek_mcp.settings import SettingsError

__all__ = [
    "Confirming",
    "call_tool",
    "echo",
    "parse_arguments",
    "plural",
    "print_tools",
    "render",
    "terminal_confirmation",
]

#: How ``call`` answers a confirmation question: ask on the terminal, answer yes (``--yes``).
Confirming = Literal["ask", "yes"]


def echo(text: str = "", *, err: bool = False) -> None:
    """Terminal output of the scripting commands (these never run while stdout carries MCP)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 item``, ``2 items``, ``0 items``; ``plural_form`` for nouns that do not just take an s."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


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


def _read_answer(prompt: str) -> str | None:
    """One line typed on the terminal (the prompt on stderr: stdout is the call's result); None at end of input."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line if line else None


def terminal_confirmation(*, assume_yes: bool) -> ElicitationFnT:
    """An elicitation callback for the terminal: show the server's question on stderr and read y/N from stdin.

    It answers only yes/no forms (every required field a boolean, as the guards' ``confirm``); anything else is
    cancelled with a note, so nothing is ever accepted that the person did not see. ``assume_yes`` answers yes without
    reading (``--yes``), after showing the question all the same.
    """

    async def confirm(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        if not isinstance(params, ElicitRequestFormParams):
            echo(
                f"hajatek-mcp: the server asks to open a web page ({params.url}); a terminal cannot, so the call is "
                "cancelled",
                err=True,
            )
            return ElicitResult(action="cancel")
        properties: dict[str, Any] = params.requested_schema.get("properties", {})
        yes = {name: True for name, spec in properties.items() if spec.get("type") == "boolean"}
        if set(params.requested_schema.get("required", [])) - set(yes):
            echo(
                "hajatek-mcp: the server asks for more than a yes or no; answer it from an MCP client (Claude "
                "Desktop, Inspector). The call is cancelled.",
                err=True,
            )
            return ElicitResult(action="cancel")
        echo(params.message, err=True)
        if assume_yes:
            echo("--yes: answered yes", err=True)
            return ElicitResult(action="accept", content=yes)
        answer = await anyio.to_thread.run_sync(_read_answer, "[y/N] ")
        if answer is None:
            echo("", err=True)
            return ElicitResult(action="cancel")
        if answer.strip().lower() in {"y", "yes"}:
            return ElicitResult(action="accept", content=yes)
        return ElicitResult(action="decline")

    return confirm


async def call_tool(
    server: MCPServer[Shop], name: str, arguments: dict[str, Any], *, confirming: Confirming | None = None
) -> int:
    """Call ``name`` and print what the model would read; 1 when the tool answered with an error.

    ``confirming`` makes the client elicitation-capable (see the module docstring); None keeps today's token path.
    """
    callback = terminal_confirmation(assume_yes=confirming == "yes") if confirming else None
    async with Client(server, elicitation_callback=callback) as client:
        result = await client.call_tool(name, arguments)
    text = render(result)
    echo(text, err=result.is_error)
    return 1 if result.is_error else 0
