"""Issue #14, finding 3: the consent passphrase cannot be guessed without limit.

The five-tries limit of one consent request was no limit: anyone can register a client and open fresh requests, and
200 wrong guesses took 2.4 s. These tests guess as that attacker did, over HTTP against the real server app (the
``/register`` and ``/authorize`` endpoints, the consent page, the HTTP guard), each request from a chosen client
address, on an injected clock: nothing sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.http import HttpSecurity, http_app
from tests.conftest import FakeClock
from tests.server.conftest import SANDBOX_KEY

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


@pytest.fixture
def oauth_server(tmp_path: Path) -> Iterator[OAuthServer]:
    with serve_oauth(tmp_path) as server:
        yield server


async def test_two_hundred_quick_guesses_across_fresh_consent_requests_get_two_answers(
    oauth_server: OAuthServer,
) -> None:
    async with oauth_server.visitor(ATTACKER) as attacker:
        client_id = await attacker.client_id()
        answers = [await attacker.sign_in(await attacker.consent(client_id), f"guess-{n}") for n in range(200)]
    assert [a.status_code for a in answers[:2]] == [401, 401]
    assert sum("Wrong passphrase" in a.text for a in answers) == 2
    assert {a.status_code for a in answers[2:]} == {429}
    assert {a.headers["retry-after"] for a in answers[2:]} == {"2"}
    assert all("try again in 2 seconds (at 03:00:02 UTC)" in a.text for a in answers[2:])


async def test_an_attacker_who_waits_out_the_delays_is_locked_out_even_with_the_right_passphrase(
    oauth_server: OAuthServer,
) -> None:
    clock = oauth_server.clock
    async with oauth_server.visitor(ATTACKER) as attacker:
        client_id = await attacker.client_id()
        waits = []
        for n in range(4):
            answer = await attacker.sign_in(await attacker.consent(client_id), f"guess-{n}")
            assert answer.status_code == 401
            waits.append(answer.headers.get("retry-after"))
            clock.now += float(answer.headers.get("retry-after", 0))
        assert waits == [None, "2", "4", "8"]  # the first mistake is free, then the waits grow
        fifth = await attacker.sign_in(await attacker.consent(client_id), "guess-4")
        right = await attacker.sign_in(await attacker.consent(client_id), PASSPHRASE)
        clock.now += 14 * 60
        still = await attacker.sign_in(await attacker.consent(client_id), PASSPHRASE)
        clock.now += 60
        after = await attacker.sign_in(await attacker.consent(client_id), PASSPHRASE)
    assert fifth.status_code == 429
    assert "Too many wrong passphrases from this address: try again in 15 minutes (at 03:16 UTC)." in fifth.text
    assert right.status_code == 429  # the lock-out holds for the right passphrase too
    assert right.headers["retry-after"] == "900"
    assert "try again in 15 minutes (at 03:16 UTC)" in right.text
    assert 'name="passphrase"' in right.text  # the page stays, to try again later
    assert still.status_code == 429
    assert "try again in 1 minute (at 03:16 UTC)" in still.text
    assert after.status_code == 303
    assert "code=" in after.headers["location"]


async def test_guesses_from_fifty_addresses_pause_sign_in_for_everyone_for_five_minutes(
    oauth_server: OAuthServer,
) -> None:
    async with oauth_server.visitor(MERCHANT) as merchant:
        client_id = await merchant.client_id()
    statuses = []
    for n in range(50):
        async with oauth_server.visitor(f"203.0.113.{n + 1}") as guesser:
            statuses.append((await guesser.sign_in(await guesser.consent(client_id), "guess")).status_code)
    async with oauth_server.visitor(MERCHANT) as merchant:
        paused = await merchant.sign_in(await merchant.consent(client_id), PASSPHRASE)
        oauth_server.clock.now += 5 * 60
        resumed = await merchant.sign_in(await merchant.consent(client_id), PASSPHRASE)
    assert statuses == [401] * 49 + [429]  # one guess per address: no address is held back on its own
    assert paused.status_code == 429
    assert ("Too many wrong passphrases on this server from all addresses together: try again in 5 minutes "
            "(at 03:05 UTC).") in paused.text  # fmt: skip
    assert resumed.status_code == 303


async def test_each_wrong_passphrase_is_logged_and_audited_with_the_address_never_the_guess(
    oauth_server: OAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with oauth_server.visitor(ATTACKER) as attacker:
        client_id = await attacker.client_id()
        for guess in ("hunter2-first-guess", "hunter2-second-guess"):
            await attacker.sign_in(await attacker.consent(client_id), guess)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "passphrase" in r.msg]
    entries = await oauth_server.audit(oauth=True)
    assert len(warnings) == 2
    assert all(ATTACKER in w and client_id in w for w in warnings)
    assert [(e["tool"], e["outcome"], e["path"], e["target"]) for e in entries] == [
        ("oauth.signin", "refused", "not_guarded", client_id)
    ] * 2
    assert all(ATTACKER in e["detail"] for e in entries)
    assert "hunter2" not in caplog.text + json.dumps(entries + await oauth_server.audit(oauth=False))
