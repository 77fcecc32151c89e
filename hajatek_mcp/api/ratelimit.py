"""The plan-aware rate governor: a burst of calls waits its turn instead of earning 429s.

It is a token bucket whose tokens come back one window after the request that spent them *finished* (a
rolling-window budget): a request holds its token while in flight, and the token returns ``window`` seconds after the
answer. A request arrives at the server somewhere between its start and its answer, so two requests that share one
token arrive at least a window apart, however slow the network was: at most ``limit`` requests arrive in any
``window`` seconds. That bound holds against every common server-side scheme (fixed window, rolling window, classic
refilling bucket), so a client that obeys it is never rate limited by a server with the same budget. On top of its
own count it takes two hints from the server:

- ``X-RateLimit-Limit/Remaining/Reset`` on a response: the server's limit replaces the configured one (the server
  knows the key's real plan), and "0 remaining" holds every caller until the reset;
- ``Retry-After`` on a 429: every caller pauses, not just the one that was refused.

One instance is shared by all concurrent callers of a client. Waiters queue in arrival order on a lock. The clock
and sleep are injectable so tests hold 300 concurrent calls to a plan in microseconds of real time. Every
:meth:`acquire` must be paired with a :meth:`release` when the answer is in (the client does it in one place).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

__all__ = ["PLAN_LIMITS", "Governor", "PausedError", "RateGovernor", "RateLimitState"]

#: Requests per minute by plan (the reference's "Rate Limiting"); None is unlimited.
PLAN_LIMITS: dict[str, int | None] = {"starter": 100, "pro": 500, "business": None}

_EPSILON = 1e-6


class PausedError(Exception):
    """The server asked for a pause (``Retry-After``) longer than the caller is willing to wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused for {seconds:.0f} s by the server's Retry-After")
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """What the governor knows right now; for a status tool and for logs."""

    limit: int | None
    """Requests allowed per window (None: unlimited)."""
    window: float
    """Window length in seconds."""
    remaining: int | None
    """Requests that may start now without waiting (None: unlimited)."""
    reset_in: float
    """Seconds until the next request slot frees up (0 when one is free now)."""
    paused_for: float
    """Seconds left of a pause the server asked for with Retry-After."""


class Governor(Protocol):
    """What the client needs of a rate governor: this process's :class:`RateGovernor`, or one budget that replicas
    share (:class:`~hajatek_mcp.api.shared_rate.SharedRateGovernor`)."""

    async def acquire(self, *, max_pause: float | None = None) -> None: ...

    def release(self) -> None: ...

    def observe(self, *, limit: int | None, remaining: int | None, reset_in: float | None) -> None: ...

    def pause(self, seconds: float) -> None: ...

    def state(self) -> RateLimitState: ...

    async def aclose(self) -> None: ...


class RateGovernor:
    """Rolling-window request budget shared by every caller of one client."""

    def __init__(
        self,
        limit: int | None,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("the rate limit must be at least 1 request per window (or None for unlimited)")
        if window <= 0:
            raise ValueError("the rate-limit window must be a positive number of seconds")
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._finished: deque[float] = deque()  # when each recent request's answer came, oldest first
        self._in_flight = 0
        self._released = anyio.Event()
        self._paused_until = 0.0
        self._server_remaining: int | None = None
        self._server_reset_at = 0.0
        self._lock = anyio.Lock()

    async def acquire(self, *, max_pause: float | None = None) -> None:
        """Wait until a request may start, then count it.

        Waiting for the budget itself is unbounded (a burst queues; that is the point). A server-imposed pause longer
        than ``max_pause`` raises :class:`PausedError` at once instead: better to say "wait 5 minutes" than to hang.
        """
        async with self._lock:
            while (wait := self._wait(self._clock())) != 0:
                paused_for = self._paused_until - self._clock()
                if max_pause is not None and paused_for > max_pause:
                    raise PausedError(paused_for)
                if wait < 0:  # every token is held by a request in flight: the next answer frees one
                    self._released = anyio.Event()
                    await self._released.wait()
                else:
                    await self._sleep(wait)
            self._in_flight += 1
            if self._server_remaining is not None:
                self._server_remaining -= 1

    def release(self) -> None:
        """A request acquired with :meth:`acquire` got its answer (or failed): its token starts its way back."""
        if self._in_flight > 0:
            self._in_flight -= 1
            if self._limit is not None:  # unlimited: nothing to count, and nothing kept (memory stays flat)
                self._finished.append(self._clock())
            self._released.set()

    def observe(self, *, limit: int | None, remaining: int | None, reset_in: float | None) -> None:
        """Take the server's ``X-RateLimit-*`` view after a response (any of them may be missing)."""
        if limit is not None and limit > 0:
            self._limit = limit
        if remaining is not None and reset_in is not None:
            self._server_remaining = max(remaining, 0)
            self._server_reset_at = self._clock() + max(reset_in, 0.0)

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (the server's ``Retry-After`` on a 429)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))

    async def aclose(self) -> None:
        """Nothing to close: the budget lives in this process."""

    def state(self) -> RateLimitState:
        now = self._clock()
        self._expire(now)
        remaining: int | None = None
        if self._limit is not None:
            remaining = max(self._limit - len(self._finished) - self._in_flight, 0)
        if self._server_remaining is not None and now < self._server_reset_at:
            remaining = self._server_remaining if remaining is None else min(remaining, self._server_remaining)
        return RateLimitState(
            limit=self._limit,
            window=self._window,
            remaining=remaining,
            reset_in=max(self._wait(now), 0.0),
            paused_for=max(self._paused_until - now, 0.0),
        )

    def _expire(self, now: float) -> None:
        while self._finished and self._finished[0] + self._window - now <= _EPSILON:
            self._finished.popleft()
        if self._server_remaining is not None and self._server_reset_at - now <= _EPSILON:
            self._server_remaining = None

    def _wait(self, now: float) -> float:
        """Seconds until a request may start at ``now``: 0 now, -1 when only an answer in flight can free a token."""
        self._expire(now)
        wait = self._paused_until - now
        if self._limit is not None:
            excess = len(self._finished) + self._in_flight - self._limit + 1
            if excess > len(self._finished):
                return -1.0 if wait <= _EPSILON else wait
            if excess > 0:
                # The finished request whose token must come back before one more fits.
                wait = max(wait, self._finished[excess - 1] + self._window - now)
        if self._server_remaining is not None and self._server_remaining <= 0:
            wait = max(wait, self._server_reset_at - now)
        return wait if wait > _EPSILON else 0.0
