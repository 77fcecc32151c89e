"""Look-ups the API lacks, through a real MCP client in both protocol eras: "Noura says her last order hasn't
arrived" in two calls, customer search in any spelling, orders by customer and by day, one product by id.

Every expectation is the sandbox's own answer, read through its HTTP API beside the server under test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from mcp import Client
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import ServerOptions, build_server
from tests.support import SANDBOX_KEY, Connect, sandbox_http, structured, text, walk

RIYADH = ZoneInfo("Asia/Riyadh")


async def sandbox_customers(app: Starlette) -> list[dict[str, Any]]:
    async with sandbox_http(app) as http:
        customers, _ = await walk(http, "/v1/customers", "customers")
    return customers


async def sandbox_orders(app: Starlette, **params: Any) -> list[dict[str, Any]]:
    async with sandbox_http(app) as http:
        orders, _ = await walk(http, "/v1/orders", "orders", **params)
    return orders


def created(order: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(order["created_at"])


# --- the Noura case ------------------------------------------------------------------------------------------------


async def test_noura_is_found_by_name_and_her_last_order_is_in_the_second_call(
    connect: Connect, sandbox_app: Starlette
) -> None:
    nouras = [c for c in await sandbox_customers(sandbox_app) if c["name"].split()[0] == "Noura"]
    assert len(nouras) == 4, "the seed's four Nouras"
    orders = await sandbox_orders(sandbox_app)
    async with connect() as client:
        found = await client.call_tool("list_customers", {"search": "noura"})
        listed = found.structured_content
        assert listed is not None, text(found)
        assert [c["id"] for c in listed["customers"]] == [c["id"] for c in nouras], "newest first, as the listing"
        assert {c["city"] for c in listed["customers"]} == {c["city"] for c in nouras}
        assert "complete" not in listed, "the directory read all 320 customers"
        for noura in nouras:
            detail = await structured(client, "get_customer", {"customer_id": noura["id"]})
            theirs = [o for o in orders if o["customer_id"] == noura["id"]]
            assert (detail["orders_count"], detail["total_spent"]) == (noura["orders_count"], noura["total_spent"])
            assert [(o["id"], o["status"]) for o in detail["recent_orders"]] == [
                (o["id"], o["status"]) for o in theirs[:10]
            ]
            assert detail["complete"] is True
    assert len(json.dumps(listed)) < 1000


@pytest.mark.parametrize("spelling", ["NOURA", "nôura", " Noura  Al- ", "noura.al"])
async def test_a_name_is_found_in_any_case_accent_or_spacing(
    connect: Connect, sandbox_app: Starlette, spelling: str
) -> None:
    expected = {c["id"] for c in await sandbox_customers(sandbox_app) if c["name"].startswith("Noura ")}
    async with connect() as client:
        found = await structured(client, "list_customers", {"search": spelling})
    assert {c["id"] for c in found["customers"]} == expected


async def test_a_phone_number_is_found_whatever_its_format(connect: Connect, sandbox_app: Starlette) -> None:
    customer = (await sandbox_customers(sandbox_app))[40]
    national = customer["phone"].removeprefix("+966")  # 5xxxxxxxx
    arabic_digits = "٠" + national.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    spellings = [
        customer["phone"],
        f"+966 {national[:2]} {national[2:5]} {national[5:]}",
        f"00966{national}",
        f"0{national}",
        f"0{national[:2]}-{national[2:5]}-{national[5:]}",
        f"({national[:2]}) {national[2:]}",
        arabic_digits,
    ]
    async with connect() as client:
        for spelling in spellings:
            found = await structured(client, "list_customers", {"search": spelling})
            assert [c["id"] for c in found["customers"]] == [customer["id"]], spelling
        partial = await structured(client, "list_customers", {"search": national[-4:]})
    assert customer["id"] in {c["id"] for c in partial["customers"]}


async def test_a_search_without_letters_or_digits_says_what_to_give(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_customers", {"search": "  --  "})
    assert result.is_error
    assert "part of a name, an email or a phone number" in text(result)


async def test_the_plain_customer_listing_is_unchanged(connect: Connect, sandbox_app: Starlette) -> None:
    newest = (await sandbox_customers(sandbox_app))[:5]
    async with connect() as client:
        page = await structured(client, "list_customers", {"limit": 5})
    assert [c["id"] for c in page["customers"]] == [c["id"] for c in newest]
    assert page["total"] == 320
    assert page["next_page"] == 2
    assert "note" not in page
    assert "complete" not in page


# --- list_orders by customer and by day ------------------------------------------------------------------------------


async def test_list_orders_of_a_customer_is_the_sandboxs_own_answer(connect: Connect, sandbox_app: Starlette) -> None:
    orders = await sandbox_orders(sandbox_app)
    customer_id = orders[0]["customer_id"]
    expected = [o["id"] for o in orders if o["customer_id"] == customer_id]
    async with connect() as client:
        listed = await structured(client, "list_orders", {"customer_id": customer_id, "limit": 100})
        shipped = await structured(client, "list_orders", {"customer_id": customer_id, "status": "delivered"})
    assert [o["id"] for o in listed["orders"]] == expected
    assert {o["customer_id"] for o in listed["orders"]} == {customer_id}
    assert (listed["complete"], listed["has_more"]) == (True, False)
    assert [o["id"] for o in shipped["orders"]] == [
        o["id"] for o in orders if o["customer_id"] == customer_id and o["status"] == "delivered"
    ][:20]


async def test_days_are_whole_store_days_and_a_cut_walk_resumes_with_nothing_skipped_or_repeated(
    connect: Connect, sandbox_app: Starlette
) -> None:
    first, last = datetime(2026, 11, 10, tzinfo=RIYADH), datetime(2026, 11, 12, tzinfo=RIYADH) + timedelta(days=1)
    expected = [o["id"] for o in await sandbox_orders(sandbox_app) if first <= created(o) < last]
    got: list[str] = []
    arguments: dict[str, Any] = {"since": "2026-11-10", "until": "2026-11-12", "limit": 7}
    async with connect() as client:
        for _ in range(40):
            result = await client.call_tool("list_orders", arguments)
            page = result.structured_content
            assert page is not None, text(result)
            got += [o["id"] for o in page["orders"]]
            if page["complete"]:
                break
            assert f"until={page['resume_until']}" in page["note"]
            arguments["until"] = page["resume_until"]
    assert got == expected
    assert len(expected) > 7, "the limit did cut the walk"


async def test_page_is_refused_with_filters_and_says_how_to_go_on(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_orders", {"customer_id": "cus_0001", "page": 2})
        reversed_days = await client.call_tool("list_orders", {"since": "2026-11-12", "until": "2026-11-10"})
        bad_day = await client.call_tool("list_orders", {"since": "2026-13-40"})
    assert result.is_error
    assert "until=resume_until" in text(result)
    assert reversed_days.is_error
    assert "is after until" in text(reversed_days)
    assert bad_day.is_error
    assert "YYYY-MM-DD" in text(bad_day)


async def test_the_plain_order_listing_is_unchanged(connect: Connect, sandbox_app: Starlette) -> None:
    async with sandbox_http(sandbox_app) as http:
        newest = (await http.get("/v1/orders", params={"limit": 3})).json()["orders"]
    async with connect() as client:
        result = await client.call_tool("list_orders", {"limit": 3})
    page = result.structured_content
    assert page is not None
    assert [o["id"] for o in page["orders"]] == [o["id"] for o in newest]
    assert (page["total"], page["next_page"]) == (1200, 2)
    assert not {"complete", "resume_until", "note"} & set(page)
    assert "call again with page=2" in text(result)


# --- get_product ----------------------------------------------------------------------------------------------------


async def test_get_product_gives_the_product_with_its_creation_date(connect: Connect, sandbox_app: Starlette) -> None:
    async with sandbox_http(sandbox_app) as http:
        products, _ = await walk(http, "/v1/products", "products")
    oldest = products[-1]
    async with connect() as client:
        product = await structured(client, "get_product", {"product_id": oldest["id"]})
        missing = await client.call_tool("get_product", {"product_id": "prod_9999"})
    assert (product["name"], product["name_ar"], product["stock"]) == (
        oldest["name"],
        oldest["name_ar"],
        oldest["stock"],
    )
    assert product["created"] == created(oldest).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    assert missing.is_error
    assert "not found" in text(missing)


async def test_get_product_beyond_its_bound_says_how_to_find_it(
    sandbox_app: Starlette, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from hajatek_mcp.server.tools import lookups

    monkeypatch.setattr(lookups, "LOOKUP_PAGES", 1)  # stands for 20 pages (2,000 products) on a large store
    async with sandbox_http(sandbox_app) as http:
        products, _ = await walk(http, "/v1/products", "products")

    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1", plan="business",
                             transport=httpx2.ASGITransport(app=sandbox_app))  # fmt: skip

    async with Client(build_server(ServerOptions(sandbox=True), connect), mode=mode) as client:
        result = await client.call_tool("get_product", {"product_id": products[-1]["id"]})
    assert result.is_error
    assert "not among the newest 100 products" in text(result)
    assert "list_products (search by its name or SKU)" in text(result)


async def test_get_customer_says_how_far_back_it_looked_and_the_note_goes_on(
    connect: Connect, sandbox_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hajatek_mcp.server.tools import lookups

    monkeypatch.setattr(lookups, "ORDER_PAGES", 2)  # stands for 20 pages (2,000 orders) on a large store
    orders = await sandbox_orders(sandbox_app)
    newest = orders[:200]
    customer_id = next(
        o["customer_id"]
        for o in newest
        if 0
        < sum(n["customer_id"] == o["customer_id"] for n in newest)
        < min(10, sum(a["customer_id"] == o["customer_id"] for a in orders))
    )
    theirs = [o["id"] for o in orders if o["customer_id"] == customer_id][:10]
    async with connect() as client:
        detail = await structured(client, "get_customer", {"customer_id": customer_id})
        assert detail["complete"] is False
        until = detail["note"].split("until=")[1].rstrip(").")
        assert f"list_orders(customer_id={customer_id}, until={until})" in detail["note"]
        older = await structured(client, "list_orders", {"customer_id": customer_id, "until": until})
    shown = [o["id"] for o in detail["recent_orders"]]
    assert shown == theirs[: len(shown)]
    assert shown + [o["id"] for o in older["orders"]][: 10 - len(shown)] == theirs


async def test_list_orders_by_customer_reads_within_its_bound_and_resumes(
    sandbox_app: Starlette, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from hajatek_mcp.server.tools import orders as orders_module
    from tests.support import CountingTransport

    monkeypatch.setattr(orders_module, "ORDER_PAGES", 2)  # stands for 20 pages (2,000 orders) on a large store
    orders = await sandbox_orders(sandbox_app)
    customer_id = orders[-1]["customer_id"]  # the oldest order's customer: the walk must reach the end
    expected = [o["id"] for o in orders if o["customer_id"] == customer_id]
    link = CountingTransport(sandbox_app)

    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1", plan="business",
                             transport=link)  # fmt: skip

    got: list[str] = []
    arguments: dict[str, Any] = {"customer_id": customer_id, "limit": 100}
    calls = 0
    async with Client(build_server(ServerOptions(sandbox=True), connect), mode=mode) as client:
        while True:
            link.sent.clear()
            page = await structured(client, "list_orders", arguments)
            calls += 1
            assert len([r for r in link.sent if r.url.path == "/v1/orders"]) <= 2 + 4, "the bound, plus bisection"
            got += [o["id"] for o in page["orders"]]
            if page["complete"]:
                break
            assert "Not all shown" in page["note"]
            arguments["until"] = page["resume_until"]
            assert calls < 12
    assert got == expected
    assert calls >= 6, "1,200 orders, 200 per call"
