"""Subscriptions on a multi-tenant server: a subscriber of ``hajatek://events`` hears of its own store's events only.

Two merchants of two sandbox stores subscribe (handshake era: ``resources/subscribe``; 2026-07-28:
``subscriptions/listen``); merchant 1 changes an order, so the sandbox sends store 1's signed webhook to the server.
Merchant 1 hears of it; merchant 2, subscribed to the same URI on the same server, hears nothing.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from tests.server.tenants_support import Merchant, hosted_stores
from tests.support import structured

EVENTS = "hajatek://events"


class Heard:
    """The resource updates one subscriber heard; ``first`` is set by the first."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self.first = anyio.Event()

    def add(self, uri: str) -> None:
        self.uris.append(uri)
        self.first.set()


@asynccontextmanager
async def subscribed(origin: str, merchant: Merchant, mode: str, heard: Heard) -> AsyncIterator[Client]:
    """``merchant``'s client, subscribed to the events resource; each update it hears is appended to ``heard``."""

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification):
            heard.add(str(root.params.uri))

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {merchant.token}"}, timeout=60) as http,
        Client(streamable_http_client(origin + "/mcp", http_client=http), mode=mode, message_handler=on_message) as c,
    ):
        if mode == "legacy":
            with warnings.catch_warnings():  # the handshake era's way; deprecated in 2026
                warnings.simplefilter("ignore", mcp.MCPDeprecationWarning)
                await c.session.subscribe_resource(EVENTS)
            yield c
        else:
            async with c.listen(resource_subscriptions=[EVENTS]) as subscription:

                async def drain() -> None:
                    async for change in subscription:
                        heard.add(str(change.uri))  # type: ignore[attr-defined]

                async with anyio.create_task_group() as group:
                    group.start_soon(drain)
                    yield c
                    group.cancel_scope.cancel()


async def test_a_subscriber_hears_of_its_own_stores_events_only(tmp_path: Path, mode: str) -> None:
    async with hosted_stores(tmp_path, ("store.write", "store.write")) as hosted:
        one, two = hosted.merchants
        heard_one, heard_two = Heard(), Heard()
        async with (
            subscribed(hosted.origin, one, mode, heard_one) as client,
            subscribed(hosted.origin, two, mode, heard_two),
        ):
            orders = await structured(client, "list_orders", {"status": "pending", "limit": 1})
            order = orders["orders"][0]["id"]
            await structured(client, "update_order_status", {"order_id": order, "status": "processing"})
            with anyio.fail_after(10):
                await heard_one.first.wait()
            await anyio.sleep(1.0)  # time enough for a stray notification to reach the other store's subscriber
        assert EVENTS in heard_one.uris
        assert heard_two.uris == []
