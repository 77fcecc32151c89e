"""The sandbox's one error type and the envelope every non-2xx response carries (docs/api.md, "Errors").

Business rules (the store) and request parsing raise :class:`SandboxError`; the app turns it into
``{"error": {"code", "message", "param", "request_id"}}`` with the status. Codes by status follow docs/api.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "CODE_BY_STATUS",
    "Conflict",
    "InvalidRequest",
    "InvalidTransition",
    "NotFound",
    "SandboxError",
    "ValidationFailed",
    "code_for_status",
    "envelope",
]

CODE_BY_STATUS: Mapping[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "invalid_request",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "unavailable",
    503: "unavailable",
    504: "unavailable",
}


def code_for_status(status: int) -> str:
    """The envelope ``code`` for an HTTP status, with a sensible code for statuses docs/api.md does not list."""
    if status in CODE_BY_STATUS:
        return CODE_BY_STATUS[status]
    return "internal_error" if status >= 500 else "invalid_request"


class SandboxError(Exception):
    """A request the sandbox refuses: HTTP ``status``, envelope ``code``, a ``message`` stating the rule, ``param``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or code_for_status(status)
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


class InvalidRequest(SandboxError):
    """400 ``invalid_request``: malformed JSON, unknown query parameter or body field."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(400, message, param=param)


class NotFound(SandboxError):
    """404 ``not_found``: unknown id or path."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(404, message, param=param)


class Conflict(SandboxError):
    """409 ``conflict``: a state conflict such as a duplicate ``sku`` or too little stock."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(409, message, param=param)


class InvalidTransition(SandboxError):
    """409 ``invalid_transition``: an order status change the lifecycle does not allow."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message, code="invalid_transition", param="status")


class ValidationFailed(SandboxError):
    """422 ``validation_error``: ``param`` has a bad value; ``message`` states the rule."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(422, message, param=param)


def envelope(code: str, message: str, param: str | None, request_id: str) -> dict[str, Any]:
    """The error body of docs/api.md."""
    return {"error": {"code": code, "message": message, "param": param, "request_id": request_id}}
