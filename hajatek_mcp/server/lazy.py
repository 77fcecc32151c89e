"""The tools and the prompts are built when first needed, not before the server answers ``initialize``.

Building a tool is the SDK's ``Tool.from_function``: a pydantic model of its arguments and the JSON schemas of what
it takes and returns, some 150 ms for the eighteen tools, and the prompts' argument models another few dozen. A host
(Claude Desktop, the Inspector) waits for the ``initialize`` answer before it shows the server as connected, and
asks for ``tools/list`` only after: so the registries below build on their first read (a list, a lookup by name,
a removal), which is that ``tools/list`` or the first call, and the answer to ``initialize``, which names no tool,
does not wait for them. Everything else is unchanged: the same tools, in the same order (those built here first, as
if passed to the constructor, then any added directly), built once, in the event loop that serves the requests, so
no two requests can see a half-built registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.prompts.manager import PromptManager
from mcp.server.mcpserver.tools import Tool, ToolManager

__all__ = ["LazyPrompts", "LazyTools"]


class LazyTools(ToolManager):
    """A tool registry whose tools come from ``build`` on its first read."""

    def __init__(self, build: Callable[[], Iterable[Tool]]) -> None:
        super().__init__()
        self._build: Callable[[], Iterable[Tool]] | None = build

    @property
    def built(self) -> bool:
        """Whether the tools were built (for tests and benchmarks: a read builds them)."""
        return self._build is None

    def _ready(self) -> None:
        if self._build is not None:
            built = {tool.name: tool for tool in self._build()}
            self._build = None
            self._tools = {**built, **self._tools}

    def get_tool(self, name: str) -> Tool | None:
        self._ready()
        return super().get_tool(name)

    def list_tools(self) -> list[Tool]:
        self._ready()
        return super().list_tools()

    def remove_tool(self, name: str) -> None:
        self._ready()
        super().remove_tool(name)


class LazyPrompts(PromptManager):
    """A prompt registry filled by ``register`` (which adds its prompts to it) on its first read."""

    def __init__(self, register: Callable[[], Any]) -> None:
        super().__init__()
        self._register: Callable[[], Any] | None = register

    def _ready(self) -> None:
        if self._register is not None:
            self._register()
            self._register = None

    def get_prompt(self, name: str) -> Prompt | None:
        self._ready()
        return super().get_prompt(name)

    def list_prompts(self) -> list[Prompt]:
        self._ready()
        return super().list_prompts()

    def remove_prompt(self, name: str) -> None:
        self._ready()
        super().remove_prompt(name)
