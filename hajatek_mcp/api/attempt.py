"""One attempt at an API request: send it once, and map the answer or the transport error onto a result.

Nothing here retries or waits: :meth:`HajatekClient.request` asks :func:`hajatek_mcp.api.retry.decide` about a
:class:`Failed` attempt. The errors are built only from the method, the path, the status and the error envelope, so
they never carry the API key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx2

from hajatek_mcp.api.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    status_error_class,
)
from hajatek_mcp.api.ratelimit import Governor
from hajatek_mcp.api.retry import Failure, is_write

__all__ = ["Failed", "send_once"]

#: Transport errors raised before the request left: it provably did not reach Hajatek.
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)

logger = logging.getLogger("hajatek_mcp.api")


@dataclass(frozen=True, slots=True)
class Failed:
    """An attempt that did not succeed: the error to raise if it is not retried, and what the policy needs to know."""

    error: APIConnectionError | APIStatusError | APIResponseValidationError
    failure: Failure


async def send_once(
    http: httpx2.AsyncClient,
    governor: Governor,
    clock: Callable[[], float],
    method: str,
    path: str,
    *,
    query: dict[str, str],
    content: bytes | None,
    headers: dict[str, str] | None,
) -> Any:
    """Send the request once: its decoded JSON (``None`` for an empty body), or a :class:`Failed`.

    The answer's rate-limit headers go to ``governor``, and a 429 pauses it (``Retry-After``, else 1 s) for every
    caller. The caller has acquired a slot of ``governor`` and releases it.
    """
    started = clock()
    try:
        response = await http.request(method, path, params=query, content=content, headers=headers)
    except httpx2.TransportError as exc:
        failure = Failure("not_sent" if isinstance(exc, _NOT_SENT) else "lost")
        # A write that may have reached Hajatek has an unknown outcome, even when repeating it is safe.
        unknown = is_write(method) and failure.kind == "lost"
        return Failed(_connection_error(exc, method, path, outcome_unknown=unknown), failure)
    _observe_rate_headers(governor, response)
    request_id = response.headers.get("x-request-id")
    elapsed_ms = (clock() - started) * 1000
    logger.debug("%s %s -> %s in %.0f ms [%s]", method, path, response.status_code, elapsed_ms, request_id)
    if response.is_success:
        try:
            return _decode(response, write=is_write(method))
        except APIResponseValidationError as exc:
            return Failed(exc, Failure("bad_body"))
    error = _status_error(response)
    if response.status_code == 429:
        governor.pause(error.retry_after if error.retry_after is not None else 1.0)
    return Failed(error, Failure("status", response.status_code, error.retry_after))


def _observe_rate_headers(governor: Governor, response: httpx2.Response) -> None:
    names = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
    limit, remaining, reset = (_seconds(response.headers.get(name)) for name in names)
    if reset is not None and reset > 1e9:  # a Unix timestamp rather than delta seconds
        reset = max(reset - time.time(), 0.0)
    if limit is None and remaining is None:
        return
    governor.observe(
        limit=int(limit) if limit is not None else None,
        remaining=int(remaining) if remaining is not None else None,
        reset_in=reset,
    )


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 else None


def _decode(response: httpx2.Response, *, write: bool) -> Any:
    request_id = response.headers.get("x-request-id")
    if not response.content:
        return None
    content_type = response.headers.get("content-type", "")
    # A write answered 2xx was accepted: saying "try again" could make it happen twice.
    advice = (
        "The change was accepted, so it probably happened: check the current state before repeating it."
        if write
        else "Try again."
    )
    if "json" not in content_type:
        raise APIResponseValidationError(
            f"Hajatek answered {response.status_code} with {content_type or 'no content type'} instead of JSON "
            f"(request {request_id}); a proxy may be in the way. {advice} Check HAJATEK_BASE_URL if it persists.",
            status_code=response.status_code,
            request_id=request_id,
            outcome_unknown=write,
        )
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise APIResponseValidationError(
            f"Hajatek answered {response.status_code} with malformed JSON (request {request_id}). {advice}",
            status_code=response.status_code,
            request_id=request_id,
            outcome_unknown=write,
        ) from None


def _status_error(response: httpx2.Response) -> APIStatusError:
    envelope: dict[str, Any] = {}
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
    reason = response.reason_phrase or "error"
    message = envelope.get("message")
    retry_after = _seconds(response.headers.get("retry-after"))
    cls = status_error_class(response.status_code)
    return cls(
        str(message) if message else f"{response.request.method} {response.request.url.path} failed: {reason}",
        status_code=response.status_code,
        code=str(envelope["code"]) if envelope.get("code") else None,
        param=str(envelope["param"]) if envelope.get("param") else None,
        request_id=envelope.get("request_id") or response.headers.get("x-request-id"),
        retry_after=retry_after,
    )


def _connection_error(
    exc: httpx2.TransportError, method: str, path: str, *, outcome_unknown: bool
) -> APIConnectionError:
    timed_out = isinstance(exc, httpx2.TimeoutException)
    what = "timed out" if timed_out else f"failed ({type(exc).__name__})"
    advice = (
        "The request may have reached Hajatek: check the current state before repeating it."
        if outcome_unknown
        else "Check the network and HAJATEK_BASE_URL, then try again."
    )
    cls = APITimeoutError if timed_out else APIConnectionError
    return cls(f"{method} {path} {what}. {advice}", method=method, path=path, outcome_unknown=outcome_unknown)
