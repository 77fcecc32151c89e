"""The order exports and the customer directory keep their promises on both backends: a SQLite file and PostgreSQL.

Each test runs once per backend through the stores' public interface only. The PostgreSQL variant uses one server
for the whole session (Debian's package, :func:`tests.servers.postgres_server`) and a fresh database per test; it
skips locally without the package and fails under CI. What differs between the dialects is exercised on purpose:
times with fractions of a second (PostgreSQL's ``REAL`` would lose them), saves made in the same instant (ordered
without SQLite's ``rowid``), the directory's upserts (``excluded``, the pass that never goes down), ``LIKE`` with its
escape, and customers without a sign-up date (sorted last, as SQLite does).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette

from hajatek_mcp.api import Customer, HajatekClient
from hajatek_mcp.server import directory, exports
from hajatek_mcp.server.directory import CustomerDirectory
from hajatek_mcp.server.exports import ExportGone, ExportStore
from hajatek_mcp.server.matching import terms
from hajatek_mcp.storage import Database, Schema
from hajatek_mcp.storage.postgres import Postgres
from tests.servers import fresh_database
from tests.support import SANDBOX_KEY, FakeClock

#: A moment with a fraction of a second, as ``time.time()`` gives: a float4 column would round it by minutes.
START = 1_795_000_000.123456

Open = Callable[[Schema], Database]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Open]:
    """``open_database(schema)``: the test's one database of ``schema``, on a SQLite file or a fresh PostgreSQL one."""
    opened: list[Database] = []
    pools: list[Postgres] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None

    def open_(schema: Schema) -> Database:
        if url is None:
            database = Database(tmp_path / "state.db", schema)
        else:
            pools.append(Postgres(fresh_database(url, f"t_{uuid.uuid4().hex}"), max_connections=4))
            database = Database.on(pools[-1].bind(schema), concurrency=4)
        opened.append(database)
        return database

    yield open_
    for database in opened:
        database.close()
    for pool in pools:
        pool.close()


def name_of(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


# --- exports --------------------------------------------------------------------------------------------------------


async def test_an_export_reads_back_until_the_fraction_of_a_second_it_expires(open_database: Open) -> None:
    clock = FakeClock(start=START)
    store = ExportStore(open_database(exports.SCHEMA), store_id="str_a", ttl=60.0, clock=clock)
    csv = "id,name\nord_1,نورة العتيبي\nord_2,José 100%\n"
    saved = await store.save("orders", csv)
    assert saved.expires_at == "2026-11-18T11:07:40Z"
    clock.now = START + 60.0 - 0.001
    assert await store.read(name_of(saved.uri)) == csv
    clock.now = START + 60.0
    with pytest.raises(ExportGone, match="expired at 2026-11-18T11:07:40Z"):
        await store.read(name_of(saved.uri))


async def test_a_save_clears_every_stores_expired_exports(open_database: Open) -> None:
    clock = FakeClock(start=START)
    database = open_database(exports.SCHEMA)
    mine = ExportStore(database, store_id="str_a", ttl=60.0, clock=clock)
    theirs = ExportStore(database, store_id="str_b", ttl=60.0, clock=clock)
    old = await theirs.save("orders", "old")
    clock.advance(60.0)
    with pytest.raises(ExportGone, match="expired at"):
        await theirs.read(name_of(old.uri))
    await mine.save("orders", "new")
    with pytest.raises(ExportGone, match="No export at this address"):
        await theirs.read(name_of(old.uri))


async def test_each_store_keeps_its_newest_exports_within_the_caps(open_database: Open) -> None:
    clock = FakeClock(start=START)
    database = open_database(exports.SCHEMA)
    store = ExportStore(database, store_id="str_a", max_kept=2, max_bytes=10, clock=clock)
    neighbour = ExportStore(database, store_id="str_b", clock=clock)
    theirs = await neighbour.save("orders", "b")
    first = await store.save("orders", "1")
    clock.advance(1)
    second = await store.save("orders", "2")
    third = await store.save("orders", "3")  # the same instant as the second: the newest by the order of saving
    fourth = await store.save("orders", "4")
    with pytest.raises(ExportGone, match="at most the newest 2 per store"):
        await store.read(name_of(first.uri))
    with pytest.raises(ExportGone):
        await store.read(name_of(second.uri))
    assert [await store.read(name_of(s.uri)) for s in (third, fourth)] == ["3", "4"]
    assert await neighbour.read(name_of(theirs.uri)) == "b", "another store's exports are not counted"
    big = await store.save("orders", "x" * 50)  # over the byte cap alone: kept, as the newest always is
    assert await store.read(name_of(big.uri)) == "x" * 50
    with pytest.raises(ExportGone):
        await store.read(name_of(fourth.uri))


async def test_an_export_is_unknown_to_another_store_on_the_same_database(open_database: Open) -> None:
    clock = FakeClock(start=START)
    database = open_database(exports.SCHEMA)
    saved = await ExportStore(database, store_id="str_a", clock=clock).save("orders", "a")
    with pytest.raises(ExportGone, match="No export at this address"):
        await ExportStore(database, store_id="str_b", clock=clock).read(name_of(saved.uri))


async def test_a_sqlite_file_of_the_first_schema_keeps_its_exports_in_the_order_they_were_saved(tmp_path: Path) -> None:
    path = tmp_path / "exports.db"
    first_release = Database(path, Schema(exports.SCHEMA.what, exports.SCHEMA.migrations[:1]))
    names = [f"orders-20261118T110640Z-{n:016x}.csv" for n in (1, 9)]  # saved in this order, in the same instant
    for name in names:
        await first_release.execute(
            "INSERT INTO exports (store_id, name, created, expires, size, text) VALUES (?, ?, ?, ?, ?, ?)",
            ("str_a", name, START, START + 3600, 1, name),
        )
    first_release.close()
    database = Database(path, exports.SCHEMA)
    try:
        store = ExportStore(database, store_id="str_a", max_kept=2, clock=FakeClock(start=START))
        newest = await store.save("orders", "new")
        with pytest.raises(ExportGone):
            await store.read(names[0])
        assert [await store.read(name) for name in (names[1], name_of(newest.uri))] == [names[1], "new"]
    finally:
        database.close()


# --- the customer directory -----------------------------------------------------------------------------------------


def customer(number: int, name: str, *, name_ar: str | None = None, phone: str | None = None,
             email: str | None = None, day: int | None = 1) -> Customer:  # fmt: skip
    created = None if day is None else datetime(2026, 11, day, 12, tzinfo=UTC)
    return Customer(id=f"cus_{number:03d}", name=name, name_ar=name_ar, phone=phone, email=email, city="Riyadh",
                    created_at=created)  # fmt: skip


async def test_customers_are_found_by_any_case_arabic_spelling_phone_spelling_and_literal_underscore(
    open_database: Open,
) -> None:
    shop = CustomerDirectory(open_database(directory.SCHEMA), store_id="str_a", clock=FakeClock(start=START))
    await shop.saw([
        customer(1, "Noura Al-Otaibi", name_ar="نورة العتيبي", phone="+966 50 123 4567", day=3),
        customer(2, "José Núñez", email="jose_n@example.sa", day=2),
        customer(3, "Sara Axb", email="saraxb@example.sa", phone="0551234567", day=1),
    ], first=0, total=3)  # fmt: skip

    async def found(query: str) -> list[str]:
        entries, count = await shop.search(terms(query))
        assert count == len(entries)
        return [entry.id for entry in entries]

    assert await found("NOURA otaibi") == ["cus_001"]
    assert await found("نوره") == ["cus_001"], "ة and ه are one letter to the search"
    assert await found("أَلعتيبي") == ["cus_001"], "hamza forms and tashkeel folded"
    assert await found("JOSE nunez") == ["cus_002"]
    assert await found("0501234567") == await found("٠٥٠١٢٣٤٥٦٧") == ["cus_001"]
    assert await found("1234567") == ["cus_001", "cus_003"], "part of a number, newest first"
    assert await found("e_n") == ["cus_002"], "an underscore matches only itself"
    assert await found("a_b") == [], "not any one character (saraxb)"


async def test_listing_is_newest_first_undated_last_and_pages_count_every_match(open_database: Open) -> None:
    database = open_database(directory.SCHEMA)
    shop = CustomerDirectory(database, store_id="str_a", clock=FakeClock(start=START))
    await shop.saw([
        customer(1, "Bulk One", day=5), customer(2, "Bulk Two", day=None), customer(3, "Bulk Three", day=9),
        customer(4, "Bulk Four", day=9), customer(5, "Other Five", day=7),
    ])  # fmt: skip
    await CustomerDirectory(database, store_id="str_b").saw([customer(6, "Bulk Elsewhere")])
    everyone, total = await shop.search(terms("bulk"), limit=10)
    assert ([e.id for e in everyone], total) == (["cus_004", "cus_003", "cus_001", "cus_002"], 4)
    page, total = await shop.search(terms("bulk"), offset=2, limit=1)
    assert ([e.id for e in page], total) == (["cus_001"], 4)


async def test_seeing_a_customer_again_updates_their_details_and_keeps_what_the_new_sight_lacks(
    open_database: Open,
) -> None:
    clock = FakeClock(start=START)
    shop = CustomerDirectory(open_database(directory.SCHEMA), store_id="str_a", clock=clock)
    await shop.saw([customer(1, "Noura", phone="0500000001", day=4)], first=250, total=400)
    clock.advance(10)
    await shop.saw([customer(1, "Noura Saad", phone="0500000009", day=None)], total=410)  # no place, no date
    entry = await shop.get("cus_001")
    assert entry is not None
    assert (entry.name, entry.phone, entry.created_at) == ("Noura Saad", "0500000009", "2026-11-04T12:00:00Z")
    assert (entry.position, entry.listed_total) == (250, 400), "the place is kept with the total it was read at"
    assert entry.page_now(420) == 3
    assert [e.id for e in (await shop.search(terms("0500000009")))[0]] == ["cus_001"]
    assert (await shop.search(terms("0500000001")))[0] == []
    assert await shop.get("cus_999") is None


async def test_coverage_grows_across_calls_and_customers_seen_in_passing_do_not_undo_it(
    open_database: Open, sandbox_app: Starlette
) -> None:
    clock = FakeClock(start=START)
    shop = CustomerDirectory(open_database(directory.SCHEMA), store_id="str_sandbox", clock=clock)
    async with HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1",
                             plan="business", transport=httpx2.ASGITransport(app=sandbox_app)) as api:  # fmt: skip
        assert (await shop.coverage()).read == 0
        first = await shop.refresh(api, max_pages=2)
        newest = (await api.list_customers(page=1, limit=directory.PAGE)).items
        await shop.saw(newest, first=0, total=first.total)  # seen in passing: pass 0 must not lower pass 1
        held = await shop.coverage()
        last = await shop.refresh(api, max_pages=2)
        someone = newest[7]
    assert (first.read, first.total, first.complete) == (200, 320, False)
    assert (held.read, held.total, held.complete, held.as_of) == (200, 320, False, START)
    assert (last.read, last.complete) == (320, True)
    assert someone.phone is not None
    assert [e.id for e in (await shop.search(terms(someone.phone)))[0]] == [someone.id]
    found = await shop.get(someone.id)
    assert found is not None
    assert found.page_now(320) == 1
