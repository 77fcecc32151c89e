"""What every tool module shares: :class:`ToolSpec` and the :func:`upstream` error boundary.

:func:`upstream` is the single place where an API error becomes a tool error the model can read (``is_error`` with
the message: what happened, what to do next).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from hajatek_mcp.api import HajatekError

__all__ = ["ToolSpec", "upstream"]

P = ParamSpec("P")
R = TypeVar("R")


def upstream(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn :class:`HajatekError` (and bad-input ``ValueError`` from the client) into :class:`ToolError`."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except HajatekError as exc:
            raise ToolError(str(exc)) from exc

    return wrapper


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[Any]]
    toolset: str
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def annotations(self) -> ToolAnnotations:
        # open_world: every tool talks to the live store, an external system that others change too.
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=True,
        )
