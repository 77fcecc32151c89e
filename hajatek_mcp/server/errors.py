"""The error boundary of tools and resolvers: an API error becomes a tool error the model can read.

:func:`upstream` is the single place this happens (``is_error`` with the message: what happened, what to do next),
so no tool catches exceptions itself.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from hajatek_mcp.api import HajatekError
from hajatek_mcp.server.safety import clean

__all__ = ["upstream"]

P = ParamSpec("P")
R = TypeVar("R")


def upstream(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn :class:`HajatekError` into :class:`ToolError`, its text one clean line (it may quote store text)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except HajatekError as exc:
            raise ToolError(clean(str(exc)) or type(exc).__name__) from exc

    return wrapper
