"""Single-use confirmation tokens for the preview-then-confirm path (``confirmations.db`` in the data dir).

A token is random (``secrets``), stored only as its SHA-256, expires, and is bound to the tool, the exact arguments
and a fingerprint of the target's state at preview time. Redeeming checks all of it and marks the token used in the
same statement, so a token works once even under concurrent calls. Nothing else opens this file.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hajatek_mcp.server.statefile import opening

__all__ = ["ConfirmationError", "ConfirmationStore", "fingerprint"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
)
"""


class ConfirmationError(Exception):
    """A confirmation token was refused. ``str()`` says why and what to do; nothing was changed."""


def fingerprint(data: Any) -> str:
    """A stable digest of JSON-able ``data`` (for arguments and target state)."""
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConfirmationStore:
    """Issues and redeems tokens. ``path=None`` keeps them in memory."""

    def __init__(self, path: Path | None, *, ttl: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self._clock = clock
        target = ":memory:" if path is None else str(path)
        with opening(path, "the confirmation tokens"):
            self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(_SCHEMA)
        self._lock = threading.Lock()

    def issue(self, tool: str, arguments: Mapping[str, Any], state: str) -> str:
        """A new token for exactly this call on a target in this state."""
        token = "cfm_" + secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._conn.execute("DELETE FROM tokens WHERE expires_at < ?", (now - 86400,))
            self._conn.execute(
                "INSERT INTO tokens (digest, tool, arguments, state, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_digest(token), tool, fingerprint(dict(arguments)), state, now + self.ttl),
            )
        return token

    def redeem(self, token: str, tool: str, arguments: Mapping[str, Any], state: str) -> None:
        """Use ``token`` for this call, or raise :class:`ConfirmationError` saying why it cannot be used."""
        digest, now = _digest(token), self._clock()
        with self._lock:
            row = self._conn.execute(
                "SELECT tool, arguments, state, expires_at, used_at FROM tokens WHERE digest = ?", (digest,)
            ).fetchone()
            if row is None:
                raise ConfirmationError(
                    "This confirm_token is not one this server issued. Call the tool again without confirm_token to "
                    "get a preview and a new token."
                )
            bound_tool, bound_args, bound_state, expires_at, used_at = row
            if used_at is not None:
                raise ConfirmationError(
                    "This confirm_token was already used; tokens work once. Call again without confirm_token for a "
                    "new preview."
                )
            if now > expires_at:
                raise ConfirmationError(
                    f"This confirm_token expired (tokens last {self.ttl:.0f} s). Call again without confirm_token for "
                    "a new preview."
                )
            if bound_tool != tool or bound_args != fingerprint(dict(arguments)):
                raise ConfirmationError(
                    "This confirm_token was issued for a different call (other tool or arguments). Repeat exactly "
                    "the previewed call, or call without confirm_token for a new preview."
                )
            if bound_state != state:
                raise ConfirmationError(
                    "The target changed since the preview, so the preview no longer describes what would happen. "
                    "Call again without confirm_token for a fresh preview and confirm with the merchant."
                )
            cursor = self._conn.execute(
                "UPDATE tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL", (now, digest)
            )
            if cursor.rowcount != 1:
                raise ConfirmationError("This confirm_token was already used; tokens work once.")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
