"""A multi-tenant server with several merchants connected, in one process, for the tenant isolation tests.

:func:`hosted_stores` builds what a hosting operator runs, on real parts: the multi-store sandbox in process (the API
key picks the store), the multi-tenant server (:func:`~hajatek_mcp.wiring.hosted_server`) on it, served by uvicorn
on 127.0.0.1 in the test's event loop, each store's webhooks signed with its own secret and posted over loopback to
``/webhooks/hajatek/{store_id}``, and one merchant per store connected by hand through the OAuth flow (register,
authorize, the connect form with store id, API key, webhook secret and scope, token). A test then opens an MCP
client per merchant with :func:`merchant_client`.

:func:`owners` tells whose an id is from the id alone: store 1's ids are untagged (``prod_0001``, ``ord_000001``,
``cus_0001``, ``str_sandbox``); store k's carry ``s{k}_`` (``prod_s2_0001``) and its store id is ``str_sandbox{k}``.
Event ids (``evt_`` and random hex) say nothing of their store, so :class:`Deliveries` records, on the way out of the
sandbox, which store sent each one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr
from starlette.applications import Starlette

from hajatek_mcp.sandbox import InProcessTransport, SandboxConfig, create_multi_app, multi_store_configs
from hajatek_mcp.server.http import HttpSecurity, http_app
from hajatek_mcp.settings import Settings
from hajatek_mcp.wiring import hosted_server
from tests.support import Loopback, loopback_socket

__all__ = ["Deliveries", "Hosted", "Merchant", "hosted_stores", "merchant_client", "owners", "store_id_of"]

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the flow reads the redirect's Location header
READ, WRITE = "store.read", "store.write"

#: A sandbox id (product, order, customer) with the store tag its store gives it, if any.
_ENTITY_ID = re.compile(r"(?<![A-Za-z0-9])(?:prod|ord|cus)_(?:s(\d+)_)?\d+(?![A-Za-z0-9])")
#: A sandbox store id: ``str_sandbox`` is store 1, ``str_sandbox{k}`` store k.
_STORE_ID = re.compile(r"(?<![A-Za-z0-9])str_sandbox(\d*)(?![A-Za-z0-9_])")
_EVENT_ID = re.compile(r"evt_[0-9a-f]{24}")


def store_id_of(k: int) -> str:
    """The id of the multi-store sandbox's store ``k`` (1-based)."""
    return "str_sandbox" if k == 1 else f"str_sandbox{k}"


def owners(text: str, deliveries: Deliveries | None = None) -> dict[str, set[str]]:
    """Every store an id in ``text`` belongs to, with the ids of each: store 1's are untagged, store k's carry
    ``s{k}_``; event ids count when ``deliveries`` knows who sent them."""
    found: dict[str, set[str]] = {}
    for match in _ENTITY_ID.finditer(text):
        found.setdefault(store_id_of(int(match[1] or 1)), set()).add(match[0])
    for match in _STORE_ID.finditer(text):
        found.setdefault(store_id_of(int(match[1] or 1)), set()).add(match[0])
    if deliveries is not None:
        for match in _EVENT_ID.finditer(text):
            sender = deliveries.sender.get(match[0])
            if sender is not None:
                found.setdefault(sender, set()).add(match[0])
    return found


class Deliveries(httpx2.AsyncBaseTransport):
    """The sandbox's webhook transport: posts over loopback, and records which store sent each event id (from the
    delivery's path, ``/webhooks/hajatek/{store_id}``)."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.sender: dict[str, str] = {}
        """Event id -> the store that sent it."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        event = json.loads(request.content)
        self.sender[event["id"]] = request.url.path.rsplit("/", 1)[-1]
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Merchant:
    """One connected store: its id, the scope it granted, and the access token the OAuth flow gave."""

    store_id: str
    scope: str
    token: str = field(repr=False)

    @property
    def writes(self) -> bool:
        return self.scope == WRITE


@dataclass
class Hosted:
    """The running multi-tenant server (``origin``), its merchants in store order, and the sandbox's deliveries."""

    origin: str
    merchants: list[Merchant]
    deliveries: Deliveries
    sandbox: Starlette


@asynccontextmanager
async def hosted_stores(data_dir: Path, scopes: tuple[str, ...]) -> AsyncIterator[Hosted]:
    """The multi-tenant server on a sandbox of ``len(scopes)`` stores, store k connected by its merchant with
    ``scopes[k-1]`` (``"store.read"`` or ``"store.write"``); everything stops when the block ends."""
    sock = loopback_socket()
    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    count = len(scopes)
    webhook_secrets = {store_id_of(k): "whsec_" + secrets.token_urlsafe(18) for k in range(1, count + 1)}
    deliveries = Deliveries()
    base = SandboxConfig(
        webhook_url=origin + "/webhooks/hajatek/{store_id}",
        webhook_secret="unused",  # each store signs with its own secret (below)
        webhook_transport=deliveries,
        webhook_backoff=0.0,
        webhook_max_attempts=1,
    )
    sandbox = create_multi_app(multi_store_configs(count, base, webhook_secrets=webhook_secrets))
    master_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(
        data_dir=data_dir,
        multi_tenant=True,
        master_key=SecretStr(master_key),
        oauth_issuer=origin,
        base_url="http://sandbox.local/v1",
        max_retries=0,
    )
    server = hosted_server(settings, transport="streamable-http", api_transport=InProcessTransport(sandbox))
    app = http_app(
        server, "streamable-http", host="127.0.0.1", security=HttpSecurity(oauth=True), routes=server.public_routes
    )
    try:
        async with sandbox.state.sandbox, Loopback(app, sock=sock), httpx2.AsyncClient(timeout=30) as http:
            merchants = []
            for k, scope in enumerate(scopes, start=1):
                store_id = store_id_of(k)
                key = "sk_sandbox_pro" if k == 1 else f"sk_sandbox{k}_pro"
                token = await connect(http, origin, store_id, key, webhook_secrets[store_id], scope)
                merchants.append(Merchant(store_id, scope, token))
            yield Hosted(origin, merchants, deliveries, sandbox)
    finally:
        server.close()
        for store in sandbox.state.stores.values():
            store.state.sandbox.store.close()


async def connect(
    http: httpx2.AsyncClient, origin: str, store_id: str, api_key: str, webhook_secret: str, scope: str
) -> str:
    """What a merchant's AI application and browser do to connect a store: register a client, authorize with PKCE,
    fill in the connect form, and trade the code for an access token (returned)."""
    registered = await http.post(
        origin + "/register",
        json={
            "client_name": f"Agent of {store_id}",
            "redirect_uris": [REDIRECT],
            "scope": f"{READ} {WRITE}",
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
        "scope": f"{READ} {WRITE}",
        "resource": origin + "/mcp",
    }
    page = await http.get(origin + "/authorize", params=params, follow_redirects=True)
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
    form = {
        **hidden,
        "store_id": store_id,
        "api_key": api_key,
        "webhook_secret": webhook_secret,
        "scope": scope,
        "action": "approve",
    }
    answer = await http.post(str(page.url).split("?")[0], data=form)
    assert answer.status_code == 303, _page_text(answer.text)
    code = httpx2.URL(answer.headers["location"]).params["code"]
    issued = await http.post(
        origin + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    assert issued.status_code == 200, issued.text
    token: str = issued.json()["access_token"]
    return token


def _page_text(html: str) -> str:
    """What a page says, without its markup (a refused connect form shows why)."""
    return " ".join(re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.DOTALL).split())


@asynccontextmanager
async def merchant_client(origin: str, merchant: Merchant, mode: str) -> AsyncIterator[Client]:
    """An MCP client of ``merchant``'s AI application: streamable HTTP with its bearer token, in era ``mode``."""
    headers = {"Authorization": f"Bearer {merchant.token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(origin + "/mcp", http_client=http), mode=mode) as client,
    ):
        yield client
