"""The confirmation card's path (MCP Apps): a guarded change waits for the merchant's click, and the model never holds
what would let it click.

Here a test client plays the host and the card: it negotiates the extension, receives the change's token in the
result's ``_meta`` and calls the app-only ``approve_change`` as the card's buttons do. (The card itself, clicked in a
real browser: tests/e2e/test_apps_browser.py.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.server.mcpserver import MCPServer

from hajatek_mcp.server import Shop
from hajatek_mcp.server.writes import APPROVAL_META
from tests.support import audit_entries, structured, text

APPS = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
PRODUCT = "prod_0009"


async def cut(host: Client, product: str = PRODUCT) -> tuple[dict[str, Any], dict[str, Any], float]:
    """A price cut to a tenth of ``product``: (its structured result, its approval _meta, the price before)."""
    price = (await structured(host, "get_product", {"product_id": product}))["price"]
    result = await host.call_tool("update_product", {"product_id": product, "price": round(price / 10, 2)})
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content, (result.meta or {})[APPROVAL_META], price


async def price_of(client: Client, product: str = PRODUCT) -> float:
    return float((await structured(client, "get_product", {"product_id": product}))["price"])


async def test_an_apps_host_gets_a_card_and_the_model_no_token_to_relay(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode, extensions=APPS) as host:  # type: ignore[arg-type]
        price = await price_of(host)
        result = await host.call_tool("update_product", {"product_id": PRODUCT, "price": round(price / 10, 2)})
        approval = (result.meta or {})[APPROVAL_META]
        assert result.structured_content is not None
        assert result.structured_content["outcome"] == "awaiting_approval"
        assert result.structured_content.get("confirm_token") is None
        assert approval["confirm_token"] not in text(result)  # what the model reads
        assert approval["confirm_token"] not in json.dumps(result.structured_content)
        assert approval["tool"] == "update_product"
        assert approval["arguments"]["product_id"] == PRODUCT
        assert float(approval["arguments"]["price"]) == round(price / 10, 2)  # the call, as the server read it
        assert "confirmation card" in result.structured_content["next_step"]
        assert await price_of(host) == price  # nothing changed yet
        assert (await audit_entries(host))[0]["path"] == "app"


async def test_approve_applies_the_change_once_and_the_audit_says_app(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode, extensions=APPS) as host:  # type: ignore[arg-type]
        _, approval, price = await cut(host)
        click = {**approval, "decision": "approve"}
        done = await structured(host, "approve_change", click)
        assert done["outcome"] == "done"
        assert await price_of(host) == round(price / 10, 2)
        newest = (await audit_entries(host))[0]
        assert (newest["tool"], newest["outcome"], newest["path"]) == ("update_product", "executed", "app")
        again = await host.call_tool("approve_change", click)
        assert again.is_error
        assert "already used" in text(again)


async def test_decline_changes_nothing_and_uses_the_token_up(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode, extensions=APPS) as host:  # type: ignore[arg-type]
        _, approval, price = await cut(host)
        declined = await structured(host, "approve_change", {**approval, "decision": "decline"})
        assert declined["outcome"] == "declined"
        newest = (await audit_entries(host))[0]
        assert (newest["outcome"], newest["path"]) == ("declined", "app")
        late = await host.call_tool("approve_change", {**approval, "decision": "approve"})
        assert late.is_error
        assert "already used" in text(late)
        assert await price_of(host) == price


async def test_approve_is_refused_for_another_change_or_a_token_never_issued(
    make_server: Callable[..., MCPServer[Shop]],
) -> None:
    async with Client(make_server(), extensions=APPS) as host:  # type: ignore[arg-type]
        _, approval, price = await cut(host)
        other = {**approval, "arguments": {"product_id": PRODUCT, "price": 0.01}, "decision": "approve"}
        refused = await host.call_tool("approve_change", other)
        assert refused.is_error
        assert "different call" in text(refused)
        made_up = await host.call_tool(
            "approve_change", {**approval, "confirm_token": "cfm_" + "x" * 32, "decision": "approve"}
        )
        assert made_up.is_error
        assert "not one this server issued" in text(made_up)
        assert await price_of(host) == price
        still = await structured(host, "approve_change", {**approval, "decision": "approve"})
        assert still["outcome"] == "done"  # the refusals did not use the real token up


async def test_a_client_without_apps_neither_sees_nor_can_call_the_cards_tool(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode) as plain:  # type: ignore[arg-type]
        names = [t.name for t in (await plain.list_tools()).tools]
        assert "approve_change" not in names
        price = await price_of(plain)
        preview = await structured(plain, "update_product", {"product_id": PRODUCT, "price": round(price / 10, 2)})
        assert preview["outcome"] == "confirmation_required"  # the token path, as before
        called = await plain.call_tool(
            "approve_change",
            {"tool": "update_product", "arguments": {"product_id": PRODUCT, "price": round(price / 10, 2)},
             "confirm_token": preview["confirm_token"], "decision": "approve"},
        )  # fmt: skip
        assert called.is_error
        assert "confirmation card" in text(called)
        assert await price_of(plain) == price


async def test_confirm_token_mode_keeps_the_token_path_for_an_apps_host(
    make_server: Callable[..., MCPServer[Shop]],
) -> None:
    async with Client(make_server(confirm="token"), extensions=APPS) as host:  # type: ignore[arg-type]
        price = await price_of(host)
        preview = await structured(host, "update_product", {"product_id": PRODUCT, "price": round(price / 10, 2)})
        assert preview["outcome"] == "confirmation_required"
        assert preview["confirm_token"].startswith("cfm_")


async def test_a_bulk_change_waits_for_the_card_too_and_applies_once_on_approve(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode, extensions=APPS) as host:  # type: ignore[arg-type]
        ids = [p["id"] for p in (await structured(host, "list_products", {"limit": 3}))["products"]]
        before = {i: await price_of(host, i) for i in ids}
        batch = {"product_ids": ids, "price_percent": -60}
        result = await host.call_tool("bulk_update_products", batch)
        assert not result.is_error, text(result)
        assert result.structured_content is not None
        assert result.structured_content["outcome"] == "awaiting_approval"
        assert result.structured_content.get("confirm_token") is None
        approval = (result.meta or {})[APPROVAL_META]
        assert approval["confirm_token"] not in text(result)
        assert {i: await price_of(host, i) for i in ids} == before  # nothing yet
        done = await structured(host, "approve_change", {**approval, "decision": "approve"})
        assert done["outcome"] == "done"
        after = {i: await price_of(host, i) for i in ids}
        assert all(after[i] < before[i] for i in ids)
        again = await host.call_tool("approve_change", {**approval, "decision": "approve"})
        assert again.is_error
        assert {i: await price_of(host, i) for i in ids} == after
        paths = {e["path"] for e in await audit_entries(host) if e["tool"] == "bulk_update_products"}
        assert "app" in paths
        assert "token" not in paths
