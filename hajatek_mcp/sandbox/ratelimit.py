"""Per-key rolling-window rate limits (docs/api.md, "Plans and rate limits").

Each key keeps the times of its requests in the last ``window`` seconds. A request is allowed while fewer than
``limit`` are in the window; otherwise it is refused (and not recorded) with ``Retry-After`` = seconds until the oldest
request leaves the window. ``X-RateLimit-Reset`` is that same delta, ceiled to whole seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Decision", "RateLimiter"]


@dataclass(frozen=True)
class Decision:
    """The outcome for one request: allowed or not, and the headers to send (empty for unlimited plans)."""

    allowed: bool
    headers: dict[str, str]
    retry_after: int | None = None


class RateLimiter:
    """Rolling windows per key, on an injectable clock (seconds as a float)."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def hit(self, key: str, limit: int | None) -> Decision:
        """Count a request of ``key`` against ``limit`` (``None``: unlimited, no headers)."""
        if limit is None:
            return Decision(allowed=True, headers={})
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        reset = max(1, math.ceil(hits[0] + self.window - now)) if hits else 0
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit - len(hits)),
            "X-RateLimit-Reset": str(reset),
        }
        if allowed:
            return Decision(allowed=True, headers=headers)
        headers["Retry-After"] = str(reset)
        return Decision(allowed=False, headers=headers, retry_after=reset)
