"""The customer directory behind list_customers(search=...) and get_customer: Arabic spellings, one store's rows per
store, kept across restarts, and bounded on a large store (it says how far it read, and the next call goes on).

The sandbox has no API that adds customers, so a larger store is grown by writing rows into its database, as the
scale benchmark grows orders (benchmarks/reliability_scale.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette

from hajatek_mcp.api import Customer, HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server import directory as directory_module
from hajatek_mcp.server.directory import FRESH, FULL_EVERY, CustomerDirectory
from hajatek_mcp.server.matching import fold, phone_digits, terms
from tests.support import NOW, SANDBOX_KEY, FakeClock, sandbox_http, structured, walk


class Counting(httpx2.AsyncBaseTransport):
    """The sandbox as a transport that counts customer-listing requests and can give customers Arabic names, as the
    real API is assumed to (``name_ar``)."""

    def __init__(self, app: Starlette, names: dict[str, str] | None = None) -> None:
        self.inner = httpx2.ASGITransport(app=app)
        self.names = names or {}
        self.customer_pages = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/v1/customers":
            return response
        self.customer_pages += 1
        await response.aread()
        body = json.loads(response.content)
        for customer in body.get("customers", []):
            customer["name_ar"] = self.names.get(customer["id"], customer.get("name_ar"))
        return httpx2.Response(response.status_code, json=body)


def serve(link: Counting, mode: str, *, store: str = "str_sandbox", **options: Any) -> Client:
    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id=store, base_url="http://sandbox.local/v1", plan="business",
                             max_retries=0, transport=link)  # fmt: skip

    return Client(build_server(ServerOptions(sandbox=True, **options), connect), mode=mode)


async def customers_of(app: Starlette) -> list[dict[str, Any]]:
    async with sandbox_http(app) as http:
        customers, _ = await walk(http, "/v1/customers", "customers")
    return customers


def grow_customers(app: Starlette, count: int, *, name: str = "Bulk Customer") -> list[str]:
    """Add ``count`` customers who signed up after every seeded one (newest last); their ids."""
    db = app.state.sandbox.store.db
    start = NOW - timedelta(hours=1)
    ids = [f"cus_9{n:05d}" for n in range(count)]
    with db.bulk():
        for n, customer_id in enumerate(ids):
            stamp = (start + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            db.execute(
                "INSERT INTO customers (id, name, email, phone, city, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (customer_id, f"{name} {n}", f"bulk{n}@example.sa", f"+96659{n:07d}", "Riyadh", stamp),
            )
    return ids


# --- matching -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("NOURA Al-Faifi", "noura al-faifi"),
        ("José  Ñúñez", "jose nunez"),
        ("أحمد", "احمد"),
        ("إيمان", "ايمان"),
        ("آمنة", "امنه"),
        ("ٱلنور", "النور"),
        ("ليلى", "ليلي"),
        ("نُورَة", "نوره"),
        ("مُحَمَّد", "محمد"),
        ("علــــي", "علي"),
        ("ﻧﻮﺭﺓ", "نوره"),  # presentation forms
        ("٠٥٠١٢٣٤٥٦٧", "0501234567"),
        ("۰۵۰", "050"),
    ],
)
def test_text_folds_to_one_spelling(written: str, folded: str) -> None:
    assert fold(written) == folded


@pytest.mark.parametrize(
    "spelling",
    ["+966501234567", "+966 50 123 4567", "00966501234567", "966501234567", "0501234567", "050-123-4567",
     "(050) 123 4567", "٠٥٠١٢٣٤٥٦٧", "+٩٦٦٥٠١٢٣٤٥٦٧", "501234567"],
)  # fmt: skip
def test_a_phone_is_its_national_digits_whatever_the_spelling(spelling: str) -> None:
    assert phone_digits(spelling) == "501234567"
    assert terms(spelling).phone == "501234567"


def test_words_and_phones_are_told_apart() -> None:
    assert terms("Noura al-faifi,").words == ("noura", "al-faifi")
    assert terms("noura 0501").words == ("noura", "0501"), "a phone only when the query is nothing else"
    assert terms("123").phone is None, "too few digits for a phone: a word"
    assert terms("  --  ").empty


# --- through the tools ------------------------------------------------------------------------------------------------


async def test_arabic_names_are_found_in_any_spelling(sandbox_app: Starlette, mode: str) -> None:
    customers = await customers_of(sandbox_app)
    nouras = [c["id"] for c in customers if c["name"].startswith("Noura ")]
    others = [c["id"] for c in customers if not c["name"].startswith("Noura ")][:3]
    names = dict(zip(nouras, ["نُورَة الفيفي", "نورة الزهراني", "نوره الحازمي", "نـورة الدوسري"], strict=True))
    names |= dict(zip(others, ["إيمان العتيبي", "آمنة القحطاني", "ليلى الشهري"], strict=True))
    searches = {"نورة": nouras, "نوره": nouras, "نُوره": nouras, "ايمان": others[:1], "امنه": others[1:2],
                "ليلي": others[2:], "نورة الفيفي": nouras[:1]}  # fmt: skip
    async with serve(Counting(sandbox_app, names), mode) as client:
        for query, expected in searches.items():
            found = await structured(client, "list_customers", {"search": query})
            assert [c["id"] for c in found["customers"]] == expected, query
        shown = await structured(client, "list_customers", {"search": "نورة الفيفي"})
    assert shown["customers"][0]["name_ar"] == "نُورَة الفيفي"


async def test_each_store_searches_only_its_own_customers_in_a_shared_data_dir(
    sandbox_app: Starlette, tmp_path: Path, mode: str
) -> None:
    other = create_app(SandboxConfig(now=NOW, seed=7))
    try:
        mine = {c["id"]: c["name"] for c in await customers_of(sandbox_app) if c["name"].startswith("Noura ")}
        theirs = {c["id"]: c["name"] for c in await customers_of(other) if c["name"].startswith("Noura ")}
        assert mine != theirs
        async with serve(Counting(sandbox_app), mode, state_dir=tmp_path) as client:
            here = await structured(client, "list_customers", {"search": "noura"})
        async with serve(Counting(other), mode, store="str_other", state_dir=tmp_path) as client:
            there = await structured(client, "list_customers", {"search": "noura"})
        async with serve(Counting(sandbox_app), mode, state_dir=tmp_path) as client:
            back = await structured(client, "list_customers", {"search": "noura"})
    finally:
        other.state.sandbox.store.close()
    assert {c["id"]: c["name"] for c in here["customers"]} == mine
    assert {c["id"]: c["name"] for c in there["customers"]} == theirs
    assert back == here


async def test_the_directory_survives_a_restart_and_tops_up_only_new_sign_ups(
    sandbox_app: Starlette, tmp_path: Path, mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())
    first = Counting(sandbox_app)
    async with serve(first, mode, state_dir=tmp_path, clock=clock) as client:
        before = await structured(client, "list_customers", {"search": "noura"})
    assert first.customer_pages == 4, "320 customers: four pages of 100"
    clock.advance(60)
    again = Counting(sandbox_app)
    async with serve(again, mode, state_dir=tmp_path, clock=clock) as client:
        assert await structured(client, "list_customers", {"search": "noura"}) == before
    assert again.customer_pages == 0, "fresh: nothing read"
    [new] = grow_customers(sandbox_app, 1, name="Noura Newcomer")
    clock.advance(FRESH)
    later = Counting(sandbox_app)
    async with serve(later, mode, state_dir=tmp_path, clock=clock) as client:
        after = await structured(client, "list_customers", {"search": "noura"})
    assert later.customer_pages == 1, "the top-up stops at the first page with a customer already read"
    assert [c["id"] for c in after["customers"]] == [new, *(c["id"] for c in before["customers"])]


async def test_a_full_re_read_picks_up_changed_details(sandbox_app: Starlette, tmp_path: Path, mode: str) -> None:
    clock = FakeClock(start=NOW.timestamp())
    target = (await customers_of(sandbox_app))[100]
    async with serve(Counting(sandbox_app), mode, state_dir=tmp_path, clock=clock) as client:
        await structured(client, "list_customers", {"search": "noura"})
        sandbox_app.state.sandbox.store.db.execute("UPDATE customers SET name = 'Zainab Renamed' WHERE id = ?",
                                                   (target["id"],))  # fmt: skip
        clock.advance(FRESH + 1)
        stale = await structured(client, "list_customers", {"search": "zainab renamed"})
        clock.advance(FULL_EVERY)
        fresh = await structured(client, "list_customers", {"search": "zainab renamed"})
        gone = await structured(client, "list_customers", {"search": target["name"]})
    assert stale["customers"] == [], "a top-up reads only new sign-ups"
    assert [c["id"] for c in fresh["customers"]] == [target["id"]]
    assert target["id"] not in {c["id"] for c in gone["customers"]}


async def test_a_large_store_is_read_a_bounded_stretch_per_call_and_says_so(sandbox_app: Starlette, mode: str) -> None:
    grow_customers(sandbox_app, 3000)
    oldest = (await customers_of(sandbox_app))[-1]
    link = Counting(sandbox_app)
    async with serve(link, mode) as client:
        missing = await client.call_tool("get_customer", {"customer_id": oldest["id"]})
        first_reads = link.customer_pages
        found = await structured(client, "list_customers", {"search": oldest["name"]})
        detail = await structured(client, "get_customer", {"customer_id": oldest["id"]})
    assert missing.is_error
    message = " ".join(getattr(block, "text", "") for block in missing.content)
    assert "Only the newest 2,000 of 3,320 customers were read" in message
    assert "Call again to go further" in message
    assert first_reads == directory_module.PAGES
    assert oldest["id"] in {c["id"] for c in found["customers"]}
    assert "complete" not in found, "the second call read the other 1,320"
    assert (detail["name"], detail["orders_count"]) == (oldest["name"], oldest["orders_count"])


async def test_a_search_over_a_partly_read_directory_says_it_did_not_cover_everyone(
    sandbox_app: Starlette, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(directory_module, "PAGES", 1)  # stands for 20 pages (2,000 customers) on a large store
    expected = [c["id"] for c in await customers_of(sandbox_app) if c["name"].startswith("Noura ")]
    calls = []
    async with serve(Counting(sandbox_app), mode) as client:
        for _ in range(4):
            calls.append(await structured(client, "list_customers", {"search": "noura"}))
    assert calls[0]["complete"] is False
    assert "Only the newest 100 of 320 customers were searched" in calls[0]["note"]
    assert "Only the newest 300 of 320" in calls[2]["note"]
    assert [c["id"] for c in calls[3]["customers"]] == expected
    assert "note" not in calls[3]


async def test_two_stores_share_one_database_file_without_seeing_each_other(tmp_path: Path) -> None:
    from hajatek_mcp.server.directory import SCHEMA
    from hajatek_mcp.storage import Database

    db = Database(tmp_path / "directory.db", SCHEMA)
    one, two = CustomerDirectory(db, store_id="str_one"), CustomerDirectory(db, store_id="str_two")
    try:
        await one.saw([Customer(id="cus_1", name="Noura A", phone="+966500000001")], first=0, total=1)
        await two.saw([Customer(id="cus_1", name="Sara B", phone="0500000002")], first=0, total=1)
        assert [e.name for e in (await one.search(terms("noura")))[0]] == ["Noura A"]
        assert (await two.search(terms("noura")))[0] == []
        assert [e.name for e in (await two.search(terms("050 000 0002")))[0]] == ["Sara B"]
        assert (await one.get("cus_1")) != (await two.get("cus_1"))
    finally:
        db.close()


async def test_two_shops_of_one_store_reading_at_once_still_get_to_the_end(
    sandbox_app: Starlette, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Legacy SSE opens a shop per connection over the same file: where a pass stands is what the rows say."""
    import anyio

    from hajatek_mcp.server.directory import SCHEMA
    from hajatek_mcp.storage import Database

    monkeypatch.setattr(directory_module, "PAGES", 1)
    db = Database(tmp_path / "directory.db", SCHEMA)
    shops = [CustomerDirectory(db, store_id="str_sandbox") for _ in range(2)]
    link = Counting(sandbox_app)
    async with HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1",
                             plan="business", transport=link) as api:  # fmt: skip
        try:
            async with anyio.create_task_group() as group:
                for shop in shops:
                    group.start_soon(shop.refresh, api)
            coverage = [await shops[n % 2].refresh(api) for n in range(3)]
        finally:
            db.close()
    assert [c.read for c in coverage] == [200, 300, 320]
    assert coverage[-1].complete
    assert link.customer_pages == 5, "page 1 twice (both at once), then pages 2, 3 and 4"
