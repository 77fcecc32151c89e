"""The connected stores (``tenants.db`` in the data dir, or its table on PostgreSQL): who connected, their plan,
their credentials encrypted.

Each row is one Hajatek store a merchant connected through the consent page. Its API key and webhook signing secret
are kept only as AES-GCM blobs under the master keys (:mod:`.keys`), each bound to its store and field, so the file
alone (or a backup of it) reveals no credential, and a blob moved to another row does not decrypt. What the operator
may see (:class:`Tenant`) carries no secret; :class:`TenantCredentials` is what the server needs to call the API.

Disconnecting deletes the row, and with ``secure_delete`` SQLite overwrites the deleted bytes, so a later copy of
the file does not keep the old ciphertext either. PostgreSQL has no such setting: a deleted row's ciphertext stays in
the table's pages until vacuum reuses them (still encrypted, and bound to its store). :meth:`TenantStore.rotate`
re-encrypts every row under the first master key in one transaction: all rows or none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hajatek_mcp.server.tenants.keys import MasterKeys, UndecryptableError
from hajatek_mcp.storage import Database, Schema, Transaction

__all__ = ["SCHEMA", "Tenant", "TenantCredentials", "TenantStore"]

#: Oldest first; released migrations are never edited (see :class:`hajatek_mcp.storage.Schema`).
SCHEMA = Schema(
    "the connected stores",
    (
        """CREATE TABLE tenants (
            store_id TEXT PRIMARY KEY, store_name TEXT NOT NULL, plan TEXT NOT NULL,
            api_key BLOB NOT NULL, webhook_secret BLOB,
            connected_at REAL NOT NULL, updated_at REAL NOT NULL
        )""",
    ),
    # Store ids collate by code point, as SQLite compares text, so the list is in the same order on both.
    postgres=(
        """CREATE TABLE tenants (
            store_id TEXT COLLATE "C" PRIMARY KEY, store_name TEXT NOT NULL, plan TEXT NOT NULL,
            api_key BYTEA NOT NULL, webhook_secret BYTEA,
            connected_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL
        )""",
    ),
)

_API_KEY = "api_key"
_WEBHOOK_SECRET = "webhook_secret"  # noqa: S105  # a field name, not a secret
_COLUMNS = "store_id, store_name, plan, connected_at, updated_at, webhook_secret IS NOT NULL, api_key"
#: A ciphertext as the driver returns it: ``bytes`` from SQLite, ``bytes`` or ``memoryview`` from PostgreSQL.
_Blob = bytes | memoryview


@dataclass(frozen=True)
class Tenant:
    """A connected store as the operator may see it: never a secret."""

    store_id: str
    store_name: str
    plan: str
    connected_at: float
    """When the store was first connected (a reconnect keeps it)."""
    updated_at: float
    """When its credentials, name or plan were last replaced (a rotation does not count)."""
    has_webhook_secret: bool
    key_id: str
    """The id of the master key its credentials are encrypted under now (see :attr:`MasterKeys.primary_id`)."""


@dataclass(frozen=True)
class TenantCredentials:
    """What the server needs to call the API for a store, decrypted; secrets stay :class:`SecretStr`."""

    store_id: str
    plan: str
    api_key: SecretStr
    webhook_secret: SecretStr | None


def _context(store_id: str, field: str) -> str:
    """The associated data of a blob: its store and field, so it decrypts nowhere else."""
    return f"{store_id}/{field}"


class TenantStore:
    """The connected stores and their encrypted credentials. ``database``: a file, None (in memory), or an open
    :class:`~hajatek_mcp.storage.Database`; ``keys``: the master keys (the first encrypts).

    Every call runs off the event loop, one at a time per file; writes are shielded, so a cancelled caller does not
    undo one that started.
    """

    def __init__(
        self, database: Path | Database | None, keys: MasterKeys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.keys = keys
        self.clock = clock
        self._db = database if isinstance(database, Database) else Database(database, SCHEMA)
        # A connection setting of SQLite's, not a schema change: deleted rows are overwritten, not merely unlinked.
        self._db.file.read(lambda tx: tx.execute("PRAGMA secure_delete=ON") if tx.dialect == "sqlite" else 0)

    def _seal(self, store_id: str, field: str, secret: SecretStr | None) -> bytes | None:
        if secret is None:
            return None
        return self.keys.encrypt(secret.get_secret_value().encode(), context=_context(store_id, field))

    def _open(self, store_id: str, field: str, blob: _Blob) -> SecretStr:
        return SecretStr(self.keys.decrypt(bytes(blob), context=_context(store_id, field)).decode())

    def _reseal(self, store_id: str, field: str, blob: _Blob | None) -> bytes | None:
        """A blob decrypted and encrypted again under the first key (None stays None)."""
        if blob is None:
            return None
        context = _context(store_id, field)
        return self.keys.encrypt(self.keys.decrypt(bytes(blob), context=context), context=context)

    async def connect(
        self, store_id: str, store_name: str, plan: str, api_key: SecretStr, webhook_secret: SecretStr | None
    ) -> bool:
        """Keep a store's credentials, encrypted; True when the store is new.

        A reconnect replaces its API key, webhook secret (None removes it), name and plan, and keeps ``connected_at``.
        """
        if not store_id:
            raise ValueError("a connected store needs a store id")
        now = self.clock()
        row = (store_id, store_name, plan, self._seal(store_id, _API_KEY, api_key))
        secret = self._seal(store_id, _WEBHOOK_SECRET, webhook_secret)

        def keep(tx: Transaction) -> bool:
            # Insert, else replace: the insert's count says "new" even when two connects of one store race (on
            # PostgreSQL the second waits for the first and then finds the row).
            new = tx.execute(
                "INSERT INTO tenants (store_id, store_name, plan, api_key, webhook_secret, connected_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store_id) DO NOTHING",
                (*row, secret, now, now),
            )
            if not new:
                tx.execute(
                    "UPDATE tenants SET store_name = ?, plan = ?, api_key = ?, webhook_secret = ?, updated_at = ? "
                    "WHERE store_id = ?",
                    (store_name, plan, row[3], secret, now, store_id),
                )
            return new == 1

        return await self._db.write(keep)

    async def credentials(self, store_id: str) -> TenantCredentials | None:
        """A store's plan and decrypted credentials; None when it is not connected.

        Raises :class:`UndecryptableError` (naming the store and the key id) when its master key is missing.
        """
        row = await self._db.one("SELECT plan, api_key, webhook_secret FROM tenants WHERE store_id = ?", (store_id,))
        if row is None:
            return None
        plan, api_key, webhook_secret = row
        return TenantCredentials(
            store_id=store_id,
            plan=plan,
            api_key=self._open(store_id, _API_KEY, api_key),
            webhook_secret=None if webhook_secret is None else self._open(store_id, _WEBHOOK_SECRET, webhook_secret),
        )

    async def tenant(self, store_id: str) -> Tenant | None:
        """What may be shown of a connected store; None when it is not connected."""
        row = await self._db.one(f"SELECT {_COLUMNS} FROM tenants WHERE store_id = ?", (store_id,))  # noqa: S608
        return None if row is None else _tenant(row)

    async def tenants(self) -> list[Tenant]:
        """Every connected store, by store id."""
        rows = await self._db.all(f"SELECT {_COLUMNS} FROM tenants ORDER BY store_id")  # noqa: S608
        return [_tenant(row) for row in rows]

    async def disconnect(self, store_id: str) -> bool:
        """Forget a store and its credentials; False when it was not connected."""
        return await self._db.execute("DELETE FROM tenants WHERE store_id = ?", (store_id,)) == 1

    async def rotate(self) -> int:
        """Re-encrypt every row not yet under the first master key; how many rows changed.

        One transaction: a row that does not decrypt (its key is missing from ``HAJATEK_MASTER_KEY``) stops the
        rotation with :class:`UndecryptableError` naming the store, and no row is changed.
        """

        def reseal(tx: Transaction) -> int:
            rows = tx.all("SELECT store_id, api_key, webhook_secret FROM tenants ORDER BY store_id")
            stale = [row for row in rows if not all(self.keys.encrypts_with_primary(bytes(b)) for b in row[1:] if b)]
            for store_id, api_key, webhook_secret in stale:
                try:
                    fresh = (
                        self._reseal(store_id, _API_KEY, api_key),
                        self._reseal(store_id, _WEBHOOK_SECRET, webhook_secret),
                    )
                except UndecryptableError as exc:
                    message = f"rotation stopped at store {store_id} and changed nothing: {exc}"
                    raise UndecryptableError(message, key_id=exc.key_id) from None
                tx.execute("UPDATE tenants SET api_key = ?, webhook_secret = ? WHERE store_id = ?", (*fresh, store_id))
            return len(stale)

        return await self._db.write(reseal)

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"TenantStore({self._db.file.path or ':memory:'}, {self.keys!r})"


def _tenant(row: tuple[Any, ...]) -> Tenant:
    store_id, store_name, plan, connected_at, updated_at, has_secret, api_key = row
    return Tenant(
        store_id=store_id,
        store_name=store_name,
        plan=plan,
        connected_at=connected_at,
        updated_at=updated_at,
        has_webhook_secret=bool(has_secret),
        key_id=MasterKeys.key_id_of(bytes(api_key), context=_context(store_id, _API_KEY)),
    )
