"""Single-use confirmation tokens for the preview-then-confirm path (``confirmations.db`` in the data dir, or
PostgreSQL).

A token is random (``secrets``), stored only as its SHA-256, expires, and is bound to the tool, the exact arguments
and a fingerprint of the target's state at preview time; it may also carry a payload, what exactly it confirms (a
bulk change's items, see :mod:`hajatek_mcp.server.bulk`). Redeeming checks all of it and marks the token used in the
same statement, so a token works once even under concurrent calls. Nothing else opens this file.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hajatek_mcp.storage import Database, Schema, Transaction
from hajatek_mcp.storage.sqlite import Row

__all__ = ["SCHEMA", "ConfirmationError", "ConfirmationStore", "fingerprint"]

#: Oldest first; released migrations are never edited (see :class:`hajatek_mcp.storage.Schema`).
SCHEMA = Schema(
    "the confirmation tokens",
    (
        """CREATE TABLE IF NOT EXISTS tokens (
            digest TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            state TEXT NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        )""",
        # A token works only for the store it was issued for; tokens of 0.1 (none: '') work for no store.
        "ALTER TABLE tokens ADD COLUMN store_id TEXT NOT NULL DEFAULT ''",
        # What a token confirms when the arguments alone do not say it (a bulk change: each item's values at preview
        # time and its new values), read back with the token.
        "ALTER TABLE tokens ADD COLUMN payload TEXT",
        # On PostgreSQL every store's tables share one database, where the OAuth grants have their own ``tokens``.
        "ALTER TABLE tokens RENAME TO confirm_tokens",
    ),
    postgres=(
        # Version 1 is the SQLite file's final shape above, times as DOUBLE PRECISION (PostgreSQL's REAL is float4).
        """CREATE TABLE confirm_tokens (
            digest TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            state TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            used_at DOUBLE PRECISION,
            store_id TEXT NOT NULL DEFAULT '',
            payload TEXT
        )""",
    ),
)


class ConfirmationError(Exception):
    """A confirmation token was refused. ``str()`` says why and what to do; nothing was changed."""


def fingerprint(data: Any) -> str:
    """A stable digest of JSON-able ``data`` (for arguments and target state)."""
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConfirmationStore:
    """Issues and redeems one store's tokens. ``database``: a file, None (in memory), or a shared open
    :class:`~hajatek_mcp.storage.Database`. A token issued for one store is unknown to every other."""

    def __init__(
        self,
        database: Path | Database | None,
        *,
        store_id: str,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store_id = store_id
        self.ttl = ttl
        self._clock = clock
        self._db = database if isinstance(database, Database) else Database(database, SCHEMA)

    async def issue(self, tool: str, arguments: Mapping[str, Any], state: str, *, payload: Any = None) -> str:
        """A new token for exactly this call on a target in this state; ``payload`` (JSON-able) is kept with it."""
        token = "cfm_" + secrets.token_urlsafe(24)
        now = self._clock()
        kept = None if payload is None else json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
        row = (_digest(token), self.store_id, tool, fingerprint(dict(arguments)), state, now + self.ttl, kept)

        def issue(tx: Transaction) -> None:
            tx.execute("DELETE FROM confirm_tokens WHERE expires_at < ?", (now - 86400,))
            tx.execute(
                "INSERT INTO confirm_tokens (digest, store_id, tool, arguments, state, expires_at, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        await self._db.write(issue)
        return token

    async def redeem(self, token: str, tool: str, arguments: Mapping[str, Any], state: str) -> None:
        """Use ``token`` for this call, or raise :class:`ConfirmationError` saying why it cannot be used."""
        digest, now, arguments_print = _digest(token), self._clock(), fingerprint(dict(arguments))

        def redeem(tx: Transaction) -> None:
            row = tx.one(
                "SELECT tool, arguments, state, expires_at, used_at FROM confirm_tokens "
                "WHERE digest = ? AND store_id = ?",
                (digest, self.store_id),
            )
            _check(row, tool=tool, arguments_print=arguments_print, state=state, now=now, ttl=self.ttl)
            used = "UPDATE confirm_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL"
            if tx.execute(used, (now, digest)) != 1:  # under concurrent calls, exactly one finds it unused
                raise ConfirmationError("This confirm_token was already used; tokens work once.")

        await self._db.write(redeem)

    async def decline(self, token: str, tool: str, arguments: Mapping[str, Any]) -> None:
        """Use up ``token`` without running its call (the merchant said no), or raise :class:`ConfirmationError` as
        :meth:`redeem` would, the target's state aside."""
        digest, now, arguments_print = _digest(token), self._clock(), fingerprint(dict(arguments))

        def decline(tx: Transaction) -> None:
            row = tx.one(
                "SELECT tool, arguments, state, expires_at, used_at FROM confirm_tokens "
                "WHERE digest = ? AND store_id = ?",
                (digest, self.store_id),
            )
            _check(row, tool=tool, arguments_print=arguments_print, state=row[2] if row else "", now=now, ttl=self.ttl)
            used = "UPDATE confirm_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL"
            if tx.execute(used, (now, digest)) != 1:
                raise ConfirmationError("This confirm_token was already used; tokens work once.")

        await self._db.write(decline)

    async def payload(self, token: str, tool: str, arguments: Mapping[str, Any]) -> Any:
        """The payload ``token`` was issued with, if it could be redeemed for this call now (checked as :meth:`redeem`
        checks it, the state aside: the caller compares the payload with the targets). Raises
        :class:`ConfirmationError`; nothing is marked used."""
        digest, now, arguments_print = _digest(token), self._clock(), fingerprint(dict(arguments))
        row = await self._db.one(
            "SELECT tool, arguments, state, expires_at, used_at, payload FROM confirm_tokens "
            "WHERE digest = ? AND store_id = ?",
            (digest, self.store_id),
        )
        bound = None if row is None else row[:5]
        _check(
            bound, tool=tool, arguments_print=arguments_print, state=bound[2] if bound else "", now=now, ttl=self.ttl
        )
        return None if row is None or row[5] is None else json.loads(row[5])

    def close(self) -> None:
        self._db.close()


def _check(row: Row | None, *, tool: str, arguments_print: str, state: str, now: float, ttl: float) -> None:
    """Why the token of ``row`` cannot be used for this call (raised), or nothing."""
    if row is None:
        raise ConfirmationError(
            "This confirm_token is not one this server issued. Call the tool again without confirm_token to get a "
            "preview and a new token."
        )
    bound_tool, bound_args, bound_state, expires_at, used_at = row
    if used_at is not None:
        raise ConfirmationError(
            "This confirm_token was already used; tokens work once. Call again without confirm_token for a new preview."
        )
    if now > expires_at:
        raise ConfirmationError(
            f"This confirm_token expired (tokens last {ttl:.0f} s). Call again without confirm_token for a new preview."
        )
    if bound_tool != tool or bound_args != arguments_print:
        raise ConfirmationError(
            "This confirm_token was issued for a different call (other tool or arguments). Repeat exactly the "
            "previewed call, or call without confirm_token for a new preview."
        )
    if bound_state != state:
        raise ConfirmationError(
            "The target changed since the preview, so the preview no longer describes what would happen. Call again "
            "without confirm_token for a fresh preview and confirm with the merchant."
        )
