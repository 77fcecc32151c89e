"""Explicit fault injection: make the next N requests on a path fail in a chosen way.

Nothing fails unless a test or a user asks for it, in process (``app.state.sandbox.faults.inject(...)``) or over the
admin API (``POST /_sandbox/faults``). Faults act before authentication and rate limiting, like a proxy or a network
in front of the API. Modes:

================== ========== ===========================================================================
mode               processed? what the client sees
================== ========== ===========================================================================
status             no         ``status`` (default 503) in the error envelope, ``Retry-After`` if given
drop               no         the connection closes without a complete response (a transport error)
malformed          no         ``status`` (default 200), ``application/json``, a body that is not JSON
wrong_content_type no         ``status`` (default 200), ``text/html``, an HTML error page
truncated          yes        the real response with its body cut in half (valid headers, broken JSON)
delay              yes        the real response after ``delay`` seconds
================== ========== ===========================================================================

``delay`` can also be combined with the other modes (the fault waits, then fails).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

import anyio
import httpx2
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import code_for_status, envelope

__all__ = ["FAULT_MODES", "ConnectionDropped", "Fault", "FaultInjector", "FaultMode", "InvalidFault", "run_fault"]

FaultMode = Literal["status", "drop", "malformed", "truncated", "wrong_content_type", "delay"]
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)
_DEFAULT_STATUS = {"status": 503, "malformed": 200, "wrong_content_type": 200}
MALFORMED_BODY = b'{"error": {"code": "unavailable", "message": '
HTML_BODY = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class InvalidFault(ValueError):
    """A fault that cannot be injected: ``param`` names the argument, the message states the rule."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class ConnectionDropped(httpx2.RemoteProtocolError):
    """Raised by the app for a ``drop`` fault.

    In process, ``httpx2.ASGITransport`` passes it to the client, which sees the same exception class as when a
    real server closes the socket mid-response. Under uvicorn the response has started, so uvicorn closes the
    connection (and logs the exception).
    """


@dataclass
class Fault:
    """One injected fault. ``remaining`` counts down per matching request; ``None`` means until cleared."""

    id: str
    path: str
    method: str | None
    mode: FaultMode
    remaining: int | None
    status: int | None
    delay: float
    retry_after: int | None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return fnmatch.fnmatchcase(path, self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "method": self.method,
            "mode": self.mode,
            "remaining": self.remaining,
            "status": self.status,
            "delay": self.delay,
            "retry_after": self.retry_after,
        }


class FaultInjector:
    """The active faults, first injected first served."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def inject(
        self,
        path: str,
        *,
        method: str | None = None,
        count: int | None = 1,
        mode: FaultMode = "status",
        status: int | None = None,
        delay: float = 0.0,
        retry_after: int | None = None,
    ) -> Fault:
        """Make the next ``count`` requests (``None``: all, until :meth:`clear`) matching ``method`` and ``path`` fail.

        ``path`` is the request path (``/v1/products``) or a glob (``/v1/orders/*``). ``status`` applies to the
        ``status``, ``malformed`` and ``wrong_content_type`` modes; ``retry_after`` adds a ``Retry-After`` header
        to their responses; ``delay`` (seconds) waits first and is required by the ``delay`` mode.
        """
        if not path.startswith("/"):
            raise InvalidFault("path", "path must start with '/', e.g. '/v1/products' or '/v1/orders/*'")
        if mode not in FAULT_MODES:
            raise InvalidFault("mode", f"mode must be one of: {', '.join(FAULT_MODES)}")
        if count is not None and count < 1:
            raise InvalidFault("count", "count must be >= 1, or null for every request until cleared")
        if status is not None and mode not in _DEFAULT_STATUS:
            raise InvalidFault("status", f"status applies to the modes {', '.join(_DEFAULT_STATUS)}, not {mode}")
        status = _DEFAULT_STATUS.get(mode) if status is None else status
        if status is not None and not (200 <= status <= 599 and (mode != "status" or status >= 400)):
            raise InvalidFault("status", "status must be 400-599 for mode 'status', 200-599 otherwise")
        if not 0 <= delay <= 600 or (mode == "delay" and delay == 0):
            raise InvalidFault("delay", "delay must be 0 to 600 seconds, and more than 0 for mode 'delay'")
        if retry_after is None and status == 429 and mode == "status":
            retry_after = 1
        if retry_after is not None and retry_after < 0:
            raise InvalidFault("retry_after", "retry_after must be >= 0 seconds")
        fault = Fault(
            id=f"flt_{next(self._ids)}",
            path=path,
            method=method.upper() if method else None,
            mode=mode,
            remaining=count,
            status=status,
            delay=delay,
            retry_after=retry_after,
        )
        self._faults.append(fault)
        return fault

    def clear(self) -> int:
        """Remove every fault; returns how many were active."""
        count = len(self._faults)
        self._faults.clear()
        return count

    @property
    def active(self) -> list[Fault]:
        return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, counted down (and removed when used up)."""
        for fault in self._faults:
            if fault.matches(method, path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None


async def _send_body(send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def run_fault(fault: Fault, app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, request_id: str) -> None:
    """Answer one request as ``fault`` says; ``app`` processes it for the ``delay`` and ``truncated`` modes.

    A delayed request is read in full before the wait, as a slow server would have it: a client that gives up
    during the wait does not stop a processed mode from applying the request (that is what the delay simulates).
    """
    if fault.delay:
        receive = await _buffered(receive)
        await anyio.sleep(fault.delay)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.mode == "delay":
        await app(scope, receive, send)
    elif fault.mode == "drop":
        # Start a response promising a body, then fail: the server closes the connection mid-response.
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
        await send(start)
        raise ConnectionDropped(f"sandbox fault {fault.id}: connection dropped")
    elif fault.mode == "status":
        assert fault.status is not None  # noqa: S101 -- inject() sets it for this mode
        message = f"Injected fault {fault.id}: the sandbox answers {fault.status} for {fault.path}."
        body = json.dumps(envelope(code_for_status(fault.status), message, None, request_id)).encode()
        await _send_body(send, fault.status, body, "application/json", headers)
    elif fault.mode == "malformed":
        await _send_body(send, fault.status or 200, MALFORMED_BODY, "application/json", headers)
    elif fault.mode == "wrong_content_type":
        await _send_body(send, fault.status or 200, HTML_BODY, "text/html; charset=utf-8", headers)
    else:
        await _truncated(app, scope, receive, send)


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned ``receive`` replays it, then hands over to ``receive``."""
    chunks: list[bytes] = []
    left: Message | None = None
    while True:
        message = await receive()
        if message["type"] != "http.request":
            left = message  # the client left before sending everything: replay what came, then this
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return left if left is not None else await receive()

    return replay


async def _truncated(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    messages: list[Message] = []

    async def capture(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, capture)
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    cut = body[: len(body) // 2]
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    headers["content-length"] = str(len(cut))
    await send({"type": "http.response.start", "status": start["status"], "headers": headers.raw})
    await send({"type": "http.response.body", "body": cut})
