"""Multi-tenant mode end to end: two merchants connect two stores of one sandbox through one server (issue #16).

Real processes on 127.0.0.1: ``hajatek-mcp sandbox --stores 2`` (store 1 ``str_sandbox``, store 2 ``str_sandbox2``,
whose ids all carry ``_s2_``) and ``hajatek-mcp serve --transport streamable-http --multi-tenant`` with a fresh
master key (``hajatek-mcp keys generate``) and ``HAJATEK_CONFIRM=token``, so a guarded write always answers with a
preview and a token. Each merchant's agent is the SDK's :class:`~mcp.client.auth.OAuthClientProvider`: its redirect
handler sends headless Chromium to the authorization URL, where the merchant types the store id, the API key and the
webhook signing secret, picks the access and clicks Allow; its callback handler reads the code from the URL the
browser lands on (the redirect URI is never contacted). Three grants:

- A: store 1, read and change, webhook secret ``whsec-A-…``;
- B: store 2, read only, webhook secret ``whsec-B-…``;
- C: store 2 again, read and change (a second app of store 2's merchant). B's read-only grant refuses every write
  before a confirmation token is even looked at, so C is how the test shows that a token minted for store A is
  unknown to store B: C, which could confirm a write on store 2, presents A's live token and is told it is not a
  token this server issued, while the same token then works for A.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from hajatek_mcp.api.webhooks import SIGNATURE_HEADER, sign
from tests.e2e.support import Browser, TokenMemory, open_browser, require_browser, running_process
from tests.support import REQUEST_TIMEOUT, HttpServer, audit_entries, free_port, server_env, structured, text

require_browser()

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the test reads the browser's URL once it lands there
READ_ONLY, READ_WRITE = "store.read", "store.write"
#: Every id a result may name: store, product, order and customer ids (store 2's all carry ``_s2_``).
IDS = re.compile(r"\b(?:str|prod|ord|cus)_[A-Za-z0-9_]+")
FIRST, SECOND = "str_sandbox", "str_sandbox2"


@dataclass
class Merchant:
    """One merchant's agent: what the merchant types on the consent page, and what the agent keeps."""

    name: str
    store_id: str
    api_key: str
    webhook_secret: str
    scope: str
    storage: TokenMemory = field(default_factory=TokenMemory)


@dataclass(frozen=True)
class Hosting:
    """The running multi-tenant server, the sandbox's API address, and the server's data directory."""

    server: HttpServer
    api_url: str
    data_dir: Path


def three_merchants() -> dict[str, Merchant]:
    """A, B and C of the module docstring, not yet connected."""
    return {
        "A": Merchant("A", FIRST, "sk_sandbox_pro", "whsec-A-7Qm2vR9xLp", READ_WRITE),
        "B": Merchant("B", SECOND, "sk_sandbox2_pro", "whsec-B-3Kd8wT1zNc", READ_ONLY),
        "C": Merchant("C", SECOND, "sk_sandbox2_pro", "whsec-B-3Kd8wT1zNc", READ_WRITE),
    }


# --- the processes ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hosting(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosting]:
    """The two-store sandbox and the multi-tenant server on it, each a process on its own loopback port."""
    data_dir, logs = tmp_path_factory.mktemp("tenants-data"), tmp_path_factory.mktemp("tenants-logs")
    env = server_env(data_dir)
    master_key = subprocess.run(  # noqa: S603  # our own console script
        [str(script), "keys", "generate"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    api_port, port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}/v1"
    sandbox = [str(script), "sandbox", "--stores", "2", "--host", "127.0.0.1", "--port", str(api_port)]
    serve = [str(script), "serve", "--transport", "streamable-http", "--multi-tenant", "--host", "127.0.0.1"]
    serve += ["--port", str(port), "--oauth-issuer", f"http://127.0.0.1:{port}"]
    hosted_env = {**env, "HAJATEK_BASE_URL": api_url, "HAJATEK_MASTER_KEY": master_key, "HAJATEK_CONFIRM": "token"}
    with (
        running_process(sandbox, env, api_port, logs / "sandbox.log"),
        running_process(serve, hosted_env, port, logs / "server.log") as process,
    ):
        yield Hosting(HttpServer(process, port, logs / "server.log"), api_url, data_dir)


# --- connecting through the consent page ------------------------------------------------------------------------------


def fill_in(browser: Browser, url: str, merchant: Merchant) -> None:
    """What the merchant does on the consent page: their store id, key and secret, their choice of access, Allow."""
    browser.open(url)
    assert "Connect your Hajatek store?" in browser.text()
    browser.type("input[name=store_id]", merchant.store_id)
    browser.type("input[name=api_key]", merchant.api_key)
    browser.type("input[name=webhook_secret]", merchant.webhook_secret)
    browser.click(f"input[name=scope][value='{merchant.scope}']")
    browser.click("button[value=approve]")


async def sign_in(server: HttpServer, browser: Browser, merchant: Merchant) -> str:
    """Connect ``merchant``'s store with the SDK's OAuth client (the browser answers the consent page); the store
    the new token opens, by ``get_store``."""

    async def redirect_handler(url: str) -> None:
        await anyio.to_thread.run_sync(fill_in, browser, url, merchant)

    async def callback_handler() -> AuthorizationCodeResult:
        landed = await anyio.to_thread.run_sync(browser.wait_for_url, REDIRECT)
        assert landed.startswith(REDIRECT + "?"), (landed, browser.text())
        params = dict(httpx2.URL(landed).params)
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"))

    metadata = OAuthClientMetadata.model_validate(
        {
            "client_name": f"Agent of merchant {merchant.name}",
            "redirect_uris": [REDIRECT],
            "scope": "store.read store.write",
        }
    )
    auth = OAuthClientProvider(
        server_url=server.url("/mcp"),
        client_metadata=metadata,
        storage=merchant.storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with (
        httpx2.AsyncClient(auth=auth, timeout=REQUEST_TIMEOUT) as http,
        Client(streamable_http_client(server.url("/mcp"), http_client=http), mode="legacy") as client,
    ):
        return str((await structured(client, "get_store", {}))["id"])


@pytest.fixture(scope="module")
def merchants(hosting: Hosting, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Merchant]:
    """A, B and C connected (see the module docstring), each checked to open the store it typed in."""
    connected = three_merchants()

    async def connect_all(browser: Browser) -> None:
        for merchant in connected.values():
            assert await sign_in(hosting.server, browser, merchant) == merchant.store_id
            assert merchant.storage.tokens is not None
            granted = set((merchant.storage.tokens.scope or "").split())
            assert granted == ({READ_ONLY, READ_WRITE} if merchant.scope == READ_WRITE else {READ_ONLY})

    with open_browser(tmp_path_factory.mktemp("chromium")) as browser:
        anyio.run(connect_all, browser)
    return connected


@asynccontextmanager
async def agent(server: HttpServer, merchant: Merchant, mode: str) -> AsyncIterator[Client]:
    """``merchant``'s agent connected in ``mode`` with the tokens it already holds (signing in again fails)."""

    async def no_second_sign_in(url: str) -> None:
        raise AssertionError(f"agent {merchant.name} was sent to sign in again: {url}")

    async def no_code() -> AuthorizationCodeResult:
        raise AssertionError(f"agent {merchant.name} waited for a second authorization code")

    metadata = OAuthClientMetadata.model_validate({"redirect_uris": [REDIRECT], "scope": "store.read store.write"})
    auth = OAuthClientProvider(
        server_url=server.url("/mcp"),
        client_metadata=metadata,
        storage=merchant.storage,
        redirect_handler=no_second_sign_in,
        callback_handler=no_code,
    )
    async with (
        httpx2.AsyncClient(auth=auth, timeout=REQUEST_TIMEOUT) as http,
        Client(streamable_http_client(server.url("/mcp"), http_client=http), mode=mode) as client,
    ):
        yield client


# --- reading results --------------------------------------------------------------------------------------------------


def ids_in(content: Any) -> set[str]:
    return set(IDS.findall(json.dumps(content, ensure_ascii=False)))


def assert_of_store(ids: set[str], store_id: str, what: str) -> None:
    """Every id in ``ids`` is of ``store_id``: store 2's carry ``_s2_`` (and its own id), store 1's none."""
    assert ids, f"{what}: no ids at all, so nothing was shown to be of {store_id}"
    if store_id == SECOND:
        strangers = {i for i in ids if "_s2_" not in i and i != SECOND}
    else:
        strangers = {i for i in ids if "_s2_" in i or i == SECOND}
    assert not strangers, f"{what} of {store_id} names another store's ids: {sorted(strangers)[:5]}"


# --- webhooks ---------------------------------------------------------------------------------------------------------


def order_event(store_id: str, order_id: str) -> tuple[str, bytes]:
    """A new ``order.created`` event of ``store_id`` as Hajatek sends it: its id and its raw body."""
    event_id = f"evt_{store_id}_{time.time_ns()}"
    data = {"order_id": order_id, "store_id": store_id, "total": "120.00", "currency": "SAR", "status": "pending"}
    body = {"id": event_id, "type": "order.created", "created_at": _utc_now(), "data": data}
    return event_id, json.dumps(body).encode()


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def deliver(http: httpx2.AsyncClient, server: HttpServer, store_id: str, body: bytes, secret: str) -> int:
    """POST ``body`` signed with ``secret`` to ``store_id``'s webhook address; the status."""
    headers = {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"}
    response = await http.post(server.url(f"/webhooks/hajatek/{store_id}"), content=body, headers=headers)
    return response.status_code


async def newest_order(api_url: str, api_key: str) -> str:
    """The id of the store's newest order, read from the sandbox's API with the store's key."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}) as http:
        response = await http.get(f"{api_url}/orders", params={"limit": 1})
    assert response.status_code == 200, response.text
    return str(response.json()["orders"][0]["id"])


async def event_ids(client: Client) -> set[str]:
    return {event["id"] for event in (await structured(client, "list_events", {"limit": 100}))["events"]}


@pytest.fixture(scope="module")
def traffic(hosting: Hosting, merchants: dict[str, Merchant]) -> dict[str, str]:
    """Something in every store's local state, so the isolation checks compare non-empty lists: one signed event at
    each store's own address, one audited write by A, one refused (and audited) write by B. The event ids by store."""

    async def make() -> dict[str, str]:
        posted = {}
        async with httpx2.AsyncClient() as http:
            for merchant in (merchants["A"], merchants["B"]):
                order = await newest_order(hosting.api_url, merchant.api_key)
                event_id, body = order_event(merchant.store_id, order)
                assert await deliver(http, hosting.server, merchant.store_id, body, merchant.webhook_secret) == 200
                posted[merchant.store_id] = event_id
        async with agent(hosting.server, merchants["A"], "legacy") as a:
            await structured(a, "update_product", {"product_id": "prod_0002", "name": "Oud of merchant A"})
        async with agent(hosting.server, merchants["B"], "legacy") as b:
            assert (await b.call_tool("update_product", {"product_id": "prod_s2_0002", "name": "Mine now"})).is_error
        return posted

    return anyio.run(make)


# --- the tests --------------------------------------------------------------------------------------------------------


async def test_each_agent_sees_only_its_own_store(
    hosting: Hosting, merchants: dict[str, Merchant], traffic: dict[str, str], mode: str
) -> None:
    """Products, orders, customers, analytics, events and audit of A name store 1's ids only, B's store 2's only; and
    neither reaches the other's product by its id."""
    for merchant in (merchants["A"], merchants["B"]):
        async with agent(hosting.server, merchant, mode) as client:
            store = merchant.store_id
            assert (await structured(client, "get_store", {}))["id"] == store
            for tool, listed in (("list_products", "products"), ("list_orders", "orders"), ("list_customers", None)):
                content = await structured(client, tool, {"limit": 20})
                if listed is not None:
                    assert content[listed], f"{tool} of {store} is empty"
                assert_of_store(ids_in(content), store, tool)
            assert_of_store(ids_in(await structured(client, "get_analytics", {"period": "90d"})), store, "analytics")
            events = await structured(client, "list_events", {"limit": 100})
            shown = {event["id"] for event in events["events"]}
            assert traffic[store] in shown
            assert not shown & {event_id for owner, event_id in traffic.items() if owner != store}
            assert_of_store(ids_in(events), store, "list_events")
            log = await audit_entries(client)
            assert log, f"the audit log of {store} is empty"
            assert_of_store(ids_in(log), store, "hajatek://audit")
            other = "prod_s2_0001" if store == FIRST else "prod_0001"
            assert (await client.call_tool("get_product", {"product_id": other})).is_error


async def test_a_webhook_signed_with_a_secret_counts_only_at_a_url(
    hosting: Hosting, merchants: dict[str, Merchant]
) -> None:
    """A's event signed with A's secret: 401 at store 2's address and not in B's events; 200 at store 1's, and then
    in A's events and still not in B's."""
    a, b = merchants["A"], merchants["B"]
    event_id, body = order_event(FIRST, await newest_order(hosting.api_url, a.api_key))
    async with httpx2.AsyncClient() as http:
        assert await deliver(http, hosting.server, SECOND, body, a.webhook_secret) == 401
        async with agent(hosting.server, b, "legacy") as agent_b:
            assert event_id not in await event_ids(agent_b)
        assert await deliver(http, hosting.server, FIRST, body, a.webhook_secret) == 200
    async with agent(hosting.server, a, "legacy") as agent_a:
        assert event_id in await event_ids(agent_a)
    async with agent(hosting.server, b, "legacy") as agent_b:
        assert event_id not in await event_ids(agent_b)


async def test_a_confirmation_token_minted_for_store_a_is_refused_for_store_b(
    hosting: Hosting, merchants: dict[str, Merchant]
) -> None:
    """A's live token for deleting one of its products: B (read only) is refused by its scope; C (read and change on
    store 2) is told the token is not one this server issued, for a store-2 call (were the token known to store 2,
    it would be refused as "issued for a different call" instead); then A uses it, and only A's product is gone."""
    async with (
        agent(hosting.server, merchants["A"], "legacy") as a,
        agent(hosting.server, merchants["B"], "legacy") as b,
        agent(hosting.server, merchants["C"], "legacy") as c,
    ):
        preview = await structured(a, "delete_product", {"product_id": "prod_0003"})
        assert preview["outcome"] == "confirmation_required"
        token = preview["confirm_token"]
        # B presents it: its read-only grant refuses the write before any token is looked at.
        by_b = await b.call_tool("delete_product", {"product_id": "prod_s2_0003", "confirm_token": token})
        assert by_b.is_error
        assert "read-only access" in text(by_b)
        # C may confirm writes on store 2, and store 2 has never heard of this token.
        by_c = await c.call_tool("delete_product", {"product_id": "prod_s2_0003", "confirm_token": token})
        assert by_c.is_error
        assert "not one this server issued" in text(by_c)
        # The token was live all along: it still works, once, for the call of store A it was minted for.
        done = await structured(a, "delete_product", {"product_id": "prod_0003", "confirm_token": token})
        assert done["outcome"] == "done"
        assert (await structured(c, "get_product", {"product_id": "prod_s2_0003"}))["id"] == "prod_s2_0003"
        assert (await a.call_tool("get_product", {"product_id": "prod_0003"})).is_error


async def test_a_read_only_grant_cannot_write(hosting: Hosting, merchants: dict[str, Merchant], mode: str) -> None:
    """B's writes (a change, a new product, an order status) are refused with the scope message; store 2, read back
    through B, is as it was."""
    async with agent(hosting.server, merchants["B"], mode) as b:
        before = await structured(b, "get_product", {"product_id": "prod_s2_0001"})
        total = (await structured(b, "list_products", {"limit": 1}))["total"]
        order = await newest_order(hosting.api_url, merchants["B"].api_key)
        order_before = await structured(b, "get_order", {"order_id": order})
        writes: list[tuple[str, dict[str, Any]]] = [
            ("update_product", {"product_id": "prod_s2_0001", "name": "Renamed by a read-only app", "price": 1}),
            ("create_product", {"name": "Smuggled in", "price": 5, "category": "perfumes-oud"}),
            ("update_order_status", {"order_id": order, "status": "shipped"}),
        ]
        for tool, arguments in writes:
            refused = await b.call_tool(tool, arguments)
            assert refused.is_error, tool
            assert "read-only access (store.read)" in text(refused), text(refused)
        assert await structured(b, "get_product", {"product_id": "prod_s2_0001"}) == before
        assert (await structured(b, "list_products", {"limit": 1}))["total"] == total
        assert (await structured(b, "get_order", {"order_id": order}))["status"] == order_before["status"]


def test_no_key_or_secret_is_kept_or_logged_in_clear(hosting: Hosting, merchants: dict[str, Merchant]) -> None:
    """After all of the above, no API key or webhook secret is in the server's data files or its log."""
    kept = b"".join(path.read_bytes() for path in hosting.data_dir.rglob("*") if path.is_file())
    kept += hosting.server.log.read_bytes()
    for merchant in merchants.values():
        assert merchant.api_key.encode() not in kept, merchant.name
        assert merchant.webhook_secret.encode() not in kept, merchant.name
