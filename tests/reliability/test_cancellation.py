"""Cancellation: a client that cancels a call or goes away mid-call leaves no half-applied change and no task.

In process, the sandbox handles a request inside the task that sent it, so when the server cancels the tool's task
the held request dies with it: once the task count is back to where it was, nothing can still apply the write.
Over real HTTP that is not so: the store may finish a request whose caller has gone. The last test shows what the
server then remembers of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette

from hajatek_mcp.sandbox import Fault, Sandbox, create_app
from hajatek_mcp.server import HajatekServer
from tests.reliability.support import ClientSpec, Live, eventually, live_sandbox, server_on
from tests.support import audit_rows, text

#: Long enough that only cancellation can end the call; never actually waited for.
HELD = 30.0


@pytest.fixture
def sandbox_app(sandbox_config: Any) -> Iterator[Starlette]:
    app = create_app(sandbox_config)
    yield app
    app.state.sandbox.store.close()


def sandbox_of(app: Starlette) -> Sandbox:
    sandbox: Sandbox = app.state.sandbox
    return sandbox


def in_process(app: Starlette, state_dir: Path) -> HajatekServer:
    return server_on("http://sandbox.local/v1", ClientSpec(max_retries=0), transport=httpx2.ASGITransport(app=app),
                     confirm="none", state_dir=state_dir)  # fmt: skip


def tasks() -> int:
    return len(asyncio.all_tasks())


async def until_taken(sandbox: Sandbox, fault: Fault) -> None:
    """The held request has reached the sandbox (its fault was used)."""
    await eventually(lambda: fault not in sandbox.faults.active)


async def until_tasks_at_most(count: int) -> None:
    await eventually(lambda: tasks() <= count)


async def test_a_cancelled_status_change_applies_nothing_leaks_no_task_and_the_session_keeps_serving(
    sandbox_app: Starlette, tmp_path: Path, mode: str
) -> None:
    sandbox = sandbox_of(sandbox_app)
    order_id = sandbox.store.list_orders(page=1, limit=1, status="shipped").items[0]["id"]
    before = tasks()
    async with Client(in_process(sandbox_app, tmp_path), mode=mode) as client:
        idle = tasks()
        held = sandbox.faults.inject(f"/v1/orders/{order_id}/status", method="PUT", mode="delay", delay=HELD)
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "update_order_status", {"order_id": order_id, "status": "delivered"})
            await until_taken(sandbox, held)
            group.cancel_scope.cancel()
        await until_tasks_at_most(idle)  # the server's task for the call is gone, and the held request with it
        assert sandbox.store.get_order(order_id)["status"] == "shipped", "nothing was applied"
        again = await client.call_tool("get_order", {"order_id": order_id})
        assert not again.is_error, text(again)
    assert tasks() <= before
    assert [e for e in await audit_rows(tmp_path) if e["outcome"] == "executed"] == []


async def test_a_client_that_disconnects_mid_create_leaves_no_product_no_task_and_the_server_serves_the_next(
    sandbox_app: Starlette, tmp_path: Path, mode: str
) -> None:
    sandbox = sandbox_of(sandbox_app)
    server = in_process(sandbox_app, tmp_path)
    args = {"name": "Vanishing Vase", "price": 80, "category": "home-kitchen", "sku": "GONE-1"}
    before = tasks()
    held = sandbox.faults.inject("/v1/products", method="POST", mode="delay", delay=HELD)
    with anyio.CancelScope() as gone:
        async with Client(server, mode=mode) as client, anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "create_product", args)
            await until_taken(sandbox, held)
            gone.cancel()  # the client goes away with the call in flight
    await until_tasks_at_most(before)
    assert sandbox.store.list_products(page=1, limit=10, category=None, search="GONE-1").total == 0
    async with Client(server, mode=mode) as client:
        created = await client.call_tool("create_product", args)
    assert not created.is_error, text(created)
    assert sandbox.store.list_products(page=1, limit=10, category=None, search="GONE-1").total == 1


async def test_a_write_cancelled_while_queued_behind_another_to_its_target_is_audited_as_not_sent(
    sandbox_app: Starlette, tmp_path: Path, mode: str
) -> None:
    sandbox = sandbox_of(sandbox_app)
    product_id = sandbox.store.list_products(page=1, limit=1, category=None, search=None).items[0]["id"]
    held = sandbox.faults.inject(f"/v1/products/{product_id}", method="PUT", mode="delay", delay=HELD)
    async with Client(in_process(sandbox_app, tmp_path), mode=mode) as client, anyio.create_task_group() as first:
        first.start_soon(client.call_tool, "update_product", {"product_id": product_id, "stock": 7})
        await until_taken(sandbox, held)
        async with anyio.create_task_group() as second:
            second.start_soon(client.call_tool, "update_product", {"product_id": product_id, "stock": 9})
            await anyio.sleep(0.2)  # the second call is queued behind the held first one
            assert await audit_rows(tmp_path) == [], "neither call has an outcome yet"
            second.cancel_scope.cancel()

        async def queued_call_logged() -> bool:
            return any(e["arguments"].get("stock") == 9 for e in await audit_rows(tmp_path))

        await eventually(queued_call_logged)
        first.cancel_scope.cancel()
    queued = next(e for e in await audit_rows(tmp_path) if e["arguments"].get("stock") == 9)
    assert (queued["outcome"], queued["target"]) == ("cancelled", product_id)
    assert "nothing was sent" in queued["detail"]
    assert len(sandbox.faults.active) == 0, "only the first PUT reached the store"


async def test_a_cancelled_read_of_every_page_stops_paging(sandbox_app: Starlette, tmp_path: Path) -> None:
    sandbox = sandbox_of(sandbox_app)
    held = sandbox.faults.inject("/v1/orders", method="GET", mode="delay", delay=HELD)
    async with Client(in_process(sandbox_app, tmp_path)) as client:
        idle = tasks()
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "export_orders", {})
            await until_taken(sandbox, held)
            group.cancel_scope.cancel()
        await until_tasks_at_most(idle)
        assert not (await client.call_tool("list_orders", {"limit": 1})).is_error


@pytest.fixture
def live() -> Iterator[Live]:
    with live_sandbox() as served:
        yield served


async def test_a_write_cancelled_after_it_reached_the_store_is_still_in_the_audit_log(
    live: Live, tmp_path: Path
) -> None:
    args = {"name": "Half Heard Lamp", "price": 60, "category": "home-kitchen", "sku": "HALF-1"}
    live.late.hold("POST", "/v1/products", 1.0)
    server = server_on(live.url, ClientSpec(max_retries=0), state_dir=tmp_path)
    async with Client(server) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "create_product", args)
            await eventually(lambda: live.sandbox.store.list_products(page=1, limit=5, category=None,
                                                                      search="HALF-1").total == 1)  # fmt: skip
            group.cancel_scope.cancel()  # the product exists; the agent gave up waiting for the answer
        assert not (await client.call_tool("get_store", {})).is_error
    logged = [e["tool"] for e in await audit_rows(tmp_path)]
    assert logged == ["create_product"], "the change the store made is on record"
