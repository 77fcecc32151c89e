"""Restart safety: ``kill -9`` the console script in the middle of a webhook burst and in the middle of writes.

After a restart on the same data directory: every event that was acknowledged (2xx) is in the inbox, and a
redelivery of the whole burst stores nothing twice; every write an agent got an answer for is in the store and in the
audit log, and no store change happened twice, even after the agents retry what they never heard back about,
checking first as the error messages ask. Everything runs on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters, stdio_client

from hajatek_mcp.api import sign
from hajatek_mcp.sandbox import SandboxConfig, create_app
from tests.support import (
    CANARY_WEBHOOK_SECRET,
    REQUEST_TIMEOUT,
    HttpServer,
    audit_rows,
    free_port,
    running_server,
    sandbox_http,
    server_env,
    stored_event_ids,
    text,
    wait_until_listening,
    walk,
)

SECRET = CANARY_WEBHOOK_SECRET
BURST, KILL_AFTER = 90, 30
AGENTS, WRITES_EACH, KILL_AFTER_WRITES = 6, 8, 15
Write = tuple[str, dict[str, Any]]


def delivery(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({
        "id": event_id, "type": "order.created", "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"order_id": f"ord_{event_id[-6:]}", "store_id": "str_sandbox", "total": 115.0, "currency": "SAR",
                 "status": "pending", "items": []},
    }).encode()  # fmt: skip
    return body, {"X-Hajatek-Signature": sign(SECRET, body), "Content-Type": "application/json"}


@contextmanager
def stdio_with_listener(script: Path, env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``hajatek-mcp --sandbox --webhook-port PORT``, its stdin held open; killed (SIGKILL) on exit if still alive."""
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603  # our own console script, fixed arguments
            [str(script), "--sandbox", "--webhook-port", str(port)], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=output,
        )  # fmt: skip
    try:
        wait_until_listening(process, port, log)
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdin:
            process.stdin.close()


async def post_burst(
    url: str, ids: list[str], acknowledged: list[str], on_ack: Callable[[], None] | None = None
) -> None:
    """POST every event, 10 at a time; record the ids answered 2xx. Refused connections are Hajatek's to retry."""
    limiter = anyio.CapacityLimiter(10)
    async with httpx2.AsyncClient(timeout=10) as http, anyio.create_task_group() as group:

        async def post(event_id: str) -> None:
            async with limiter:
                body, headers = delivery(event_id)
                try:
                    response = await http.post(url, content=body, headers=headers)
                except httpx2.TransportError:
                    return
                if response.is_success:
                    acknowledged.append(event_id)
                    if on_ack is not None:
                        on_ack()

        for event_id in ids:
            group.start_soon(post, event_id)


async def test_no_acknowledged_webhook_is_lost_to_kill_9_mid_burst_and_a_redelivery_stores_none_twice(
    script: Path, tmp_path: Path
) -> None:
    env = {**server_env(tmp_path), "HAJATEK_WEBHOOK_SECRET": SECRET}
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/hajatek"
    ids = [f"evt_burst_{n:06d}" for n in range(BURST)]
    log = tmp_path / "burst.log"

    acknowledged: list[str] = []
    with stdio_with_listener(script, env, port, log) as process, anyio.fail_after(60):

        def kill_at_threshold() -> None:
            if len(acknowledged) == KILL_AFTER:
                process.kill()  # SIGKILL mid-burst: no shutdown code runs

        await post_burst(url, ids, acknowledged, kill_at_threshold)
    assert KILL_AFTER <= len(acknowledged) < BURST, "the kill landed mid-burst"

    params = StdioServerParameters(command=str(script), args=["--sandbox"], env=env)
    async with Client(stdio_client(params), read_timeout_seconds=REQUEST_TIMEOUT) as client:
        stored = await client.call_tool("list_events", {"limit": 100})
    assert stored.structured_content is not None, text(stored)
    after_restart = [e["id"] for e in stored.structured_content["events"]]
    assert set(acknowledged) <= set(after_restart), "an acknowledged event was lost"
    assert len(after_restart) == len(set(after_restart))

    # Hajatek redelivers whatever it heard no 2xx for (and may repeat the rest): nothing is stored twice.
    redelivered: list[str] = []
    with stdio_with_listener(script, env, port, log), anyio.fail_after(60):
        await post_burst(url, ids, redelivered)
    assert sorted(redelivered) == ids
    assert sorted(await stored_event_ids(tmp_path)) == ids, "every event stored exactly once"


def key(write: Write) -> str:
    return str(write[1].get("sku") or write[1]["order_id"])


def scripts(delivered: list[str]) -> list[list[Write]]:
    """Each agent alternates new products and refunds of its own delivered orders."""
    plans = []
    for agent in range(AGENTS):
        plan: list[Write] = []
        for n in range(WRITES_EACH):
            if n % 2:
                plan.append(("update_order_status", {"order_id": delivered[agent * WRITES_EACH + n],
                                                     "status": "refunded"}))  # fmt: skip
            else:
                product = {"name": f"Crash Test Kettle {agent}-{n}", "price": 55, "category": "home-kitchen",
                           "sku": f"KILL-{agent}-{n}", "stock": 2}  # fmt: skip
                plan.append(("create_product", product))
        plans.append(plan)
    return plans


async def write_until_killed(server: HttpServer, plans: list[list[Write]]) -> tuple[list[Write], set[str]]:
    """Run the agents concurrently; SIGKILL the server once KILL_AFTER_WRITES writes were answered.

    An agent may fail only after the kill (its connection dies with the server); a failure before it fails the test.
    """
    attempted: list[Write] = []
    acknowledged: set[str] = set()
    killed = False
    early: list[BaseException] = []

    async def agent(plan: list[Write]) -> None:
        nonlocal killed
        try:
            async with Client(server.url("/mcp"), read_timeout_seconds=10) as client:
                for write in plan:
                    attempted.append(write)
                    result = await client.call_tool(*write)
                    if not result.is_error:
                        acknowledged.add(key(write))
                        if len(acknowledged) == KILL_AFTER_WRITES:
                            killed = True
                            server.process.kill()  # SIGKILL with writes in flight
        except Exception as exc:  # the server died under this agent: that is the experiment
            if not killed:
                early.append(exc)

    with anyio.fail_after(90):
        async with anyio.create_task_group() as agents:
            for plan in plans:
                agents.start_soon(agent, plan)
    server.process.wait(timeout=10)
    assert not early, f"an agent failed before the kill: {early[0]!r}"
    return attempted, acknowledged


async def retry_what_was_not_answered(client: Client, attempted: list[Write], acknowledged: set[str]) -> None:
    """What an agent does after the crash: check first (as the error messages ask), then repeat only what is missing."""
    for tool, args in attempted:
        if key((tool, args)) in acknowledged:
            continue
        if tool == "create_product":
            found = await client.call_tool("list_products", {"search": args["sku"]})
            assert found.structured_content is not None, text(found)
            if found.structured_content["total"]:
                continue
        retried = await client.call_tool(tool, args)
        assert not retried.is_error, text(retried)


async def store_after(data_dir: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """The ``--sandbox`` store the killed servers left in ``data_dir``, read through the sandbox's API and admin API:
    the SKUs of the products the agents made, the order id of each status change (``order.updated``), each order's
    status."""
    app = create_app(SandboxConfig(db_path=str(data_dir / "sandbox.db"), enable_admin=True))  # its data, not a new seed
    try:
        async with sandbox_http(app) as http:
            found, _ = await walk(http, "/v1/products", "products", search="KILL-")
            events = (await http.get("/_sandbox/events", params={"type": "order.updated"})).json()["events"]
            orders, _ = await walk(http, "/v1/orders", "orders")
    finally:
        await app.state.sandbox.aclose()
    skus = [p["sku"] for p in found if p["sku"].upper().startswith("KILL-")]
    return skus, [e["data"]["order_id"] for e in events], {o["id"]: o["status"] for o in orders}


async def test_no_acknowledged_write_is_lost_to_kill_9_and_no_store_change_happens_twice(
    script: Path, tmp_path: Path
) -> None:
    host_approves = {"HAJATEK_CONFIRM": "none"}
    with running_server(script, "streamable-http", tmp_path, extra_env=host_approves) as server:
        async with Client(server.url("/mcp"), read_timeout_seconds=REQUEST_TIMEOUT) as client:
            listing = await client.call_tool("list_orders", {"status": "delivered", "limit": AGENTS * WRITES_EACH})
        assert listing.structured_content is not None
        attempted, acknowledged = await write_until_killed(
            server, scripts([o["id"] for o in listing.structured_content["orders"]])
        )
    assert KILL_AFTER_WRITES <= len(acknowledged) < AGENTS * WRITES_EACH, "the kill landed mid-run"

    executed = {e["arguments"].get("sku") or e["arguments"].get("order_id")
                for e in await audit_rows(tmp_path) if e["outcome"] == "executed"}  # fmt: skip
    assert acknowledged <= executed, "an acknowledged write is missing from the audit log"

    with running_server(script, "streamable-http", tmp_path, extra_env=host_approves) as server:
        async with Client(server.url("/mcp"), read_timeout_seconds=REQUEST_TIMEOUT) as client:
            await retry_what_was_not_answered(client, attempted, acknowledged)

    skus, changed, statuses = await store_after(tmp_path)
    assert sorted(skus) == sorted(args["sku"] for tool, args in attempted if tool == "create_product"), (
        "every product exactly once"
    )
    moved = [args["order_id"] for tool, args in attempted if tool == "update_order_status"]
    assert sorted(changed) == sorted(moved), "every status changed exactly once"
    assert {statuses[order_id] for order_id in moved} == {"refunded"}
