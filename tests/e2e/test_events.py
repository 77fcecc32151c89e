"""Webhooks end to end with the console script: the stdio side listener, durability across kill -9, the sandbox loop."""

from __future__ import annotations

import json
import subprocess
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp
from mcp import Client

from hajatek_mcp.api import sign
from tests.e2e.support import StdioConnect
from tests.support import CANARY_WEBHOOK_SECRET, free_port, running_server, wait_until_listening

SECRET = CANARY_WEBHOOK_SECRET


def delivery(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({
        "id": event_id, "type": "inventory.low", "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"product_id": "prod_0007", "store_id": "str_sandbox", "name": "Oud", "stock": 3, "threshold": 5},
    }).encode()  # fmt: skip
    return body, {"X-Hajatek-Signature": sign(SECRET, body), "Content-Type": "application/json"}


async def wait_for_port(port: int) -> None:
    with anyio.fail_after(30):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
            else:
                await stream.aclose()
                return


async def event_ids(client: Client) -> list[str]:
    result = await client.call_tool("list_events", {"limit": 100})
    assert result.structured_content is not None
    return [e["id"] for e in result.structured_content["events"]]


async def test_a_stdio_client_hears_of_a_webhook_from_the_side_listener(
    stdio: StdioConnect, env: dict[str, str], mode: str
) -> None:
    env["HAJATEK_WEBHOOK_SECRET"] = SECRET
    port = free_port()
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, mcp.types.ResourceUpdatedNotification) and str(root.params.uri) == "hajatek://events":
            heard.set()

    async with stdio("--webhook-port", str(port), message_handler=on_message) as client:
        await wait_for_port(port)
        body, headers = delivery("evt_side_1")
        async with httpx2.AsyncClient() as http:
            if mode == "legacy":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", mcp.MCPDeprecationWarning)
                    await client.session.subscribe_resource("hajatek://events")
                assert (await http.post(f"http://127.0.0.1:{port}/webhooks/hajatek", content=body,
                                        headers=headers)).status_code == 200  # fmt: skip
                with anyio.fail_after(1):
                    await heard.wait()
            else:
                async with client.listen(resource_subscriptions=["hajatek://events"]) as subscription:
                    response = await http.post(f"http://127.0.0.1:{port}/webhooks/hajatek", content=body,
                                               headers=headers)  # fmt: skip
                    assert response.status_code == 200
                    with anyio.fail_after(1):
                        async for _ in subscription:
                            break
        assert await event_ids(client) == ["evt_side_1"]


def post_then_kill_9(script: Path, env: dict[str, str], event_id: str) -> None:
    """Start the stdio server with its webhook listener, deliver one event, and SIGKILL it right after the 2xx."""
    port = free_port()
    log = Path(env["HAJATEK_DATA_DIR"]) / "killed.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603  # our own console script, fixed arguments
            [str(script), "--sandbox", "--webhook-port", str(port)], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=output,
        )  # fmt: skip
    try:
        wait_until_listening(process, port, log)
        body, headers = delivery(event_id)
        with httpx2.Client() as http:
            response = http.post(f"http://127.0.0.1:{port}/webhooks/hajatek", content=body, headers=headers)
        assert response.status_code == 200, response.text
    finally:
        process.kill()  # no shutdown code runs: only what was committed before the 2xx survives
        process.wait(timeout=10)
        if process.stdin:
            process.stdin.close()


async def test_an_acknowledged_event_survives_kill_9(script: Path, stdio: StdioConnect, env: dict[str, str]) -> None:
    env["HAJATEK_WEBHOOK_SECRET"] = SECRET
    post_then_kill_9(script, env, "evt_durable")
    async with stdio() as client:
        assert await event_ids(client) == ["evt_durable"]


async def test_the_sandbox_delivers_its_own_signed_webhooks_to_the_server(stdio: StdioConnect) -> None:
    async with stdio("--activity", "600") as client:  # a new simulated order every 0.1 s
        with anyio.fail_after(15):
            while True:
                result = await client.call_tool("list_events", {"type": "order.created", "limit": 5})
                assert result.structured_content is not None
                created = result.structured_content["events"]
                if created:
                    break
                await anyio.sleep(0.1)
        order_id = created[0]["data"]["order_id"]
        order = await client.call_tool("get_order", {"order_id": order_id})
        assert not order.is_error
        assert order.structured_content is not None
        assert order.structured_content["total"] == created[0]["data"]["total"]


async def test_an_http_client_hears_of_a_webhook_posted_beside_mcp(script: Path, tmp_path: Path, mode: str) -> None:
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, mcp.types.ResourceUpdatedNotification) and str(root.params.uri) == "hajatek://events":
            heard.set()

    body, headers = delivery("evt_http_1")
    with running_server(script, "streamable-http", tmp_path, extra_env={"HAJATEK_WEBHOOK_SECRET": SECRET}) as server:
        async with (
            Client(server.url("/mcp"), mode=mode, message_handler=on_message) as client,
            httpx2.AsyncClient() as http,
        ):
            if mode == "legacy":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", mcp.MCPDeprecationWarning)
                    await client.session.subscribe_resource("hajatek://events")
                assert (await http.post(server.url("/webhooks/hajatek"), content=body,
                                        headers=headers)).status_code == 200  # fmt: skip
                with anyio.fail_after(1):
                    await heard.wait()
            else:
                async with client.listen(resource_subscriptions=["hajatek://events"]) as subscription:
                    response = await http.post(server.url("/webhooks/hajatek"), content=body, headers=headers)
                    assert response.status_code == 200
                    with anyio.fail_after(1):
                        async for _ in subscription:
                            break
            assert await event_ids(client) == ["evt_http_1"]
            unsigned = await http.post(server.url("/webhooks/hajatek"), content=body,
                                       headers={"Content-Type": "application/json"})  # fmt: skip
            assert unsigned.status_code == 401
