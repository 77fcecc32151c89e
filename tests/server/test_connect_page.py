"""The multi-tenant consent page: a merchant connects a store with its API key, checked live by the sandbox.

Served beside the SDK's ``/register`` and ``/authorize`` with a real provider in memory; the connector checks keys
with :class:`ApiStoreCheck` against the in-process sandbox and records what it saves. The right key is the API-key
canary (the sandbox is sent ``sk_sandbox_pro`` for it), so a leak shows. A fake clock at 03:00 UTC: nothing sleeps.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from mcp.server.auth.provider import AuthorizationCode
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions
from pydantic import AnyHttpUrl, SecretStr
from starlette.applications import Starlette

from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.oauth import READ, SCOPES, WRITE, OAuthStore
from hajatek_mcp.server.oauth.connect import ApiStoreCheck, ConnectedStore, ConnectRefused, connect_routes
from hajatek_mcp.server.oauth.limits import SignInLimiter
from hajatek_mcp.server.oauth.provider import HajatekOAuthProvider
from tests.support import CANARY_API_KEY, CANARY_WEBHOOK_SECRET, NOW, FakeClock, KeySwap, sandbox_http

ISSUER = "http://127.0.0.1:8000"
REDIRECT = "http://127.0.0.1:9/callback"
SANDBOX_API = "http://sandbox.local/v1"
START = datetime(2026, 11, 27, 3, 0, tzinfo=UTC).timestamp()
MERCHANT = "198.51.100.7"
STORE = "str_sandbox"
KEY = CANARY_API_KEY  # works: KeySwap sends the sandbox sk_sandbox_pro instead
WRONG_KEY = "sk_live_WRONGkey_canary_7f3a"


class Recorder:
    """The server's connector as the page meets it: the live check, and a ``save`` that keeps its calls."""

    def __init__(self, check: ApiStoreCheck) -> None:
        self.checker = check
        self.checked: list[str] = []
        self.saved: list[tuple[ConnectedStore, SecretStr, SecretStr | None]] = []

    async def check(self, store_id: str, api_key: SecretStr) -> ConnectedStore:
        self.checked.append(store_id)
        return await self.checker(store_id, api_key)

    async def save(self, store: ConnectedStore, api_key: SecretStr, webhook_secret: SecretStr | None) -> None:
        self.saved.append((store, api_key, webhook_secret))


class Unreachable(httpx2.AsyncBaseTransport):
    """Hajatek out of reach: every request fails to connect."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)


class Answering(httpx2.AsyncBaseTransport):
    """Hajatek answering every request with one status and body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(self.status, json=self.body, request=request)


class Closing(httpx2.AsyncBaseTransport):
    """A transport that remembers whether its client was closed."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner, self.closed = inner, False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed = True


def hidden(page: httpx2.Response) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))


@dataclass
class Browser:
    """The merchant's browser at one client address."""

    http: httpx2.AsyncClient
    answers: list[httpx2.Response] = field(default_factory=list)

    async def open(self, scope: str = "store.read store.write", name: str = "Shop helper") -> httpx2.Response:
        """Register an app and follow its ``/authorize`` link to the consent page."""
        registered = await self.http.post("/register", json={
            "client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "scope": "store.read store.write",
        })  # fmt: skip
        assert registered.status_code == 201, registered.text
        page = await self.http.get("/authorize", follow_redirects=True, params={
            "response_type": "code", "client_id": registered.json()["client_id"], "redirect_uri": REDIRECT,
            "code_challenge": "x" * 43, "code_challenge_method": "S256", "state": "st4te", "scope": scope,
            "resource": f"{ISSUER}/mcp",
        })  # fmt: skip
        assert page.status_code == 200, page.text
        self.answers.append(page)
        return page

    async def post(self, page: httpx2.Response, **fields: str) -> httpx2.Response:
        answer = await self.http.post("/oauth/consent", data={**hidden(page), **fields})
        self.answers.append(answer)
        return answer

    async def allow(
        self, page: httpx2.Response, store_id: str = STORE, api_key: str = KEY, scope: str = WRITE, **more: str
    ) -> httpx2.Response:
        return await self.post(page, store_id=store_id, api_key=api_key, scope=scope, action="approve", **more)


@dataclass
class Site:
    app: Starlette
    provider: HajatekOAuthProvider
    connector: Recorder
    clock: FakeClock
    sandbox: Starlette

    @asynccontextmanager
    async def browser(self, address: str = MERCHANT) -> AsyncIterator[Browser]:
        transport = httpx2.ASGITransport(app=self.app, client=(address, 50000))
        async with httpx2.AsyncClient(transport=transport, base_url=ISSUER) as http:
            yield Browser(http)

    async def code(self, location: str) -> AuthorizationCode:
        """The authorization code a redirect carries, as the provider loads it."""
        params = dict(httpx2.URL(location).params)
        client_id = (await self.provider.store.clients())[-1]["client_id"]
        client = await self.provider.get_client(client_id)
        assert client is not None
        code = await self.provider.load_authorization_code(client, params["code"])
        assert code is not None
        return code


@contextmanager
def serve(transport: httpx2.AsyncBaseTransport | None = None) -> Iterator[Site]:
    """The connect page on the SDK's OAuth endpoints; Hajatek is the sandbox unless ``transport`` says otherwise."""
    sandbox = create_app(SandboxConfig(seed=42, now=NOW))
    clock = FakeClock(START)
    store, audit = OAuthStore(None, clock=clock), AuditLog(None, store_id="", clock=clock)
    provider = HajatekOAuthProvider(store, issuer=ISSUER, resource=f"{ISSUER}/mcp", audit=audit)
    to_hajatek = transport or KeySwap(httpx2.ASGITransport(app=sandbox), "sk_sandbox_pro")
    connector = Recorder(ApiStoreCheck(SANDBOX_API, transport=to_hajatek, sleep=clock.sleep))
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=list(SCOPES), default_scopes=[READ])
    routes = create_auth_routes(provider, AnyHttpUrl(ISSUER), client_registration_options=registration)
    app = Starlette(routes=[*routes, *connect_routes(provider, connector, SignInLimiter(clock=clock))])
    try:
        yield Site(app, provider, connector, clock, sandbox)
    finally:
        store.close()
        audit.close()
        sandbox.state.sandbox.store.close()


@pytest.fixture
def site() -> Iterator[Site]:
    with serve() as served:
        yield served


async def test_the_right_key_connects_the_store_and_the_code_belongs_to_it(site: Site) -> None:
    async with site.browser() as browser:
        answer = await browser.allow(await browser.open(), webhook_secret=f"  {CANARY_WEBHOOK_SECRET} ")
    async with sandbox_http(site.sandbox, key="sk_sandbox_pro") as api:
        name = (await api.get(f"/v1/stores/{STORE}")).json()["name"]
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{REDIRECT}?code=")
    assert [(s, k.get_secret_value(), w and w.get_secret_value()) for s, k, w in site.connector.saved] == [
        (ConnectedStore(STORE, name, "pro"), KEY, CANARY_WEBHOOK_SECRET)
    ]
    code = await site.code(answer.headers["location"])
    assert code.subject == STORE
    assert code.scopes == [READ, WRITE]


async def test_read_only_chosen_grants_only_store_read_whatever_the_app_asked(site: Site) -> None:
    async with site.browser() as browser:
        page = await browser.open(scope="store.read store.write")
        answer = await browser.allow(page, scope=READ)
    code = await site.code(answer.headers["location"])
    assert code.scopes == [READ]
    assert site.connector.saved[0][2] is None  # no webhook secret given


@pytest.mark.parametrize(
    ("store_id", "api_key", "said"),
    [(STORE, WRONG_KEY, "Hajatek refused this API key"), ("str_elsewhere", KEY, "This API key does not open store")],
    ids=["wrong key", "right key, another store id"],
)
async def test_credentials_hajatek_refuses_are_a_counted_failed_sign_in_and_nothing_is_saved(
    site: Site, caplog: pytest.LogCaptureFixture, store_id: str, api_key: str, said: str
) -> None:
    caplog.set_level(logging.INFO)
    async with site.browser() as browser:
        page = await browser.open()
        answer = await browser.allow(page, store_id=store_id, api_key=api_key)
    pending = await site.provider.store.pending(hidden(page)["request"])
    assert answer.status_code == 401
    assert said in answer.text
    assert f'name="store_id" value="{store_id}"' in answer.text  # kept; the key field is empty again
    assert "code=" not in answer.headers.get("location", "")
    assert site.connector.saved == []
    assert pending is not None
    assert pending[3] == 1
    entries = await site.provider.audit.recent(oauth=True)
    assert [(e["tool"], e["outcome"], e["path"]) for e in entries] == [("oauth.signin", "refused", "not_guarded")]
    assert all(named in entries[0]["detail"] for named in (MERCHANT, store_id))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if MERCHANT in w and store_id in w]) == len(warnings) == 1


@pytest.mark.parametrize(
    "hajatek",
    [Unreachable(), Answering(503, {"error": {"code": "unavailable", "message": "down"}})],
    ids=["unreachable", "503"],
)
async def test_hajatek_out_of_reach_is_said_and_not_counted(hajatek: httpx2.AsyncBaseTransport) -> None:
    with serve(hajatek) as site:
        async with site.browser() as browser:
            page = await browser.open()
            answer = await browser.allow(page)
            again = await browser.allow(page)  # no wait: the first try counted as nothing
        pending = await site.provider.store.pending(hidden(page)["request"])
        audit = await site.provider.audit.recent(oauth=True)
    assert answer.status_code == 502
    assert "Hajatek could not be reached; nothing was saved; try again in a minute." in answer.text
    assert again.status_code == 502
    assert "retry-after" not in again.headers
    assert pending is not None
    assert pending[3] == 0
    assert audit == []
    assert site.connector.saved == []
    assert site.clock.sleeps  # the check retried once, on the fake clock


async def test_five_wrong_keys_void_the_request(site: Site) -> None:
    async with site.browser() as browser:
        page = await browser.open()
        statuses = []
        for _ in range(5):
            answer = await browser.allow(page, api_key=WRONG_KEY)
            statuses.append(answer.status_code)
            site.clock.now += float(answer.headers.get("retry-after", 0))
    void = await site.provider.store.pending(hidden(page)["request"])
    async with site.browser("203.0.113.5") as elsewhere:  # an address not held back
        after = await elsewhere.allow(page)
    assert statuses == [401, 401, 401, 401, 429]
    assert "This request is void" in answer.text
    assert void is None
    assert after.status_code == 400
    assert "This request has expired" in after.text
    assert site.connector.saved == []
    assert len(await site.provider.audit.recent(oauth=True)) == 5


async def test_a_held_back_address_gets_429_with_retry_after_and_hajatek_is_not_asked(site: Site) -> None:
    async with site.browser() as browser:
        page = await browser.open()
        for _ in range(2):
            await browser.allow(page, api_key=WRONG_KEY)
        held = await browser.allow(page)  # the right key, too early
        shown = await browser.http.get(f"/oauth/consent?request={hidden(page)['request']}")
        site.clock.now += 2
        later = await browser.allow(page)
    assert held.status_code == 429
    assert held.headers["retry-after"] == "2"
    assert "After failed sign-ins from this address the next try waits: try again in 2 seconds" in held.text
    assert "failed sign-ins" in shown.text
    assert site.connector.checked == [STORE, STORE, STORE]  # two wrong keys and the later one; not the held one
    assert later.status_code == 303


async def test_a_form_without_the_csrf_token_is_refused(site: Site) -> None:
    async with site.browser() as browser:
        page = await browser.open()
        fields = {"request": hidden(page)["request"], "store_id": STORE, "api_key": KEY, "action": "approve"}
        answer = await browser.http.post("/oauth/consent", data=fields)
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    assert site.connector.checked == []
    assert await site.provider.store.pending(fields["request"]) is not None


async def test_deny_sends_access_denied(site: Site) -> None:
    async with site.browser() as browser:
        answer = await browser.post(await browser.open(), action="deny")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{REDIRECT}?error=access_denied&state=st4te"
    assert site.connector.checked == []


@pytest.mark.parametrize(
    ("store_id", "api_key", "secret", "sentences"),
    [
        ("shop_42", KEY, "", ["That is not a store id: it starts with str_"]),
        ("", "", "", ["Enter the store id", "Enter the store's Hajatek API key."]),
        ("str_sandbox", "two words", "bad secret", ["That is not a Hajatek API key", "not a webhook signing secret"]),
        (KEY, "", "", ["That is not a store id", "Enter the store's Hajatek API key."]),  # a key in the wrong field
    ],
)
async def test_bad_fields_get_a_sentence_each_and_nothing_is_checked(
    site: Site, store_id: str, api_key: str, secret: str, sentences: list[str]
) -> None:
    async with site.browser() as browser:
        answer = await browser.allow(await browser.open(), store_id=store_id, api_key=api_key, webhook_secret=secret)
    assert answer.status_code == 400
    assert answer.text.count('class="error"') == len(sentences)
    assert all(sentence in html.unescape(answer.text) for sentence in sentences)
    assert KEY not in answer.text  # never shown back, whichever field it was typed in
    assert site.connector.checked == []
    assert await site.provider.audit.recent(oauth=True) == []


async def test_the_key_and_secret_never_reach_a_page_a_log_or_the_audit(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = CANARY_WEBHOOK_SECRET
    async with site.browser() as browser:
        for typed in ({"api_key": WRONG_KEY}, {"store_id": "str_someone_else"}, {"store_id": "bad id"}, {}):
            await browser.allow(await browser.open(), webhook_secret=secret, **typed)
            site.clock.now += 60  # past the wait after a failed sign-in
        answers = browser.answers
    with serve(Unreachable()) as down:
        async with down.browser() as browser:
            await browser.allow(await browser.open(), webhook_secret=secret)
            answers += browser.answers
    audit = json.dumps(await site.provider.audit.recent(oauth=True))
    seen = [a.text + json.dumps(dict(a.headers)) for a in answers] + [caplog.text, audit]
    for leak in (KEY, WRONG_KEY, secret):
        assert not [text for text in seen if leak in text]
    assert [a.status_code for a in answers] == [200, 401, 200, 401, 200, 400, 200, 303, 200, 502]


async def test_the_page_names_the_app_and_carries_the_security_headers(site: Site) -> None:
    async with site.browser() as browser:
        page = await browser.open(name='Helper "Pro" <b>&')
    csp = page.headers["content-security-policy"]
    assert all(
        part in csp
        for part in ("frame-ancestors 'none'", "default-src 'none'", "form-action 'self' http://127.0.0.1:9")
    )
    headers = {name: page.headers[name] for name in ("x-frame-options", "cache-control", "referrer-policy")}
    assert headers == {"x-frame-options": "DENY", "cache-control": "no-store", "referrer-policy": "no-referrer"}
    assert "<script" not in page.text.lower()
    assert 'name="viewport"' in page.text
    assert "&lt;b&gt;&amp;" in page.text
    assert "<b>&" not in page.text
    assert "will receive access at http://127.0.0.1:9" in page.text
    assert 'type="password" name="api_key" maxlength="512" autocomplete="off"' in page.text
    assert 'type="password" name="webhook_secret"' in page.text
    assert f'value="{READ}" checked' in page.text  # read only unless the merchant picks more
    assert 'value="deny" formnovalidate>Deny' in page.text


# -- the check on its own ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "wrong_credentials", "message"),
    [
        (Answering(401, {"error": {"code": "unauthorized", "message": "no"}}), True, "Hajatek refused this API key"),
        (Answering(200, {"id": "str_other", "name": "Other"}), True, f"This API key does not open store {STORE}"),
        (Answering(429, {"error": {"code": "rate_limited", "message": "slow"}}), False, "Hajatek is limiting"),
        (Unreachable(), False, "Hajatek could not be reached"),
    ],
    ids=["401", "another store", "429", "unreachable"],
)
async def test_the_check_says_what_went_wrong_without_the_key_and_closes_its_client(
    answer: httpx2.AsyncBaseTransport, wrong_credentials: bool, message: str
) -> None:
    closing = Closing(answer)
    with pytest.raises(ConnectRefused) as refused:
        await ApiStoreCheck(SANDBOX_API, transport=closing, sleep=FakeClock().sleep)(STORE, SecretStr(KEY))
    assert refused.value.wrong_credentials is wrong_credentials
    assert refused.value.message.startswith(message)
    assert closing.closed
    texts = [str(refused.value), repr(refused.value), str(refused.value.__cause__), repr(refused.value.__cause__)]
    assert not [text for text in texts if KEY in text]
