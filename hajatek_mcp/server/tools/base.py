""":class:`ToolSpec`: what the registry publishes for a tool, and where its function is."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations

__all__ = ["ToolSpec"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    """The tool's name, and the name of its function in :attr:`module`."""
    module: str
    """The module of ``hajatek_mcp.server.tools`` that defines it."""
    toolset: str
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True
    """True for tools that reach the live store, an external system others change too; False for local state."""
    guarded: bool = False
    """True for a tool whose change may need the merchant's yes first (it takes a ``confirm_token``)."""

    @property
    def fn(self) -> Callable[..., Awaitable[Any]]:
        """The tool's function; its module is imported on first use (see :mod:`hajatek_mcp.server.lazy`)."""
        function: Callable[..., Awaitable[Any]] = getattr(
            importlib.import_module(f"{__package__}.{self.module}"), self.name
        )
        return function

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )
