"""The guard matrix: every guarded operation × both eras × every way a yes can be given, refused or forged.

The sandbox's state is the judge: the operation happened exactly in the accepting and valid-token cases. The audit
log must tell the same story.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextResourceContents

from hajatek_mcp.server import Shop
from tests.support import CANARY_API_KEY, FakeClock, text

Elicitor = Callable[[ClientRequestContext, types.ElicitRequestParams], Awaitable[types.ElicitResult]]


def answering(action: str, content: dict[str, Any] | None = None) -> Elicitor:
    async def callback(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    asked: list[str] = []
    callback.asked = asked  # type: ignore[attr-defined]
    return callback


async def data(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content


async def product_by_sku(client: Client, sku: str) -> dict[str, Any] | None:
    found = await data(client, "list_products", {"search": sku, "limit": 100})
    return next((p for p in found["products"] if p["sku"] == sku), None)


@dataclass(frozen=True)
class Op:
    """One guarded operation: how to pick a target, call it, change the target, and tell whether it happened."""

    name: str
    tool: str
    pick: Callable[[Client], Awaitable[tuple[dict[str, Any], str]]]
    """The call's arguments and a handle on the target (sku or order id)."""
    happened: Callable[[Client, str, dict[str, Any]], Awaitable[bool]]
    disturb: Callable[[Client, str], Awaitable[None]]
    """Change the target in an allowed, unguarded way (so a preview no longer describes it)."""


async def _stocked_product(client: Client) -> dict[str, Any]:
    listing = await data(client, "list_products", {"limit": 50})
    return next(p for p in listing["products"] if p["stock"] > 0 and p["price"] > 20)


async def _order(client: Client, status: str) -> str:
    listing = await data(client, "list_orders", {"status": status, "limit": 1})
    return str(listing["orders"][0]["id"])


async def _rename(client: Client, sku: str) -> None:
    product = await product_by_sku(client, sku)
    assert product is not None
    await data(client, "update_product", {"product_id": product["id"], "name": product["name"] + " (new pack)"})


async def _order_status(client: Client, order_id: str) -> str:
    return str((await data(client, "get_order", {"order_id": order_id}))["status"])


async def _pick_delete(client: Client) -> tuple[dict[str, Any], str]:
    p = await _stocked_product(client)
    return {"product_id": p["id"]}, p["sku"]


async def _pick_cut(client: Client) -> tuple[dict[str, Any], str]:
    p = await _stocked_product(client)
    return {"product_id": p["id"], "price": round(p["price"] * 0.3, 2)}, p["sku"]


async def _pick_zero(client: Client) -> tuple[dict[str, Any], str]:
    p = await _stocked_product(client)
    return {"product_id": p["id"], "stock": 0}, p["sku"]


async def _pick_cancel(client: Client) -> tuple[dict[str, Any], str]:
    order_id = await _order(client, "pending")
    return {"order_id": order_id, "status": "cancelled"}, order_id


async def _pick_refund(client: Client) -> tuple[dict[str, Any], str]:
    order_id = await _order(client, "shipped")
    return {"order_id": order_id, "status": "refunded"}, order_id


async def _gone(client: Client, sku: str, args: dict[str, Any] | None = None) -> bool:
    return await product_by_sku(client, sku) is None


async def _cut(client: Client, sku: str, args: dict[str, Any]) -> bool:
    product = await product_by_sku(client, sku)
    return product is not None and product["price"] == args["price"]


async def _zero(client: Client, sku: str, args: dict[str, Any] | None = None) -> bool:
    product = await product_by_sku(client, sku)
    return product is not None and product["stock"] == 0


async def _cancelled(client: Client, order_id: str, args: dict[str, Any] | None = None) -> bool:
    return await _order_status(client, order_id) == "cancelled"


async def _refunded(client: Client, order_id: str, args: dict[str, Any] | None = None) -> bool:
    return await _order_status(client, order_id) == "refunded"


async def _move(client: Client, order_id: str) -> None:
    nxt = {"pending": "processing", "shipped": "delivered"}[await _order_status(client, order_id)]
    await data(client, "update_order_status", {"order_id": order_id, "status": nxt})


OPS = [
    Op("delete", "delete_product", _pick_delete, _gone, _rename),
    Op("price-cut", "update_product", _pick_cut, _cut, _rename),
    Op("stock-to-zero", "update_product", _pick_zero, _zero, _rename),
    Op("cancel", "update_order_status", _pick_cancel, _cancelled, _move),
    Op("refund", "update_order_status", _pick_refund, _refunded, _move),
]

ELICITATION_CASES = {
    "accept": (answering("accept", {"confirm": True}), True, "executed"),
    "accept-but-no": (answering("accept", {"confirm": False}), False, "declined"),
    "decline": (answering("decline"), False, "declined"),
    "cancel": (answering("cancel"), False, "cancelled"),
}


async def audit_outcomes(client: Client, tool: str) -> list[str]:
    result = await client.read_resource("hajatek://audit")
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    entries = json.loads(content.text)["entries"]
    unguarded = ("executed", "not_guarded")  # plain writes the test makes along the way (renames, moves)
    return [e["outcome"] for e in reversed(entries) if e["tool"] == tool and (e["outcome"], e["path"]) != unguarded]


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@pytest.mark.parametrize("case", list(ELICITATION_CASES))
async def test_elicitation_decides(make_server: Callable[..., MCPServer[Shop]], mode: str, op: Op, case: str) -> None:
    callback, should_happen, outcome = ELICITATION_CASES[case]
    async with Client(make_server(), mode=mode, elicitation_callback=callback) as client:  # type: ignore[arg-type]
        args, target = await op.pick(client)
        result = await client.call_tool(op.tool, args)
        assert not result.is_error, text(result)
        assert result.structured_content is not None
        assert result.structured_content["outcome"] == ("done" if should_happen else outcome)
        assert callback.asked, "the user must have been asked"  # type: ignore[attr-defined]
        assert "Do you want to go ahead?" in callback.asked[0]  # type: ignore[attr-defined]
        if not should_happen:
            assert "nothing was changed" in text(result).lower()
        assert await op.happened(client, target, args) is should_happen
        assert await audit_outcomes(client, op.tool) == [outcome]


TOKEN_CASES = ["no-token", "valid", "reused", "other-arguments", "expired", "target-changed", "forged"]


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@pytest.mark.parametrize("case", TOKEN_CASES)
async def test_preview_and_token_decide_when_the_client_cannot_elicit(
    make_server: Callable[..., MCPServer[Shop]], mode: str, op: Op, case: str
) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    async with Client(make_server(clock=clock), mode=mode) as client:  # type: ignore[arg-type]
        args, target = await op.pick(client)
        preview = await data(client, op.tool, args)
        assert preview["outcome"] == "confirmation_required"
        assert preview["preview"]
        token = preview["confirm_token"]
        assert not await op.happened(client, target, args), "a preview changes nothing"
        expected = ["preview"]
        if case == "no-token":
            pass
        elif case == "valid":
            done = await data(client, op.tool, {**args, "confirm_token": token})
            assert done["outcome"] == "done"
            expected.append("executed")
        else:
            confirm = {**args, "confirm_token": token}
            if case == "reused":
                await data(client, op.tool, confirm)
                expected.append("executed")
            elif case == "other-arguments":
                confirm = {**confirm, **_other_arguments(args)}
            elif case == "expired":
                clock.now += 301
            elif case == "target-changed":
                await op.disturb(client, target)
            elif case == "forged":
                confirm["confirm_token"] = "cfm_" + "A" * 32
            before = await op.happened(client, target, args)
            refused = await client.call_tool(op.tool, confirm)
            assert refused.is_error, case
            gone = case == "reused" and op.name == "delete"  # the deleted product cannot be found to preview again
            assert "Nothing was changed" in text(refused)
            assert await op.happened(client, target, args) is before
            expected.append("failed" if gone else "refused")
        assert await op.happened(client, target, args) is (case in {"valid", "reused"})
        assert await audit_outcomes(client, op.tool) == expected


def _other_arguments(args: dict[str, Any]) -> dict[str, Any]:
    if "price" in args:
        return {"price": round(args["price"] - 1, 2)}
    if "stock" in args:
        return {"stock": 0, "name": "Renamed in passing"}
    if "status" in args:
        return {"note": "a different call"}
    return {"product_id": "prod_0001" if args["product_id"] != "prod_0001" else "prod_0002"}


@pytest.mark.parametrize("confirm", ["token", "none"])
async def test_the_confirm_setting_forces_the_token_path_or_trusts_the_host(
    make_server: Callable[..., MCPServer[Shop]], mode: str, confirm: str
) -> None:
    callback = answering("accept", {"confirm": True})
    async with Client(make_server(confirm=confirm), mode=mode, elicitation_callback=callback) as client:  # type: ignore[arg-type]
        args, target = await _pick_cancel(client)
        result = await data(client, "update_order_status", args)
        assert not callback.asked  # type: ignore[attr-defined]
        if confirm == "token":
            assert result["outcome"] == "confirmation_required"
            assert not await _cancelled(client, target)
        else:
            assert result["outcome"] == "done"
            assert await _cancelled(client, target)
            assert await audit_outcomes(client, "update_order_status") == ["executed"]


async def test_non_destructive_writes_need_no_confirmation(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    callback = answering("decline")
    async with Client(make_server(), mode=mode, elicitation_callback=callback) as client:  # type: ignore[arg-type]
        created = await data(client, "create_product", {"name": "Saffron 5g", "price": 65, "category": "dates-coffee"})
        shipped = await data(client, "update_order_status", {"order_id": await _order(client, "processing"),
                                                              "status": "shipped"})  # fmt: skip
        small_cut = await data(client, "update_product", {"product_id": created["id"], "price": 60})
    assert not callback.asked  # type: ignore[attr-defined]
    assert shipped["outcome"] == "done"
    assert shipped["result"]["status"] == "shipped"
    assert small_cut["outcome"] == "done"


async def test_the_audit_log_survives_a_restart(make_server: Callable[..., MCPServer[Shop]], tmp_path: Any) -> None:
    async with Client(make_server(state_dir=tmp_path)) as client:
        args, _ = await _pick_delete(client)
        await data(client, "delete_product", args)
    async with Client(make_server(state_dir=tmp_path)) as client:
        assert await audit_outcomes(client, "delete_product") == ["preview"]


async def test_a_token_from_before_a_restart_still_works_once(
    make_server: Callable[..., MCPServer[Shop]], tmp_path: Any
) -> None:
    async with Client(make_server(state_dir=tmp_path)) as client:
        args, target = await _pick_cancel(client)
        token = (await data(client, "update_order_status", args))["confirm_token"]
    async with Client(make_server(state_dir=tmp_path)) as client:
        done = await data(client, "update_order_status", {**args, "confirm_token": token})
        again: CallToolResult = await client.call_tool("update_order_status", {**args, "confirm_token": token})
        assert done["outcome"] == "done"
        assert again.is_error
        assert await _cancelled(client, target)


async def test_the_api_key_is_in_no_result_and_no_audit_entry(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    seen: list[str] = []
    async with Client(make_server(), mode=mode) as client:  # type: ignore[arg-type]
        args, _ = await _pick_cancel(client)
        for call in (args, {**args, "confirm_token": "cfm_" + "B" * 30}, {"order_id": "ord_missing", "status": "x"}):
            seen.append((await client.call_tool("update_order_status", call)).model_dump_json())
        preview = await data(client, "update_order_status", args)
        seen.append(
            json.dumps(await data(client, "update_order_status", {**args, "confirm_token": preview["confirm_token"]}))
        )
        audit = await client.read_resource("hajatek://audit")
        seen.append(audit.model_dump_json())
    assert all(CANARY_API_KEY not in s for s in seen)
    assert preview["confirm_token"] not in seen[-1], "the audit log keeps only a token's last characters"
