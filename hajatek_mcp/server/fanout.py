"""Store events across replicas: a webhook stored by one replica is announced to subscribers on every replica.

With ``HAJATEK_REDIS_URL``, :class:`~hajatek_mcp.server.receiver.EventHub` hands each announcement ("store X's inbox
changed", and the SDK's own list-changed events) to a :class:`RedisRelay`, which publishes it on one Redis pub/sub
channel. Every replica, the publisher included, runs the relay's listener and delivers what arrives to its own
subscribers of that store, in both protocol eras. So a subscriber hears each event once, from its own replica,
whichever replica the webhook reached (a redelivered webhook is known to the shared inbox and announced no more).

An announcement is a hint, the inbox is the record: pub/sub delivers to the replicas listening at that moment, and a
subscriber that reconnects reads the inbox from its cursor. While Redis cannot be reached, a replica announces to its
own subscribers only, and its listener reconnects by itself (with a growing pause, said in the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskStatus
from mcp.server.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from pydantic import SecretStr

from hajatek_mcp.storage.redis_link import RedisLink

__all__ = ["RedisRelay", "relay_for"]

logger = logging.getLogger("hajatek_mcp.events")

Deliver = Callable[[str | None, ServerEvent], Awaitable[None]]

_KINDS: dict[str, ServerEvent] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
}

#: How long the listener waits for a message before it looks whether it should stop (seconds).
_IDLE = 1.0


def _encode(store_id: str | None, event: ServerEvent) -> str:
    if isinstance(event, ResourceUpdated):
        return json.dumps({"store": store_id, "kind": "updated", "uri": event.uri})
    kind = next(name for name, known in _KINDS.items() if known == event)
    return json.dumps({"store": store_id, "kind": kind})


def _decode(data: str) -> tuple[str | None, ServerEvent] | None:
    try:
        message = json.loads(data)
        store = message.get("store")
        if message["kind"] == "updated":
            return store, ResourceUpdated(uri=str(message["uri"]))
        return store, _KINDS[message["kind"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class RedisRelay:
    """Announcements through the Redis channel ``<prefix>events``, delivered on every replica that runs it."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self.channel = link.key("events")
        self.listening = False
        """Whether this replica's listener is subscribed now (else announcements stay local)."""

    async def publish(self, store_id: str | None, event: ServerEvent) -> None:
        """Send ``event`` (for ``store_id``'s subscribers; None: everyone's) to every replica; raises RedisError."""
        try:
            await self.link.client.publish(self.channel, _encode(store_id, event))
        except Exception as exc:
            raise self.link.unreachable(exc) from None

    @asynccontextmanager
    async def running(self, deliver: Deliver) -> AsyncIterator[None]:
        """Listen while the context is open: subscribed before it is entered (an unreachable Redis stops the start
        with :class:`~hajatek_mcp.storage.redis_link.RedisError`), each message handed to ``deliver``."""
        async with anyio.create_task_group() as group:
            await group.start(self._listen, deliver)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
                self.listening = False
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await self.link.aclose()

    async def _listen(self, deliver: Deliver, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        pause, started = 0.5, False
        while True:
            pubsub = self.link.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.listening = True
                if not started:
                    started = True
                    task_status.started()
                else:
                    logger.warning("Redis at %s answers again: events reach every replica again", self.link.where)
                pause = 0.5
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=_IDLE)
                    if message is not None and message.get("type") == "message":
                        await self._hand_over(deliver, str(message["data"]))
            except Exception as exc:
                self.listening = False
                if not started:
                    raise self.link.unreachable(exc) from None
                problem = self.link.unreachable(exc)
                logger.warning("%s; events reach this replica's subscribers only; retrying in %.1f s", problem, pause)
                await anyio.sleep(pause)
                pause = min(pause * 2, 10.0)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    async def _hand_over(self, deliver: Deliver, data: str) -> None:
        decoded = _decode(data)
        if decoded is None:
            logger.warning("ignoring a message on %s that is not ours", self.channel)
            return
        try:
            await deliver(*decoded)
        except Exception:  # one failed delivery must not stop the listener
            logger.exception("delivering an event from another replica failed")


def relay_for(redis_url: SecretStr | None) -> RedisRelay | None:
    """The relay through the Redis at ``redis_url`` (``HAJATEK_REDIS_URL``), or None without one."""
    return RedisRelay(RedisLink(redis_url.get_secret_value())) if redis_url is not None else None
