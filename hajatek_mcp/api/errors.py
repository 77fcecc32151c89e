"""The one exception tree of the Hajatek client.

::

    HajatekError
     ├── APIConnectionError            the request did not complete (network, DNS, dropped connection)
     │    └── APITimeoutError           ... because a timeout expired
     ├── APIResponseValidationError    a 2xx whose body is not the JSON the contract promises
     └── APIStatusError                the API answered with an error status (envelope in docs/api.md)
          ├── BadRequestError           400
          ├── AuthenticationError       401
          ├── PermissionDeniedError     403
          ├── NotFoundError             404
          ├── ConflictError             409
          ├── UnprocessableEntityError  422
          ├── RateLimitError            429
          └── InternalServerError       >= 500

``str(error)`` is written for whoever reads it next, a person or an agent: what happened, and what to do about it.
Errors carry ``request_id`` (quote it to Hajatek support) and never the API key: messages are built only from the
method, the path, the status and the error envelope.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "HajatekError",
    "InternalServerError",
    "LookupLimitError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "status_error_class",
]


class HajatekError(Exception):
    """Base of every error the client raises."""

    #: True when a write may have been applied despite the error: check the current state before repeating it.
    outcome_unknown: bool = False


class APIConnectionError(HajatekError):
    """The request did not complete.

    ``outcome_unknown`` is True when the request may have reached Hajatek before the failure (a write may or may not
    have happened): check the current state before trying again.
    """

    def __init__(self, message: str, *, method: str, path: str, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.outcome_unknown = outcome_unknown


class APITimeoutError(APIConnectionError):
    """The request timed out (connecting, or waiting for the response)."""


class LookupLimitError(HajatekError):
    """:meth:`~hajatek_mcp.api.HajatekClient.find_product` read as many listing pages as it was allowed to and did
    not find the product (the API has no lookup by id). It may exist further down the catalog."""

    def __init__(self, product_id: str, scanned: int) -> None:
        super().__init__(
            f"Product {product_id} is not among the newest {scanned:,} products, and the Hajatek API has no lookup by "
            "id, so the rest of the catalog was not read."
        )
        self.product_id = product_id
        self.scanned = scanned


class APIResponseValidationError(HajatekError):
    """A successful status, but a body that is not the JSON the contract promises.

    ``outcome_unknown`` is True for a write: it was accepted, so it probably happened; check before repeating it.
    """

    def __init__(
        self, message: str, *, status_code: int, request_id: str | None, outcome_unknown: bool = False
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.outcome_unknown = outcome_unknown


class APIStatusError(HajatekError):
    """The API answered with a 4xx or 5xx status. Fields come from the error envelope.

    ``outcome_unknown`` is True for a write that may have been applied all the same: the API answered 5xx (it may
    have failed after the change), or an earlier attempt's answer was lost. Check the current state before repeating.
    """

    #: What to do next, appended to the message. Subclasses say something more specific.
    hint = "Check the request and try again."

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [f"Hajatek API error {self.status_code}"]
        if self.code:
            parts[0] += f" ({self.code})"
        text = f"{parts[0]}: {self.message.rstrip('.')}."
        if self.param:
            text += f" Parameter: {self.param}."
        if self.outcome_unknown:
            text += " The change may have been applied all the same: check the current state before repeating it."
        else:
            text += f" {self.hint}"
        if self.request_id:
            text += f" [request {self.request_id}]"
        return text


class BadRequestError(APIStatusError):
    hint = "Fix the request: remove or correct the named parameter."


class AuthenticationError(APIStatusError):
    hint = "Check HAJATEK_API_KEY: copy the key again from the Hajatek dashboard."


class PermissionDeniedError(APIStatusError):
    hint = "This API key may not do this; check HAJATEK_STORE_ID and the key's plan."


class NotFoundError(APIStatusError):
    hint = "Check the id; the list tools show valid ids."


class ConflictError(APIStatusError):
    hint = "Read the current state (get the resource again) and choose an allowed change."


class UnprocessableEntityError(APIStatusError):
    hint = "Correct the named parameter and send the request again."


class RateLimitError(APIStatusError):
    @property
    def hint(self) -> str:  # type: ignore[override]  # computed from retry_after, unlike the class constants
        if self.retry_after is not None:
            return f"The plan's rate limit is reached; wait {self.retry_after:g} s before the next request."
        return "The plan's rate limit is reached; wait a minute before the next request."


class InternalServerError(APIStatusError):
    hint = "Hajatek is having trouble; try again in a minute. If it persists, quote the request id to support."


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)
