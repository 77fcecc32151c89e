"""The ASGI layer every request passes first: request id, admin switch, faults, auth, rate limits, error envelope.

Order per request: assign ``X-Request-Id`` (added to every response) → ``/_sandbox/`` paths are 404 unless the admin
API is enabled → an injected fault, if one matches, answers instead → under ``/v1`` the Bearer key is checked (401)
and counted against its plan (429 with ``Retry-After``; ``X-RateLimit-*`` on every response of a limited plan) →
the routes. Any unexpected exception becomes a 500 ``internal_error`` envelope.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import code_for_status, envelope
from .faults import run_fault
from .values import request_id

if TYPE_CHECKING:
    from .core import Sandbox

__all__ = [
    "ADMIN_PREFIX",
    "API_PREFIX",
    "PLAN_KEY",
    "REQUEST_ID_KEY",
    "Gateway",
    "bearer",
    "json_bytes",
    "send_error",
    "under",
]

logger = logging.getLogger(__name__)
API_PREFIX = "/v1"
ADMIN_PREFIX = "/_sandbox"
REQUEST_ID_KEY = "sandbox.request_id"
PLAN_KEY = "sandbox.plan"


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON (Arabic stays readable)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def send_error(
    send: Send,
    status: int,
    message: str,
    request_id_: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send an error envelope straight to ASGI ``send``."""
    body = json_bytes(envelope(code or code_for_status(status), message, param, request_id_))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(key.lower().encode(), value.encode()) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def bearer(scope: Scope) -> str | None:
    """The Bearer token of the request, or None when there is no usable ``Authorization: Bearer`` header."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            mutable = MutableHeaders(scope=message)
            for key, value in headers.items():
                mutable[key] = value
        await send(message)

    return wrapped


def under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or below it."""
    return path == prefix or path.startswith(prefix + "/")


class Gateway:
    """Pure ASGI middleware in front of the routes (see the module docstring)."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id()
        scope[REQUEST_ID_KEY] = rid
        send = _with_headers(send, {"X-Request-Id": rid})
        path: str = scope["path"]
        if under(path, ADMIN_PREFIX):
            if not self.sandbox.config.enable_admin:
                await send_error(send, 404, f"No route {scope['method']} {path}.", rid)
                return
            await self._guarded(scope, receive, send)
            return
        fault = self.sandbox.faults.take(scope["method"], path)
        if fault is not None:
            logger.info("fault %s (%s) on %s %s", fault.id, fault.mode, scope["method"], path)
            await run_fault(fault, self._api, scope, receive, send, request_id=rid)
            return
        await self._api(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid: str = scope[REQUEST_ID_KEY]
        if not under(scope["path"], API_PREFIX):
            await send_error(send, 404, f"No route {scope['method']} {scope['path']}; the API is under /v1.", rid)
            return
        key = bearer(scope)
        api_keys = self.sandbox.config.api_keys
        plan = api_keys.get(key) if key is not None else None
        if plan is None:
            keys = ", ".join(api_keys)
            if key is None:
                message = f"Missing API key: send 'Authorization: Bearer <key>' with a sandbox key ({keys})."
            else:
                message = f"Unknown API key; the sandbox keys are {keys}."
            await send_error(send, 401, message, rid)
            return
        assert key is not None  # noqa: S101 -- a plan was found for it
        decision = self.sandbox.limiter.hit(key, self.sandbox.config.limit_for(plan))
        send = _with_headers(send, decision.headers)
        if not decision.allowed:
            limit = decision.headers["X-RateLimit-Limit"]
            window = self.sandbox.config.rate_window
            message = f"Rate limit of the {plan} plan reached ({limit} requests per {window:g} seconds)."
            await send_error(send, 429, message + f" Retry in {decision.retry_after} s.", rid)
            return
        scope[PLAN_KEY] = plan
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise
            logger.exception("sandbox: unhandled error on %s %s", scope["method"], scope["path"])
            await send_error(send, 500, "The sandbox hit an internal error; see its log.", scope[REQUEST_ID_KEY])
