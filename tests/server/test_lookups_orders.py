"""get_order tells what a merchant asks about an order: who, where, what in Arabic, what happened to it (from the
API, this server's audit log and its inbox, each step marked), whether it was paid; a cancel says what went back
to stock. Expectations come from the sandbox's own HTTP API, and its own recorded webhooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr
from starlette.applications import Starlette

from hajatek_mcp.api import Order, sign
from hajatek_mcp.server import HajatekServer, Shop
from hajatek_mcp.server.events import WEBHOOK_PATH
from hajatek_mcp.server.order_facts import restocked
from tests.support import CANARY_WEBHOOK_SECRET, NOW, Connect, FakeClock, sandbox_http, structured, text, walk


async def listing(app: Starlette, path: str, key: str) -> dict[str, dict[str, Any]]:
    async with sandbox_http(app) as http:
        items, _ = await walk(http, path, key)
    return {item["id"]: item for item in items}


async def pending_order(app: Starlette) -> dict[str, Any]:
    async with sandbox_http(app) as http:
        order: dict[str, Any] = (await http.get("/v1/orders", params={"status": "pending", "limit": 1})).json()[
            "orders"
        ][0]
    return order


async def test_an_order_shows_its_customer_and_each_lines_arabic_name(connect: Connect, sandbox_app: Starlette) -> None:
    orders = await listing(sandbox_app, "/v1/orders", "orders")
    products = await listing(sandbox_app, "/v1/products", "products")
    customers = await listing(sandbox_app, "/v1/customers", "customers")
    order = next(o for o in orders.values() if len(o["items"]) >= 3)
    async with connect() as client:
        shown = await structured(client, "get_order", {"order_id": order["id"]})
    assert [line["name_ar"] for line in shown["items"]] == [
        products[i["product_id"]]["name_ar"] for i in order["items"]
    ]
    customer = customers[order["customer_id"]]
    assert (shown["customer_name"], shown["customer_city"]) == (customer["name"], customer["city"])


async def test_a_deleted_product_has_no_arabic_name_rather_than_a_guess(
    connect: Connect, sandbox_app: Starlette
) -> None:
    orders = await listing(sandbox_app, "/v1/orders", "orders")
    order = next(o for o in orders.values() if len(o["items"]) >= 2)
    gone = order["items"][0]["product_id"]
    async with sandbox_http(sandbox_app) as http:
        assert (await http.delete(f"/v1/products/{gone}")).status_code == 200
    async with connect() as client:
        shown = await structured(client, "get_order", {"order_id": order["id"]})
    assert "name_ar" not in shown["items"][0]
    assert shown["items"][0]["name"] == order["items"][0]["name"], "the line keeps the name it was ordered under"
    assert all("name_ar" in line for line in shown["items"][1:])


async def test_a_status_change_with_a_note_shows_in_the_history_from_the_audit_log(
    connect: Connect, sandbox_app: Starlette
) -> None:
    order = await pending_order(sandbox_app)
    async with connect() as client:
        moved = await structured(
            client, "update_order_status", {"order_id": order["id"], "status": "processing", "note": "paid at pickup"}
        )
        shown = await structured(client, "get_order", {"order_id": order["id"]})
    assert moved["outcome"] == "done"
    [step] = [s for s in shown["history"] if s["source"] == "audit"]
    assert (step["status"], step["note"]) == ("processing", "paid at pickup")
    assert step["by"] == "update_order_status"
    assert datetime.fromisoformat(step["at"]).tzinfo is not None


async def deliver(server: HajatekServer, events: list[dict[str, Any]]) -> None:
    """Hand the sandbox's recorded events to the server's webhook receiver, signed as Hajatek signs them."""
    receiver = httpx2.ASGITransport(app=Starlette(routes=server.webhook_routes))
    async with httpx2.AsyncClient(transport=receiver, base_url="http://hajatek-mcp.local") as http:
        for event in events:
            body = json.dumps({k: event[k] for k in ("id", "type", "created_at", "data")}).encode()
            headers = {"X-Hajatek-Signature": sign(CANARY_WEBHOOK_SECRET, body), "Content-Type": "application/json"}
            assert (await http.post(WEBHOOK_PATH, content=body, headers=headers)).status_code == 200


async def test_payment_is_known_from_the_payment_event_the_inbox_received(
    make_server: Callable[..., MCPServer[Shop]], sandbox_app: Starlette, mode: str
) -> None:
    order = await pending_order(sandbox_app)
    clock = FakeClock(start=NOW.timestamp())
    server = make_server(webhook_secret=SecretStr(CANARY_WEBHOOK_SECRET), clock=clock)
    assert isinstance(server, HajatekServer)
    async with Client(server, mode=mode) as client:
        before = await structured(client, "get_order", {"order_id": order["id"]})
        await structured(client, "update_order_status", {"order_id": order["id"], "status": "processing"})
        async with sandbox_http(sandbox_app) as http:
            recorded = (await http.get("/_sandbox/events")).json()["events"]
        ours = [e for e in recorded if e["data"].get("order_id") == order["id"]]
        clock.advance(5)
        await deliver(server, ours)
        after = await structured(client, "get_order", {"order_id": order["id"]})
    assert before["payment"]["state"] == "unknown"
    why = before["payment"]["why"]
    assert "the inbox has been receiving since 2026-11-27T12:00:00Z, after it was placed" in why, why
    [paid] = [e for e in ours if e["type"] == "payment.completed"]
    assert after["payment"] == {"state": "paid", "source": "event", "at": paid["created_at"], "event_id": paid["id"]}
    sources = {(s["source"], s["status"]) for s in after["history"]}
    assert {("audit", "processing"), ("event", "processing")} <= sources


async def test_without_a_webhook_secret_payment_is_unknown_and_says_why(
    connect: Connect, sandbox_app: Starlette
) -> None:
    order = await pending_order(sandbox_app)
    async with connect() as client:
        shown = await structured(client, "get_order", {"order_id": order["id"]})
    assert shown["payment"]["state"] == "unknown"
    assert "no HAJATEK_WEBHOOK_SECRET" in shown["payment"]["why"]


async def test_a_cancel_says_what_went_back_to_stock_as_the_store_now_has_it(
    connect: Connect, sandbox_app: Starlette
) -> None:
    orders = await listing(sandbox_app, "/v1/orders", "orders")
    order = next(o for o in orders.values() if o["status"] == "processing" and len(o["items"]) >= 2)
    stock_before = {pid: p["stock"] for pid, p in (await listing(sandbox_app, "/v1/products", "products")).items()}
    arguments = {"order_id": order["id"], "status": "cancelled", "note": "out of delivery area"}
    async with connect() as client:
        preview = await structured(client, "update_order_status", arguments)
        done = await structured(client, "update_order_status", {**arguments, "confirm_token": preview["confirm_token"]})
        again = await structured(client, "update_order_status", arguments)
    stock_after = {pid: p["stock"] for pid, p in (await listing(sandbox_app, "/v1/products", "products")).items()}
    assert done["outcome"] == "done"
    report = {line["product_id"]: line for line in done["result"]["restocked"]}
    assert {pid: line["quantity"] for pid, line in report.items()} == {
        i["product_id"]: i["quantity"] for i in order["items"]
    }
    assert {pid: line["stock"] for pid, line in report.items()} == {pid: stock_after[pid] for pid in report}
    assert all(stock_after[pid] == stock_before[pid] + line["quantity"] for pid, line in report.items())
    assert {line["seen"] for line in report.values()} == {"returned"}
    assert "restocked" not in (again.get("result") or {}), "cancelling a cancelled order returns nothing more"


def test_a_stock_that_did_not_move_is_reported_as_assumed_not_as_returned() -> None:
    order = Order.model_validate(
        {"id": "ord_1", "status": "cancelled", "total": "10.00",
         "items": [{"product_id": p, "quantity": q, "price": "1.00"} for p, q in
                   (("prod_a", 2), ("prod_b", 1), ("prod_c", 3), ("prod_d", 1))]}
    )  # fmt: skip
    lines = restocked(
        order,
        before={"prod_a": 5, "prod_b": 7, "prod_c": None, "prod_d": 4},
        after={"prod_a": 7, "prod_b": 7, "prod_c": 9, "prod_d": 10},
    )
    assert [(line.product_id, line.seen, line.stock) for line in lines] == [
        ("prod_a", "returned", 7),
        ("prod_b", "assumed", 7),
        ("prod_c", "unknown", 9),
        ("prod_d", "unknown", 10),
    ]


async def test_a_twenty_line_order_reads_in_a_few_kilobytes_with_every_arabic_name(
    connect: Connect, sandbox_app: Starlette
) -> None:
    products = [p for p in (await listing(sandbox_app, "/v1/products", "products")).values()
                if p["status"] == "active" and p["stock"] >= 1][:20]  # fmt: skip
    async with sandbox_http(sandbox_app) as http:
        placed = await http.post(
            "/_sandbox/orders",
            json={"customer_id": "cus_0012", "items": [{"product_id": p["id"], "quantity": 1} for p in products]},
        )
    assert placed.status_code == 201, placed.text
    async with connect() as client:
        result = await client.call_tool("get_order", {"order_id": placed.json()["id"]})
    shown = result.structured_content
    assert shown is not None
    assert [line["name_ar"] for line in shown["items"]] == [p["name_ar"] for p in products]
    assert Decimal(str(shown["total"])) == Decimal(str(placed.json()["total"]))
    assert len(text(result).encode()) < 5000


@pytest.mark.parametrize("sandbox_app", [{"assumed_fields": False}], indirect=True)  # no name on the order
async def test_an_order_is_still_shown_when_the_catalog_and_customer_listing_fail(
    connect: Connect, sandbox_app: Starlette
) -> None:
    order = await pending_order(sandbox_app)
    for path in ("/v1/customers", "/v1/products"):
        sandbox_app.state.sandbox.faults.inject(path, method="GET", mode="status", status=503, count=None)
    async with connect() as client:
        result = await client.call_tool("get_order", {"order_id": order["id"]})
    shown = result.structured_content
    assert not result.is_error, text(result)
    assert shown is not None
    assert shown["total"] == order["total"]
    assert "customer_name" not in shown
    assert all("name_ar" not in line for line in shown["items"])
    assert "Not shown: the customer's name (the customer listing did not answer" in text(result)
    assert "some Arabic names (the catalog did not answer" in text(result)


class RicherApi(httpx2.AsyncBaseTransport):
    """The sandbox as a richer real API is assumed to answer an order: the customer's name, the status history with
    its notes, each line's Arabic name (docs/api.md, assumed). Counts catalog reads."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx2.ASGITransport(app=app)
        self.catalog_reads = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.catalog_reads += request.url.path == "/v1/products"
        if not request.url.path.startswith("/v1/orders/"):
            return response
        await response.aread()
        body = json.loads(response.content)
        body["customer_name"] = "Noura From The API"
        body["status_history"] = [{"status": "pending", "at": body["created_at"], "note": "placed by phone"}]
        for item in body["items"]:
            item["name_ar"] = f"اسم {item['product_id']}"
        return httpx2.Response(response.status_code, json=body)


async def test_what_the_api_gives_is_shown_as_the_apis_and_spares_the_lookups(
    sandbox_app: Starlette, mode: str
) -> None:
    from hajatek_mcp.api import HajatekClient
    from hajatek_mcp.server import ServerOptions, build_server
    from tests.support import SANDBOX_KEY

    order = await pending_order(sandbox_app)
    link = RicherApi(sandbox_app)

    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1", plan="business",
                             transport=link)  # fmt: skip

    async with Client(build_server(ServerOptions(sandbox=True), connect), mode=mode) as client:
        shown = await structured(client, "get_order", {"order_id": order["id"]})
    assert shown["customer_name"] == "Noura From The API"
    assert [line["name_ar"] for line in shown["items"]] == [f"اسم {i['product_id']}" for i in order["items"]]
    assert link.catalog_reads == 0
    assert shown["history"] == [
        {"source": "api", "status": "pending", "at": order["created_at"], "note": "placed by phone"}
    ]
