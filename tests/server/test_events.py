"""Webhooks into the event inbox: a real receiver on 127.0.0.1, verification, exactly-once storage, notifications."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp
import pytest
from mcp import Client, types
from mcp.server.mcpserver import MCPServer
from mcp.types import TextResourceContents
from starlette.applications import Starlette

from hajatek_mcp.api import sign
from hajatek_mcp.server import HajatekServer
from tests.support import CANARY_WEBHOOK_SECRET, FakeClock, Loopback, stored_event_ids, text

SECRET = CANARY_WEBHOOK_SECRET


def event(event_id: str = "evt_1001", *, kind: str = "order.created", age: timedelta = timedelta(0)) -> dict[str, Any]:
    created = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": event_id, "type": kind, "created_at": created,
            "data": {"order_id": "ord_abc123", "store_id": "str_sandbox", "total": 299.99, "currency": "SAR",
                     "status": "pending", "items": [{"product_id": "prod_0001", "name": "Premium Widget",
                                                     "quantity": 2, "price": 149.99}]}}  # fmt: skip


def signed(payload: dict[str, Any] | bytes, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {"X-Hajatek-Signature": sign(secret, body), "Content-Type": "application/json"}


@asynccontextmanager
async def receiver(server: HajatekServer) -> AsyncIterator[str]:
    """The server's webhook routes served by uvicorn on 127.0.0.1, in this event loop (as the CLI serves them)."""
    async with Loopback(Starlette(routes=server.webhook_routes), access_log=False, lifespan="off") as origin:
        yield f"{origin}/webhooks/hajatek"


@pytest.fixture
def events_server(make_server: Callable[..., MCPServer[Any]]) -> HajatekServer:
    from pydantic import SecretStr

    server = make_server(webhook_secret=SecretStr(SECRET), webhook_max_age=3600.0)
    assert isinstance(server, HajatekServer)
    return server


async def inbox(client: Client) -> list[dict[str, Any]]:
    result = await client.call_tool("list_events", {"limit": 100})
    assert result.structured_content is not None, text(result)
    return list(result.structured_content["events"])


async def test_a_valid_event_is_stored_once_and_readable_everywhere(events_server: HajatekServer, mode: str) -> None:
    async with Client(events_server, mode=mode) as client, receiver(events_server) as url, httpx2.AsyncClient() as http:
        body, headers = signed(event())
        first = await http.post(url, content=body, headers=headers)
        again = await http.post(url, content=body, headers=headers)
        assert (first.status_code, again.status_code) == (200, 200)
        assert again.json()["duplicate"] is True
        stored = await inbox(client)
        assert [e["id"] for e in stored] == ["evt_1001"]
        assert stored[0]["data"]["total"] == 299.99
        recent = await client.read_resource("hajatek://events")
        one = await client.read_resource("hajatek://events/evt_1001")
    for result in (recent, one):
        content = result.contents[0]
        assert isinstance(content, TextResourceContents)
        assert "evt_1001" in content.text


def _bad_requests() -> dict[str, tuple[bytes, dict[str, str], int]]:
    good, headers = signed(event("evt_bad"))
    digest = headers["X-Hajatek-Signature"]
    json_type = {"Content-Type": "application/json"}
    not_json, not_json_headers = signed(b"{not json")
    wrong_type_body, wrong_type = signed(event("evt_bad2"))
    shape, shape_headers = signed({"id": "evt_x", "type": "order.created"})
    unknown, unknown_headers = signed(event("evt_bad3", kind="refund.created"))
    stale, stale_headers = signed(event("evt_old", age=timedelta(hours=2)))
    oversized, oversized_headers = signed(b'{"pad": "' + b"x" * (1024 * 1024) + b'"}')
    return {
        "no-signature": (good, json_type, 401),
        "wrong-prefix": (good, {**json_type, "X-Hajatek-Signature": digest.replace("sha256=", "sha1=")}, 401),
        "bad-hex": (good, {**json_type, "X-Hajatek-Signature": "sha256=" + "zz" * 32}, 401),
        "wrong-secret": (good, {**json_type, "X-Hajatek-Signature": sign("whsec_other", good)}, 401),
        "tampered-body": (good.replace(b"299.99", b"2.99"), headers, 401),
        "oversized": (oversized, oversized_headers, 413),
        "not-json": (not_json, not_json_headers, 400),
        "wrong-content-type": (wrong_type_body, {**wrong_type, "Content-Type": "text/plain"}, 415),
        "wrong-shape": (shape, shape_headers, 400),
        "unknown-type": (unknown, unknown_headers, 400),
        "stale": (stale, stale_headers, 400),
    }


BAD = _bad_requests()


@pytest.mark.parametrize("case", list(BAD))
async def test_a_bad_delivery_is_rejected_and_changes_nothing(events_server: HajatekServer, case: str) -> None:
    body, headers, status = BAD[case]
    async with Client(events_server) as client, receiver(events_server) as url, httpx2.AsyncClient() as http:
        response = await http.post(url, content=body, headers=headers)
        assert response.status_code == status, response.text
        assert await inbox(client) == []
        assert SECRET not in response.text


async def test_the_replay_window_refuses_stale_new_events_but_accepts_known_ones(
    make_server: Callable[..., MCPServer[Any]],
) -> None:
    from pydantic import SecretStr

    clock = FakeClock(start=time.time())
    server = make_server(webhook_secret=SecretStr(SECRET), webhook_max_age=3600.0, clock=clock)
    assert isinstance(server, HajatekServer)
    async with Client(server) as client, receiver(server) as url, httpx2.AsyncClient() as http:
        body, headers = signed(event("evt_5"))
        assert (await http.post(url, content=body, headers=headers)).status_code == 200
        clock.now += 7200  # two hours later, Hajatek redelivers; a new event of the same age is a replay
        assert (await http.post(url, content=body, headers=headers)).status_code == 200
        replay, replay_headers = signed(event("evt_6"))
        refused = await http.post(url, content=replay, headers=replay_headers)
        assert refused.status_code == 400
        assert "replay window" in refused.text
        assert [e["id"] for e in await inbox(client)] == ["evt_5"]


async def test_subscribers_hear_of_a_new_event_within_a_second(events_server: HajatekServer, mode: str) -> None:
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification) and str(root.params.uri) == "hajatek://events":
            heard.set()

    async with Client(events_server, mode=mode, message_handler=on_message) as client, receiver(events_server) as url:
        body, headers = signed(event("evt_live"))
        async with httpx2.AsyncClient() as http:
            if mode == "legacy":
                with warnings.catch_warnings():  # resources/subscribe is the handshake era's way; deprecated in 2026
                    warnings.simplefilter("ignore", mcp.MCPDeprecationWarning)
                    await client.session.subscribe_resource("hajatek://events")
                await http.post(url, content=body, headers=headers)
                with anyio.fail_after(1):
                    await heard.wait()
            else:
                async with client.listen(resource_subscriptions=["hajatek://events"]) as subscription:
                    await http.post(url, content=body, headers=headers)
                    with anyio.fail_after(1):
                        async for change in subscription:
                            assert str(change.uri) == "hajatek://events"  # type: ignore[attr-defined]
                            break


async def test_1000_events_from_20_concurrent_senders_end_as_the_distinct_set(
    make_server: Callable[..., MCPServer[Any]], tmp_path: Path
) -> None:
    from pydantic import SecretStr

    server = make_server(webhook_secret=SecretStr(SECRET), state_dir=tmp_path)
    assert isinstance(server, HajatekServer)
    ids = [f"evt_{i:04d}" for i in range(800)]
    deliveries = ids + ids[::4]  # 200 redeliveries mixed in
    statuses: list[int] = []
    async with Client(server) as client, receiver(server) as url:
        async with (
            httpx2.AsyncClient(limits=httpx2.Limits(max_connections=20)) as http,
            anyio.create_task_group() as tg,
        ):

            async def sender(start: int) -> None:
                for event_id in deliveries[start::20]:
                    body, headers = signed(event(event_id))
                    statuses.append((await http.post(url, content=body, headers=headers)).status_code)

            for start in range(20):
                tg.start_soon(sender, start)
        newest = await inbox(client)
    assert statuses == [200] * 1000
    assert len(newest) == 100
    assert sorted(await stored_event_ids(tmp_path)) == ids


def test_without_a_secret_no_receiver_is_served_and_the_server_says_why(
    make_server: Callable[..., MCPServer[Any]],
) -> None:
    server = make_server()
    assert isinstance(server, HajatekServer)
    assert server.webhook_routes == []
    assert "HAJATEK_WEBHOOK_SECRET" in server.webhook_status
