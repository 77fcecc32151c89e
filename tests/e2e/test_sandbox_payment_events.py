"""The ``--sandbox`` story of an order, end to end: its payment and a low-stock crossing reach the server's inbox.

The server is wired as ``hajatek-mcp --sandbox`` wires it (:func:`hajatek_mcp.wiring.sandbox_server`: the sandbox in
process, its signed webhooks looping back into the server's receiver), first through a real MCP client in both
protocol eras, then as separate ``hajatek-mcp call --sandbox`` processes sharing one data dir: each process ends right
after its call, and its events must be in the inbox by then.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import anyio.lowlevel
from mcp import Client
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hajatek_mcp.server import ServerOptions
from hajatek_mcp.server.events import WEBHOOK_PATH
from hajatek_mcp.wiring import sandbox_client, sandbox_server
from tests.support import structured

NOTE = "Paid by Mada, ref 7781"


async def test_a_paid_order_shows_its_note_customer_and_payment_and_low_stock_is_reported(mode: str) -> None:
    server = sandbox_server(ServerOptions(sandbox=True, confirm="none"), ":memory:")
    async with Client(server, mode=mode) as client:
        order = (await structured(client, "list_orders", {"status": "pending", "limit": 1}))["orders"][0]
        change = {"order_id": order["id"], "status": "processing", "note": NOTE}
        moved = await structured(client, "update_order_status", change)
        shown = await structured(client, "get_order", {"order_id": order["id"]})
        customer = await structured(client, "get_customer", {"customer_id": order["customer_id"]})
        payments = (await structured(client, "list_events", {"type": "payment.completed"}))["events"]
        products = (await structured(client, "list_products", {"limit": 50}))["products"]
        stocked = next(p for p in products if p["status"] == "active" and p["stock"] >= 5)
        for stock in (2, 1):  # one crossing, then a product already below the threshold
            await structured(client, "update_product", {"product_id": stocked["id"], "stock": stock})
        lows = (await structured(client, "list_events", {"type": "inventory.low"}))["events"]

    assert moved["outcome"] == "done"
    assert shown["customer_name"] == customer["name"] == order["customer_name"]
    api_steps = [step for step in shown["history"] if step["source"] == "api"]
    assert [(s["status"], s.get("note")) for s in api_steps] == [("pending", None), ("processing", NOTE)]
    assert shown["payment"]["state"] == "paid"
    assert shown["payment"]["source"] == "event"
    [payment] = [e for e in payments if e["data"]["order_id"] == order["id"]]
    assert shown["payment"]["event_id"] == payment["id"]
    assert [(e["data"]["product_id"], e["data"]["stock"], e["data"]["threshold"]) for e in lows] == [
        (stocked["id"], 2, 5)
    ]


async def test_the_in_process_sandbox_answers_a_change_once_its_events_reached_the_receiver() -> None:
    received: list[str] = []

    async def slow_receiver(request: Request) -> JSONResponse:
        for _ in range(100):  # many turns of the event loop behind the sandbox's own answer
            await anyio.lowlevel.checkpoint()
        received.append(json.loads(await request.body())["type"])
        return JSONResponse({"received": True})

    receiver = Starlette(routes=[Route(WEBHOOK_PATH, slow_receiver, methods=["POST"])])
    async with sandbox_client(":memory:", 0.0, SecretStr("whsec_in_process"), [receiver]) as client:
        order = (await client.list_orders(status="pending", limit=1)).items[0]
        await client.update_order_status(order.id, "processing", note=NOTE)
        at_the_answer = sorted(received)

    assert at_the_answer == ["order.updated", "payment.completed"]


# --- one process per call ---------------------------------------------------------------------------------------------


def call(script: Path, env: dict[str, str], tool: str, *arguments: str) -> Any:
    """``hajatek-mcp call --sandbox --yes <tool> <arguments>``: its JSON answer (the last line of stdout)."""
    done = subprocess.run(  # noqa: S603  # our own console script, fixed arguments
        [str(script), "call", tool, *arguments, "--sandbox", "--yes"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_each_call_sandbox_process_ends_only_after_its_events_reached_the_inbox(
    script: Path, env: dict[str, str]
) -> None:
    orders = call(script, env, "list_orders", "status=pending", "limit=3")["orders"]
    stocked = next(p for p in call(script, env, "list_products", "limit=50")["products"] if p["stock"] >= 5)

    for order in orders:
        call(script, env, "update_order_status", f"order_id={order['id']}", "status=processing", f"note={NOTE}")
    call(script, env, "update_product", f"product_id={stocked['id']}", "stock=2")

    for order in orders:
        shown = call(script, env, "get_order", f"order_id={order['id']}")
        assert shown["payment"]["state"] == "paid", shown["payment"]
        api_steps = [(s["status"], s.get("note")) for s in shown["history"] if s["source"] == "api"]
        assert api_steps == [("pending", None), ("processing", NOTE)]
    lows = call(script, env, "list_events", "type=inventory.low")["events"]
    assert [e["data"]["product_id"] for e in lows] == [stocked["id"]]
