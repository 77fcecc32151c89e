"""Unknown arguments are refused, not ignored; a refused value gets one sentence that names the fix.

The attack is an honest mistake: ``list_orders(stauts="pending")`` used to answer every order, and
``list_orders(customer_id=...)`` other customers' orders (a filter it has since gained). Both eras, and the published
schemas say so too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import Connect, text


async def test_an_unknown_argument_is_refused_with_the_closest_known_one(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_orders", {"stauts": "pending"})
    assert result.is_error
    assert "Unknown argument “stauts”; did you mean 'status'?" in text(result)
    assert "nothing was done" in text(result).lower()


async def test_an_argument_no_tool_has_names_what_the_tool_takes(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_orders", {"sort": "total"})
    assert result.is_error
    assert "“sort”" in text(result)
    assert "This tool takes: customer_id, limit, page, since, status, until." in text(result)


async def test_every_input_schema_refuses_unknown_properties(connect: Connect) -> None:
    async with connect() as client:
        tools = (await client.list_tools()).tools
    assert tools
    for tool in tools:
        assert tool.input_schema.get("additionalProperties") is False, tool.name


async def test_a_refused_value_is_one_sentence_per_argument(connect: Connect) -> None:
    async with connect() as client:
        status = await client.call_tool("list_orders", {"status": "shipping"})
        several = await client.call_tool("list_products", {"limit": 500, "page": 0})
        missing = await client.call_tool("get_order", {})
        pattern = await client.call_tool("get_order", {"order_id": "12345"})
        money = await client.call_tool("update_product", {"product_id": "prod_0001", "price": 9.999})
    assert "status “shipping” is not one of pending, processing, shipped, delivered, cancelled, refunded." in text(
        status
    )
    assert "limit “500” must be at most 100." in text(several)
    assert "page “0” must be at least 1." in text(several)
    assert "Argument 'order_id' is required (ord_…)." in text(missing)
    assert "order_id “12345” is not in the expected form (ord_…)." in text(pattern)
    assert "price “9.999” has too many decimals: at most 2." in text(money)
    for result in (status, several, missing, pattern, money):
        assert result.is_error
        message = text(result)
        assert "pydantic" not in message
        assert "https://" not in message
        assert "validation error" not in message
        assert "Arguments" not in message, "no class names"


def test_the_cli_call_shows_the_same_sentence(tmp_path: Path) -> None:
    env = {**os.environ, "HAJATEK_DATA_DIR": str(tmp_path)}
    script = Path(sys.executable).with_name("hajatek-mcp")
    command = [str(script), "call", "--sandbox", "list_orders", "stauts=pending"]
    done = subprocess.run(  # noqa: S603  # our own console script, fixed arguments
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "Unknown argument “stauts”; did you mean 'status'?" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
