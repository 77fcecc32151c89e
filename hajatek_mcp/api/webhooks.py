"""Webhook signatures: ``X-Hajatek-Signature: sha256=<hex>`` over the raw body (docs/api.md, "Webhooks").

Pure functions, no I/O. The receiver calls :func:`verify_signature` on the exact bytes it received, *before* parsing
them; the sandbox and the tests call :func:`sign` to produce deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["SIGNATURE_HEADER", "InvalidSignatureError", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Hajatek-Signature"
_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


class InvalidSignatureError(ValueError):
    """The signature header is missing, malformed or does not match the body.

    The message says which, for logs and the 401 response; it never contains the secret or the expected digest.
    """


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise ValueError("the webhook secret is empty; set HAJATEK_WEBHOOK_SECRET to the secret from the dashboard")
    return secret


def sign(secret: str | bytes, body: bytes) -> str:
    """Return the header value Hajatek sends for ``body``: ``sha256=`` and the lowercase hex HMAC-SHA256."""
    return _PREFIX + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> None:
    """Check ``header`` (the ``X-Hajatek-Signature`` value) against ``body``; raise :class:`InvalidSignatureError`.

    Parsing is strict: the header must be exactly ``sha256=`` followed by 64 hex digits (surrounding whitespace is
    tolerated, as proxies sometimes add it). The digest comparison runs in constant time.
    """
    key = _key(secret)
    if header is None or not header.strip():
        raise InvalidSignatureError(f"missing {SIGNATURE_HEADER} header")
    value = header.strip()
    if not value.startswith(_PREFIX):
        raise InvalidSignatureError(f"{SIGNATURE_HEADER} must start with '{_PREFIX}'")
    digest = value[len(_PREFIX) :]
    if not _HEX_DIGEST.fullmatch(digest):
        raise InvalidSignatureError(f"{SIGNATURE_HEADER} must be '{_PREFIX}' followed by 64 hex digits")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.lower()):
        raise InvalidSignatureError(f"{SIGNATURE_HEADER} does not match the body (wrong secret or altered payload)")
