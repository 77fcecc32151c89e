"""Finding 2: many small cuts add up. The guard measures a cut against the highest value in the guard window.

The attack: 184.99 → 0.02 SAR in 14 calls of −49 % each, every one under the 50 % threshold. Now the second step
(a −74 % cut from 184.99) already needs the merchant's yes, and so does each one after it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from mcp import Client
from mcp.server.mcpserver import MCPServer

from hajatek_mcp.server import Shop
from tests.support import Asked, FakeClock, structured


async def _product(client: Client, price: str = "184.99", stock: int = 100) -> str:
    created = await structured(client, "create_product", {"name": "Salami Oud", "price": price,
                                                          "category": "perfumes-oud", "stock": stock})  # fmt: skip
    return str(created["id"])


def _step(price: Decimal) -> Decimal:
    return max((price * Decimal("0.51")).quantize(Decimal("0.01"), ROUND_HALF_UP), Decimal("0.01"))


async def test_small_price_cuts_that_add_up_need_a_yes(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    asked = Asked("decline")
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        product_id = await _product(client)
        price, outcomes = Decimal("184.99"), []
        for _ in range(14):
            new = _step(price)
            answer = await structured(client, "update_product", {"product_id": product_id, "price": str(new)})
            outcomes.append(answer["outcome"])
            if answer["outcome"] == "done":
                price = new
    assert outcomes[0] == "done", "one cut under the threshold still needs no yes"
    assert set(outcomes[1:]) == {"declined"}, outcomes
    assert price == Decimal("94.34")
    assert "from 184.99 SAR, its highest in the last 24 h" in asked.questions[0]


async def test_a_confirmed_cut_is_the_new_reference(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    asked = Asked("accept")
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        product_id = await _product(client, "100.00")
        first = await structured(client, "update_product", {"product_id": product_id, "price": "40.00"})
        second = await structured(client, "update_product", {"product_id": product_id, "price": "38.00"})
    assert first["outcome"] == second["outcome"] == "done"
    assert len(asked.questions) == 1, "the merchant agreed to 40.00; a 5 % cut from there needs no second yes"


async def test_the_window_ends(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    asked = Asked("decline")
    server = make_server(clock=clock, guard_window=3600.0)
    async with Client(server, mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        product_id = await _product(client, "100.00")
        await structured(client, "update_product", {"product_id": product_id, "price": "60.00"})
        inside = await structured(client, "update_product", {"product_id": product_id, "price": "40.00"})
        clock.now += 3601
        after = await structured(client, "update_product", {"product_id": product_id, "price": "40.00"})
    assert inside["outcome"] == "declined"
    assert after["outcome"] == "done", "60 → 40 is a 33 % cut once 100.00 is out of the window"


async def test_stock_cuts_that_add_up_need_a_yes(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    asked = Asked("decline")
    async with Client(make_server(), mode=mode, elicitation_callback=asked) as client:  # type: ignore[arg-type]
        product_id = await _product(client, stock=100)
        first = await structured(client, "update_product", {"product_id": product_id, "stock": 60})
        second = await structured(client, "update_product", {"product_id": product_id, "stock": 30})
        to_zero = await structured(client, "update_product", {"product_id": product_id, "stock": 0})
        raised = await structured(client, "update_product", {"product_id": product_id, "stock": 70})
    assert first["outcome"] == "done"
    assert second["outcome"] == "declined", "30 is 70 % under the 100 the product had today"
    assert "from 100" in asked.questions[0]
    assert to_zero["outcome"] == "declined"
    assert raised["outcome"] == "done", "raising stock is never guarded"


async def test_the_token_path_uses_the_same_reference(make_server: Callable[..., MCPServer[Shop]], mode: str) -> None:
    async with Client(make_server(confirm="token"), mode=mode) as client:  # type: ignore[arg-type]
        product_id = await _product(client, "200.00")
        first = await structured(client, "update_product", {"product_id": product_id, "price": "110.00"})
        second = await structured(client, "update_product", {"product_id": product_id, "price": "60.00"})
    assert first["outcome"] == "done"
    assert second["outcome"] == "confirmation_required"
    assert "-70% from 200.00 SAR" in second["preview"]
