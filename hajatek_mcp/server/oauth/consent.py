"""The consent page: the merchant signs in with the admin passphrase and approves a client, read-only or read-write.

No JavaScript; a phone-sized layout; every value from the client is escaped. Protected against:

- **CSRF**: the form carries a random token stored with the consent request; a POST without the matching token is
  refused (and the request stays unanswered);
- **clickjacking**: ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``;
- **guessing**: the passphrase is compared in constant time; five wrong tries void the request, and wrong passphrases
  are limited across requests, per client address and for the whole server (:class:`~.limits.SignInLimiter`): a
  held-back sign-in gets the page again with HTTP 429, ``Retry-After`` and the time to try again, and is refused even
  with the right passphrase. Each wrong passphrase is logged at WARNING and audited as ``oauth.signin`` (the address
  and the client, never what was typed).

The page's parts (styles, security headers, the app card, the access choice, the limiter's messages) are shared with
the multi-tenant consent page, :mod:`.connect`, where the merchant signs in with the store's API key instead.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from html import escape
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizeError
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from hajatek_mcp.server.oauth.limits import SIGNIN_WINDOW, Refusal, SignInLimiter, client_address
from hajatek_mcp.server.oauth.provider import READ, WRITE, HajatekOAuthProvider
from hajatek_mcp.server.oauth.registration import MAX_NAME
from hajatek_mcp.server.safety import clean, quote

__all__ = [
    "BUTTONS",
    "CONSENT_PATH",
    "MAX_ATTEMPTS",
    "Pending",
    "access_choice",
    "app_card",
    "consent_routes",
    "csrf_refused",
    "expired",
    "held_back",
    "hidden_fields",
    "origin",
    "page",
    "secure",
    "with_retry_after",
]

logger = logging.getLogger("hajatek_mcp.oauth")

CONSENT_PATH = "/oauth/consent"
MAX_ATTEMPTS = 5
#: A live consent request as the store returns it: client id, parameters, CSRF token, wrong tries so far.
Pending: TypeAlias = tuple[str, dict[str, Any], str, int]

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Tahoma,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:28rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem;
box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin:0 0 .75rem}.who{background:#f4f5f7;border-radius:8px;padding:.75rem;margin:.75rem 0}
.muted{color:#5b6475;font-size:.9rem}label{display:block;margin:.5rem 0}
input[type=password],input[type=text]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;
border:1px solid #c5cad3;border-radius:8px}fieldset{border:1px solid #e1e4ea;border-radius:8px;margin:1rem 0}
.actions{display:flex;gap:.75rem;margin-top:1rem}button{flex:1;padding:.75rem;font-size:1rem;border-radius:8px;
border:0;cursor:pointer}.approve{background:#0b6e4f;color:#fff}.deny{background:#e1e4ea;color:#1d2330}
.error{background:#fdecea;color:#8a1c1c;border-radius:8px;padding:.6rem;margin:.5rem 0}
"""
#: The two answers; Deny skips the browser's checks of required fields.
BUTTONS = (
    '<div class="actions"><button class="approve" type="submit" name="action" value="approve">Allow</button>'
    '<button class="deny" type="submit" name="action" value="deny" formnovalidate>Deny</button></div>'
)


def secure(response: Response, form_target: str | None = None) -> Response:
    """The headers of every consent answer: no framing, no scripts, forms only to here (and ``form_target``, where
    the answer redirects), never cached, no referrer."""
    form_action = "'self'" + (f" {form_target}" if form_target else "")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; "
        "base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def page(title: str, body: str, status: int = 200, form_target: str | None = None) -> Response:
    """A whole page around ``body`` (HTML the caller escaped), phone-sized, with :func:`secure`'s headers."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    return secure(HTMLResponse(html, status_code=status), form_target)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def app_card(client: dict[str, Any], params: dict[str, Any]) -> str:
    """Who asks: the app's name (quoted, escaped; it is whatever the app registered), its client id, and the origin
    that will receive the access."""
    given_name = client.get("client_name")
    name = escape(quote(given_name, MAX_NAME) if clean(given_name) else "An unnamed application")
    redirect = escape(origin(params["redirect_uri"]))
    return (
        f'<div class="who"><b>{name}</b><br><span class="muted">client id {escape(client["client_id"])}<br>'
        f"will receive access at {redirect}</span></div>"
    )


def access_choice(params: dict[str, Any], chosen: str = READ) -> str:
    """The scope radio buttons (``chosen`` checked), what a change means, and what the app asked for."""
    asked = "read and change" if WRITE in params["scopes"] else "read only"
    read, write = (" checked", "") if chosen != WRITE else ("", " checked")
    return (
        "<fieldset><legend>Access</legend>"
        f'<label><input type="radio" name="scope" value="{READ}"{read}> <b>Read only</b>: store, catalog, orders, '
        "customers, analytics and events</label>"
        f'<label><input type="radio" name="scope" value="{WRITE}"{write}> <b>Read and change</b> the store: '
        "products, prices, stock and order statuses (deleting, cancelling and refunding still ask you first)</label>"
        f'<p class="muted">The application asked for: {asked}. You decide.</p></fieldset>'
    )


def hidden_fields(request_id: str, csrf: str) -> str:
    """The pending request's id and its CSRF token, carried by the form."""
    return (
        f'<input type="hidden" name="request" value="{escape(request_id)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
    )


def _form(request_id: str, csrf: str, client: dict[str, Any], params: dict[str, Any], error: str | None) -> str:
    return (
        "<h1>Allow access to your Hajatek store?</h1>"
        + app_card(client, params)
        + (f'<p class="error" role="alert">{escape(error)}</p>' if error else "")
        + f'<form method="post" action="{CONSENT_PATH}">'
        + hidden_fields(request_id, csrf)
        + access_choice(params)
        + '<label for="passphrase">Admin passphrase</label>'
        '<input id="passphrase" type="password" name="passphrase" autocomplete="current-password" required>'
        + BUTTONS
        + "</form>"
        '<p class="muted">The Hajatek API key stays on this server; the application gets its own token, which you '
        "can revoke at any time (<code>hajatek-mcp oauth revoke</code>).</p>"
    )


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _when(refusal: Refusal, now: float) -> str:
    """``try again in 14 minutes (at 03:12 UTC)``, or in seconds (``at 03:12:07 UTC``) for a short wait."""
    seconds = refusal.retry_after(now)
    if seconds < 60:
        at = time.strftime("%H:%M:%S", time.gmtime(math.ceil(refusal.until)))
        return f"try again in {_plural(seconds, 'second')} (at {at} UTC)"
    at = time.strftime("%H:%M", time.gmtime(math.ceil(refusal.until / 60) * 60))
    return f"try again in {_plural(math.ceil(seconds / 60), 'minute')} (at {at} UTC)"


def held_back(refusal: Refusal, now: float, failures: str = "wrong passphrases") -> str:
    """What a held-back sign-in is told: why (``failures``, as the page calls them), and when to try again."""
    if refusal.scope == "server":
        return f"Too many {failures} on this server from all addresses together: {_when(refusal, now)}."
    if refusal.lockout:
        return f"Too many {failures} from this address: {_when(refusal, now)}."
    return f"After {failures} from this address the next try waits: {_when(refusal, now)}."


def expired() -> Response:
    """The answer to a consent request that is unknown, expired or already answered."""
    return page(
        "Request expired",
        "<h1>This request has expired</h1><p>Start the connection again from your AI application.</p>",
        status=400,
    )


def csrf_refused() -> Response:
    """The answer to a form whose CSRF token is not its request's (the request stays unanswered)."""
    return page(
        "Refused",
        "<h1>Refused</h1><p>This form did not come from this page (CSRF check). Open the "
        "link from your AI application again.</p>",
        status=403,
    )


def with_retry_after(response: Response, refusal: Refusal | None, limiter: SignInLimiter) -> Response:
    """``response`` with ``Retry-After`` when the sign-in limiter holds its address back."""
    if refusal is not None:
        response.headers["Retry-After"] = str(refusal.retry_after(limiter.clock()))
    return response


def consent_routes(provider: HajatekOAuthProvider, passphrase: SecretStr, limiter: SignInLimiter) -> list[Route]:
    """GET shows the consent form for a pending request; POST answers it (sign-ins limited by ``limiter``)."""
    expected = hashlib.sha256(passphrase.get_secret_value().encode()).digest()

    async def form_page(request_id: str, pending: Pending, error: str | None, status: int = 200) -> Response:
        client_id, params, csrf, _ = pending
        client = await provider.store.client(client_id) or {"client_id": client_id}
        body = _form(request_id, csrf, client, params, error)
        return page("Allow access?", body, status=status, form_target=origin(params["redirect_uri"]))

    async def show(request: Request) -> Response:
        request_id = request.query_params.get("request", "")
        pending = await provider.store.pending(request_id)
        if pending is None:
            return expired()
        refusal = limiter.refusal(client_address(request))
        return await form_page(request_id, pending, held_back(refusal, limiter.clock()) if refusal else None)

    async def refused(request_id: str, pending: Pending, address: str, refusal: Refusal) -> Response:
        """A sign-in while held back: not compared, not counted; the page says when to try again."""
        logger.info("refused an OAuth consent sign-in from %s for client %s: held back", address, pending[0])
        shown = await form_page(request_id, pending, held_back(refusal, limiter.clock()), status=429)
        return with_retry_after(shown, refusal, limiter)

    async def wrong(request_id: str, pending: Pending, address: str) -> Response:
        """A wrong passphrase: counted, logged, audited; the request is void after its fifth."""
        client_id, _, _, attempts = pending
        failures, refusal = limiter.failure(address)
        later = held_back(refusal, limiter.clock()) if refusal else ""
        logger.warning(
            "wrong OAuth consent passphrase from %s for client %s (%d from this address in %d minutes)%s",
            address,
            client_id,
            failures,
            SIGNIN_WINDOW // 60,
            f"; {later}" if refusal and refusal.lockout else "",
        )
        await provider.audit.record(
            "oauth.signin",
            {"address": address},
            "refused",
            "not_guarded",
            target=client_id,
            detail=f"wrong passphrase from {address}",
        )
        await provider.store.count_attempt(request_id)
        status = 429 if refusal is not None and refusal.lockout else 401
        if attempts + 1 >= MAX_ATTEMPTS:
            await provider.store.drop_pending(request_id)
            shown = page(
                "Too many attempts",
                f"<h1>Too many wrong passphrases</h1><p>{escape(later)} This request "
                "is void: start again from your AI application.</p>",
                status=max(status, 403),
            )
            return with_retry_after(shown, refusal, limiter)
        shown = await form_page(request_id, pending, f"Wrong passphrase. {later or 'Try again.'}", status=status)
        return with_retry_after(shown, refusal, limiter)

    async def sign_in(request_id: str, pending: Pending, address: str, typed: str, scope: str) -> Response:
        refusal = limiter.refusal(address)  # before comparing: while held back, the right passphrase fails too
        if refusal is not None:
            return await refused(request_id, pending, address, refusal)
        if not hmac.compare_digest(hashlib.sha256(typed.encode()).digest(), expected):
            return await wrong(request_id, pending, address)
        limiter.success(address)
        # The merchant decides: read-only unless they picked read-and-change, whatever the app asked for.
        scopes = [READ, WRITE] if scope == WRITE else [READ]
        return secure(RedirectResponse(await provider.approve(request_id, scopes, subject="merchant"), status_code=303))

    async def answer(request: Request) -> Response:
        form = await request.form()
        request_id, csrf = str(form.get("request", "")), str(form.get("csrf", ""))
        pending = await provider.store.pending(request_id)
        if pending is None:
            return expired()
        if not hmac.compare_digest(csrf.encode(), pending[2].encode()):
            return csrf_refused()
        try:
            if form.get("action") == "deny":
                return secure(RedirectResponse(await provider.deny(request_id), status_code=303))
            return await sign_in(
                request_id,
                pending,
                client_address(request),
                str(form.get("passphrase", "")),
                str(form.get("scope", "")),
            )
        except AuthorizeError:
            return expired()

    return [Route(CONSENT_PATH, show, methods=["GET"]), Route(CONSENT_PATH, answer, methods=["POST"])]
