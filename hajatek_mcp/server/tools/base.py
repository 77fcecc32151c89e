"""What every tool module shares: :class:`ToolSpec`, the metadata the registry publishes for a tool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations

__all__ = ["ToolSpec"]


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[Any]]
    toolset: str
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True
    """True for tools that reach the live store, an external system others change too; False for local state."""

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )
