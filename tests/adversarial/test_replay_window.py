"""Issue #14, finding 8: a replay inside the replay window is never stored or announced twice.

The inbox keeps an event's body for the retention, and its id for the retention or the window, whichever is longer.
These servers are built with a retention shorter than the window (settings refuse that combination; the inbox must
hold anyway), on an injected clock, and receive signed deliveries through the real webhook route.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.types import TextResourceContents
from pydantic import SecretStr
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient, WebhookEvent, sign
from hajatek_mcp.server import HajatekServer, ServerOptions, build_server
from hajatek_mcp.server.events import WEBHOOK_PATH, EventInbox
from tests.support import CANARY_WEBHOOK_SECRET, NOW, SANDBOX_KEY, FakeClock, text

HOUR = 3600.0
DAY = 24 * HOUR


def delivery(event_id: str, created: datetime) -> tuple[bytes, dict[str, str]]:
    """A signed ``order.created`` delivery, as Hajatek sends it."""
    body = json.dumps({"id": event_id, "type": "order.created", "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "data": {"order_id": "ord_abc123", "total": 299.99}}).encode()  # fmt: skip
    return body, {"X-Hajatek-Signature": sign(CANARY_WEBHOOK_SECRET, body), "Content-Type": "application/json"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=NOW.timestamp())


def events_server(sandbox_app: Starlette, clock: FakeClock, *, retention_days: float, window: float) -> HajatekServer:
    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1", plan="business",
                             transport=httpx2.ASGITransport(app=sandbox_app))  # fmt: skip

    options = ServerOptions(sandbox=True, webhook_secret=SecretStr(CANARY_WEBHOOK_SECRET), webhook_max_age=window,
                            event_retention_days=retention_days, clock=clock)  # fmt: skip
    return build_server(options, connect)


@asynccontextmanager
async def running(server: HajatekServer) -> AsyncIterator[tuple[Client, httpx2.AsyncClient]]:
    """An MCP client (which opens the server's lifespan, hence its inbox) and an HTTP client on its webhook route."""
    transport = httpx2.ASGITransport(app=Starlette(routes=server.webhook_routes))
    async with Client(server) as client, httpx2.AsyncClient(transport=transport, base_url="http://mcp.local") as http:
        yield client, http


async def listed(client: Client) -> list[str]:
    result = await client.call_tool("list_events", {"limit": 100})
    assert result.structured_content is not None, text(result)
    return [event["id"] for event in result.structured_content["events"]]


async def post(http: httpx2.AsyncClient, event_id: str, created: datetime) -> dict[str, Any]:
    body, headers = delivery(event_id, created)
    response = await http.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_replay_inside_the_window_after_its_body_was_purged_is_not_stored_again(
    sandbox_app: Starlette, clock: FakeClock
) -> None:
    server = events_server(sandbox_app, clock, retention_days=0.5, window=DAY)  # bodies 12 h, window 24 h
    async with running(server) as (client, http):
        assert await post(http, "evt_first", NOW) == {"received": True}
        clock.now += 13 * HOUR  # past the retention, inside the window
        assert await post(http, "evt_later", NOW + timedelta(hours=13)) == {"received": True}  # its add purges
        assert await listed(client) == ["evt_later"]
        replay = await post(http, "evt_first", NOW)  # 13 h old: within the window, so only the id can stop it
        assert replay == {"received": True, "duplicate": True}  # a duplicate is neither stored nor announced
        assert await listed(client) == ["evt_later"]


async def test_a_body_past_the_retention_is_not_listed_even_before_the_next_delivery_purges_it(
    sandbox_app: Starlette, clock: FakeClock
) -> None:
    server = events_server(sandbox_app, clock, retention_days=0.5, window=DAY)
    async with running(server) as (client, http):
        await post(http, "evt_first", NOW)
        clock.now += 13 * HOUR
        assert await listed(client) == []
        resource = (await client.read_resource("hajatek://events")).contents[0]
        assert isinstance(resource, TextResourceContents)
        assert "evt_first" not in resource.text


async def test_an_event_dated_ahead_of_this_clock_stays_known_until_its_own_window_ends(
    sandbox_app: Starlette, clock: FakeClock
) -> None:
    server = events_server(sandbox_app, clock, retention_days=1, window=DAY)
    ahead = NOW + timedelta(hours=1)  # Hajatek's clock runs an hour ahead of ours
    async with running(server) as (_, http):
        await post(http, "evt_ahead", ahead)
        clock.now += DAY + 30 * 60  # a day and a half hour after receipt: only 23.5 h after its created_at
        await post(http, "evt_later", NOW + timedelta(days=1))
        assert await post(http, "evt_ahead", ahead) == {"received": True, "duplicate": True}


def event(event_id: str, created: datetime) -> WebhookEvent:
    return WebhookEvent.model_validate_json(delivery(event_id, created)[0])


async def test_an_id_is_forgotten_once_both_the_retention_and_the_window_are_over(clock: FakeClock) -> None:
    inbox = EventInbox(None, store_id="str_a", retention_days=0.5, max_age=DAY, clock=clock)
    try:
        assert await inbox.add(event("evt_first", NOW))
        clock.now += DAY + 1
        assert await inbox.add(event("evt_later", NOW + timedelta(days=1)))  # purges
        assert not await inbox.known("evt_first")  # the table stays bounded; the window now refuses the replay
        assert await inbox.known("evt_later")
    finally:
        inbox.close()


async def test_an_inbox_written_before_ids_were_kept_apart_still_knows_its_events(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "events.db"
    with closing(sqlite3.connect(path)) as old:  # the schema of the previous release, with one stored event
        old.executescript("CREATE TABLE events (id TEXT PRIMARY KEY, type TEXT NOT NULL, created_at TEXT NOT NULL, "
                          "received_at REAL NOT NULL, data TEXT NOT NULL);")  # fmt: skip
        old.execute("INSERT INTO events VALUES ('evt_old', 'order.created', '2026-11-27T12:00:00Z', ?, '{}')",
                    (clock.now,))  # fmt: skip
        old.commit()
    inbox = EventInbox(path, store_id="", retention_days=30, max_age=DAY, clock=clock)  # 0.1's events: no store
    try:
        assert await inbox.known("evt_old")
        assert not await inbox.add(event("evt_old", NOW))
        assert [e["id"] for e in await inbox.recent()] == ["evt_old"]
    finally:
        inbox.close()
