"""Redis for what replicas must share live (``HAJATEK_REDIS_URL``; ``pip install "hajatek-mcp[hosted]"``).

PostgreSQL keeps what must last (see :mod:`hajatek_mcp.storage.postgres`); Redis carries what is shared *now*: the
rate budget of each Hajatek API key (:mod:`hajatek_mcp.api.shared_rate`) and the "a store's inbox changed" fan-out
(:mod:`hajatek_mcp.server.fanout`). A :class:`RedisLink` is one connection pool on the server's event loop (the
driver is redis-py's asyncio client, so this runs on asyncio, as uvicorn does). Every key it names starts with
``prefix``, so one Redis can serve several deployments. The URL's password is never shown.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = ["RedisError", "RedisLink", "redacted_url"]

#: Seconds a single Redis command may take before it counts as unreachable.
COMMAND_TIMEOUT = 5.0


class RedisError(Exception):
    """Redis is not installed, not reachable, or refused a command; ``str()`` names the fix, never the password."""


def redacted_url(url: str) -> str:
    """``url`` without its password (``redis://:***@host:6379/0``)."""
    return re.sub(r"(//[^:/@]*):[^@]*@", r"\1:***@", url)


class RedisLink:
    """One Redis server (a ``redis://`` or ``rediss://`` URL), through one connection pool, keys under ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "hajatek:") -> None:
        try:
            from redis.asyncio import Redis  # noqa: PLC0415  # optional: hajatek-mcp[hosted]
        except ImportError:
            raise RedisError('HAJATEK_REDIS_URL needs the Redis client: pip install "hajatek-mcp[hosted]"') from None
        self.where = redacted_url(url)
        self.prefix = prefix
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=COMMAND_TIMEOUT,
            socket_connect_timeout=COMMAND_TIMEOUT,
            health_check_interval=30,
            decode_responses=True,
        )

    def __repr__(self) -> str:
        return f"RedisLink({self.where!r})"

    def key(self, *parts: str) -> str:
        """A key of this deployment: ``prefix`` + ``parts`` joined by colons."""
        return self.prefix + ":".join(parts)

    def unreachable(self, exc: BaseException) -> RedisError:
        """The one-sentence error for a failed command (the driver's own message may quote the URL)."""
        return RedisError(
            f"Redis at {self.where} cannot be reached ({type(exc).__name__}): check HAJATEK_REDIS_URL and that the "
            "server is up"
        )

    async def ping(self) -> None:
        """Raise :class:`RedisError` unless Redis answers now."""
        try:
            await self.client.ping()
        except Exception as exc:
            raise self.unreachable(exc) from None

    def pubsub(self) -> PubSub:
        """A subscriber connection of its own (a subscribed connection can do nothing else)."""
        return self.client.pubsub(ignore_subscribe_messages=True)

    def script(self, source: str) -> Any:
        """A Lua script, run by hash (loaded again by itself after a Redis restart)."""
        return self.client.register_script(source)

    async def aclose(self) -> None:
        await self.client.aclose()
