"""Plain answers where the server used to be terse: a tool left out says why, an empty filter says what exists."""

from __future__ import annotations

from tests.support import Connect, text

WRITE_TOOLS = ("create_product", "update_product", "delete_product", "update_order_status")


async def test_a_read_only_server_says_why_a_write_tool_is_missing(connect: Connect) -> None:
    async with connect(read_only=True) as client:
        result = await client.call_tool("update_order_status", {"order_id": "ord_000001", "status": "processing"})
        unknown = await client.call_tool("no_such_tool", {})
    assert result.is_error
    assert "update_order_status is not available: this server is read-only" in text(result)
    assert unknown.is_error
    assert "not available" not in text(unknown)


async def test_a_tool_of_a_toolset_that_is_off_says_so(connect: Connect) -> None:
    async with connect(toolsets=frozenset({"store"})) as client:
        result = await client.call_tool("list_orders", {})
    assert result.is_error
    assert "its toolset 'orders' is not enabled" in text(result)


async def test_the_read_only_instructions_name_no_write_tool(connect: Connect) -> None:
    async with connect(read_only=True) as client:
        instructions = client.instructions or ""
    assert "list_products" in instructions
    for tool in WRITE_TOOLS:
        assert tool not in instructions
    assert "nothing can be changed" in instructions


async def test_an_empty_category_lists_the_categories_that_exist(connect: Connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_products", {"category": "perfume"})
    assert not result.is_error
    assert "No products in category “perfume”. The catalog's categories: beauty, dates-coffee," in text(result)
    assert "perfumes-oud" in text(result)


async def test_a_product_in_a_new_category_is_created_and_the_category_called_new(connect: Connect) -> None:
    async with connect() as client:
        new = await client.call_tool("create_product", {"name": "Oud", "price": 5, "category": "perfume"})
        known = await client.call_tool("create_product", {"name": "Oud 2", "price": 5, "category": "perfumes-oud"})
    assert not new.is_error
    assert "New category “perfume”: no other product is in it." in text(new)
    assert not known.is_error
    assert "New category" not in text(known)
