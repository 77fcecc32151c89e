"""restock_report and list_products(stock_below, sort) through a real MCP client in both protocol eras, against a
ground truth computed straight from the sandbox's database."""

from __future__ import annotations

import math
from datetime import UTC, timedelta
from fractions import Fraction
from typing import Any

import pytest
from starlette.applications import Starlette

from hajatek_mcp.server import reporting
from tests.support import NOW, Connect, structured, text

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def pinned() -> float:
    """The server's clock, pinned at the sandbox's time."""
    return NOW.timestamp()


def sold_since(app: Starlette, days: int) -> dict[str, int]:
    """Units per product in orders created in the last ``days`` days, not cancelled or refunded."""
    since = (NOW - timedelta(days=days)).astimezone(UTC).strftime(UTC_FORMAT)
    rows = app.state.sandbox.store.db.query(
        "SELECT i.product_id, SUM(i.quantity) AS units FROM order_items i JOIN orders o ON o.id = i.order_id"
        " WHERE o.created_at BETWEEN ? AND ? AND o.status NOT IN ('cancelled', 'refunded') GROUP BY i.product_id",
        (since, NOW.strftime(UTC_FORMAT)),
    )
    return {r["product_id"]: r["units"] for r in rows}


# -- restock_report -----------------------------------------------------------------------------------------------


def restock_truth(app: Starlette, days: int, target: int, low: int) -> list[dict[str, Any]]:
    """Every product needing action, most urgent first, with the figures restock_report gives."""
    sold = sold_since(app, days)
    needing = []
    for p in app.state.sandbox.store.db.query("SELECT id, stock FROM products WHERE status != 'archived'"):
        n, stock = sold.get(p["id"], 0), p["stock"]
        per_day = Fraction(n, days)
        cover = Fraction(stock) / per_day if n else None
        if stock == 0 or stock < low or (cover is not None and cover < target):
            needing.append(
                {
                    "id": p["id"],
                    "stock": stock,
                    "sold": n,
                    "cover": cover,
                    "reorder": max(0, math.ceil(per_day * target - stock)) if n else None,
                    "why": "out" if stock == 0 else "low" if stock < low else "cover",
                }
            )
    needing.sort(
        key=lambda r: (r["stock"] > 0, math.inf if r["cover"] is None else r["cover"], -r["sold"], r["stock"], r["id"])
    )
    return needing


@pytest.mark.parametrize(("days", "target", "low"), [(30, None, None), (14, 45, 8)])
async def test_restock_report_matches_the_database(
    connect: Connect, sandbox_app: Starlette, days: int, target: int | None, low: int | None
) -> None:
    expected = restock_truth(sandbox_app, days, target or days, 5 if low is None else low)
    assert any(r["why"] == "cover" for r in expected)  # stock enough by count, too little for the sales rate
    arguments = {
        "days": days,
        "limit": 100,
        **({"target_days": target} if target else {}),
        **({"low_stock": low} if low else {}),
    }
    async with connect(clock=pinned) as client:
        report = await structured(client, "restock_report", arguments)
        short = await structured(client, "restock_report", {**arguments, "limit": 5})
    got = report["products"]
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    for row, truth in zip(got, expected, strict=True):
        assert (row["stock"], row["sold"], row["why"], row.get("reorder")) == (
            truth["stock"],
            truth["sold"],
            truth["why"],
            truth["reorder"],
        )
        assert row.get("cover_days") == (None if truth["cover"] is None else round(float(truth["cover"]), 1))
        assert row["per_day"] == round(truth["sold"] / days, 2)
    assert report["more"] == 0
    assert report["complete"] is True
    assert report["since"] == (NOW - timedelta(days=days)).strftime(UTC_FORMAT)
    assert [r["id"] for r in short["products"]] == [r["id"] for r in expected[:5]]
    assert short["more"] == len(expected) - 5


async def test_restock_report_says_when_the_catalog_was_read_in_part(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reporting, "CATALOG_PAGES", 1)
    async with connect(clock=pinned) as client:
        report = await structured(client, "restock_report", {})
    assert report["complete"] is False
    assert report["checked"] <= 100
    assert "category=" in report["note"]


# -- list_products(stock_below, sort) --------------------------------------------------------------------------


def catalog(app: Starlette) -> list[tuple[str, int]]:
    """(id, stock) of every product, newest first as the API lists them."""
    db = app.state.sandbox.store.db
    return [(r["id"], r["stock"]) for r in db.query("SELECT id, stock FROM products ORDER BY created_at DESC, id DESC")]


async def test_list_products_below_a_stock_level_pages_through_all_of_them(
    connect: Connect, sandbox_app: Starlette
) -> None:
    expected = [pid for pid, stock in catalog(sandbox_app) if stock < 5]
    got: list[str] = []
    async with connect() as client:
        page = 1
        while True:
            result = await structured(client, "list_products", {"stock_below": 5, "limit": 10, "page": page})
            assert result["total"] == len(expected)
            assert result["complete"] is True
            assert all(p["stock"] < 5 for p in result["products"])
            got += [p["id"] for p in result["products"]]
            if not result["has_more"]:
                break
            page = result["next_page"]
    assert got == expected
    assert len(expected) > 10


async def test_list_products_sorted_by_stock_lowest_first(connect: Connect, sandbox_app: Starlette) -> None:
    expected = [pid for pid, _ in sorted(catalog(sandbox_app), key=lambda p: p[1])]  # stable: newest first
    async with connect() as client:
        first = await structured(client, "list_products", {"sort": "stock", "limit": 20})
        second = await structured(client, "list_products", {"sort": "stock", "limit": 20, "page": 2})
        filtered = await structured(client, "list_products", {"sort": "stock", "stock_below": 3, "category": "fashion"})
        plain = await structured(client, "list_products", {"limit": 5})
    assert [p["id"] for p in first["products"] + second["products"]] == expected[:40]
    stock = dict(catalog(sandbox_app))
    category = {
        r["id"]: r["category"] for r in sandbox_app.state.sandbox.store.db.query("SELECT id, category FROM products")
    }
    fashion = [pid for pid in expected if category[pid] == "fashion" and stock[pid] < 3]
    assert [p["id"] for p in filtered["products"]] == fashion
    assert "complete" not in plain  # without stock_below or sort, the listing is the API's page as before
    assert [p["id"] for p in plain["products"]] == [pid for pid, _ in catalog(sandbox_app)][:5]


async def test_list_products_says_when_the_catalog_was_read_in_part(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reporting, "CATALOG_PAGES", 1)
    async with connect() as client:
        result = await client.call_tool("list_products", {"stock_below": 5})
    assert result.structured_content is not None
    assert result.structured_content["complete"] is False
    assert "Only the newest 100 products were read" in text(result)
