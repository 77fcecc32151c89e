"""The consent page: the merchant signs in with the admin passphrase and approves a client, read-only or read-write.

No JavaScript; a phone-sized layout; every value from the client is escaped. Protected against:

- **CSRF**: the form carries a random token stored with the consent request; a POST without the matching token is
  refused (and the request stays unanswered);
- **clickjacking**: ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``;
- **guessing**: the passphrase is compared in constant time, and five wrong tries void the request.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizeError
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from hajatek_mcp.server.oauth.provider import READ, WRITE, HajatekOAuthProvider

__all__ = ["CONSENT_PATH", "consent_routes"]

CONSENT_PATH = "/oauth/consent"
MAX_ATTEMPTS = 5

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Tahoma,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:28rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem;
box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin:0 0 .75rem}.who{background:#f4f5f7;border-radius:8px;padding:.75rem;margin:.75rem 0}
.muted{color:#5b6475;font-size:.9rem}label{display:block;margin:.5rem 0}
input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #c5cad3;
border-radius:8px}fieldset{border:1px solid #e1e4ea;border-radius:8px;margin:1rem 0}
.actions{display:flex;gap:.75rem;margin-top:1rem}button{flex:1;padding:.75rem;font-size:1rem;border-radius:8px;
border:0;cursor:pointer}.approve{background:#0b6e4f;color:#fff}.deny{background:#e1e4ea;color:#1d2330}
.error{background:#fdecea;color:#8a1c1c;border-radius:8px;padding:.6rem;margin:.5rem 0}
"""


def _secure(response: Response, form_target: str | None = None) -> Response:
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


def _page(title: str, body: str, status: int = 200, form_target: str | None = None) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    return _secure(HTMLResponse(html, status_code=status), form_target)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _form(request_id: str, csrf: str, client: dict[str, Any], params: dict[str, Any], error: str | None) -> str:
    name = escape(client.get("client_name") or "An unnamed application")
    redirect = escape(_origin(params["redirect_uri"]))
    asked = "read and change" if WRITE in params["scopes"] else "read only"
    write_option = (
        f'<label><input type="radio" name="scope" value="{WRITE}"> <b>Read and change</b> the store: products, '
        "prices, stock and order statuses (deleting, cancelling and refunding still ask you first)</label>"
        f'<p class="muted">The application asked for: {asked}. You decide.</p>'
    )
    return (
        "<h1>Allow access to your Hajatek store?</h1>"
        f'<div class="who"><b>{name}</b><br><span class="muted">client id {escape(client["client_id"])}<br>'
        f"will receive access at {redirect}</span></div>"
        + (f'<p class="error" role="alert">{escape(error)}</p>' if error else "")
        + f'<form method="post" action="{CONSENT_PATH}">'
        f'<input type="hidden" name="request" value="{escape(request_id)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        "<fieldset><legend>Access</legend>"
        f'<label><input type="radio" name="scope" value="{READ}" checked> <b>Read only</b>: store, catalog, orders, '
        "customers, analytics and events</label>"
        f"{write_option}</fieldset>"
        '<label for="passphrase">Admin passphrase</label>'
        '<input id="passphrase" type="password" name="passphrase" autocomplete="current-password" required>'
        '<div class="actions"><button class="approve" type="submit" name="action" value="approve">Allow</button>'
        '<button class="deny" type="submit" name="action" value="deny" formnovalidate>Deny</button></div>'
        "</form>"
        '<p class="muted">The Hajatek API key stays on this server; the application gets its own token, which you '
        "can revoke at any time (<code>hajatek-mcp oauth revoke</code>).</p>"
    )


def consent_routes(provider: HajatekOAuthProvider, passphrase: SecretStr) -> list[Route]:
    """GET shows the consent form for a pending request; POST answers it."""
    expected = hashlib.sha256(passphrase.get_secret_value().encode()).digest()

    def expired() -> Response:
        return _page("Request expired", "<h1>This request has expired</h1><p>Start the connection again from your AI "
                     "application.</p>", status=400)  # fmt: skip

    async def show(request: Request) -> Response:
        request_id = request.query_params.get("request", "")
        pending = provider.store.pending(request_id)
        if pending is None:
            return expired()
        client_id, params, csrf, _ = pending
        client = provider.store.client(client_id) or {"client_id": client_id}
        return _page("Allow access?", _form(request_id, csrf, client, params, None), form_target=_origin(
            params["redirect_uri"]))  # fmt: skip

    async def answer(request: Request) -> Response:  # noqa: PLR0911  # one return per outcome of the form
        form = await request.form()
        request_id, csrf = str(form.get("request", "")), str(form.get("csrf", ""))
        pending = provider.store.pending(request_id)
        if pending is None:
            return expired()
        client_id, params, expected_csrf, attempts = pending
        if not hmac.compare_digest(csrf.encode(), expected_csrf.encode()):
            return _page("Refused", "<h1>Refused</h1><p>This form did not come from this page (CSRF check). Open the "
                         "link from your AI application again.</p>", status=403)  # fmt: skip
        try:
            if form.get("action") == "deny":
                return _secure(RedirectResponse(provider.deny(request_id), status_code=303))
            given = hashlib.sha256(str(form.get("passphrase", "")).encode()).digest()
            if not hmac.compare_digest(given, expected):
                provider.store.count_attempt(request_id)
                if attempts + 1 >= MAX_ATTEMPTS:
                    provider.store.drop_pending(request_id)
                    return _page("Too many attempts", "<h1>Too many wrong passphrases</h1><p>Start again from your "
                                 "AI application.</p>", status=403)  # fmt: skip
                client = provider.store.client(client_id) or {"client_id": client_id}
                body = _form(request_id, expected_csrf, client, params, "Wrong passphrase; try again.")
                return _page("Allow access?", body, status=401, form_target=_origin(params["redirect_uri"]))
            # The merchant decides: read-only unless they picked read-and-change, whatever the app asked for.
            scopes = [READ, WRITE] if form.get("scope") == WRITE else [READ]
            return _secure(RedirectResponse(provider.approve(request_id, scopes, subject="merchant"), status_code=303))
        except AuthorizeError:
            return expired()

    return [Route(CONSENT_PATH, show, methods=["GET"]), Route(CONSENT_PATH, answer, methods=["POST"])]
