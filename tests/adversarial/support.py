"""What the adversarial tests import besides :mod:`tests.support`: the server's OAuth endpoints as an attacker
meets them (:func:`serve_oauth`, :class:`OAuthServer`, :class:`Visitor`), from chosen client addresses, on an
injected clock. The ``oauth_server`` fixture (conftest.py) is one of these on a temporary data dir.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.http import HttpSecurity, http_app
from tests.support import SANDBOX_KEY, FakeClock

PASSPHRASE = "correct horse battery staple"
ISSUER = "http://127.0.0.1:8000"
REDIRECT = "http://127.0.0.1:9/callback"
#: 03:00:00 UTC, so the times the pages name are easy to check.
START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC).timestamp()
ATTACKER = "203.0.113.66"
MERCHANT = "198.51.100.7"


class Visitor:
    """A browser or a script at one client address."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http

    async def register(self, **metadata: Any) -> httpx2.Response:
        """``POST /register`` as an MCP client sends it, with ``metadata`` overriding the defaults."""
        body = {"client_name": "Guesser", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], **metadata}  # fmt: skip
        return await self.http.post("/register", json=body)

    async def client_id(self) -> str:
        registered = await self.register()
        assert registered.status_code == 201, registered.text
        return str(registered.json()["client_id"])

    async def consent_page(self, client_id: str) -> httpx2.Response:
        """Open a fresh consent request: ``/authorize``, redirected to the consent page."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        page = await self.http.get("/authorize", follow_redirects=True, params={
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "code_challenge": challenge,
            "code_challenge_method": "S256", "state": "st4te", "scope": "store.read", "resource": f"{ISSUER}/mcp",
        })  # fmt: skip
        assert page.status_code == 200, page.text
        return page

    async def consent(self, client_id: str) -> dict[str, str]:
        """Open a fresh consent request; returns the form's hidden fields."""
        page = await self.consent_page(client_id)
        return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))

    async def sign_in(self, fields: dict[str, str], passphrase: str) -> httpx2.Response:
        return await self.http.post("/oauth/consent", data={**fields, "passphrase": passphrase, "scope": "store.read",
                                                            "action": "approve"})  # fmt: skip


@dataclass
class OAuthServer:
    """``hajatek-mcp serve --oauth-issuer`` as its ASGI app, with its data directory and its clock."""

    app: Starlette
    clock: FakeClock
    data_dir: Path | None

    @asynccontextmanager
    async def visitor(self, address: str) -> AsyncIterator[Visitor]:
        transport = httpx2.ASGITransport(app=self.app, client=(address, 50000))
        async with httpx2.AsyncClient(transport=transport, base_url=ISSUER) as http:
            yield Visitor(http)

    async def audit(self, *, oauth: bool, store_id: str = "") -> list[dict[str, Any]]:
        """The newest 50 entries of the audit log (``audit.db``): a store's writes, or the OAuth server's (whose
        entries belong to no store)."""
        assert self.data_dir is not None, "a server with its state in memory keeps no audit file"
        log = AuditLog(self.data_dir / "audit.db", store_id=store_id)
        try:
            return await log.recent(oauth=oauth)
        finally:
            log.close()


@contextmanager
def serve_oauth(data_dir: Path | None) -> Iterator[OAuthServer]:
    """The server app on the sandbox, its state in ``data_dir`` (None: in memory, no audit file to read)."""
    sandbox = create_app(SandboxConfig(seed=42))
    clock = FakeClock(START)
    options = ServerOptions(sandbox=True, state_dir=data_dir, clock=clock, oauth_issuer=ISSUER,
                            oauth_passphrase=SecretStr(PASSPHRASE))  # fmt: skip

    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1", plan="business",
                             transport=httpx2.ASGITransport(app=sandbox))  # fmt: skip

    server = build_server(options, connect)
    security = HttpSecurity(oauth=True)
    app = http_app(server, "streamable-http", host="127.0.0.1", security=security, routes=server.public_routes)
    try:
        yield OAuthServer(app, clock, data_dir)
    finally:
        sandbox.state.sandbox.store.close()
