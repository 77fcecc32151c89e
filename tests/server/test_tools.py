"""Every tool through a real MCP client, happy path and error path, in both protocol eras."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from mcp.types import EmbeddedResource, TextResourceContents

from hajatek_mcp.server.tools import export as export_module
from tests.support import Connect, text


async def test_get_store_names_the_sandbox(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("get_store", {})
        assert not result.is_error
        data = result.structured_content
        assert data is not None
        assert data["id"] == "str_sandbox"
        assert data["currency"] == "SAR"
        assert data["sandbox"] is True
        assert text(result).startswith("[sandbox store]")


async def test_list_products_pages_and_says_how_to_continue(connect: Connect) -> None:
    async with connect() as client:
        first = await client.call_tool("list_products", {"limit": 5})
        data = first.structured_content
        assert data is not None
        assert len(data["products"]) == 5
        assert data["has_more"] is True
        assert data["next_page"] == 2
        assert "call again with page=2" in text(first)
        second = await client.call_tool("list_products", {"limit": 5, "page": 2})
        assert second.structured_content is not None
        first_ids = {p["id"] for p in data["products"]}
        assert first_ids.isdisjoint(p["id"] for p in second.structured_content["products"])


async def test_list_products_text_is_compact_json_without_nulls(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_products", {"limit": 20})
        body = text(result).split("\n", 1)[1]
        assert "null" not in body
        assert ": " not in body
        assert "\n" not in body
        assert json.loads(body) == result.structured_content


async def test_list_products_filters_by_category_and_arabic_search(connect: Connect) -> None:
    async with connect() as client:
        some = await client.call_tool("list_products", {"limit": 1})
        assert some.structured_content is not None
        product = some.structured_content["products"][0]
        by_category = await client.call_tool("list_products", {"category": product["category"], "limit": 100})
        assert by_category.structured_content is not None
        assert {p["category"] for p in by_category.structured_content["products"]} == {product["category"]}
        arabic = product["name_ar"].split()[0]
        found = await client.call_tool("list_products", {"search": arabic, "limit": 100})
        assert found.structured_content is not None
        assert product["id"] in {p["id"] for p in found.structured_content["products"]}


async def test_create_then_update_a_product(connect: Connect) -> None:
    async with connect() as client:
        created = await client.call_tool(
            "create_product",
            {"name": "Cambodian Oud Oil 3ml", "name_ar": "دهن عود كمبودي", "price": 349.5, "category": "perfumes-oud",
             "stock": 7, "sku": "OUD-CAM-3"},
        )  # fmt: skip
        assert not created.is_error, text(created)
        product = created.structured_content
        assert product is not None
        assert product["id"].startswith("prod_")
        assert Decimal(str(product["price"])) == Decimal("349.50")
        updated = await client.call_tool("update_product", {"product_id": product["id"], "price": 299.99, "stock": 12})
        assert not updated.is_error, text(updated)
        assert updated.structured_content is not None
        assert updated.structured_content["outcome"] == "done", "a small price change needs no confirmation"
        changed = updated.structured_content["result"]
        assert (changed["price"], changed["stock"]) == (299.99, 12)
        assert changed["name"] == "Cambodian Oud Oil 3ml"


async def test_bad_arguments_name_the_field(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("create_product", {"name": "X", "price": 10.999, "category": "Perfumes & Oud"})
        assert result.is_error
        message = text(result)
        assert "price" in message
        assert "category" in message


async def test_update_without_changes_says_what_to_pass(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("update_product", {"product_id": "prod_0001"})
        assert result.is_error
        assert "pass at least one field" in text(result)


async def test_unknown_product_is_a_clear_not_found(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("update_product", {"product_id": "prod_nope", "stock": 1})
        assert result.is_error
        assert "404" in text(result)
        assert "list tools show valid ids" in text(result)


async def test_a_duplicate_sku_is_a_conflict(connect: Connect) -> None:
    async with connect() as client:
        args = {"name": "Dates box", "price": 45, "category": "dates-coffee", "sku": "DUP-1"}
        assert not (await client.call_tool("create_product", args)).is_error
        again = await client.call_tool("create_product", args)
        assert again.is_error
        assert "409" in text(again)


async def test_delete_product_without_a_yes_only_previews(connect: Connect) -> None:
    async with connect() as client:
        listing = await client.call_tool("list_products", {"limit": 1})
        assert listing.structured_content is not None
        product = listing.structured_content["products"][0]
        result = await client.call_tool("delete_product", {"product_id": product["id"]})
        assert not result.is_error
        preview = result.structured_content
        assert preview is not None
        assert preview["outcome"] == "confirmation_required"
        assert product["name"] in preview["preview"]
        assert preview["confirm_token"].startswith("cfm_")
        still = await client.call_tool("list_products", {"search": product["sku"]})
        assert still.structured_content is not None
        assert product["id"] in {p["id"] for p in still.structured_content["products"]}


async def test_list_orders_by_status_and_get_order(connect: Connect) -> None:
    async with connect() as client:
        listing = await client.call_tool("list_orders", {"status": "pending", "limit": 10})
        data = listing.structured_content
        assert data is not None
        assert data["orders"]
        assert {o["status"] for o in data["orders"]} == {"pending"}
        order_id = data["orders"][0]["id"]
        detail = await client.call_tool("get_order", {"order_id": order_id})
        order = detail.structured_content
        assert order is not None
        assert order["allowed_next"] == ["cancelled", "processing"]
        subtotal = sum(Decimal(str(i["price"])) * i["quantity"] for i in order["items"])
        assert Decimal(str(order["subtotal"])) == subtotal
        total = Decimal(str(order["subtotal"])) + Decimal(str(order["shipping"])) + Decimal(str(order["vat"]))
        assert Decimal(str(order["total"])) == total


async def test_an_order_moves_forward_and_an_illegal_move_is_explained(connect: Connect) -> None:
    async with connect() as client:
        listing = await client.call_tool("list_orders", {"status": "pending", "limit": 1})
        assert listing.structured_content is not None
        order_id = listing.structured_content["orders"][0]["id"]
        moved = await client.call_tool("update_order_status", {"order_id": order_id, "status": "processing"})
        assert not moved.is_error, text(moved)
        assert moved.structured_content is not None
        assert moved.structured_content["result"]["status"] == "processing"
        illegal = await client.call_tool("update_order_status", {"order_id": order_id, "status": "delivered"})
        assert illegal.is_error
        assert "409" in text(illegal)


async def test_cancel_and_refund_without_a_yes_only_preview(connect: Connect) -> None:
    async with connect() as client:
        listing = await client.call_tool("list_orders", {"status": "processing", "limit": 1})
        assert listing.structured_content is not None
        order_id = listing.structured_content["orders"][0]["id"]
        for status in ("cancelled", "refunded"):
            result = await client.call_tool("update_order_status", {"order_id": order_id, "status": status})
            assert not result.is_error
            assert result.structured_content is not None
            assert result.structured_content["outcome"] == "confirmation_required"
            assert order_id in result.structured_content["preview"]
        after = await client.call_tool("get_order", {"order_id": order_id})
        assert after.structured_content is not None
        assert after.structured_content["status"] == "processing"


async def test_order_ids_are_checked_by_prefix(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("get_order", {"order_id": "prod_0001"})
        assert result.is_error
        assert "order_id" in text(result)


async def test_list_customers(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_customers", {"limit": 3})
        data = result.structured_content
        assert data is not None
        assert len(data["customers"]) == 3
        assert all(c["id"].startswith("cus_") for c in data["customers"])
        assert data["has_more"] is True


async def test_get_analytics_for_each_period(connect: Connect) -> None:
    async with connect() as client:
        for period in ("today", "7d", "30d", "90d"):
            result = await client.call_tool("get_analytics", {"period": period})
            assert not result.is_error, text(result)
            data = result.structured_content
            assert data is not None
            assert data["period"] == period
            assert sum(data["orders_by_status"].values()) == data["orders_count"]
        bad = await client.call_tool("get_analytics", {"period": "1y"})
        assert bad.is_error
        assert "period" in text(bad)


async def test_export_orders_walks_every_page_into_csv(connect: Connect) -> None:
    async with connect() as client:
        progress: list[tuple[float, float | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total))

        result = await client.call_tool("export_orders", {"status": "delivered"}, progress_callback=on_progress)
        assert not result.is_error, text(result)
        summary = result.structured_content
        assert summary is not None
        assert not [b for b in result.content if isinstance(b, EmbeddedResource)], "a big export is linked, not inline"
        resource = (await client.read_resource(summary["csv_uri"])).contents[0]
        assert isinstance(resource, TextResourceContents)
        assert resource.mime_type == "text/csv"
        lines = resource.text.strip().splitlines()
        assert lines[0].startswith("id,created_at,status")
        assert len(lines) - 1 == summary["orders"]
        listing = await client.call_tool("list_orders", {"status": "delivered", "limit": 1})
        assert listing.structured_content is not None
        assert summary["orders"] == listing.structured_content["total"] > 100
        assert summary["by_status"] == {"delivered": summary["orders"]}
        assert len(progress) >= 2
        assert progress[-1][0] == summary["orders"]


async def test_export_orders_respects_the_time_window(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("export_orders", {"since": "2026-11-20", "until": "2026-11-25T00:00:00Z"})
        summary = result.structured_content
        assert summary is not None
        assert summary["orders"] > 0
        assert "2026-11-20" <= summary["first"] <= summary["last"] < "2026-11-25"
        swapped = await client.call_tool("export_orders", {"since": "2026-11-25", "until": "2026-11-20"})
        assert swapped.is_error
        assert "swap" in text(swapped)


async def test_an_export_too_big_is_refused_after_one_page_when_the_total_says_so(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "MAX_EXPORT_ORDERS", 500)
    pages: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        pages.append(done)

    async with connect() as client:
        refused = await client.call_tool("export_orders", {}, progress_callback=on_progress)
        read_before_refusing = len(pages)
        windowed = await client.call_tool("export_orders", {"since": "2026-09-01"}, progress_callback=on_progress)
    assert refused.is_error
    assert "1,200 orders match and an export holds at most 500; nothing was exported" in text(refused)
    assert "since/until" in text(refused)
    assert read_before_refusing == 0, "refused on the first page's total, before walking"
    assert windowed.is_error, "with a window the count is known only while walking: refused past 500 matches"
    assert "More than 500 orders match" in text(windowed)
    assert len(pages) > 5


async def test_the_export_cap_holds_on_the_last_page_too(connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "MAX_EXPORT_ORDERS", 1_150)  # 1,200 orders: the 12th and last page crosses it
    async with connect() as client:
        refused = await client.call_tool("export_orders", {"since": "2020-01-01"})
    assert refused.is_error
    assert "More than 1,150 orders match" in text(refused)
