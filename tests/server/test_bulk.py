"""Bulk changes: one preview of every item, one confirmation bound to the batch, applied item by item.

Each test drives a real MCP client in both protocol eras against the in-process sandbox, whose state (read over its
own HTTP API) is the judge; the audit log must tell the same story. Three kinds of client: one that accepts the
question, one that declines it, and one that cannot be asked (the confirm_token is then the yes).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import ServerOptions, Shop, build_server
from hajatek_mcp.server.http import HttpSecurity, http_app
from tests.support import (
    Asked,
    FakeClock,
    IdentityProvider,
    Loopback,
    audit_entries,
    loopback_socket,
    sandbox_http,
    structured,
    text,
    walk,
)

OUD = {"category": "perfumes-oud"}
RAISE = {**OUD, "price_percent": 10}


async def prices(app: Starlette) -> dict[str, Decimal]:
    """Every product's price, read from the sandbox itself."""
    async with sandbox_http(app) as http:
        products, _ = await walk(http, "/v1/products", "products")
    return {p["id"]: Decimal(str(p["price"])) for p in products}


async def oud_ids(app: Starlette) -> list[str]:
    async with sandbox_http(app) as http:
        products, _ = await walk(http, "/v1/products", "products", category="perfumes-oud")
    return sorted(p["id"] for p in products)


async def order_status(app: Starlette, order_id: str) -> str:
    async with sandbox_http(app) as http:
        return str((await http.get(f"/v1/orders/{order_id}")).json()["status"])


async def orders_in(app: Starlette, status: str, count: int) -> list[str]:
    async with sandbox_http(app) as http:
        orders = (await http.get("/v1/orders", params={"status": status, "limit": count})).json()["orders"]
    return [o["id"] for o in orders]


def raised(price: Decimal, percent: int = 10) -> Decimal:
    return (price * (100 + percent) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def bulk_entries(entries: list[dict[str, Any]], tool: str = "bulk_update_products") -> list[dict[str, Any]]:
    """The tool's audit entries, oldest first."""
    return [e for e in reversed(entries) if e["tool"] == tool]


# -- the preview ------------------------------------------------------------------------------------------------------


async def test_the_first_call_previews_every_item_and_changes_nothing(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    async with Client(make_server(), mode=mode, elicitation_callback=Asked("accept")) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_products", RAISE)
        entries = await audit_entries(client)
    assert preview["outcome"] == "confirmation_required"
    assert preview["preview"].startswith("Raise the price of 28 products by 10% (batch b_")
    assert [c["id"] for c in preview["changes"]] == await oud_ids(sandbox_app), "every item, in a stable order"
    assert preview["changes"][0]["name"] == "White Musk - 100 ml", "a category's products are named"
    for change in preview["changes"]:
        old, new = (Decimal(str(v)) for v in change["price"])
        assert old == before[change["id"]]
        assert new == raised(old)
    assert preview["confirm_token"].startswith("cfm_")
    assert "the merchant is then asked to confirm" in preview["next_step"]
    assert await prices(sandbox_app) == before
    assert [(e["outcome"], e.get("target")) for e in bulk_entries(entries)] == [("preview", None)]


async def test_a_10_percent_raise_of_a_category_applies_exact_decimals(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_products", RAISE)
        confirm = {**RAISE, "price_percent": 10.0, "confirm_token": preview["confirm_token"]}  # 10.0 is the same call
        done = await structured(client, "bulk_update_products", confirm)
    after = await prices(sandbox_app)
    oud = await oud_ids(sandbox_app)
    assert done["outcome"] == "done"
    assert done["applied"] == oud
    assert {pid: after[pid] for pid in oud} == {pid: raised(before[pid]) for pid in oud}
    assert after["prod_0190"] == Decimal("910.75"), "827.95 × 1.1 = 910.745, half-up"
    assert after["prod_0178"] == Decimal("1575.19")
    assert {pid: p for pid, p in after.items() if pid not in oud} == {p: v for p, v in before.items() if p not in oud}


async def test_nothing_to_change_gives_no_token(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        answer = await structured(client, "bulk_update_products", {"product_ids": ["prod_0037"], "status": "draft"})
    assert answer["outcome"] == "no_changes"
    assert "confirm_token" not in answer
    assert answer["skipped"] == [{"reason": "no change: it already has these values", "ids": ["prod_0037"]}]


async def test_a_price_that_would_not_stay_above_zero_is_skipped_not_clamped(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        cheap = await structured(client, "create_product", {"name": "Tester", "price": 3, "category": "beauty"})
        answer = await structured(
            client, "bulk_update_products", {"product_ids": [cheap["id"], "prod_0004"], "price_amount": -5}
        )
    assert [c["id"] for c in answer["changes"]] == ["prod_0004"]
    assert answer["skipped"] == [
        {"reason": "the price would be -2.00 SAR; a price stays above 0", "ids": [cheap["id"]]}
    ]


async def test_more_than_100_items_are_refused_saying_how_many_matched(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        by_search = await client.call_tool("bulk_update_products", {"search": "a", "price_percent": 5})
        ids = [f"prod_{n:04d}" for n in range(1, 102)]
        by_ids = await client.call_tool("bulk_update_products", {"product_ids": ids, "stock": 1})
        entries = await audit_entries(client)
    assert by_search.is_error
    assert "197 products match search=“a”; a batch takes at most 100" in text(by_search)
    assert "product_ids" in text(by_search)
    assert by_ids.is_error
    assert "101 product_ids given; a batch takes at most 100" in text(by_ids)
    assert await prices(sandbox_app) == before
    assert not bulk_entries(entries)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"price_percent": 10}, "Select the products"),
        ({**OUD, "product_ids": ["prod_0004"], "stock": 1}, "one way, not both"),
        ({**OUD, "price_percent": 10, "price": 5}, "Give one price change"),
        (OUD, "Nothing to change"),
        ({**OUD, "price_percent": 0}, "A change of 0 changes nothing"),
        ({"product_ids": ["prod_0004", "prod_0004"], "stock": 1}, "twice"),
    ],
    ids=["no-selection", "two-selections", "two-price-changes", "no-change", "zero", "duplicate"],
)
async def test_an_unclear_call_is_refused_saying_what_to_pass(
    make_server: Callable[..., MCPServer[Shop]], mode: str, arguments: dict[str, Any], message: str
) -> None:
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        result = await client.call_tool("bulk_update_products", arguments)
    assert result.is_error
    assert message in text(result)


# -- the one confirmation ------------------------------------------------------------------------------------------


ANSWERS = {"yes": ("accept", None), "no": ("accept", {"confirm": False}), "decline": ("decline", None),
           "cancel": ("cancel", None)}  # fmt: skip


@pytest.mark.parametrize("answer", list(ANSWERS))
async def test_the_merchant_is_asked_once_for_the_whole_batch(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str, answer: str
) -> None:
    before = await prices(sandbox_app)
    action, content = ANSWERS[answer]
    asked = Asked(action, content)
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_products", RAISE)
        assert not asked.questions, "the preview asks nobody"
        confirm = {**RAISE, "confirm_token": preview["confirm_token"]}
        result = await structured(client, "bulk_update_products", confirm)
        again = await client.call_tool("bulk_update_products", confirm)
        entries = await audit_entries(client)
    assert len(asked.questions) == (2 if answer == "cancel" else 1)
    question = asked.questions[0]
    assert question.startswith(f"Raise the price of 28 products by 10% (batch {preview['batch']}).\n")
    assert question.endswith("…and 18 more, as in the preview.\nDo you want to go ahead?")
    changed = await prices(sandbox_app) != before
    if answer == "yes":
        assert result["outcome"] == "done"
        assert changed
        assert again.is_error, "the token works once"
        assert "already used" in text(again)
    else:
        assert result["outcome"] == ("cancelled" if answer == "cancel" else "declined")
        assert "nothing was changed" in result["next_step"]
        assert not changed
        # A no spends the token; a dismissed question may be asked again while the token lasts.
        assert again.is_error is (answer != "cancel")
    outcomes = [e["outcome"] for e in bulk_entries(entries)]
    assert outcomes[0] == "preview"
    assert outcomes.count("executed") == (28 if answer == "yes" else 0)


@pytest.mark.parametrize("confirm", ["token", "none"])
async def test_the_confirm_setting_drops_the_question_but_never_the_preview(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str, confirm: str
) -> None:
    asked = Asked("accept")
    async with Client(make_server(confirm=confirm), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_products", RAISE)
        assert preview["outcome"] == "confirmation_required"
        done = await structured(client, "bulk_update_products", {**RAISE, "confirm_token": preview["confirm_token"]})
        entries = await audit_entries(client)
    assert not asked.questions
    assert done["outcome"] == "done"
    paths = {e["path"] for e in bulk_entries(entries) if e["outcome"] == "executed"}
    assert paths == {"token" if confirm == "token" else "host"}


async def test_a_token_is_bound_to_its_batch(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", RAISE))["confirm_token"]
        other_change = await client.call_tool(
            "bulk_update_products", {**RAISE, "price_percent": 11, "confirm_token": token}
        )
        other_items = await client.call_tool(
            "bulk_update_products", {"product_ids": ["prod_0004"], "price_percent": 10, "confirm_token": token}
        )
        order_ids = await orders_in(sandbox_app, "pending", 2)
        other_tool = await client.call_tool(
            "bulk_update_order_status", {"order_ids": order_ids, "status": "processing", "confirm_token": token}
        )
        forged = await client.call_tool("bulk_update_products", {**RAISE, "confirm_token": "cfm_" + "A" * 32})
        entries = await audit_entries(client)
        still = await structured(client, "bulk_update_products", {**RAISE, "confirm_token": token})
    for refused in (other_change, other_items, other_tool, forged):
        assert refused.is_error
        assert "Nothing was changed" in text(refused)
    assert "issued for a different call" in text(other_change)
    assert "not one this server issued" in text(forged)
    assert [e["outcome"] for e in bulk_entries(entries)] == ["preview", "refused", "refused", "refused"]
    assert still["outcome"] == "done", "a refused attempt does not spend the token"
    assert len(still["applied"]) == 28
    assert await prices(sandbox_app) != before


async def test_an_item_changed_since_the_preview_refuses_the_batch(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", RAISE))["confirm_token"]
        await structured(client, "update_product", {"product_id": "prod_0098", "price": 120})
        before = await prices(sandbox_app)
        refused = await client.call_tool("bulk_update_products", {**RAISE, "confirm_token": token})
    assert refused.is_error
    assert "1 of the batch's items changed since the preview (prod_0098 price now 120.00, previewed 123.99)" in text(
        refused
    )
    assert "Call again without confirm_token for a new preview" in text(refused)
    assert await prices(sandbox_app) == before


async def test_a_forged_product_name_cannot_speak_in_the_question(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    forged = "Sample' (prod_0001) from 100.00 to 95.00 SAR (-5%).\nDo you want to go ahead?" + "\n" * 100 + "x"
    asked = Asked("decline")
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        created = await structured(client, "create_product", {"name": forged, "price": 999, "category": "beauty",
                                                              "stock": 5})  # fmt: skip
        arguments = {"product_ids": [created["id"], "prod_0004"], "price": 1}
        preview = await structured(client, "bulk_update_products", arguments)
        await structured(client, "bulk_update_products", {**arguments, "confirm_token": preview["confirm_token"]})
    lines = asked.questions[0].splitlines()
    facts = lines[:3]
    assert facts[0].startswith("Set the price of 2 products to 1.00 SAR (batch b_")
    assert facts[1] == f"Largest price cut: {created['id']} 999.00 → 1.00 SAR (-100%)."
    assert facts[2].startswith("2 price cuts go more than 50% below the product's highest price in the last 24 h:")
    assert not any("Sample" in line or "95.00" in line for line in facts)
    assert len(lines) == 3 + 2 + 1, f"store text added lines: {lines!r}"
    name_line = next(line for line in lines if "Sample" in line)
    assert name_line.startswith(f"{created['id']}: price 999.00 → 1.00 SAR (-100%) “Sample")
    assert name_line.endswith("…”"), "the name is a quoted excerpt, visibly cut"
    assert "\n" not in preview["preview"]
    assert "Sample" not in preview["preview"]
    assert preview["warnings"] == facts[1:]


async def test_a_stock_cut_to_zero_leads_the_question(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    asked = Asked("decline")
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        arguments = {"product_ids": ["prod_0004", "prod_0024"], "stock": 0}
        preview = await structured(client, "bulk_update_products", arguments)
        await structured(client, "bulk_update_products", {**arguments, "confirm_token": preview["confirm_token"]})
    assert asked.questions[0].splitlines()[1] == (
        "2 products go to 0 in stock, shown as out of stock: prod_0004, prod_0024."
    )
    assert preview["changes"][0] == {"id": "prod_0004", "stock": [175, 0]}, "ids came from a listing: no names"


# -- applying ---------------------------------------------------------------------------------------------------------


async def test_each_item_is_audited_with_its_values_before(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    async with Client(make_server(), mode=mode, elicitation_callback=Asked("accept")) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_products", RAISE)
        await structured(client, "bulk_update_products", {**RAISE, "confirm_token": preview["confirm_token"]})
        entries = [e for e in bulk_entries(await audit_entries(client)) if e["outcome"] == "executed"]
    assert [e.get("target") for e in entries] == await oud_ids(sandbox_app), "one entry per item, in the batch's order"
    for entry in entries:
        assert entry["path"] == "elicitation"
        assert entry["arguments"]["batch"] == preview["batch"]
        assert entry["arguments"]["price_percent"] == "10"
        assert Decimal(entry["arguments"]["price"]) == raised(before[entry.get("target")])


async def test_a_confirmed_bulk_cut_is_the_guards_new_reference(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    asked = Asked("accept")
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        arguments = {"product_ids": ["prod_0004"], "price_percent": -60}
        preview = await structured(client, "bulk_update_products", arguments)
        await structured(client, "bulk_update_products", {**arguments, "confirm_token": preview["confirm_token"]})
        small = await structured(client, "update_product", {"product_id": "prod_0004", "price": 50})
    assert len(asked.questions) == 1, "the merchant agreed to 54.40; a cut to 50 from there needs no second yes"
    assert small["outcome"] == "done"


async def test_progress_is_reported_after_each_item(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with Client(make_server(), mode=mode, elicitation_callback=Asked("accept")) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_products", RAISE)
        confirm = {**RAISE, "confirm_token": preview["confirm_token"]}
        result = await client.call_tool("bulk_update_products", confirm, progress_callback=progress)
    assert not result.is_error
    assert [(done, total) for done, total, _ in seen] == [(n, 28) for n in range(1, 29)]
    assert seen[0][2] == "prod_0004: applied"


async def test_an_item_deleted_since_the_preview_fails_alone(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", RAISE))["confirm_token"]
        async with sandbox_http(sandbox_app) as http:
            assert (await http.delete("/v1/products/prod_0098")).status_code in (200, 204)
        done = await structured(client, "bulk_update_products", {**RAISE, "confirm_token": token})
    after = await prices(sandbox_app)
    assert done["outcome"] == "partial"
    assert done["failed"] == [{"reason": "not found: no product has this id (deleted?); nothing was sent",
                               "ids": ["prod_0098"]}]  # fmt: skip
    assert len(done["applied"]) == 27
    assert all(after[pid] == raised(before[pid]) for pid in done["applied"])
    assert "confirm_token" not in done, "a retry cannot bring a deleted product back"


async def test_a_retry_after_a_partial_failure_sends_only_what_failed(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    sandbox_app.state.sandbox.faults.inject("/v1/products/prod_0190", method="PUT", status=503)
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", RAISE))["confirm_token"]
        first = await structured(client, "bulk_update_products", {**RAISE, "confirm_token": token})
        fresh = await structured(client, "bulk_update_products", RAISE)
        retry = await structured(client, "bulk_update_products", {**RAISE, "confirm_token": first["confirm_token"]})
        again = await structured(client, "bulk_update_products", RAISE)
        entries = await audit_entries(client)
    assert first["outcome"] == "partial"
    assert [f["ids"] for f in first["failed"]] == [["prod_0190"]]
    assert len(first["applied"]) == 27
    assert [c["id"] for c in fresh["changes"]] == ["prod_0190"], "a new preview leaves out what was raised already"
    assert "already changed by this same change" in fresh["skipped"][0]["reason"]
    assert retry["outcome"] == "done"
    assert retry["applied"] == ["prod_0190"]
    assert again["outcome"] == "no_changes"
    after = await prices(sandbox_app)
    assert all(after[pid] == raised(before[pid]) for pid in await oud_ids(sandbox_app)), "raised once, never twice"
    executed = [e.get("target") for e in bulk_entries(entries) if e["outcome"] == "executed"]
    assert sorted(executed) == await oud_ids(sandbox_app), "each item sent once"
    # A 503 to a write leaves its outcome unknown; the retry read the price first and found it not applied.
    assert [e["outcome"] for e in bulk_entries(entries) if e.get("target") == "prod_0190"] == ["unknown", "executed"]


async def test_a_rate_limit_stops_the_batch_and_the_retry_sends_the_rest(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    sandbox_app.state.sandbox.faults.inject("/v1/products/prod_0035", method="PUT", status=429, retry_after=600)
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", RAISE))["confirm_token"]
        first = await structured(client, "bulk_update_products", {**RAISE, "confirm_token": token})
        sent = len([e for e in bulk_entries(await audit_entries(client)) if e["outcome"] != "preview"])
    assert first["applied"] == ["prod_0004", "prod_0024"]
    assert first["failed"][0]["ids"] == ["prod_0035"]
    assert first["failed"][1]["reason"].startswith("not sent: Hajatek asked for a pause")
    assert len(first["failed"][1]["ids"]) == 25
    assert sent == 3, "nothing is sent after the pause was asked for"
    assert first["confirm_token"]
    assert await prices(sandbox_app) == before | {p: raised(before[p]) for p in ("prod_0004", "prod_0024")}


async def test_a_retry_of_an_item_already_at_its_target_does_not_send_it(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    # The answer of the first write is lost (the connection drops after the sandbox applied it): outcome unknown.
    sandbox_app.state.sandbox.faults.inject("/v1/products/prod_0004", method="PUT", mode="truncated")
    arguments = {"product_ids": ["prod_0004", "prod_0024"], "stock": 7}
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", arguments))["confirm_token"]
        first = await structured(client, "bulk_update_products", {**arguments, "confirm_token": token})
        retry = await structured(client, "bulk_update_products", {**arguments, "confirm_token": first["confirm_token"]})
        entries = await audit_entries(client)
    assert first["outcome"] == "partial"
    assert "It may have been applied all the same" in first["failed"][0]["reason"]
    assert retry["outcome"] == "done"
    assert retry["already_applied"] == ["prod_0004"]
    assert "applied" not in retry
    assert [e["outcome"] for e in bulk_entries(entries) if e.get("target") == "prod_0004"] == ["unknown"]


# -- orders -----------------------------------------------------------------------------------------------------------


async def test_orders_the_lifecycle_forbids_are_skipped_with_the_reason(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    pending = await orders_in(sandbox_app, "pending", 3)
    cancelled = await orders_in(sandbox_app, "cancelled", 1)
    arguments = {"order_ids": [*pending, *cancelled], "status": "processing", "note": "packed"}
    async with Client(make_server(), mode=mode, elicitation_callback=Asked("accept")) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_order_status", arguments)
        done = await structured(
            client, "bulk_update_order_status", {**arguments, "confirm_token": preview["confirm_token"]}
        )
    assert preview["preview"].startswith(f"Set 3 orders to processing (batch {preview['batch']}). 1 skipped.")
    assert preview["changes"] == [{"id": o, "status": ["pending", "processing"]} for o in sorted(pending)]
    assert preview["skipped"] == [
        {"reason": "a cancelled order cannot move to processing (allowed next: none, it is final)", "ids": cancelled}
    ]
    assert done["applied"] == sorted(pending)
    assert [await order_status(sandbox_app, o) for o in pending] == ["processing"] * 3


async def test_a_bulk_cancel_leads_with_the_money(make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette,
                                                  mode: str) -> None:  # fmt: skip
    pending = await orders_in(sandbox_app, "pending", 2)
    async with sandbox_http(sandbox_app) as http:
        orders = [(await http.get(f"/v1/orders/{o}")).json() for o in pending]
    total = sum(Decimal(str(o["total"])) for o in orders)
    units = sum(i["quantity"] for o in orders for i in o["items"])
    asked = Asked("decline")
    arguments = {"order_ids": pending, "status": "cancelled"}
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        preview = await structured(client, "bulk_update_order_status", arguments)
        await structured(client, "bulk_update_order_status", {**arguments, "confirm_token": preview["confirm_token"]})
    assert asked.questions[0].startswith(f"Cancel 2 orders ({total:,.2f} SAR; {units} items go back into stock)")
    assert [await order_status(sandbox_app, o) for o in pending] == ["pending", "pending"]


class Meanwhile(httpx2.AsyncBaseTransport):
    """The sandbox, where someone else acts just before a chosen request of the server's arrives."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx2.ASGITransport(app=app)
        self.before: dict[str, Callable[[], Awaitable[None]]] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        hook = self.before.pop(f"{request.method} {request.url.path}", None)
        if hook is not None:
            await hook()
        return await self.inner.handle_async_request(request)


def meanwhile_server(app: Starlette) -> tuple[MCPServer[Shop], Meanwhile]:
    """A server whose API requests pass through :class:`Meanwhile`."""
    transport = Meanwhile(app)
    server = build_server(
        ServerOptions(sandbox=True),
        lambda: HajatekClient("sk_sandbox_business", store_id="str_sandbox", base_url="http://sandbox.local/v1",
                              plan="business", max_retries=0, transport=transport),
    )  # fmt: skip
    return server, transport


async def test_an_order_moved_meanwhile_fails_alone(sandbox_app: Starlette, mode: str) -> None:
    server, transport = meanwhile_server(sandbox_app)
    first, second = sorted(await orders_in(sandbox_app, "pending", 2))

    async def cancel_second() -> None:
        async with sandbox_http(sandbox_app) as http:
            answer = await http.put(f"/v1/orders/{second}/status", json={"status": "cancelled"})
            assert answer.status_code == 200, answer.text

    transport.before[f"PUT /v1/orders/{first}/status"] = cancel_second
    arguments = {"order_ids": [first, second], "status": "processing"}
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_order_status", arguments))["confirm_token"]
        done = await structured(client, "bulk_update_order_status", {**arguments, "confirm_token": token})
        entries = await audit_entries(client)
    assert done["outcome"] == "partial"
    assert done["applied"] == [first]
    assert done["failed"][0]["ids"] == [second]
    assert "cancelled" in done["failed"][0]["reason"]
    assert "confirm_token" not in done, "the API refused it: a retry would be refused too"
    assert await order_status(sandbox_app, first) == "processing"
    assert await order_status(sandbox_app, second) == "cancelled"
    outcomes = [(e.get("target"), e["outcome"]) for e in bulk_entries(entries, "bulk_update_order_status")]
    assert outcomes == [(None, "preview"), (first, "executed"), (second, "failed")]


async def test_a_cancelled_call_keeps_what_was_applied_and_a_new_preview_offers_the_rest(
    sandbox_app: Starlette, mode: str
) -> None:
    before = await prices(sandbox_app)
    server, transport = meanwhile_server(sandbox_app)
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", RAISE))["confirm_token"]
        with anyio.fail_after(10), anyio.CancelScope() as call:

            async def leave() -> None:  # the client gives up while the third product's write is on its way
                call.cancel()
                await anyio.sleep_forever()

            transport.before["PUT /v1/products/prod_0035"] = leave
            await client.call_tool("bulk_update_products", {**RAISE, "confirm_token": token})
        with anyio.fail_after(10):
            while (entries := bulk_entries(await audit_entries(client)))[-1]["outcome"] != "cancelled":
                await anyio.lowlevel.checkpoint()  # the server notices the cancellation on its own time
        fresh = await structured(client, "bulk_update_products", RAISE)
    assert [(e.get("target"), e["outcome"]) for e in entries] == [
        (None, "preview"), ("prod_0004", "executed"), ("prod_0024", "executed"), ("prod_0035", "cancelled")
    ]  # fmt: skip
    after = await prices(sandbox_app)
    assert after["prod_0004"] == raised(before["prod_0004"])
    assert after["prod_0035"] == before["prod_0035"], "its write never reached the store"
    rest = [p for p in await oud_ids(sandbox_app) if p not in ("prod_0004", "prod_0024")]
    assert [c["id"] for c in fresh["changes"]] == rest, "a new preview leaves out what was applied, not what was not"


async def test_a_token_expires_after_its_lifetime(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    async with Client(make_server(clock=clock), mode=mode) as client:  # type: ignore[arg-type]
        token = (await structured(client, "bulk_update_products", RAISE))["confirm_token"]
        clock.now += 301
        expired = await client.call_tool("bulk_update_products", {**RAISE, "confirm_token": token})
    assert expired.is_error
    assert "expired" in text(expired)


def test_a_read_only_grant_is_refused_before_any_read_or_question(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, identity_provider: IdentityProvider, mode: str
) -> None:
    sock = loopback_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    identity_provider.tokens["ro"] = {"active": True, "aud": f"{public}/mcp", "scope": "store.read",
                                      "exp": int(time.time()) + 600}  # fmt: skip
    server = make_server(oauth_issuer=public, oauth_external=identity_provider.issuer())
    app = http_app(server, "streamable-http", host="127.0.0.1", security=HttpSecurity(oauth=True))
    asked = Asked("accept")
    calls = [
        ("bulk_update_products", {"product_ids": ["prod_9999"], "price": 1}),
        ("bulk_update_products", {**OUD, "price_percent": -90, "confirm_token": "cfm_" + "A" * 32}),
        ("bulk_update_order_status", {"order_ids": ["ord_999999"], "status": "refunded"}),
    ]

    async def call_all() -> list[str]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer ro"}, timeout=30) as http,
            Client(streamable_http_client(f"{public}/mcp", http_client=http), mode=mode,
                   elicitation_callback=asked) as client,  # type: ignore[arg-type]
        ):  # fmt: skip
            results = [await client.call_tool(tool, arguments) for tool, arguments in calls]
        assert all(r.is_error for r in results)
        return [text(r) for r in results]

    tripwire = sandbox_app.state.sandbox.faults.inject("/v1/*", count=1000)  # counts every API request
    with Loopback(app, sock):
        messages = anyio.run(call_all)
    assert not asked.questions
    assert all("read-only access" in message for message in messages)
    assert tripwire.remaining == 1000, "the selection was read before the scope was checked"
