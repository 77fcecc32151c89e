"""The consent page of the multi-tenant mode: the merchant connects a store with its Hajatek API key.

There is no admin passphrase: whoever holds a working API key for a store owns it as far as this server can tell (the
Hajatek API has no OAuth of its own). The merchant types the store id, the API key, optionally the webhook signing
secret, and picks read only or read and change. Allow checks the key live (``GET /stores/{store_id}`` through
:class:`ApiStoreCheck`); only when Hajatek accepts it is the store saved (:meth:`StoreConnector.save`) and a code
issued whose subject is the store id, so each token belongs to exactly one store.

The page has every protection of :mod:`.consent` (CSRF token of the pending request, no framing, CSP, ``no-store``,
escaped values, no JavaScript, a phone layout, Deny) and shares its parts. Credentials Hajatek refuses count as a
failed sign-in on the same :class:`~.limits.SignInLimiter` as a wrong passphrase: held back with 429 and
``Retry-After``, the request void after its fifth, logged at WARNING and audited as ``oauth.signin`` with the address
and the store id. A failure that says nothing about the credentials (Hajatek unreachable, a 5xx) is shown and not
counted. The key and the secret are never echoed, logged, audited or put in an error: the success path hands them to
the connector, and nothing else sees them.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any, Final, Protocol, cast, get_args

import anyio
import httpx2
from mcp.server.auth.provider import AuthorizeError
from pydantic import SecretStr
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hajatek_mcp.api import (
    DEFAULT_BASE_URL,
    APIConnectionError,
    AuthenticationError,
    HajatekClient,
    HajatekError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from hajatek_mcp.api.models import Plan
from hajatek_mcp.server.oauth.consent import (
    BUTTONS,
    CONSENT_PATH,
    MAX_ATTEMPTS,
    Pending,
    access_choice,
    app_card,
    csrf_refused,
    expired,
    held_back,
    hidden_fields,
    origin,
    page,
    secure,
    with_retry_after,
)
from hajatek_mcp.server.oauth.limits import SIGNIN_WINDOW, Refusal, SignInLimiter, client_address
from hajatek_mcp.server.oauth.provider import READ, WRITE, HajatekOAuthProvider

__all__ = ["ApiStoreCheck", "ConnectRefused", "ConnectedStore", "StoreConnector", "connect_routes"]

logger = logging.getLogger("hajatek_mcp.oauth")

STORE_ID: Final = re.compile(r"^str_[A-Za-z0-9_]+$")
MAX_STORE_ID: Final = 64
#: Keys and secrets are one printable ASCII word (they travel in an HTTP header); longer than this is not one.
SECRET: Final = re.compile(r"^[\x21-\x7e]+$")
MAX_SECRET: Final = 512
#: What the limiter's messages call a refused try on this page.
FAILURES: Final = "failed sign-ins"


@dataclass(frozen=True)
class ConnectedStore:
    """A store whose API key Hajatek accepted: its id, its name and its plan (which paces its API client)."""

    store_id: str
    name: str
    plan: Plan


class ConnectRefused(Exception):
    """Hajatek did not let this key open the store. ``message`` is shown to the merchant as it is; it never holds the
    key. ``wrong_credentials``: the key or store id is wrong (a failed sign-in), rather than Hajatek unreachable."""

    def __init__(self, message: str, wrong_credentials: bool) -> None:
        super().__init__(message)
        self.message = message
        self.wrong_credentials = wrong_credentials


class StoreConnector(Protocol):
    """What the page needs from the server: check credentials live, and keep a store once they work."""

    async def check(self, store_id: str, api_key: SecretStr) -> ConnectedStore:
        """The store ``api_key`` opens, if it is ``store_id``; else raise :class:`ConnectRefused`."""
        ...

    async def save(self, store: ConnectedStore, api_key: SecretStr, webhook_secret: SecretStr | None) -> None:
        """Keep the store's credentials (encrypted) so its tokens can reach it."""
        ...


def _unreachable(what: str) -> ConnectRefused:
    return ConnectRefused(f"{what}; nothing was saved; try again in a minute.", wrong_credentials=False)


def _not_this_store(store_id: str) -> ConnectRefused:
    return ConnectRefused(
        f"This API key does not open store {store_id}: check the store id, or use the API key of that store.",
        wrong_credentials=True,
    )


class ApiStoreCheck:
    """Check a store id and API key with the real client: ``GET /stores/{store_id}``, one retry, then closed.

    Call it as ``await check(store_id, api_key)``. Errors become :class:`ConnectRefused` with a fixed sentence (the
    API's own message is not shown: it is not written for the merchant, and the key must not reach the page).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.base_url, self.transport, self.timeout, self.sleep = base_url, transport, timeout, sleep

    async def __call__(self, store_id: str, api_key: SecretStr) -> ConnectedStore:
        client = HajatekClient(
            api_key,
            store_id=store_id,
            base_url=self.base_url,
            transport=self.transport,
            timeout=self.timeout,
            max_retries=1,
            max_retry_wait=5.0,
            sleep=self.sleep,
        )
        async with client:
            try:
                store = await client.get_store()
            except AuthenticationError as error:
                raise ConnectRefused(
                    "Hajatek refused this API key: copy the whole key again from your Hajatek dashboard, or create "
                    "a new one there if it was revoked.",
                    wrong_credentials=True,
                ) from error
            except (NotFoundError, PermissionDeniedError) as error:
                raise _not_this_store(store_id) from error
            except (APIConnectionError, InternalServerError) as error:
                raise _unreachable("Hajatek could not be reached") from error
            except RateLimitError as error:
                raise _unreachable("Hajatek is limiting requests for this key right now") from error
            except HajatekError as error:
                raise _unreachable("Hajatek gave an answer this server does not understand") from error
        if store.id != store_id:
            raise _not_this_store(store_id)
        plan = cast(Plan, store.plan) if store.plan in get_args(Plan) else "starter"  # unknown: the slowest pace
        return ConnectedStore(store.id, store.name, plan)


@dataclass(frozen=True)
class _Answer:
    """What the merchant typed, trimmed, and a sentence for each field that cannot be right."""

    store_id: str
    api_key: SecretStr
    webhook_secret: SecretStr | None
    scope: str
    errors: tuple[str, ...]

    @classmethod
    def read(cls, form: FormData) -> _Answer:
        store_id = str(form.get("store_id", "")).strip()
        key = str(form.get("api_key", "")).strip()
        secret = str(form.get("webhook_secret", "")).strip()
        errors = []
        if not store_id:
            errors.append("Enter the store id: it starts with str_ and is in your Hajatek dashboard.")
        elif len(store_id) > MAX_STORE_ID or not STORE_ID.match(store_id):
            errors.append("That is not a store id: it starts with str_ followed by letters, digits or underscores.")
        if not key:
            errors.append("Enter the store's Hajatek API key.")
        elif len(key) > MAX_SECRET or not SECRET.match(key):
            errors.append("That is not a Hajatek API key: it is one word without spaces; copy it again.")
        if secret and (len(secret) > MAX_SECRET or not SECRET.match(secret)):
            errors.append("That is not a webhook signing secret: it is one word without spaces; copy it again.")
        scope = WRITE if form.get("scope") == WRITE else READ
        return cls(store_id, SecretStr(key), SecretStr(secret) if secret else None, scope, tuple(errors))

    @property
    def kept_store_id(self) -> str:
        """The store id to show again: a wrong one only when it looks like a store id's typo, never what may be a key
        pasted into the wrong field."""
        typed = self.store_id
        return typed if typed.lower().startswith("str") and len(typed) <= MAX_STORE_ID else ""


def _form(
    request_id: str, pending: Pending, client: dict[str, Any], errors: tuple[str, ...], *, store_id: str, scope: str
) -> str:
    _, params, csrf, _ = pending
    alerts = "".join(f'<p class="error" role="alert">{escape(error)}</p>' for error in errors)
    return (
        "<h1>Connect your Hajatek store?</h1>"
        + app_card(client, params)
        + alerts
        + f'<form method="post" action="{CONSENT_PATH}">'
        + hidden_fields(request_id, csrf)
        + '<label for="store_id">Store id</label>'
        f'<input id="store_id" type="text" name="store_id" value="{escape(store_id)}" placeholder="str_…" '
        f'maxlength="{MAX_STORE_ID}" autocomplete="off" autocapitalize="off" spellcheck="false" required>'
        '<label for="api_key">Hajatek API key</label>'
        f'<input id="api_key" type="password" name="api_key" maxlength="{MAX_SECRET}" autocomplete="off" required>'
        '<p class="muted">Both are in your Hajatek dashboard. The key is checked with Hajatek now and kept '
        "encrypted on this server.</p>"
        '<label for="webhook_secret">Webhook signing secret (optional)</label>'
        f'<input id="webhook_secret" type="password" name="webhook_secret" maxlength="{MAX_SECRET}" '
        'autocomplete="off">'
        '<p class="muted">Lets this server accept your store\'s events (new orders, status and stock changes); copy '
        "it from the webhook settings of your Hajatek dashboard.</p>"
        + access_choice(params, scope)
        + BUTTONS
        + "</form>"
        '<p class="muted">The application never sees the key: it gets its own token for this one store. Revoking '
        "the key in your Hajatek dashboard cuts off this server at any time.</p>"
    )


class _ConnectPage:
    """The GET and POST of :data:`~.consent.CONSENT_PATH` in multi-tenant mode (see the module docstring)."""

    def __init__(self, provider: HajatekOAuthProvider, connector: StoreConnector, limiter: SignInLimiter) -> None:
        self.provider, self.connector, self.limiter = provider, connector, limiter

    async def form_page(
        self, request_id: str, pending: Pending, errors: tuple[str, ...], status: int, typed: _Answer | None = None
    ) -> Response:
        """The form for ``pending``, with ``errors``, keeping the store id and access choice ``typed`` (if any)."""
        client = await self.provider.store.client(pending[0]) or {"client_id": pending[0]}
        store_id, scope = (typed.kept_store_id, typed.scope) if typed else ("", READ)
        body = _form(request_id, pending, client, errors, store_id=store_id, scope=scope)
        return page("Connect your store?", body, status=status, form_target=origin(pending[1]["redirect_uri"]))

    def held_back(self, refusal: Refusal) -> str:
        return held_back(refusal, self.limiter.clock(), FAILURES)

    async def show(self, request: Request) -> Response:
        request_id = request.query_params.get("request", "")
        pending = await self.provider.store.pending(request_id)
        if pending is None:
            return expired()
        refusal = self.limiter.refusal(client_address(request))
        return await self.form_page(request_id, pending, (self.held_back(refusal),) if refusal else (), 200)

    async def answer(self, request: Request) -> Response:
        form = await request.form()
        request_id, csrf = str(form.get("request", "")), str(form.get("csrf", ""))
        pending = await self.provider.store.pending(request_id)
        if pending is None:
            return expired()
        if not hmac.compare_digest(csrf.encode(), pending[2].encode()):
            return csrf_refused()
        try:
            if form.get("action") == "deny":
                return secure(RedirectResponse(await self.provider.deny(request_id), status_code=303))
            return await self.connect(request_id, pending, client_address(request), _Answer.read(form))
        except AuthorizeError:
            return expired()

    async def connect(self, request_id: str, pending: Pending, address: str, typed: _Answer) -> Response:
        """Allow: the fields, then Hajatek's word on the key, then save, then the code (subject: the store id)."""
        refusal = self.limiter.refusal(address)  # before checking: while held back, the right key fails too
        if refusal is not None:
            logger.info("refused a store connection from %s for client %s: held back", address, pending[0])
            shown = await self.form_page(request_id, pending, (self.held_back(refusal),), 429, typed)
            return with_retry_after(shown, refusal, self.limiter)
        if typed.errors:
            return await self.form_page(request_id, pending, typed.errors, 400, typed)
        try:
            store = await self.connector.check(typed.store_id, typed.api_key)
        except ConnectRefused as refused:
            if refused.wrong_credentials:
                return await self.wrong(request_id, pending, address, typed, refused.message)
            logger.warning(
                "could not check store %s for client %s with Hajatek: %s", typed.store_id, pending[0], refused.message
            )
            return await self.form_page(request_id, pending, (refused.message,), 502, typed)
        self.limiter.success(address)
        await self.connector.save(store, typed.api_key, typed.webhook_secret)
        logger.info("connected store %s for client %s from %s", store.store_id, pending[0], address)
        # The merchant decides: read-only unless they picked read-and-change, whatever the app asked for.
        scopes = [READ, WRITE] if typed.scope == WRITE else [READ]
        location = await self.provider.approve(request_id, scopes, subject=store.store_id)
        return secure(RedirectResponse(location, status_code=303))

    async def wrong(self, request_id: str, pending: Pending, address: str, typed: _Answer, reason: str) -> Response:
        """Credentials Hajatek refused: counted, logged, audited (never the key); the request is void after five."""
        client_id, _, _, attempts = pending
        failures, refusal = self.limiter.failure(address)
        later = self.held_back(refusal) if refusal else ""
        logger.warning(
            "refused a store connection from %s for store %s and client %s: Hajatek refused the credentials "
            "(failed sign-ins from this address in %d minutes: %d)%s",
            address,
            typed.store_id,
            client_id,
            SIGNIN_WINDOW // 60,
            failures,
            f"; {later}" if refusal and refusal.lockout else "",
        )
        await self.provider.audit.record(
            "oauth.signin",
            {"address": address, "store_id": typed.store_id},
            "refused",
            "not_guarded",
            target=client_id,
            detail=f"Hajatek refused the API key for store {typed.store_id} from {address}",
        )
        await self.provider.store.count_attempt(request_id)
        status = 429 if refusal is not None and refusal.lockout else 401
        if attempts + 1 >= MAX_ATTEMPTS:
            await self.provider.store.drop_pending(request_id)
            shown = page(
                "Too many attempts",
                f"<h1>Too many failed sign-ins</h1><p>{escape(reason)}</p><p>{escape(later)} This request is void: "
                "start again from your AI application.</p>",
                status=max(status, 403),
            )
        else:
            errors = (reason, later) if later else (reason,)
            shown = await self.form_page(request_id, pending, errors, status, typed)
        return with_retry_after(shown, refusal, self.limiter)


def connect_routes(provider: HajatekOAuthProvider, connector: StoreConnector, limiter: SignInLimiter) -> list[Route]:
    """GET shows the connect form for a pending request; POST answers it (failed sign-ins limited by ``limiter``)."""
    connect_page = _ConnectPage(provider, connector, limiter)
    return [
        Route(CONSENT_PATH, connect_page.show, methods=["GET"]),
        Route(CONSENT_PATH, connect_page.answer, methods=["POST"]),
    ]
