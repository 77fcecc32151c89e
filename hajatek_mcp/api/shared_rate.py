"""One rate budget per Hajatek API key for every replica: the rolling window of the local governor, kept in Redis.

The rule is :class:`~hajatek_mcp.api.ratelimit.RateGovernor`'s (a request holds a token while in flight; its token
comes back ``window`` seconds after its answer), but the tokens live in Redis, counted by Lua scripts that run
atomically on Redis's own clock (replicas' clocks never matter):

- ``finished`` (a sorted set, scored by when each answer came): entries older than a window drop out;
- ``held`` (a sorted set, scored by lease expiry): the requests in flight on any replica. A lease older than
  ``lease`` seconds (its replica died mid-request) drops out, so a killed replica's tokens come back by themselves;
- ``paused`` (a time): a ``Retry-After`` pause, or the server's "0 remaining" until its reset, that every replica
  honours.

Keys are named by a hash of the API key, never the key. This process's callers queue in arrival order on a local
lock; a caller that must wait sleeps until the moment the script names, or polls briefly while every token is in
flight (another replica's answer frees one, and nothing tells us when).

If Redis cannot be reached, the governor says so once in the log and counts on this process's own budget meanwhile: a
merchant's agent keeps working, replicas may then together exceed the plan (the 429s that follow are honoured as
ever), and it goes back to Redis as soon as Redis answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import deque
from collections.abc import Coroutine
from typing import Any

import anyio
from pydantic import SecretStr

from hajatek_mcp.api.ratelimit import PausedError, RateGovernor, RateLimitState
from hajatek_mcp.storage.redis_link import RedisLink

__all__ = ["SharedRateGovernor"]

logger = logging.getLogger("hajatek_mcp.api")

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"

# KEYS: finished, held, paused. ARGV: limit (0: unlimited), window, lease, lease id.
# Returns {verdict, seconds, finished, held}: go (the lease is held), paused / wait (sleep that long), held (every
# token is in flight). Seconds travel as strings: Redis turns Lua numbers into integers.
_ACQUIRE = (
    _NOW
    + """
local limit, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local finished, held = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return {'paused', tostring(paused - now), finished, held} end
if limit > 0 then
  local excess = finished + held - limit + 1
  if excess > finished then return {'held', '0', finished, held} end
  if excess > 0 then
    local oldest = redis.call('ZRANGE', KEYS[1], excess - 1, excess - 1, 'WITHSCORES')
    return {'wait', tostring(tonumber(oldest[2]) + window - now), finished, held}
  end
end
redis.call('ZADD', KEYS[2], now + lease, ARGV[4])
redis.call('PEXPIRE', KEYS[2], math.ceil(lease * 1000))
return {'go', '0', finished, held + 1}
"""
)

# KEYS: finished, held. ARGV: window, lease id, counted (1: the token comes back a window from now).
_RELEASE = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""
)

# KEYS: paused. ARGV: seconds. A longer pause already in place stays.
_PAUSE = (
    _NOW
    + """
local seconds = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + seconds > current then
  redis.call('SET', KEYS[1], tostring(now + seconds), 'PX', math.ceil(seconds * 1000) + 1000)
end
return 1
"""
)

_LOCAL = ""  # the ticket of a request counted by this process's own budget (Redis was unreachable)


class SharedRateGovernor:
    """The budget of one API key in Redis (see the module docstring), shared by every replica that has the key.

    ``limit`` requests per ``window`` seconds (None: unlimited, but pauses still hold). ``lease``: how long a request
    may stay in flight before its token is presumed lost with its replica (longer than the client's timeout).
    """

    def __init__(
        self,
        link: RedisLink,
        api_key: str | SecretStr,
        limit: int | None,
        window: float = 60.0,
        *,
        lease: float = 90.0,
        poll: float = 0.02,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("the rate limit must be at least 1 request per window (or None for unlimited)")
        secret = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        digest = hashlib.sha256(b"hajatek-rate\0" + secret.encode()).hexdigest()[:32]
        self._keys = [link.key("rate", digest, name) for name in ("finished", "held", "paused")]
        self._link = link
        self._limit = limit
        self._window = window
        self._lease = lease
        self._poll = poll
        self._acquire_script = link.script(_ACQUIRE)
        self._release_script = link.script(_RELEASE)
        self._pause_script = link.script(_PAUSE)
        self._local = RateGovernor(limit, window)  # while Redis is unreachable, and this process's pause at once
        self._lock = anyio.Lock()
        self._tickets: deque[str] = deque()  # this process's requests in flight: lease ids, or _LOCAL
        self._pending: set[asyncio.Task[None]] = set()
        self._seen = (0, 0)  # finished and held tokens at the last look, for state()
        self._degraded = False

    async def acquire(self, *, max_pause: float | None = None) -> None:
        """Wait until the shared budget has a token, and hold it (a :class:`PausedError` for a pause too long)."""
        async with self._lock:
            while True:
                if (paused := self._local.state().paused_for) > 0:  # this process heard Retry-After first
                    if max_pause is not None and paused > max_pause:
                        raise PausedError(paused)
                    await anyio.sleep(paused)
                lease_id = secrets.token_hex(8)
                try:
                    verdict, seconds, finished, held = await self._acquire_script(
                        keys=self._keys, args=[self._limit or 0, self._window, self._lease, lease_id]
                    )
                except Exception as exc:  # unreachable, timed out or refused: go on alone
                    self._fall_back(exc)
                    await self._local.acquire(max_pause=max_pause)
                    self._tickets.append(_LOCAL)
                    return
                self._back()
                self._seen = (int(finished), int(held))
                wait = float(seconds)
                if verdict == "go":
                    self._tickets.append(lease_id)
                    return
                if verdict == "paused" and max_pause is not None and wait > max_pause:
                    raise PausedError(wait)
                await anyio.sleep(max(wait, self._poll) if verdict != "held" else self._poll)

    def release(self) -> None:
        """A request got its answer (or failed): its token starts its way back, on every replica's count."""
        if not self._tickets:
            return
        ticket = self._tickets.popleft()  # the leases of one key are interchangeable: any one of ours will do
        if ticket == _LOCAL:
            self._local.release()
            return
        counted = "1" if self._limit is not None else "0"
        self._spawn(self._release_script(keys=self._keys[:2], args=[self._window, ticket, counted]), "release")

    def observe(self, *, limit: int | None, remaining: int | None, reset_in: float | None) -> None:
        """The server's ``X-RateLimit-*``: its limit replaces ours; "0 remaining" holds every replica till the reset."""
        if limit is not None and limit > 0:
            self._limit = limit
        self._local.observe(limit=limit, remaining=None, reset_in=None)
        if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
            self.pause(reset_in)

    def pause(self, seconds: float) -> None:
        """Hold every caller of every replica for ``seconds`` (the server's ``Retry-After``)."""
        seconds = max(seconds, 0.0)
        self._local.pause(seconds)
        self._spawn(self._pause_script(keys=self._keys[2:], args=[seconds]), "pause")

    def state(self) -> RateLimitState:
        """The budget at the last look at Redis (remaining across every replica)."""
        local = self._local.state()
        finished, held = self._seen
        remaining = None if self._limit is None else max(self._limit - finished - held, 0)
        return RateLimitState(
            limit=self._limit, window=self._window, remaining=remaining, reset_in=0.0, paused_for=local.paused_for
        )

    async def aclose(self) -> None:
        """Let the last releases reach Redis (for a few seconds at most); the link belongs to whoever opened it."""
        with anyio.move_on_after(5):
            while self._pending:
                await asyncio.wait(set(self._pending))

    def _spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as exc:  # a lost release only delays a token until its lease ends
                self._fall_back(exc, what)

        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _fall_back(self, exc: BaseException, what: str = "acquire") -> None:
        if not self._degraded:
            self._degraded = True
            logger.warning(
                "%s; the rate budget is this process's own until it answers (%s)",
                self._link.unreachable(exc),
                what,
            )

    def _back(self) -> None:
        if self._degraded:
            self._degraded = False
            logger.warning("Redis at %s answers again: the rate budget is shared again", self._link.where)
