"""The MCP server over HTTP (streamable HTTP or SSE), locked down.

One ASGI guard sits in front of the SDK's app and answers, in this order, before the SDK sees the request:

0. On every path, a query string with a credential-like parameter (``access_token``, ``*_token``, ``*secret``,
   ``api_key``, ``key``, ``password``, ``code_verifier``…; see :func:`is_credential_parameter`) → **400**: OAuth 2.1
   forbids access tokens in URLs, which proxies, browser history and access logs keep. OAuth's own query
   parameters (``client_id``, ``redirect_uri``, ``state``, ``code_challenge``…) and SSE's ``session_id`` pass.
1. ``GET /healthz``, ``GET /readyz`` (see :mod:`~hajatek_mcp.server.probes`) and the extra ``routes`` (a webhook
   receiver authenticates itself) pass unchecked.
2. Everything else is MCP (deny by default, so a path the SDK adds later is covered too):
   a ``Host`` that is not loopback, the bind address or an ``--allowed-host`` → **421**;
   an ``Origin`` that is not a loopback origin or an ``--allowed-origin`` → **403** (no ``Origin``: a non-browser
   client, allowed); with a token configured, no or a wrong ``Authorization: Bearer`` → **401**
   (compared in constant time; the presented value is never echoed or logged).
3. The SDK then caps request bodies (``MAX_REQUEST_BODY`` → 413, on ``/mcp`` and SSE's ``/messages/``) and checks
   the ``Content-Type`` of POSTs.

Host and Origin are checked here rather than by the SDK's ``TransportSecuritySettings`` (which this module
switches off) because the SDK checks them only on loopback binds by default, and on SSE it raises after answering,
which prints a traceback per rejected request. Here the rule is the same for every bind address and transport.

The Hajatek API key is never read from a request nor sent to a client. uvicorn's access log (on at ``--log-level
INFO``) logs request lines without their query strings (:func:`~hajatek_mcp.server.probes.hide_queries_in_access_log`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from hajatek_mcp.server.probes import Check, hide_queries_in_access_log, probe_routes
from hajatek_mcp.settings import SettingsError

__all__ = [
    "MAX_REQUEST_BODY",
    "HttpSecurity",
    "HttpTransport",
    "allowed_hosts",
    "allowed_origins",
    "check_bind",
    "http_app",
    "is_credential_parameter",
    "is_loopback",
    "serve_http",
]

logger = logging.getLogger(__name__)

HttpTransport = Literal["streamable-http", "sse"]

#: Largest request body accepted on an MCP endpoint (the SDK answers 413 above it); tool calls are far smaller.
MAX_REQUEST_BODY: Final = 4 * 1024 * 1024
#: Seconds uvicorn waits for open streams (SSE, GET /mcp) on shutdown before closing them.
_GRACEFUL_SHUTDOWN: Final = 3
#: Seconds an idle keep-alive connection stays open (uvicorn's default is 5). Longer than a balancer keeps an idle
#: connection to a replica (HAProxy purges its idle ones within seconds, an AWS ALB after 60 s): when the replica
#: closed first, the balancer's next request on that connection dies unanswered, and a request that may have arrived
#: is not resent (HAProxy logs it "SD--"; the client sees "Server disconnected without sending a response").
_KEEP_ALIVE: Final = 75

_LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_BINDS: Final = frozenset({"0.0.0.0", "::", "[::]", ""})  # noqa: S104  # names to recognise, not to bind

#: Query parameter names (lower case, ``-`` read as ``_``) that carry a credential, and the endings that mark one.
_CREDENTIAL_NAMES: Final = frozenset(
    {"key", "auth", "authorization", "bearer", "code_verifier", "credential", "credentials", "passwd"}
)
_CREDENTIAL_ENDINGS: Final = ("token", "secret", "password", "passphrase", "api_key", "apikey")


@dataclass(frozen=True)
class HttpSecurity:
    """Who may talk to the HTTP server (from ``HAJATEK_MCP_AUTH_TOKEN``, ``--allowed-host``, ``--allowed-origin``)."""

    auth_token: SecretStr | None = None
    """When set, every MCP request needs ``Authorization: Bearer <token>``."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` values to accept besides loopback and the bind address: ``name`` (any port), ``name:443``."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins to accept besides loopback ones, e.g. ``https://chatgpt.com``."""
    allow_unauthenticated_remote: bool = False
    """``--dangerously-allow-unauthenticated``: serve a non-loopback address without a token."""
    oauth: bool = False
    """The built-in OAuth server authenticates MCP requests (the SDK checks each bearer token)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost``, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another name: it may resolve to anything


def check_bind(host: str, security: HttpSecurity) -> None:
    """Refuse (``SettingsError``) to serve a non-loopback ``host`` without a token unless explicitly opted out.

    A non-loopback bind that is allowed logs a warning: plain HTTP exposes the token, the opt-out exposes the store.
    """
    if is_loopback(host) or security.oauth:
        return
    if security.auth_token is None and not security.allow_unauthenticated_remote:
        raise SettingsError(
            f"refusing to serve MCP on {host} without authentication: set HAJATEK_MCP_AUTH_TOKEN (or --auth-token) "
            "to a long random secret, e.g. from `openssl rand -hex 32`, or bind 127.0.0.1."
        )
    if security.auth_token is None:
        logger.warning(
            "serving %s WITHOUT authentication (--dangerously-allow-unauthenticated): anyone who reaches this port "
            "can read and change the store",
            host,
        )
    else:
        logger.warning(
            "serving %s over plain HTTP: the bearer token crosses the network in clear text unless a TLS proxy "
            "is in front",
            host,
        )


def is_credential_parameter(name: str) -> bool:
    """Whether a query parameter called ``name`` carries a credential: ``access_token``, ``token``, ``api_key``,
    ``client_secret``, ``password``, ``code_verifier``… (case and ``-``/``_`` ignored).

    Not: OAuth's ``client_id``, ``redirect_uri``, ``state``, ``scope``, ``code_challenge``, ``resource``, the consent
    page's ``request``, SSE's ``session_id``. Not ``code`` either: this server never receives an authorization code
    in a URL (it issues them to the client's redirect URI), and a code is useless without the client's PKCE verifier.
    """
    normal = name.strip().lower().replace("-", "_")
    return normal in _CREDENTIAL_NAMES or normal.endswith(_CREDENTIAL_ENDINGS)


def _credential_in_query(scope: Scope) -> str | None:
    """The first credential-like parameter name in the request's query string, or None."""
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return None
    return next((name for name, _ in parse_qsl(query, keep_blank_values=True) if is_credential_parameter(name)), None)


def allowed_hosts(bind_host: str, extra: Iterable[str]) -> frozenset[str]:
    """The ``Host`` header values to accept: exact ``name:port`` values and ``name:*`` patterns, lower case."""
    names = [*_LOOPBACK_HOSTS, *extra]
    if bind_host.lower() not in _WILDCARD_BINDS:
        names.append(bind_host)
    patterns: set[str] = set()
    for raw in names:
        name = raw.strip().lower()
        if name.count(":") > 1 and not name.startswith("["):  # a bare IPv6 address: Host headers bracket it
            name = f"[{name}]"
        if _has_port(name):
            patterns.add(name)
        else:
            patterns.update({name, f"{name}:*"})
    return frozenset(patterns)


def allowed_origins(extra: Iterable[str]) -> frozenset[str]:
    """The ``Origin`` header values to accept: loopback origins on any port, and ``extra`` as given."""
    loopback = {f"http://{name}:*" for name in _LOOPBACK_HOSTS} | {f"http://{name}" for name in _LOOPBACK_HOSTS}
    return frozenset(loopback | {origin.strip().rstrip("/").lower() for origin in extra if origin.strip()})


def _has_port(host: str) -> bool:
    return host.rpartition("]")[2].startswith(":") if host.startswith("[") else ":" in host


def _matches(value: str, patterns: frozenset[str]) -> bool:
    """Exact match, or ``base:*`` matching ``base:<any port>``."""
    value = value.lower()
    if value in patterns:
        return True
    base, sep, port = value.rpartition(":")
    return bool(sep) and port.isdigit() and f"{base}:*" in patterns


class _Guard:
    """ASGI middleware: no path takes a credential in its query; public paths pass; MCP paths need an allowed Host
    and Origin, and the token if set."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: frozenset[str],
        origins: frozenset[str],
        token: SecretStr | None,
        public_routes: Sequence[BaseRoute],
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins
        self.token = None if token is None else token.get_secret_value().encode()
        self.public_routes = public_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _credential_refusal(scope)
        if refusal is None and self._is_public(scope):
            await self.app(scope, receive, send)
            return
        refusal = refusal or self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    def _is_public(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is not Match.NONE for route in self.public_routes)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = _raw_headers(scope)
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else "?"
        where = f"{scope['method']} {scope['path']} from {peer}"
        host = headers.get(b"host", b"").decode("latin-1")
        if not host or not _matches(host, self.hosts):
            logger.warning("refused %s: Host %r is not allowed", where, host[:200])
            return _error(
                421,
                "misdirected_request",
                "this server does not answer to that Host header; if it is this server's public name, start it "
                "with --allowed-host NAME (env HAJATEK_ALLOWED_HOSTS)",
            )
        origin = headers.get(b"origin", b"").decode("latin-1")
        if origin and not _matches(origin.rstrip("/"), self.origins):
            logger.warning("refused %s: Origin %r is not allowed", where, origin[:200])
            return _error(
                403,
                "forbidden_origin",
                "requests from this web origin are not accepted; to allow a browser client, start the server with "
                "--allowed-origin ORIGIN (env HAJATEK_ALLOWED_ORIGINS)",
            )
        if self.token is not None and not _authorized(headers.get(b"authorization"), self.token):
            logger.warning("refused %s: missing or wrong bearer token", where)
            return _error(
                401,
                "unauthorized",
                "send the header 'Authorization: Bearer <token>' with the token this server was started with "
                "(HAJATEK_MCP_AUTH_TOKEN)",
                {"WWW-Authenticate": 'Bearer realm="hajatek-mcp"'},
            )
        return None


def _credential_refusal(scope: Scope) -> Response | None:
    """400 when the query string carries a credential (the name is echoed to the sender; no value is, nor logged)."""
    name = _credential_in_query(scope)
    if name is None:
        return None
    client = scope.get("client")
    peer = f"{client[0]}:{client[1]}" if client else "?"
    logger.warning("refused %s %s from %s: a credential in the query string", scope["method"], scope["path"], peer)
    return _error(
        400,
        "credential_in_query",
        f"credentials are not accepted in the URL, where logs and browser history keep them: remove the "
        f"{name[:40]!r} query parameter and send the token in the header 'Authorization: Bearer <token>'",
    )


def _authorized(authorization: bytes | None, token: bytes) -> bool:
    """``Authorization: Bearer <token>``, compared in time that does not depend on where the bytes differ."""
    scheme, _, presented = (authorization or b"").strip().partition(b" ")
    same = hmac.compare_digest(presented.strip(), token)  # always run, even for a wrong scheme
    return same and scheme.lower() == b"bearer"


def _raw_headers(scope: Scope) -> dict[bytes, bytes]:
    """Request headers as bytes (first value wins), so the token is compared as sent."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.lower(), value)
    return headers


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def http_app(
    server: MCPServer[Any],
    transport: HttpTransport,
    *,
    host: str,
    security: HttpSecurity,
    routes: Sequence[BaseRoute] = (),
    services: Sequence[Callable[[], AbstractAsyncContextManager[None]]] = (),
    readiness: Mapping[str, Check] | None = None,
) -> Starlette:
    """The ASGI app: MCP at ``/mcp`` (streamable HTTP) or ``/sse`` + ``/messages/`` (SSE), ``GET /healthz``,
    ``GET /readyz`` (``readiness``' checks) and ``routes`` (public: they authenticate themselves), behind the guard
    described in the module docstring. ``services`` run while the app runs (once per process, whatever the transport).

    Build one app per run: the streamable-HTTP session manager it creates can run only once.
    """
    sdk_checks_off = TransportSecuritySettings(enable_dns_rebinding_protection=False)  # the guard does them
    public: list[BaseRoute] = [*probe_routes(readiness or {}), *routes]
    if transport == "streamable-http":
        mcp_app = server.streamable_http_app(
            streamable_http_path="/mcp",
            max_request_body_size=MAX_REQUEST_BODY,
            transport_security=sdk_checks_off,
            host=host,
        )

    else:
        mcp_app = server.sse_app(
            sse_path="/sse",
            message_path="/messages/",
            max_request_body_size=MAX_REQUEST_BODY,
            transport_security=sdk_checks_off,
            host=host,
        )
    guard = Middleware(
        _Guard,
        hosts=allowed_hosts(host, security.allowed_hosts),
        origins=allowed_origins(security.allowed_origins),
        token=security.auth_token,
        public_routes=public,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:
            for service in services:
                await running.enter_async_context(service())
            if transport == "streamable-http":  # also enters the MCP server's lifespan (the API client)
                await running.enter_async_context(server.session_manager.run())
            # Each SSE connection runs the MCP server (and enters its lifespan) itself.
            yield

    return Starlette(routes=[*public, Mount("/", app=mcp_app)], middleware=[guard], lifespan=lifespan)


def serve_http(
    server: MCPServer[Any],
    transport: HttpTransport,
    *,
    host: str,
    port: int,
    security: HttpSecurity,
    routes: Sequence[BaseRoute] = (),
    services: Sequence[Callable[[], AbstractAsyncContextManager[None]]] = (),
    readiness: Mapping[str, Check] | None = None,
) -> None:
    """Serve :func:`http_app` with uvicorn until interrupted. Logs go through the root logger (stderr)."""
    import uvicorn  # noqa: PLC0415  # only HTTP serving pays for it

    app = http_app(
        server, transport, host=host, security=security, routes=routes, services=services, readiness=readiness
    )
    if host.lower() in _WILDCARD_BINDS and not security.allowed_hosts:
        logger.warning(
            "serving every interface (%s) but accepting only loopback Host headers: add the name clients use with "
            "--allowed-host NAME (env HAJATEK_ALLOWED_HOSTS)",
            host,
        )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # keep the CLI's stderr logging; access lines carry method, path and status, no headers
        server_header=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN,
        timeout_keep_alive=_KEEP_ALIVE,
    )
    hide_queries_in_access_log()  # ... and no query string either
    uvicorn.Server(config).run()
