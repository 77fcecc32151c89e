"""Dynamic client registration (``POST /register``, RFC 7591): anyone may register, within limits.

The SDK's own ``RegistrationHandler`` registers; this module serves it at ``/register`` (ahead of the SDK's copy of
the route) behind a rate limit per client address and overall (429, ``Retry-After``, an OAuth-style JSON error) and a
16 KB body cap (413), and holds the metadata policy that :meth:`HajatekOAuthProvider.register_client` applies
(:func:`check_client`): a client name of at most 100 characters after :func:`~hajatek_mcp.server.safety.clean`, and
at most 5 redirect URIs, each ``https://`` or ``http://`` on a loopback host (OAuth 2.1).

Registrations are not written to the audit log, which records the store's write attempts: a stranger's words do not
belong there. ``oauth.db`` keeps them (``hajatek-mcp oauth clients`` lists them), bounded by the store.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import urlsplit

from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.provider import OAuthAuthorizationServerProvider, RegistrationError
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.auth import OAuthClientInformationFull
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from hajatek_mcp.server.oauth.limits import RegistrationLimiter, client_address
from hajatek_mcp.server.safety import clean, quote

__all__ = ["MAX_BODY", "MAX_NAME", "MAX_REDIRECT_URIS", "REGISTRATION_PATH", "check_client", "registration_route"]

logger = logging.getLogger("hajatek_mcp.oauth")

REGISTRATION_PATH: Final = "/register"
#: Largest registration request accepted (413 above it); a real one is well under 2 KB.
MAX_BODY: Final = 16 * 1024
MAX_NAME: Final = 100
MAX_REDIRECT_URIS: Final = 5
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})
_ALLOWED = (
    "use https://, http:// on a loopback host (127.0.0.1, [::1], localhost), or a native app's own scheme "
    "(e.g. com.example.app:/callback)"
)
#: Schemes a browser runs or reads itself: never a redirect target. Any other scheme is a native app's private-use
#: scheme (OAuth 2.1 §8.4.2, RFC 8252 §7.1), which desktop clients such as Cursor register.
_REFUSED_SCHEMES = frozenset(
    {
        "javascript",
        "data",
        "vbscript",
        "file",
        "blob",
        "about",
        "filesystem",
        "ftp",
        "ws",
        "wss",
        "mailto",
        "tel",
        "view-source",
        "chrome",
        "jar",
    }
)


def check_client(client: OAuthClientInformationFull) -> None:
    """Apply the registration policy to ``client`` in place: clean its name, or raise ``RegistrationError``.

    The error names the field and the value's problem (RFC 7591 §3.2.2); outside text in it is quoted, capped.
    """
    name = clean(client.client_name)
    if name is not None and len(name) > MAX_NAME:
        raise RegistrationError(
            "invalid_client_metadata", f"client_name has {len(name)} characters; at most {MAX_NAME} are accepted"
        )
    client.client_name = name or None
    uris = [str(uri) for uri in client.redirect_uris or []]
    if not uris:
        raise RegistrationError("invalid_redirect_uri", f"redirect_uris: give at least one ({_ALLOWED})")
    if len(uris) > MAX_REDIRECT_URIS:
        raise RegistrationError(
            "invalid_redirect_uri", f"redirect_uris has {len(uris)} URIs; at most {MAX_REDIRECT_URIS} are accepted"
        )
    for uri in uris:
        problem = _redirect_problem(uri)
        if problem is not None:
            raise RegistrationError("invalid_redirect_uri", f"redirect_uris: {quote(uri)} {problem}")


def _redirect_problem(uri: str) -> str | None:  # noqa: PLR0911  # one return per rule, in order
    """What is wrong with ``uri`` as a redirect URI, or None: https anywhere, plain http on loopback only, or a native
    app's private-use scheme."""
    parts = urlsplit(uri)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if not scheme or scheme in _REFUSED_SCHEMES:
        return f"has the scheme {quote(scheme + ':')}, which is refused; {_ALLOWED}"
    if parts.fragment or uri.endswith("#"):
        return "has a fragment (#…), which a redirect URI must not have (RFC 6749 §3.1.2)"
    if scheme not in {"https", "http"}:
        return None  # a native app's own scheme: the operating system hands the code to that app
    if not host:
        return f"has no host; {_ALLOWED}"
    if scheme == "http" and host not in _LOOPBACK:
        return f"is plain http on the host {quote(host)}, which is not loopback; {_ALLOWED}"
    if "@" in parts.netloc:
        return "has a user name before the host, which can disguise where the code goes; remove it"
    if parts.fragment or uri.endswith("#"):
        return "has a fragment (#…), which a redirect URI must not have (RFC 6749 §3.1.2)"
    return None


class _Throttle:
    """ASGI middleware: a POST over the rate limit gets 429 with ``Retry-After``; every other request passes."""

    def __init__(self, app: ASGIApp, limiter: RegistrationLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        address = client_address(Request(scope))
        refusal = self.limiter.admit(address)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        wait = refusal.retry_after(self.limiter.clock())
        who = "from this address" if refusal.scope == "address" else "to this server from all addresses together"
        logger.info("refused an OAuth client registration from %s: too many %s", address, who)
        response = JSONResponse(
            {
                "error": "temporarily_unavailable",
                "error_description": f"too many client registrations {who}; try again in {wait} seconds",
            },
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
        await response(scope, receive, send)


def registration_route(
    provider: OAuthAuthorizationServerProvider[Any, Any, Any],
    options: ClientRegistrationOptions,
    limiter: RegistrationLimiter,
) -> Route:
    """``POST /register``: the SDK's handler behind the rate limit and the body cap, CORS-open like the SDK's route.

    Served among the routes beside MCP, it takes precedence over the route the SDK adds for the same path.
    """
    handler = RequestBodyLimitMiddleware(
        request_response(RegistrationHandler(provider, options=options).handle), MAX_BODY
    )
    throttled = _Throttle(handler, limiter)
    app = CORSMiddleware(
        throttled, allow_origins=["*"], allow_methods=["POST", "OPTIONS"], allow_headers=[MCP_PROTOCOL_VERSION_HEADER]
    )
    return Route(REGISTRATION_PATH, endpoint=app, methods=["POST", "OPTIONS"])
