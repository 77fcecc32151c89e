"""Exports that stay put: each export_orders call gets its own address, readable for a stated time, by its store only;
a big export is linked, not inlined; the CSV carries the shipping city."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, EmbeddedResource, ResourceLink, TextContent, TextResourceContents
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient, Order
from hajatek_mcp.server import ServerOptions, Shop, build_server
from hajatek_mcp.server.exports import EXPORT_TTL_HOURS, SCHEMA, ExportGone, ExportStore
from hajatek_mcp.server.tools import export as export_module
from hajatek_mcp.storage import Database
from tests.support import CANARY_API_KEY, NOW, FakeClock, KeySwap, text

HOUR = 3600.0
#: The most recent day of the sandbox's orders: a handful, small enough to come inline.
SMALL = {"since": "2026-11-27"}


def other_store_server(sandbox_app: Starlette, state_dir: Path, clock: FakeClock) -> MCPServer[Shop]:
    """A server for another store (``str_other``) on the same API and data dir, as a second store's server would be."""

    def connect() -> HajatekClient:
        return HajatekClient(
            CANARY_API_KEY,
            store_id="str_other",
            base_url="http://sandbox.local/v1",
            plan="business",
            transport=KeySwap(httpx2.ASGITransport(app=sandbox_app)),
        )

    return build_server(ServerOptions(sandbox=True, state_dir=state_dir, clock=clock), connect)


async def read_csv(client: Client, uri: str) -> list[dict[str, str]]:
    content = (await client.read_resource(uri)).contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "text/csv"
    return list(csv.DictReader(io.StringIO(content.text)))


def summary(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    data: dict[str, Any] | None = result.structured_content
    assert data is not None
    return data


async def test_two_exports_in_the_same_second_get_two_addresses_and_both_stay_readable(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())  # time stands still: both exports are made in the same second
    async with Client(make_server(clock=clock), mode=mode) as client:
        first = summary(await client.call_tool("export_orders", {"status": "pending"}))
        second = summary(await client.call_tool("export_orders", {"status": "shipped"}))
        assert first["csv_uri"] != second["csv_uri"]
        assert first["csv_uri"].startswith("hajatek://exports/orders-20261127T120000Z-")
        clock.now += EXPORT_TTL_HOURS * HOUR - 1  # still inside the stated time
        pending = await read_csv(client, first["csv_uri"])
        shipped = await read_csv(client, second["csv_uri"])
    assert {row["status"] for row in pending} == {"pending"}
    assert {row["status"] for row in shipped} == {"shipped"}
    assert (len(pending), len(shipped)) == (first["orders"], second["orders"])
    assert first["expires_at"] == "2026-11-28T12:00:00Z"


async def test_an_export_expires_after_the_stated_time_and_the_error_says_what_to_do(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())
    async with Client(make_server(clock=clock), mode=mode) as client:
        uri = summary(await client.call_tool("export_orders", SMALL))["csv_uri"]
        clock.now += EXPORT_TTL_HOURS * HOUR
        with pytest.raises(MCPError) as expired:
            await client.read_resource(uri)
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("hajatek://exports/orders-20261127T120000Z-0123456789abcdef.csv")
    assert expired.value.code == unknown.value.code == -32602  # not found, not an internal error
    assert "expired at 2026-11-28T12:00:00Z" in expired.value.message
    for error in (expired.value, unknown.value):
        assert f"kept {EXPORT_TTL_HOURS} hours" in error.message
        assert "run export_orders again" in error.message


async def test_an_export_of_one_store_is_unknown_to_another_on_the_same_data_dir(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, tmp_path: Path, mode: str
) -> None:
    clock = FakeClock(start=NOW.timestamp())
    async with Client(make_server(state_dir=tmp_path, clock=clock), mode=mode) as sandbox:
        uri = summary(await sandbox.call_tool("export_orders", SMALL))["csv_uri"]
    async with Client(other_store_server(sandbox_app, tmp_path, clock), mode=mode) as other:
        with pytest.raises(MCPError) as refused:
            await other.read_resource(uri)
    assert refused.value.code == -32602
    async with Client(make_server(state_dir=tmp_path, clock=clock), mode=mode) as sandbox:
        assert await read_csv(sandbox, uri), "the store that made it still reads it, after a restart too"


async def test_a_big_export_returns_its_summary_and_address_not_the_csv(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode) as client:
        result = await client.call_tool("export_orders", {})
        data = summary(result)
        rows = await read_csv(client, data["csv_uri"])
    assert data["orders"] == len(rows) == 1200
    assert data["inline"] is False
    assert not [b for b in result.content if isinstance(b, EmbeddedResource)]
    links = [b for b in result.content if isinstance(b, ResourceLink)]
    assert [str(link.uri) for link in links] == [data["csv_uri"]]
    assert links[0].mime_type == "text/csv"
    model_reads = sum(len(b.text.encode()) for b in result.content if isinstance(b, TextContent))
    assert model_reads < 600, f"{model_reads} bytes of text for a 1,200-order export"
    assert "resources/read csv_uri" in text(result)
    assert sum((Decimal(r["total"]) for r in rows), Decimal(0)) == Decimal(str(data["value"]))
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    assert by_status == data["by_status"]


async def test_a_small_export_comes_inline_under_its_address(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode) as client:
        result = await client.call_tool("export_orders", SMALL)
        data = summary(result)
        kept = await read_csv(client, data["csv_uri"])
    blocks = [b for b in result.content if isinstance(b, EmbeddedResource)]
    assert data["inline"] is True
    assert len(blocks) == 1
    inline = blocks[0].resource
    assert isinstance(inline, TextResourceContents)
    assert str(inline.uri) == data["csv_uri"]
    assert len(inline.text.encode()) <= export_module.INLINE_MAX_BYTES
    assert list(csv.DictReader(io.StringIO(inline.text))) == kept
    assert 0 < data["orders"] == len(kept)


async def test_the_csv_carries_each_orders_shipping_city(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode) as client:
        data = summary(await client.call_tool("export_orders", {"status": "processing"}))
        rows = await read_csv(client, data["csv_uri"])
        sample = rows[:: max(1, len(rows) // 4)]
        cities = {}
        for row in sample:
            order = (await client.read_resource(f"hajatek://orders/{row['id']}")).contents[0]
            assert isinstance(order, TextResourceContents)
            cities[row["id"]] = json.loads(order.text)["shipping_address"]["city"]
    assert "city" in data["columns"]
    assert all(row["city"] for row in rows)
    assert {row["id"]: row["city"] for row in sample} == cities


def test_customer_names_get_a_column_when_orders_carry_them_and_never_run_as_formulas() -> None:
    tally = export_module._Tally()
    named = {"id": "ord_1", "status": "pending", "total": "10.00", "customer_name": "=HYPERLINK(1)"}
    tally.add(Order.model_validate({**named, "shipping_address": {"city": "+Riyadh"}}))
    tally.add(Order.model_validate({"id": "ord_2", "status": "pending", "total": "5.00"}))
    columns = tally.columns()
    rows = list(csv.DictReader(io.StringIO(export_module._csv(tally.rows, columns, redact=False))))
    assert columns.index("customer_name") < columns.index("city")
    assert (rows[0]["customer_name"], rows[0]["city"]) == ("'=HYPERLINK(1)", "'+Riyadh")
    assert (rows[1]["customer_name"], rows[1]["city"]) == ("", "")
    unnamed = export_module._Tally()
    unnamed.add(Order.model_validate({"id": "ord_3", "status": "pending", "total": "5.00"}))
    assert "customer_name" not in unnamed.columns(), "no column of blanks when the API sends no names"


async def test_the_description_and_the_resource_state_how_long_exports_are_kept(
    make_server: Callable[..., MCPServer[Shop]], mode: str
) -> None:
    async with Client(make_server(), mode=mode) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "export_orders")
        templates = (await client.list_resource_templates()).resource_templates
    template = next(t for t in templates if t.uri_template == "hajatek://exports/{name}")
    assert f"{EXPORT_TTL_HOURS} h" in (tool.description or "")
    assert f"kept {EXPORT_TTL_HOURS} hours" in (template.description or "")


async def test_each_store_keeps_its_newest_exports_within_the_caps(clock: FakeClock) -> None:
    database = Database(None, SCHEMA)  # one file, two stores
    store = ExportStore(database, store_id="str_a", max_kept=2, max_bytes=10, clock=clock)
    neighbour = ExportStore(database, store_id="str_b", clock=clock)
    try:
        theirs = await neighbour.save("orders", "b")
        first = await store.save("orders", "1")
        clock.now += 1
        second = await store.save("orders", "2")
        third = await store.save("orders", "3")  # same second as the second: the newest by insertion
        with pytest.raises(ExportGone, match="at most the newest 2 per store"):
            await store.read(first.uri.rsplit("/", 1)[1])
        assert [await store.read(s.uri.rsplit("/", 1)[1]) for s in (second, third)] == ["2", "3"]
        assert await neighbour.read(theirs.uri.rsplit("/", 1)[1]) == "b", "another store's exports are not counted"
        big = await store.save("orders", "x" * 50)  # over the byte cap alone: kept, as the newest always is
        assert await store.read(big.uri.rsplit("/", 1)[1]) == "x" * 50
        with pytest.raises(ExportGone):
            await store.read(third.uri.rsplit("/", 1)[1])
    finally:
        database.close()


async def test_an_address_that_is_no_export_name_is_refused_before_any_lookup(clock: FakeClock) -> None:
    store = ExportStore(None, store_id="str_a", clock=clock)
    try:
        for name in ("../audit.db", "orders-x.csv", "' OR 1=1 --", ""):
            with pytest.raises(ExportGone, match="No export at this address"):
                await store.read(name)
    finally:
        store.close()
