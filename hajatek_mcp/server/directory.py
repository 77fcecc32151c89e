"""The customer directory: a per-store index of customers the server can search, as the API has no customer search.

The Hajatek API lists customers newest first and nothing else: no search, no lookup by id (docs/api.md). The
directory (``directory.db`` in the data dir, one store's rows per :class:`CustomerDirectory`) keeps each customer's
id, names, email, phone and city, folded for matching (:mod:`hajatek_mcp.server.matching`), and where the listing
showed it (so :func:`~hajatek_mcp.server.tools.lookups.get_customer` reads one page to find it again).

How it is filled, always within ``max_pages`` listing requests per call (:meth:`CustomerDirectory.refresh`):

- **A pass** reads the listing from the newest customer down, page by page, across calls: the customers it has read
  are a contiguous run from the top (the rows marked with the pass's number: counting them says where the run
  ends, whichever process read them), so the next call goes on at the page where the run ends.
  A pass that reaches the end makes the directory *complete*.
- **A top-up**, when the last one is older than :data:`FRESH` seconds, reads from page 1 only until it meets a
  customer the pass has already read: the customers who signed up since.
- **A full re-read**: a completed pass older than :data:`FULL_EVERY` seconds starts a new one from the top, which
  refreshes changed details and drops customers the listing no longer has. Until it ends, the earlier pass's rows
  stay searchable, so the directory stays complete meanwhile.
- **In passing**: every customer a listing shows the server (``list_customers``) is stored too (:meth:`saw`).

Customers appear at the top of the listing and are (in the sandbox) never deleted, so pages shift down by the number
of new customers: the top-up counts them. A deep page that does not overlap the run read so far (customers deleted
upstream moved it up) is read one page earlier.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from hajatek_mcp.api import Customer, HajatekClient, Page
from hajatek_mcp.server.matching import Terms, fold, phone_digits
from hajatek_mcp.storage import Database, Schema, Transaction

__all__ = ["FRESH", "FULL_EVERY", "PAGE", "PAGES", "SCHEMA", "Coverage", "CustomerDirectory", "Entry"]

#: Customers per listing request (the API's maximum page size).
PAGE = 100
#: Listing requests one call may spend on the directory: 2,000 customers.
PAGES = 20
#: Seconds a top-up stays fresh: within them, a search spends no request on new sign-ups.
FRESH = 300.0
#: Seconds after which a completed pass is read again from the top (changed details, customers gone).
FULL_EVERY = 86400.0

#: Oldest first; released migrations are never edited (see :class:`hajatek_mcp.storage.Schema`).
SCHEMA = Schema(
    "the customer directory",
    (
        """CREATE TABLE customers (
            store_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT, name_ar TEXT, email TEXT, phone TEXT, city TEXT,
            created_at TEXT, folded TEXT NOT NULL, digits TEXT NOT NULL,
            position INTEGER, listed_total INTEGER, seen REAL NOT NULL, pass INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (store_id, id));
        CREATE INDEX customers_newest ON customers (store_id, created_at DESC, id DESC);
        CREATE INDEX customers_pass ON customers (store_id, pass);
        CREATE TABLE walks (
            store_id TEXT PRIMARY KEY, pass INTEGER NOT NULL, started REAL NOT NULL, ended REAL, topped REAL,
            complete INTEGER NOT NULL, total INTEGER)""",
    ),
    # id and created_at order the listing: compared byte by byte ("C"), as SQLite does, whatever the database's locale
    postgres=(
        """CREATE TABLE customers (
            store_id TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL, name TEXT, name_ar TEXT, email TEXT, phone TEXT,
            city TEXT, created_at TEXT COLLATE "C", folded TEXT NOT NULL, digits TEXT NOT NULL,
            position BIGINT, listed_total BIGINT, seen DOUBLE PRECISION NOT NULL, pass BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (store_id, id));
        CREATE INDEX customers_newest ON customers (store_id, created_at DESC NULLS LAST, id DESC);
        CREATE INDEX customers_pass ON customers (store_id, pass);
        CREATE TABLE walks (
            store_id TEXT PRIMARY KEY, pass BIGINT NOT NULL, started DOUBLE PRECISION NOT NULL,
            ended DOUBLE PRECISION, topped DOUBLE PRECISION, complete INTEGER NOT NULL, total BIGINT)""",
    ),
)

_COLUMNS = "id, name, name_ar, email, phone, city, created_at, position, listed_total"
#: Newest first, customers without a sign-up date last: SQLite puts NULL last when descending, PostgreSQL first
#: unless told (SQLite learnt ``NULLS LAST`` only in 3.30, so its statement stays as it was).
_NEWEST = {"sqlite": "created_at DESC, id DESC", "postgresql": "created_at DESC NULLS LAST, id DESC"}


@dataclass(frozen=True)
class Entry:
    """One customer as the directory knows them, and where the listing showed them."""

    id: str
    name: str | None
    name_ar: str | None
    email: str | None
    phone: str | None
    city: str | None
    created_at: str | None
    position: int | None
    """0-based place in the listing when last read (0: the newest customer)."""
    listed_total: int | None
    """The listing's total at that read: ``position + total_now - listed_total`` is the place now."""

    def page_now(self, total: int | None) -> int | None:
        """The listing page (of :data:`PAGE`) that shows this customer now, as far as the directory can tell."""
        if self.position is None:
            return None
        shift = total - self.listed_total if total is not None and self.listed_total is not None else 0
        return max(0, self.position + shift) // PAGE + 1


@dataclass(frozen=True)
class Coverage:
    """How much of the store's customer listing the directory holds."""

    read: int
    """Customers read in order from the newest, in the current pass."""
    total: int | None
    """The listing's total at the last read (None when the API gives none)."""
    complete: bool
    """True when a pass has read the whole listing and the top-ups have kept up since."""
    as_of: float | None
    """When the directory last read the top of the listing (epoch seconds)."""
    per_call: int = 0
    """Customers one call reads further down the listing at most."""


@dataclass
class _Walk:
    pass_: int
    depth: int
    """Customers this pass has read: the length of its run from the top of the listing."""
    started: float
    ended: float | None
    topped: float | None
    complete: bool
    total: int | None


class CustomerDirectory:
    """One store's customer index. ``database``: a file, None (in memory), or an open
    :class:`~hajatek_mcp.storage.Database` shared with other stores' directories.

    ``store_id`` scopes every read and write. :meth:`refresh` runs one at a time per directory.
    """

    def __init__(
        self, database: Path | Database | None, *, store_id: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.store_id = store_id
        self._clock = clock
        self._db = database if isinstance(database, Database) else Database(database, SCHEMA)
        self._refreshing = anyio.Lock()

    # -- reading the listing -----------------------------------------------------------------------------------------

    async def refresh(self, client: HajatekClient, *, max_pages: int | None = None) -> Coverage:
        """Bring the directory up to date within ``max_pages`` listing requests (default :data:`PAGES`); how much it
        now covers."""
        async with self._refreshing:
            walk = await self._db.write(self._begin)
            budget = PAGES if max_pages is None else max_pages
            now = self._clock()
            if walk.depth > 0 and (walk.topped is None or now - walk.topped > FRESH) and budget > 0:
                budget = await self._top_up(client, walk, budget)
            if walk.ended is None and budget > 0:
                await self._deepen(client, walk, budget)
            await self._db.write(lambda tx: self._save(tx, walk))
            return self._coverage(walk)

    def _begin(self, tx: Transaction) -> _Walk:
        """The walk state, starting a pass when there is none or the last completed one is due a full re-read."""
        row = tx.one(
            "SELECT pass, started, ended, topped, complete, total FROM walks WHERE store_id = ?", (self.store_id,)
        )
        now = self._clock()
        if row is None:
            return _Walk(1, 0, now, None, None, complete=False, total=None)
        walk = _Walk(int(row[0]), 0, float(row[1]), row[2], row[3], complete=bool(row[4]), total=row[5])
        if walk.ended is not None and now - walk.ended > FULL_EVERY:
            walk.pass_, walk.started, walk.ended = walk.pass_ + 1, now, None
        walk.depth = self._depth(tx, walk.pass_)
        return walk

    def _depth(self, tx: Transaction, pass_: int) -> int:
        row = tx.one("SELECT COUNT(*) FROM customers WHERE store_id = ? AND pass = ?", (self.store_id, pass_))
        return int(row[0]) if row else 0

    def _save(self, tx: Transaction, walk: _Walk) -> None:
        tx.execute(
            "INSERT INTO walks (store_id, pass, started, ended, topped, complete, total) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store_id) DO UPDATE SET pass = excluded.pass, "
            "started = excluded.started, ended = excluded.ended, topped = excluded.topped, "
            "complete = excluded.complete, total = excluded.total",
            (
                self.store_id,
                walk.pass_,
                walk.started,
                walk.ended,
                walk.topped,
                int(walk.complete),
                walk.total,
            ),
        )

    async def _top_up(self, client: HajatekClient, walk: _Walk, budget: int) -> int:
        """Read from page 1 until a customer this pass has read: the new sign-ups join the run at its top."""
        number = 1
        while budget > 0:
            page = await client.list_customers(page=number, limit=PAGE)
            budget -= 1
            walk.total = page.total if page.total is not None else walk.total
            walk.depth, met = await self._db.write(partial(self._absorb, page=page, number=number, pass_=walk.pass_))
            if met or not page.has_more or not page.items:
                walk.topped = self._clock()
                return budget
            number += 1
        # More sign-ups than the budget reads: the run no longer reaches the top. Start over from what was just read.
        walk.pass_, walk.depth, walk.started, walk.ended, walk.complete = walk.pass_ + 1, 0, self._clock(), None, False
        walk.topped = None
        return budget

    async def _deepen(self, client: HajatekClient, walk: _Walk, budget: int) -> None:
        """Go on down the listing from where the pass's run ends; at the end, the pass is complete."""
        number = walk.depth // PAGE + 1
        stepped_back = False
        while budget > 0:
            page = await client.list_customers(page=number, limit=PAGE)
            budget -= 1
            walk.total = page.total if page.total is not None else walk.total
            if number == 1:
                walk.topped = self._clock()
            if walk.depth % PAGE and number > 1 and page.items and not stepped_back:
                first_read = await self._in_pass(page.items[0].id, walk.pass_)
                if not first_read:  # the page moved up (customers gone): read the one before it too
                    number, stepped_back = number - 1, True
                    continue
            walk.depth, _ = await self._db.write(partial(self._absorb, page=page, number=number, pass_=walk.pass_))
            if not page.has_more or not page.items:
                walk.ended = self._clock()
                walk.complete = True
                await self._db.write(lambda tx: self._drop_gone(tx, walk))
                return
            number += 1

    def _absorb(self, tx: Transaction, *, page: Page[Customer], number: int, pass_: int) -> tuple[int, bool]:
        """Store a page read by the pass; (customers the pass has now read, whether it met one it had read)."""
        ids = [c.id for c in page.items]
        if not ids:
            return self._depth(tx, pass_), False
        marks = ", ".join("?" * len(ids))
        known = {
            row[0]
            for row in tx.all(
                f"SELECT id FROM customers WHERE store_id = ? AND pass = ? AND id IN ({marks})",  # noqa: S608  # marks only
                (self.store_id, pass_, *ids),
            )
        }
        self._upsert(tx, page.items, first=(number - 1) * PAGE, total=page.total, pass_=pass_)
        return self._depth(tx, pass_), bool(known)

    def _drop_gone(self, tx: Transaction, walk: _Walk) -> None:
        """After a whole pass: customers it did not meet, and not seen since it began, are gone from the listing."""
        tx.execute(
            "DELETE FROM customers WHERE store_id = ? AND pass != ? AND seen < ?",
            (self.store_id, walk.pass_, walk.started),
        )

    async def _in_pass(self, customer_id: str, pass_: int) -> bool:
        row = await self._db.one(
            "SELECT 1 FROM customers WHERE store_id = ? AND id = ? AND pass = ?", (self.store_id, customer_id, pass_)
        )
        return row is not None

    # -- customers seen in passing -----------------------------------------------------------------------------------

    async def saw(self, customers: Sequence[Customer], *, first: int | None = None, total: int | None = None) -> None:
        """Customers the server was shown; ``first``: the listing position of the first of them, when known."""
        if customers:
            await self._db.write(lambda tx: self._upsert(tx, customers, first=first, total=total, pass_=0))

    def _upsert(
        self, tx: Transaction, customers: Sequence[Customer], *, first: int | None, total: int | None, pass_: int
    ) -> None:
        now = self._clock()
        for offset, c in enumerate(customers):
            position = None if first is None else first + offset
            folded = " | ".join(fold(part) for part in (c.name, c.name_ar, c.email))
            created = c.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if c.created_at else None
            tx.execute(
                "INSERT INTO customers (store_id, id, name, name_ar, email, phone, city, created_at, folded, digits, "
                "position, listed_total, seen, pass) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (store_id, id) DO UPDATE SET name = excluded.name, name_ar = excluded.name_ar, "
                "email = excluded.email, phone = excluded.phone, city = excluded.city, "
                "created_at = coalesce(excluded.created_at, customers.created_at), folded = excluded.folded, "
                "digits = excluded.digits, position = coalesce(excluded.position, customers.position), "
                "listed_total = CASE WHEN excluded.position IS NULL THEN customers.listed_total "
                "ELSE excluded.listed_total END, seen = excluded.seen, "
                "pass = CASE WHEN excluded.pass > customers.pass THEN excluded.pass ELSE customers.pass END",
                (
                    self.store_id,
                    c.id,
                    c.name,
                    c.name_ar,
                    c.email,
                    c.phone,
                    c.city,
                    created,
                    folded,
                    phone_digits(c.phone),
                    position,
                    total,
                    now,
                    pass_,
                ),
            )

    # -- reading the directory ---------------------------------------------------------------------------------------

    async def search(self, terms: Terms, *, offset: int = 0, limit: int = 20) -> tuple[list[Entry], int]:
        """Customers matching ``terms``, newest first: one page of them, and how many match in all."""
        where, params = self._where(terms)

        def find(tx: Transaction) -> tuple[list[Entry], int]:
            count = tx.one(f"SELECT COUNT(*) FROM customers WHERE {where}", params)  # noqa: S608  # fixed parts
            rows = tx.all(
                f"SELECT {_COLUMNS} FROM customers WHERE {where} "  # noqa: S608  # fixed parts, values bound
                f"ORDER BY {_NEWEST[tx.dialect]} LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            return [Entry(*row) for row in rows], int(count[0]) if count else 0

        return await self._db.read(find)

    def _where(self, terms: Terms) -> tuple[str, tuple[Any, ...]]:
        clauses, params = ["store_id = ?"], [self.store_id]
        if terms.phone:
            clauses.append("digits LIKE ? ESCAPE '\\'")
            params.append(f"%{_like(terms.phone)}%")
        for word in terms.words:
            clauses.append("folded LIKE ? ESCAPE '\\'")
            params.append(f"%{_like(word)}%")
        return " AND ".join(clauses), tuple(params)

    async def get(self, customer_id: str) -> Entry | None:
        row = await self._db.one(
            f"SELECT {_COLUMNS} FROM customers WHERE store_id = ? AND id = ?",  # noqa: S608  # fixed column list
            (self.store_id, customer_id),
        )
        return None if row is None else Entry(*row)

    async def coverage(self) -> Coverage:
        walk = await self._db.read(self._begin)
        return self._coverage(walk)

    @staticmethod
    def _coverage(walk: _Walk) -> Coverage:
        return Coverage(
            read=walk.depth, total=walk.total, complete=walk.complete, as_of=walk.topped, per_call=PAGES * PAGE
        )

    def close(self) -> None:
        self._db.close()


def _like(text: str) -> str:
    """``text`` for a LIKE pattern: its own ``%`` and ``_`` match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
