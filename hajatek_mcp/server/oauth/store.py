"""OAuth state in SQLite (``oauth.db`` in the data dir): clients, pending consents, codes and tokens.

Secrets are never stored: authorization codes, access and refresh tokens are kept as SHA-256 digests, so a copy of
the file grants nothing. Every issued token belongs to a *grant* (one consent); refreshing rotates the grant's tokens
and revoking removes the whole grant. Nothing else opens this file.

Registrations are bounded, since anyone may register: one never authorized is forgotten after a day, and at most
:data:`MAX_UNAUTHORIZED_CLIENTS` of them are kept (the next registration is refused until there is room).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MAX_UNAUTHORIZED_CLIENTS", "UNAUTHORIZED_CLIENT_TTL", "Grant", "OAuthStore", "digest", "new_secret"]

#: Registered clients never authorized (no consent given yet) kept at most, and for how long (seconds).
MAX_UNAUTHORIZED_CLIENTS = 1000
UNAUTHORIZED_CLIENT_TTL = 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY, info TEXT NOT NULL, created_at REAL NOT NULL, authorized_at REAL
);
CREATE TABLE IF NOT EXISTS pending (
    id TEXT PRIMARY KEY, client_id TEXT NOT NULL, params TEXT NOT NULL, csrf TEXT NOT NULL,
    expires_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS codes (
    digest TEXT PRIMARY KEY, grant_id TEXT NOT NULL, client_id TEXT NOT NULL, data TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY, kind TEXT NOT NULL, grant_id TEXT NOT NULL, client_id TEXT NOT NULL,
    scopes TEXT NOT NULL, resource TEXT, subject TEXT, expires_at REAL NOT NULL, issued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_grant ON tokens (grant_id);
"""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    """A random credential with at least 192 bits of entropy."""
    return prefix + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Grant:
    """A token as stored (without the token itself)."""

    kind: str
    grant_id: str
    client_id: str
    scopes: list[str]
    resource: str | None
    subject: str | None
    expires_at: float


class OAuthStore:
    """Thread-safe access to ``oauth.db``; ``path=None`` keeps it in memory (tests)."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._conn = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False,
                                     isolation_level=None)  # fmt: skip
        if path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._migrate()
        self._lock = threading.Lock()

    def _migrate(self) -> None:
        """A file from before registrations were bounded: add ``authorized_at``; clients that got a grant have it."""
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(clients)")}
        if "authorized_at" not in columns:
            self._conn.execute("ALTER TABLE clients ADD COLUMN authorized_at REAL")
            self._conn.execute("UPDATE clients SET authorized_at = created_at WHERE client_id IN "
                               "(SELECT client_id FROM tokens UNION SELECT client_id FROM codes)")  # fmt: skip

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    # clients
    def add_client(self, client_id: str, info: dict[str, Any]) -> bool:
        """Keep a new registration; False (nothing kept) when :data:`MAX_UNAUTHORIZED_CLIENTS` are waiting already.

        Registrations never authorized for :data:`UNAUTHORIZED_CLIENT_TTL` are forgotten first.
        """
        now = self.clock()
        with self._lock, self._conn:  # one transaction: one commit
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM clients WHERE authorized_at IS NULL AND created_at < ?",
                               (now - UNAUTHORIZED_CLIENT_TTL,))  # fmt: skip
            added = self._conn.execute(
                "INSERT INTO clients (client_id, info, created_at) SELECT ?, ?, ? "
                "WHERE (SELECT count(*) FROM clients WHERE authorized_at IS NULL) < ?",
                (client_id, json.dumps(info), now, MAX_UNAUTHORIZED_CLIENTS),
            )
            return added.rowcount == 1

    def mark_authorized(self, client_id: str) -> None:
        """The merchant granted ``client_id`` access: it is no longer an unused registration."""
        self._run("UPDATE clients SET authorized_at = ? WHERE client_id = ? AND authorized_at IS NULL",
                  (self.clock(), client_id))  # fmt: skip

    def client(self, client_id: str) -> dict[str, Any] | None:
        row = self._run("SELECT info FROM clients WHERE client_id = ?", (client_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def clients(self) -> list[dict[str, Any]]:
        """Registered clients with their live grants (scopes, newest token, expiry)."""
        rows = self._run(
            "SELECT c.client_id, c.info, c.created_at, "
            "  (SELECT group_concat(DISTINCT t.scopes) FROM tokens t WHERE t.client_id = c.client_id), "
            "  (SELECT max(t.issued_at) FROM tokens t WHERE t.client_id = c.client_id), "
            "  (SELECT count(DISTINCT t.grant_id) FROM tokens t WHERE t.client_id = c.client_id AND t.expires_at > ?) "
            "FROM clients c ORDER BY c.created_at",
            (self.clock(),),
        ).fetchall()
        return [
            {"client_id": cid, "client_name": json.loads(info).get("client_name"), "registered": created,
             "scopes": scopes or "", "last_issued": last, "live_grants": live}
            for cid, info, created, scopes, last, live in rows
        ]  # fmt: skip

    # pending consents
    def add_pending(self, client_id: str, params: dict[str, Any], ttl: float) -> tuple[str, str]:
        request_id, csrf = new_secret("req_"), secrets.token_urlsafe(32)
        self._run("DELETE FROM pending WHERE expires_at < ?", (self.clock(),))
        self._run("INSERT INTO pending (id, client_id, params, csrf, expires_at) VALUES (?, ?, ?, ?, ?)",
                  (request_id, client_id, json.dumps(params), csrf, self.clock() + ttl))  # fmt: skip
        return request_id, csrf

    def pending(self, request_id: str) -> tuple[str, dict[str, Any], str, int] | None:
        """(client_id, params, csrf, failed attempts) of a live consent request."""
        row = self._run(
            "SELECT client_id, params, csrf, attempts FROM pending WHERE id = ? AND expires_at >= ?",
            (request_id, self.clock()),
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]), row[2], row[3])

    def count_attempt(self, request_id: str) -> None:
        self._run("UPDATE pending SET attempts = attempts + 1 WHERE id = ?", (request_id,))

    def drop_pending(self, request_id: str) -> bool:
        return self._run("DELETE FROM pending WHERE id = ?", (request_id,)).rowcount == 1

    # codes
    def add_code(self, code: str, client_id: str, data: dict[str, Any], ttl: float) -> None:
        self._run("INSERT INTO codes VALUES (?, ?, ?, ?, ?)",
                  (digest(code), new_secret("grt_"), client_id, json.dumps(data), self.clock() + ttl))  # fmt: skip

    def code(self, code: str, client_id: str) -> tuple[str, dict[str, Any], float] | None:
        row = self._run(
            "SELECT grant_id, data, expires_at FROM codes WHERE digest = ? AND client_id = ?", (digest(code), client_id)
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]), row[2])

    def use_code(self, code: str) -> bool:
        """Delete the code; False if it was already used (single use even under concurrent exchanges)."""
        return self._run("DELETE FROM codes WHERE digest = ?", (digest(code),)).rowcount == 1

    # tokens
    def add_token(self, token: str, grant: Grant) -> None:
        self._run(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (digest(token), grant.kind, grant.grant_id, grant.client_id, " ".join(grant.scopes), grant.resource,
             grant.subject, grant.expires_at, self.clock()),
        )  # fmt: skip

    def token(self, token: str, kind: str) -> Grant | None:
        row = self._run(
            "SELECT grant_id, client_id, scopes, resource, subject, expires_at FROM tokens "
            "WHERE digest = ? AND kind = ?",
            (digest(token), kind),
        ).fetchone()
        if row is None:
            return None
        grant_id, client_id, scopes, resource, subject, expires_at = row
        return Grant(kind, grant_id, client_id, scopes.split(), resource, subject, expires_at)

    def revoke_grant(self, grant_id: str) -> int:
        return self._run("DELETE FROM tokens WHERE grant_id = ?", (grant_id,)).rowcount

    def revoke_client(self, client_id: str) -> int:
        """Remove every token of a client and the client itself; returns how many tokens went."""
        removed = self._run("DELETE FROM tokens WHERE client_id = ?", (client_id,)).rowcount
        self._run("DELETE FROM codes WHERE client_id = ?", (client_id,))
        self._run("DELETE FROM clients WHERE client_id = ?", (client_id,))
        return removed

    def close(self) -> None:
        with self._lock:
            self._conn.close()
