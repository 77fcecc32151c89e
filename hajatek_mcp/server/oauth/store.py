"""OAuth state (``oauth.db`` in the data dir, or its tables on PostgreSQL): clients, pending consents, codes, tokens.

Secrets are never stored: authorization codes, access and refresh tokens are kept as SHA-256 digests, so a copy of
the file grants nothing. Every issued token belongs to a *grant* (one consent); refreshing rotates the grant's tokens
and revoking removes the whole grant. Nothing else opens this file. The OAuth server is this server's, not a store's:
its rows carry no store id.

Registrations are bounded, since anyone may register: one never authorized is forgotten after a day, and at most
:data:`MAX_UNAUTHORIZED_CLIENTS` of them are kept (the next registration is refused until there is room). On
PostgreSQL, registrations racing on several connections may pass that bound by as many as are in flight.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hajatek_mcp.storage import Database, Schema, Transaction

__all__ = [
    "MAX_UNAUTHORIZED_CLIENTS",
    "SCHEMA",
    "UNAUTHORIZED_CLIENT_TTL",
    "Grant",
    "OAuthStore",
    "digest",
    "new_secret",
]

#: Registered clients never authorized (no consent given yet) kept at most, and for how long (seconds).
MAX_UNAUTHORIZED_CLIENTS = 1000
UNAUTHORIZED_CLIENT_TTL = 86400.0


def _add_authorized_at(tx: Transaction) -> None:
    """A file from before registrations were bounded lacks ``authorized_at``; clients that got a grant have it."""
    if "authorized_at" not in tx.columns("clients"):
        tx.execute("ALTER TABLE clients ADD COLUMN authorized_at REAL")
        tx.execute(
            "UPDATE clients SET authorized_at = created_at WHERE client_id IN "
            "(SELECT client_id FROM tokens UNION SELECT client_id FROM codes)"
        )


#: Oldest first; released migrations are never edited (see :class:`hajatek_mcp.storage.Schema`). The first is the
#: schema files were written with before the seam (``user_version`` 0), so such a file opens unchanged.
SCHEMA = Schema(
    "the OAuth grants",
    (
        """CREATE TABLE IF NOT EXISTS clients (
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
        CREATE INDEX IF NOT EXISTS tokens_grant ON tokens (grant_id)""",
        # A file of the first release kept its clients table (IF NOT EXISTS above) without this column.
        _add_authorized_at,
    ),
    postgres=(
        """CREATE TABLE clients (
            client_id TEXT PRIMARY KEY, info TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
            authorized_at DOUBLE PRECISION
        );
        CREATE TABLE pending (
            id TEXT PRIMARY KEY, client_id TEXT NOT NULL, params TEXT NOT NULL, csrf TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE codes (
            digest TEXT PRIMARY KEY, grant_id TEXT NOT NULL, client_id TEXT NOT NULL, data TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE tokens (
            digest TEXT PRIMARY KEY, kind TEXT NOT NULL, grant_id TEXT NOT NULL, client_id TEXT NOT NULL,
            scopes TEXT NOT NULL, resource TEXT, subject TEXT, expires_at DOUBLE PRECISION NOT NULL,
            issued_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX tokens_grant ON tokens (grant_id)""",
    ),
)


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
    """The authorization server's state. ``database``: a file, None (in memory), or an open
    :class:`~hajatek_mcp.storage.Database`.

    Every call runs off the event loop, one at a time per file, and reads its rows before it returns; writes are
    shielded, so a cancelled caller does not undo one that started.
    """

    def __init__(self, database: Path | Database | None, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._db = database if isinstance(database, Database) else Database(database, SCHEMA)

    # clients
    async def add_client(self, client_id: str, info: dict[str, Any]) -> bool:
        """Keep a new registration; False (nothing kept) when :data:`MAX_UNAUTHORIZED_CLIENTS` are waiting already.

        Registrations never authorized for :data:`UNAUTHORIZED_CLIENT_TTL` are forgotten first.
        """
        now, row = self.clock(), (client_id, json.dumps(info))

        def add(tx: Transaction) -> bool:
            tx.execute(
                "DELETE FROM clients WHERE authorized_at IS NULL AND created_at < ?", (now - UNAUTHORIZED_CLIENT_TTL,)
            )
            added = tx.execute(
                "INSERT INTO clients (client_id, info, created_at) SELECT ?, ?, ? "
                "WHERE (SELECT count(*) FROM clients WHERE authorized_at IS NULL) < ?",
                (*row, now, MAX_UNAUTHORIZED_CLIENTS),
            )
            return added == 1

        return await self._db.write(add)

    async def mark_authorized(self, client_id: str) -> None:
        """The merchant granted ``client_id`` access: it is no longer an unused registration."""
        await self._db.execute(
            "UPDATE clients SET authorized_at = ? WHERE client_id = ? AND authorized_at IS NULL",
            (self.clock(), client_id),
        )

    async def client(self, client_id: str) -> dict[str, Any] | None:
        row = await self._db.one("SELECT info FROM clients WHERE client_id = ?", (client_id,))
        return None if row is None else dict(json.loads(row[0]))

    async def clients(self) -> list[dict[str, Any]]:
        """Registered clients with their live grants (scopes, newest token, expiry), oldest registration first."""
        now = self.clock()

        def listed(tx: Transaction) -> list[tuple[Any, ...]]:
            # The one aggregate the two dialects name differently; both join with a comma.
            scopes = "group_concat(DISTINCT t.scopes)"
            if tx.dialect == "postgresql":
                scopes = "string_agg(DISTINCT t.scopes, ',')"
            return tx.all(
                "SELECT c.client_id, c.info, c.created_at, "  # noqa: S608  # one of the two spellings above
                f"  (SELECT {scopes} FROM tokens t WHERE t.client_id = c.client_id), "
                "  (SELECT max(t.issued_at) FROM tokens t WHERE t.client_id = c.client_id), "
                "  (SELECT count(DISTINCT t.grant_id) FROM tokens t "
                "   WHERE t.client_id = c.client_id AND t.expires_at > ?) "
                "FROM clients c ORDER BY c.created_at, c.client_id",
                (now,),
            )

        rows = await self._db.read(listed)
        return [
            {
                "client_id": cid,
                "client_name": json.loads(info).get("client_name"),
                "registered": created,
                "scopes": scopes or "",
                "last_issued": last,
                "live_grants": live,
            }
            for cid, info, created, scopes, last, live in rows
        ]

    # pending consents
    async def add_pending(self, client_id: str, params: dict[str, Any], ttl: float) -> tuple[str, str]:
        request_id, csrf, now = new_secret("req_"), secrets.token_urlsafe(32), self.clock()

        def add(tx: Transaction) -> None:
            tx.execute("DELETE FROM pending WHERE expires_at < ?", (now,))
            tx.execute(
                "INSERT INTO pending (id, client_id, params, csrf, expires_at) VALUES (?, ?, ?, ?, ?)",
                (request_id, client_id, json.dumps(params), csrf, now + ttl),
            )

        await self._db.write(add)
        return request_id, csrf

    async def pending(self, request_id: str) -> tuple[str, dict[str, Any], str, int] | None:
        """(client_id, params, csrf, failed attempts) of a live consent request."""
        row = await self._db.one(
            "SELECT client_id, params, csrf, attempts FROM pending WHERE id = ? AND expires_at >= ?",
            (request_id, self.clock()),
        )
        return None if row is None else (row[0], json.loads(row[1]), row[2], row[3])

    async def count_attempt(self, request_id: str) -> None:
        await self._db.execute("UPDATE pending SET attempts = attempts + 1 WHERE id = ?", (request_id,))

    async def drop_pending(self, request_id: str) -> bool:
        return await self._db.execute("DELETE FROM pending WHERE id = ?", (request_id,)) == 1

    # codes
    async def add_code(self, code: str, client_id: str, data: dict[str, Any], ttl: float) -> None:
        row = (digest(code), new_secret("grt_"), client_id, json.dumps(data), self.clock() + ttl)
        await self._db.execute("INSERT INTO codes VALUES (?, ?, ?, ?, ?)", row)

    async def code(self, code: str, client_id: str) -> tuple[str, dict[str, Any], float] | None:
        row = await self._db.one(
            "SELECT grant_id, data, expires_at FROM codes WHERE digest = ? AND client_id = ?", (digest(code), client_id)
        )
        return None if row is None else (row[0], json.loads(row[1]), row[2])

    async def use_code(self, code: str) -> bool:
        """Delete the code; False if it was already used (single use even under concurrent exchanges)."""
        return await self._db.execute("DELETE FROM codes WHERE digest = ?", (digest(code),)) == 1

    # tokens
    async def add_token(self, token: str, grant: Grant) -> None:
        await self._db.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                digest(token),
                grant.kind,
                grant.grant_id,
                grant.client_id,
                " ".join(grant.scopes),
                grant.resource,
                grant.subject,
                grant.expires_at,
                self.clock(),
            ),
        )

    async def token(self, token: str, kind: str) -> Grant | None:
        row = await self._db.one(
            "SELECT grant_id, client_id, scopes, resource, subject, expires_at FROM tokens "
            "WHERE digest = ? AND kind = ?",
            (digest(token), kind),
        )
        if row is None:
            return None
        grant_id, client_id, scopes, resource, subject, expires_at = row
        return Grant(kind, grant_id, client_id, scopes.split(), resource, subject, expires_at)

    async def revoke_grant(self, grant_id: str) -> int:
        return await self._db.execute("DELETE FROM tokens WHERE grant_id = ?", (grant_id,))

    async def revoke_subject(self, subject: str) -> int:
        """Remove every token and code granted for ``subject`` (on a multi-tenant server, a store id); how many
        tokens went. The clients stay registered: they may connect another store."""

        def revoke(tx: Transaction) -> int:
            removed = tx.execute("DELETE FROM tokens WHERE subject = ?", (subject,))
            of_subject = "json_extract(data, '$.subject')"  # the code's data is JSON text in both
            if tx.dialect == "postgresql":
                of_subject = "data::jsonb ->> 'subject'"
            tx.execute(f"DELETE FROM codes WHERE {of_subject} = ?", (subject,))  # noqa: S608  # one of two spellings
            return removed

        return await self._db.write(revoke)

    async def grants_of(self, subject: str) -> list[dict[str, Any]]:
        """The live grants for ``subject``: client id and name, scopes, when issued and until when (no token).

        A grant's tokens share their client and scopes (a refresh replaces them all), so grouping by those too keeps
        one row per grant.
        """
        rows = await self._db.all(
            "SELECT t.client_id, c.info, t.scopes, max(t.issued_at), max(t.expires_at) FROM tokens t "
            "LEFT JOIN clients c ON c.client_id = t.client_id WHERE t.subject = ? AND t.expires_at > ? "
            "GROUP BY t.grant_id, t.client_id, c.info, t.scopes ORDER BY max(t.issued_at), t.grant_id",
            (subject, self.clock()),
        )
        return [
            {
                "client_id": cid,
                "client_name": json.loads(info).get("client_name") if info else None,
                "scopes": scopes,
                "issued": issued,
                "expires": expires,
            }
            for cid, info, scopes, issued, expires in rows
        ]

    async def revoke_client(self, client_id: str) -> int:
        """Remove every token of a client, its codes and the client itself (one transaction); how many tokens went."""

        def revoke(tx: Transaction) -> int:
            removed = tx.execute("DELETE FROM tokens WHERE client_id = ?", (client_id,))
            tx.execute("DELETE FROM codes WHERE client_id = ?", (client_id,))
            tx.execute("DELETE FROM clients WHERE client_id = ?", (client_id,))
            return removed

        return await self._db.write(revoke)

    def close(self) -> None:
        self._db.close()
