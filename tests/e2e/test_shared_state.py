"""Two server processes ("replicas") of one store sharing their state in a real PostgreSQL, on 127.0.0.1.

The state every request may need from another replica: a confirmation token previewed on one is redeemed on the
other, once; a webhook received by one is listed by the other; the audit log written by one is read on the other.
The API is a loopback sandbox process; both replicas talk to it with the same key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from hajatek_mcp.api.webhooks import SIGNATURE_HEADER, sign
from tests.e2e.support import running_process
from tests.servers import postgres_server
from tests.support import free_port, server_env, structured, text

TOKEN = "a-shared-bearer-token-of-at-least-32-characters"
SECRET = "whsec-shared-state"


@dataclass(frozen=True)
class Replicas:
    urls: tuple[str, str]
    database_url: str


@pytest.fixture(scope="module")
def replicas(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("replicas")
    api = free_port()
    ports = (free_port(), free_port())
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_server())
        env = server_env(root / "sandbox")
        stack.enter_context(
            running_process([str(script), "sandbox", "--port", str(api)], env, api, root / "sandbox.log")
        )
        for n, port in enumerate(ports):
            replica_env = {
                **server_env(root / f"replica{n}"),  # each its own data dir: nothing shared but the database
                "HAJATEK_API_KEY": "sk_sandbox_pro",
                "HAJATEK_STORE_ID": "str_sandbox",
                "HAJATEK_PLAN": "pro",
                "HAJATEK_BASE_URL": f"http://127.0.0.1:{api}/v1",
                "HAJATEK_DATABASE_URL": database_url,
                "HAJATEK_CONFIRM": "token",
                "HAJATEK_MCP_AUTH_TOKEN": TOKEN,
                "HAJATEK_WEBHOOK_SECRET": SECRET,
            }
            command = [str(script), "serve", "--transport", "streamable-http", "--port", str(port)]
            stack.enter_context(running_process(command, replica_env, port, root / f"replica{n}.log"))
        yield Replicas((f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"), database_url)


@asynccontextmanager
async def agent(url: str, mode: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


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
    body = json.dumps({
        "id": event_id, "type": "order.created",
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"order_id": "ord_000001", "store_id": "str_sandbox", "total": 10.0, "currency": "SAR"},
    }).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}
    async with httpx2.AsyncClient() as http:
        answer = await http.post(f"{replicas.urls[0]}/webhooks/hajatek", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        duplicate = await http.post(f"{replicas.urls[1]}/webhooks/hajatek", content=body, headers=headers)
        assert duplicate.json() == {"received": True, "duplicate": True}  # known to the other replica too
    async with agent(replicas.urls[1], "legacy") as two:
        listed = await structured(two, "list_events", {})
        assert [e["id"] for e in listed["events"]].count(event_id) == 1
