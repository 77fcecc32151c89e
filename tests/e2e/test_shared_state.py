"""Two server processes ("replicas") of one store sharing their state in a real PostgreSQL and a real Redis, on
127.0.0.1, as behind a load balancer.

The state every request may need from another replica: a confirmation token previewed on one is redeemed on the
other, once; a webhook received by one is listed by the other, and its subscribers on every replica hear of it (the
Redis relay), in both protocol eras; the audit log written by one is read on the other; a 2026-07-28 elicitation
begun on one replica is answered on the other (the request state is sealed with the keys both share). Both answer
``/readyz``. The API is a loopback sandbox process; both replicas talk to it with the same key.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from hajatek_mcp.api.webhooks import SIGNATURE_HEADER, sign
from tests.e2e.support import replica_env, running_process
from tests.server.test_tenant_subscriptions import EVENTS, Heard
from tests.servers import postgres_server, redis_server
from tests.support import Asked, free_port, server_env, structured, text

TOKEN = "a-shared-bearer-token-of-at-least-32-characters"
SECRET = "whsec-shared-state"
STATE_KEYS = "replicas-share-this-request-state-key-0001,an-older-request-state-key-still-accepted-02"


@dataclass(frozen=True)
class Replicas:
    urls: tuple[str, str]
    database_url: str


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in front of the replicas: each request goes to the next one, in turn; ``served`` records
    which replica answered which JSON-RPC method (and tool)."""

    def __init__(self, origins: tuple[str, ...]) -> None:
        self._origins = origins
        self._next = 0
        self._inner = httpx2.AsyncHTTPTransport()
        self.served: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        origin = httpx2.URL(self._origins[self._next % len(self._origins)])
        self._next += 1
        body = await request.aread()
        try:
            message = json.loads(body) if body else {}
        except ValueError:
            message = {}
        name = message.get("params", {}).get("name", "") if isinstance(message, dict) else ""
        self.served.append((str(origin), f"{message.get('method', request.method)} {name}".strip()))
        request.url = request.url.copy_with(scheme=origin.scheme, host=origin.host, port=origin.port)
        request.headers["Host"] = f"{origin.host}:{origin.port}"
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture(scope="module")
def replicas(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    api = free_port()
    ports = (free_port(), free_port())
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_server())
        redis_url = stack.enter_context(redis_server())
        env = server_env(root / "sandbox")
        stack.enter_context(
            running_process([str(script), "sandbox", "--port", str(api)], env, api, root / "sandbox.log")
        )
        for n, port in enumerate(ports):
            env = replica_env(root / f"replica{n}", api, (database_url, redis_url), plan="pro",
                              request_state_keys=STATE_KEYS, mcp_auth_token=TOKEN, webhook_secret=SECRET)  # fmt: skip
            command = [str(script), "serve", "--transport", "streamable-http", "--port", str(port)]
            stack.enter_context(running_process(command, env, port, root / f"replica{n}.log"))
        yield Replicas((f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"), database_url)


@asynccontextmanager
async def agent(url: str, mode: str, **options: Any) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode, **options) as client,
    ):
        yield client


def signed_event(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({
        "id": event_id, "type": "order.created",
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"order_id": "ord_000001", "store_id": "str_sandbox", "total": 10.0, "currency": "SAR"},
    }).encode()  # fmt: skip
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}


async def test_a_token_previewed_on_one_replica_is_redeemed_once_on_another(replicas: Replicas, mode: str) -> None:
    """A price cut to a tenth needs a yes: previewed on the first replica, confirmed on the second, refused when the
    same token comes back to the first (single use across replicas); the audit entry is read on the first."""
    product = "prod_0005" if mode == "legacy" else "prod_0006"
    first, second = replicas.urls
    async with agent(first, mode) as one, agent(second, mode) as two:
        price = (await structured(one, "get_product", {"product_id": product}))["price"]
        cut = {"product_id": product, "price": round(price / 10, 2)}
        preview = await structured(one, "update_product", cut)
        assert preview["outcome"] == "confirmation_required"
        token = preview["confirm_token"]
        done = await structured(two, "update_product", {**cut, "confirm_token": token})
        assert done["outcome"] == "done"
        again = await one.call_tool("update_product", {**cut, "confirm_token": token})
        assert again.is_error
        assert "already used" in text(again)
        audit = await one.read_resource("hajatek://audit")
        entries = json.loads(audit.contents[0].text)["entries"]  # type: ignore[union-attr]
        outcomes = [e["outcome"] for e in entries if e["target"] == product]  # newest first, from both replicas
        assert outcomes.count("executed") == 1
        assert outcomes[0] == "refused"  # the token's second use, written by the first replica after the second's


async def test_a_webhook_received_by_one_replica_is_listed_by_the_other(replicas: Replicas) -> None:
    event_id = "evt_shared_0001"
    body, headers = signed_event(event_id)
    async with httpx2.AsyncClient() as http:
        answer = await http.post(f"{replicas.urls[0]}/webhooks/hajatek", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        duplicate = await http.post(f"{replicas.urls[1]}/webhooks/hajatek", content=body, headers=headers)
        assert duplicate.json() == {"received": True, "duplicate": True}  # known to the other replica too
    async with agent(replicas.urls[1], "legacy") as two:
        listed = await structured(two, "list_events", {})
        assert [e["id"] for e in listed["events"]].count(event_id) == 1


async def test_subscribers_on_every_replica_hear_of_a_webhook_one_replica_received(
    replicas: Replicas, mode: str
) -> None:
    """The webhook reaches the first replica; a subscriber of each replica hears of it once, through Redis."""
    event_id = f"evt_relayed_{mode.replace('-', '_')}"
    heard = {url: Heard() for url in replicas.urls}
    async with AsyncExitStack() as stack:
        for url in replicas.urls:
            await stack.enter_async_context(subscribed(url, mode, heard[url]))
        body, headers = signed_event(event_id)
        async with httpx2.AsyncClient() as http:
            answer = await http.post(f"{replicas.urls[0]}/webhooks/hajatek", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        with anyio.fail_after(10):
            for url in replicas.urls:
                await heard[url].first.wait()
        await anyio.sleep(0.5)  # time enough for a duplicate to arrive
    first, second = (heard[url].uris for url in replicas.urls)
    assert first == second  # the replica the webhook reached tells its subscribers no more than the other does
    assert first == [EVENTS]  # once: not twice (through Redis and locally), and not the event URI, not subscribed


@asynccontextmanager
async def subscribed(url: str, mode: str, heard: Heard) -> AsyncIterator[Client]:
    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, types.ResourceUpdatedNotification):
            heard.add(str(root.params.uri))

    handler = {"message_handler": on_message} if mode == "legacy" else {}  # 2026: the listen stream says it
    async with agent(url, mode, **handler) as client:
        if mode == "legacy":
            with warnings.catch_warnings():  # the handshake era's way; deprecated in 2026
                warnings.simplefilter("ignore", mcp.MCPDeprecationWarning)
                await client.session.subscribe_resource(EVENTS)
            yield client
            return
        async with client.listen(resource_subscriptions=[EVENTS]) as subscription, anyio.create_task_group() as group:

            async def drain() -> None:
                async for change in subscription:
                    heard.add(str(change.uri))  # type: ignore[attr-defined]

            group.start_soon(drain)
            yield client
            group.cancel_scope.cancel()


async def test_an_elicitation_begun_on_one_replica_is_answered_on_the_other(replicas: Replicas) -> None:
    """2026-07-28 is stateless: behind a round-robin balancer the retry carrying the merchant's yes reaches the other
    replica, which opens the request state the first sealed (both have ``HAJATEK_REQUEST_STATE_KEYS``)."""
    balancer = RoundRobin(replicas.urls)
    asked = Asked("accept")
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, transport=balancer) as http,
        Client(streamable_http_client("http://balancer/mcp", http_client=http), elicitation_callback=asked) as client,
    ):
        price = (await structured(client, "get_product", {"product_id": "prod_0007"}))["price"]
        done = await structured(client, "update_product", {"product_id": "prod_0007", "price": round(price / 10, 2)})
    assert done["outcome"] == "done"
    assert len(asked.questions) == 1
    rounds = {origin for origin, what in balancer.served if what == "tools/call update_product"}
    assert rounds == {f"{url}" for url in replicas.urls}  # asked by one replica, answered on the other


async def test_every_replica_is_ready_when_its_database_and_redis_answer(replicas: Replicas) -> None:
    async with httpx2.AsyncClient() as http:
        for url in replicas.urls:
            ready = await http.get(f"{url}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
