"""list_events says since when the inbox has been receiving, so "nothing since X" is knowable; it survives a restart,
ends with a run that cannot receive, never reaches back past the retention, and an inbox of the previous schema
keeps its events when it learns to keep the moment."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr
from starlette.applications import Starlette

from hajatek_mcp.api import WebhookEvent, sign
from hajatek_mcp.server import HajatekServer, Shop
from hajatek_mcp.server.events import SCHEMA, WEBHOOK_PATH, EventInbox
from hajatek_mcp.storage import Database, Schema
from tests.support import CANARY_WEBHOOK_SECRET, NOW, FakeClock, text

DAY = 86400.0
START = "2026-11-27T12:00:00Z"  # NOW


async def list_events(client: Client, **arguments: Any) -> tuple[dict[str, Any], str]:
    result = await client.call_tool("list_events", arguments)
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content, text(result)


def event(event_id: str, created: datetime = NOW) -> WebhookEvent:
    return WebhookEvent.model_validate(
        {"id": event_id, "type": "inventory.low", "created_at": created.isoformat(), "data": {"product_id": "prod_1"}}
    )


async def test_receiving_since_is_the_first_open_with_a_secret_and_survives_a_restart(
    make_server: Callable[..., MCPServer[Shop]], tmp_path: Path, mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())
    secret = SecretStr(CANARY_WEBHOOK_SECRET)
    async with Client(make_server(state_dir=tmp_path, clock=clock, webhook_secret=secret), mode=mode) as client:
        first, _ = await list_events(client)
    clock.now += 3 * 3600  # a restart three hours later: the receiver has been open since the first start
    async with Client(make_server(state_dir=tmp_path, clock=clock, webhook_secret=secret), mode=mode) as client:
        again, note = await list_events(client)
        hour_ago, hour_note = await list_events(client, since="2026-11-27T14:00:00Z", type="inventory.low")
    assert first["receiving"] is again["receiving"] is True
    assert first["receiving_since"] == again["receiving_since"] == START
    assert (again["events"], hour_ago["events"]) == ([], [])
    assert f"No events received since {START}" in note
    assert "earlier ones are unknown" in note
    since_then = "No inventory.low events received since 2026-11-27T14:00:00Z"
    assert f"{since_then}: the inbox has been receiving since {START}" in hour_note


async def test_a_run_without_a_secret_says_nothing_can_arrive_and_ends_the_stretch(
    make_server: Callable[..., MCPServer[Shop]], tmp_path: Path, mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())
    secret = SecretStr(CANARY_WEBHOOK_SECRET)
    async with Client(make_server(state_dir=tmp_path, clock=clock, webhook_secret=secret), mode=mode) as client:
        await list_events(client)
    clock.now += DAY
    async with Client(make_server(state_dir=tmp_path, clock=clock), mode=mode) as client:
        off, off_note = await list_events(client)
    clock.now += DAY  # events Hajatek sent during the run without a secret were never received
    async with Client(make_server(state_dir=tmp_path, clock=clock, webhook_secret=secret), mode=mode) as client:
        back, _ = await list_events(client)
    assert off["receiving"] is False
    assert "receiving_since" not in off
    assert "No webhook secret is configured, so no events can arrive." in off_note
    assert back["receiving_since"] == "2026-11-29T12:00:00Z"


async def test_receiving_since_never_reaches_back_past_the_retention(
    make_server: Callable[..., MCPServer[Shop]], tmp_path: Path, mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())
    options: dict[str, Any] = {"state_dir": tmp_path, "clock": clock, "event_retention_days": 2.0}
    options["webhook_secret"] = SecretStr(CANARY_WEBHOOK_SECRET)
    async with Client(make_server(**options), mode=mode) as client:
        await list_events(client)
    clock.now += 5 * DAY  # older bodies are dropped: only the last two days are whole
    async with Client(make_server(**options), mode=mode) as client:
        later, _ = await list_events(client)
    assert later["receiving_since"] == "2026-11-30T12:00:00Z"


async def test_asked_about_a_time_before_receiving_began_the_list_says_from_when_it_is_complete(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())
    server = make_server(clock=clock, webhook_secret=SecretStr(CANARY_WEBHOOK_SECRET))
    assert isinstance(server, HajatekServer)
    body = json.dumps({"id": "evt_low", "type": "inventory.low", "created_at": START, "data": {}}).encode()
    headers = {"X-Hajatek-Signature": sign(CANARY_WEBHOOK_SECRET, body), "Content-Type": "application/json"}
    webhooks = httpx2.ASGITransport(app=Starlette(routes=server.webhook_routes))
    async with Client(server, mode=mode) as client, httpx2.AsyncClient(transport=webhooks) as http:
        delivered = await http.post(f"http://hajatek-mcp.local{WEBHOOK_PATH}", content=body, headers=headers)
        assert delivered.status_code == 200, delivered.text
        earlier, earlier_note = await list_events(client, since="2026-11-01")
        covered, covered_note = await list_events(client, since=START)
    assert [e["id"] for e in earlier["events"]] == [e["id"] for e in covered["events"]] == ["evt_low"]
    assert f"Complete since {START}; earlier may be missing." in earlier_note
    assert "Complete since" not in covered_note


async def test_a_reader_of_the_inbox_neither_starts_nor_ends_the_stretch_and_each_store_has_its_own(
    tmp_path: Path, clock: FakeClock
) -> None:
    clock.now = NOW.timestamp()
    path = tmp_path / "events.db"
    EventInbox(path, store_id="str_a", clock=clock, receiving=True).close()
    clock.now += 3600
    reader = EventInbox(path, store_id="str_a", clock=clock)  # e.g. a tool that reads the file, serving no receiver
    assert await reader.receiving_since() is None, "it does not receive, so it cannot say since when"
    reader.close()
    other = EventInbox(path, store_id="str_b", clock=clock, receiving=True)
    inbox = EventInbox(path, store_id="str_a", clock=clock, receiving=True)
    try:
        assert await inbox.receiving_since() == START
        assert await other.receiving_since() == "2026-11-27T13:00:00Z"
    finally:
        inbox.close()
        other.close()


async def test_an_inbox_of_the_previous_schema_keeps_its_events_and_starts_counting_at_its_first_open(
    tmp_path: Path, clock: FakeClock
) -> None:
    clock.now = NOW.timestamp()
    path = tmp_path / "events.db"
    previous = Schema(SCHEMA.what, SCHEMA.migrations[:2])  # the release before receiving_since
    old = EventInbox(Database(path, previous), store_id="str_a", clock=clock)
    assert await old.add(event("evt_kept"))
    old.close()
    clock.now += 3600
    inbox = EventInbox(path, store_id="str_a", clock=clock, receiving=True)
    try:
        assert [e["id"] for e in await inbox.recent()] == ["evt_kept"]
        assert await inbox.known("evt_kept")
        assert not await inbox.add(event("evt_kept")), "still known: a redelivery is not stored twice"
        assert await inbox.receiving_since() == "2026-11-27T13:00:00Z"
    finally:
        inbox.close()
