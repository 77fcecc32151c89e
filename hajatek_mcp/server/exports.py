"""Order exports kept for a while, each at its own address (``exports.db`` in the data dir, in memory without one).

``export_orders`` saves its CSV here and answers with the address, ``hajatek://exports/orders-<UTC second>-<random>
.csv``: the random part keeps two exports of the same second apart and makes an address hard to guess. The CSV can
be read back (``resources/read``) for :data:`EXPORT_TTL_HOURS` hours; each store keeps at most :data:`MAX_KEPT`
exports and :data:`MAX_KEPT_BYTES` bytes of them, the oldest dropped first (the newest always stays). An export
belongs to one store: another store's address is unknown here, as is an expired one.

The file holds nothing but copies of what the API returned, so a damaged one may simply be deleted. Nothing else
opens it.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hajatek_mcp.storage import Database, Schema, Transaction

__all__ = [
    "EXPORTS_URI",
    "EXPORT_TTL_HOURS",
    "MAX_KEPT",
    "MAX_KEPT_BYTES",
    "SCHEMA",
    "ExportGone",
    "ExportStore",
    "SavedExport",
]

EXPORTS_URI = "hajatek://exports"
#: How long an export stays readable at its address.
EXPORT_TTL_HOURS = 24
#: At most this many exports per store are kept; the oldest go first.
MAX_KEPT = 20
#: At most this many bytes of CSV per store are kept (the newest export always stays, whatever its size).
MAX_KEPT_BYTES = 64 * 1024 * 1024
_NAME = re.compile(r"^[a-z]+-\d{8}T\d{6}Z-[0-9a-f]{16}\.csv$")

#: Oldest first; released migrations are never edited (see :class:`hajatek_mcp.storage.Schema`).
SCHEMA = Schema(
    "the order exports",
    (
        """CREATE TABLE exports (store_id TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
                                 expires REAL NOT NULL, size INTEGER NOT NULL, text TEXT NOT NULL,
                                 PRIMARY KEY (store_id, name));
        CREATE INDEX exports_expires ON exports (expires)""",
        # 2: the order of saving, explicit (it was SQLite's rowid), so the same statements run on PostgreSQL
        """ALTER TABLE exports ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        UPDATE exports SET seq = rowid""",
    ),
    fix="delete it (it holds only temporary order exports; export_orders makes them again)",
    postgres=(
        """CREATE TABLE exports (store_id TEXT NOT NULL, name TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
                                 expires DOUBLE PRECISION NOT NULL, size BIGINT NOT NULL, text TEXT NOT NULL,
                                 seq BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (store_id, name));
        CREATE INDEX exports_expires ON exports (expires)""",
    ),
)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SavedExport:
    """Where an export can be read, and until when (UTC, ISO 8601)."""

    uri: str
    expires_at: str


class ExportGone(LookupError):
    """An export address this store cannot read: ``str()`` says why and what to do."""


class ExportStore:
    """One store's exports. ``database``: a file, None (in memory), or a shared open
    :class:`~hajatek_mcp.storage.Database`. ``ttl`` in seconds."""

    def __init__(
        self,
        database: Path | Database | None,
        *,
        store_id: str,
        ttl: float = EXPORT_TTL_HOURS * 3600.0,
        max_kept: int = MAX_KEPT,
        max_bytes: int = MAX_KEPT_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store_id = store_id
        self.ttl = ttl
        self.max_kept = max_kept
        self.max_bytes = max_bytes
        self._clock = clock
        self._db = database if isinstance(database, Database) else Database(database, SCHEMA)

    @property
    def kept_for(self) -> str:
        """How long exports are kept, in words ("24 hours")."""
        hours = self.ttl / 3600
        return f"{hours:g} hours" if hours != 1 else "1 hour"

    async def save(self, kind: str, text: str) -> SavedExport:
        """Keep ``text`` (a CSV of ``kind``, e.g. "orders") under a new address; committed before this returns."""
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{kind}-{stamp}-{secrets.token_hex(8)}.csv"
        size = len(text.encode())

        def save(tx: Transaction) -> None:
            tx.execute("DELETE FROM exports WHERE expires <= ?", (now,))  # any store's: past its time for everyone
            tx.execute(  # seq: after every export this store kept, which orders saves made in the same instant
                "INSERT INTO exports (store_id, name, created, expires, size, text, seq) VALUES (?, ?, ?, ?, ?, ?, "
                "(SELECT coalesce(max(seq), 0) + 1 FROM exports WHERE store_id = ?))",
                (self.store_id, name, now, now + self.ttl, size, text, self.store_id),
            )
            self._trim(tx)

        await self._db.write(save)
        return SavedExport(uri=f"{EXPORTS_URI}/{name}", expires_at=_iso(now + self.ttl))

    def _trim(self, tx: Transaction) -> None:
        """Drop this store's oldest exports beyond :attr:`max_kept` exports or :attr:`max_bytes` bytes."""
        kept = tx.all(
            "SELECT name, size FROM exports WHERE store_id = ? ORDER BY created DESC, seq DESC", (self.store_id,)
        )
        total = 0
        for position, (name, size) in enumerate(kept):
            total += size
            if position > 0 and (position >= self.max_kept or total > self.max_bytes):
                tx.execute("DELETE FROM exports WHERE store_id = ? AND name = ?", (self.store_id, name))

    async def read(self, name: str) -> str:
        """The CSV kept as ``name`` (the last segment of its address), or :class:`ExportGone` saying why not."""
        row = None
        if _NAME.match(name):
            row = await self._db.one(
                "SELECT expires, text FROM exports WHERE store_id = ? AND name = ?", (self.store_id, name)
            )
        again = (
            f"Exports are kept {self.kept_for}, at most the newest {self.max_kept} per store: run export_orders again "
            "for a fresh one."
        )
        if row is None:
            raise ExportGone(f"No export at this address (unknown, expired or dropped). {again}")
        expires, text = row
        if expires <= self._clock():
            raise ExportGone(f"This export expired at {_iso(expires)}. {again}")
        return str(text)

    def close(self) -> None:
        self._db.close()
