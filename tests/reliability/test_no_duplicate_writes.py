"""No duplicate writes: when the answer to a write is lost, the server never repeats it blindly.

Over real HTTP on 127.0.0.1. A lost answer comes in three shapes: the connection drops before the request is
processed (the sandbox's ``drop`` fault), the request is processed but the answer comes after the client gave up
(:class:`~tests.reliability.conftest.LateAnswers`), or the request is processed and the answer is cut off (the
sandbox's ``truncated`` fault).
The sandbox's own tables are the judge: how many products carry the SKU, how many ``order.updated`` events the
order has (one per real status change).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client

from tests.reliability.support import ClientSpec, Live, eventually, live_sandbox, server_on
from tests.support import clean_output, text

#: The client gives up after TIMEOUT; the sandbox holds the request DELAY seconds, then processes it.
TIMEOUT, DELAY = 0.4, 0.9


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with live_sandbox() as served:
        yield served


@pytest.fixture(autouse=True)
def no_faults(live: Live) -> Iterator[None]:
    live.sandbox.faults.clear()
    yield
    live.sandbox.faults.clear()


def products_with_sku(live: Live, sku: str) -> int:
    return live.sandbox.store.list_products(page=1, limit=100, category=None, search=sku).total


def status_changes(live: Live, order_id: str) -> int:
    return sum(e["data"]["order_id"] == order_id for e in live.sandbox.store.list_events("order.updated"))


def an_order(live: Live, status: str, index: int) -> str:
    return str(live.sandbox.store.list_orders(page=1, limit=100, status=status).items[index]["id"])


async def found(client: Client, sku: str) -> int:
    """The check the error message asks for: search the catalog for the SKU."""
    result = await client.call_tool("list_products", {"search": sku})
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return int(result.structured_content["total"])


def new_product(sku: str) -> dict[str, Any]:
    return {"name": f"Lost Answer Lamp {sku}", "price": 149.5, "category": "home-kitchen", "sku": sku, "stock": 3}


async def test_a_create_whose_connection_drops_says_the_outcome_is_unknown_and_the_check_leads_to_one_product(
    live: Live, mode: str
) -> None:
    sku = f"DROP-{mode}"
    fault = live.inject("/v1/products", method="POST", mode="drop", count=5)
    async with Client(server_on(live.url, ClientSpec(max_retries=3)), mode=mode) as client:
        lost = await client.call_tool("create_product", new_product(sku))
        assert lost.is_error
        clean_output(text(lost))
        assert "may have reached Hajatek" in text(lost)
        assert "check the current state before repeating" in text(lost)
        assert fault.remaining == 4, "the POST was sent once, not retried"
        live.sandbox.faults.clear()
        if await found(client, sku) == 0:  # what the message asks the agent to do
            assert not (await client.call_tool("create_product", new_product(sku))).is_error
        assert await found(client, sku) == 1
    assert products_with_sku(live, sku) == 1


async def test_a_create_answered_too_late_is_sent_once_and_the_check_finds_the_one_product(live: Live) -> None:
    sku = "LATE-1"
    live.late.hold("POST", "/v1/products", DELAY)
    sent = len(live.log.seen)
    async with Client(server_on(live.url, ClientSpec(timeout=TIMEOUT, max_retries=3))) as client:
        lost = await client.call_tool("create_product", new_product(sku))
        assert lost.is_error
        assert "timed out" in text(lost)
        assert "check the current state before repeating" in text(lost)
        assert products_with_sku(live, sku) == 1, "the sandbox processed it"
        if await found(client, sku) == 0:  # what the message asks the agent to do
            await client.call_tool("create_product", new_product(sku))

    def posts() -> int:
        return sum(m == "POST" and path == "/v1/products" for m, path, *_ in live.log.seen[sent:])

    await eventually(lambda: posts() >= 1)  # the held answer went out, to nobody
    assert posts() == 1, "the upstream saw one POST"
    assert products_with_sku(live, sku) == 1


async def test_the_sandbox_processes_a_delayed_create_after_its_client_gave_up_as_documented(live: Live) -> None:
    sku = "DELAYED-1"
    live.inject("/v1/products", method="POST", mode="delay", delay=DELAY, count=1)
    async with Client(server_on(live.url, ClientSpec(timeout=TIMEOUT, max_retries=0))) as client:
        assert (await client.call_tool("create_product", new_product(sku))).is_error
    await eventually(lambda: products_with_sku(live, sku) == 1, within=3 * DELAY)


async def test_the_sandbox_processes_a_delayed_status_change_after_its_client_gave_up(live: Live) -> None:
    order_id = an_order(live, "shipped", 7)
    live.inject(f"/v1/orders/{order_id}/status", method="PUT", mode="delay", delay=DELAY, count=1)
    async with Client(server_on(live.url, ClientSpec(timeout=TIMEOUT, max_retries=0))) as client:
        result = await client.call_tool("update_order_status", {"order_id": order_id, "status": "delivered"})
    assert result.is_error
    assert "check the current state before repeating" in text(result), text(result)
    await eventually(lambda: status_changes(live, order_id) == 1, within=3 * DELAY)


@pytest.mark.parametrize("fault_mode", ["truncated", "malformed"])
async def test_a_create_answered_with_an_unreadable_body_is_sent_once(live: Live, fault_mode: str) -> None:
    sku = f"BODY-{fault_mode}"
    fault = live.inject("/v1/products", method="POST", mode=fault_mode, count=5)
    async with Client(server_on(live.url, ClientSpec(max_retries=3))) as client:
        lost = await client.call_tool("create_product", new_product(sku))
    assert lost.is_error
    assert fault.remaining == 4, "the POST was sent once, not retried"
    assert products_with_sku(live, sku) == (1 if fault_mode == "truncated" else 0)


async def test_a_create_whose_answer_is_cut_off_says_the_product_may_exist(live: Live) -> None:
    sku = "CUT-1"
    live.inject("/v1/products", method="POST", mode="truncated", count=1)
    async with Client(server_on(live.url, ClientSpec(max_retries=3))) as client:
        lost = await client.call_tool("create_product", new_product(sku))
    assert products_with_sku(live, sku) == 1, "the sandbox created it"
    assert lost.is_error
    assert "check the current state before repeating" in text(lost), text(lost)


LOST = ["truncated", "late", "drop"]


def lose_answer(live: Live, fault_mode: str, method: str, path: str) -> None:
    if fault_mode == "late":
        live.late.hold(method, path, DELAY)
    else:
        live.inject(path, method=method, mode=fault_mode, count=1)


@pytest.mark.parametrize("fault_mode", LOST)
async def test_a_status_change_whose_answer_is_lost_is_retried_safely_and_happens_once(
    live: Live, fault_mode: str
) -> None:
    order_id = an_order(live, "shipped", LOST.index(fault_mode))
    lose_answer(live, fault_mode, "PUT", f"/v1/orders/{order_id}/status")
    async with Client(server_on(live.url, ClientSpec(timeout=TIMEOUT, max_retries=2))) as client:
        result = await client.call_tool("update_order_status", {"order_id": order_id, "status": "delivered"})
        assert not result.is_error, text(result)
        assert not live.sandbox.faults.active
        detail = await client.call_tool("get_order", {"order_id": order_id})
    assert detail.structured_content is not None
    assert detail.structured_content["status"] == "delivered"
    assert status_changes(live, order_id) == 1


@pytest.mark.parametrize("fault_mode", ["truncated", "late"])
async def test_a_status_change_whose_answer_is_lost_with_no_retry_left_says_the_outcome_is_unknown(
    live: Live, fault_mode: str
) -> None:
    order_id = an_order(live, "shipped", 3 + LOST.index(fault_mode))
    lose_answer(live, fault_mode, "PUT", f"/v1/orders/{order_id}/status")
    async with Client(server_on(live.url, ClientSpec(timeout=TIMEOUT, max_retries=0))) as client:
        lost = await client.call_tool("update_order_status", {"order_id": order_id, "status": "delivered"})
        assert live.sandbox.store.get_order(order_id)["status"] == "delivered", "the change was applied"
        detail = await client.call_tool("get_order", {"order_id": order_id})
    assert detail.structured_content is not None
    assert detail.structured_content["status"] == "delivered", "the check works"
    assert status_changes(live, order_id) == 1
    assert lost.is_error
    assert "check the current state before repeating" in text(lost), text(lost)


async def test_a_delete_whose_answer_is_lost_leaves_the_product_gone_exactly_once(live: Live) -> None:
    product = live.sandbox.store.list_products(page=3, limit=100, category=None, search=None).items[0]
    live.inject(f"/v1/products/{product['id']}", method="DELETE", mode="truncated", count=1)
    async with Client(server_on(live.url, ClientSpec(max_retries=2), confirm="none")) as client:
        await client.call_tool("delete_product", {"product_id": product["id"]})
    assert products_with_sku(live, product["sku"]) == 0


async def test_a_delete_whose_answer_is_lost_is_not_reported_as_not_found(live: Live) -> None:
    product = live.sandbox.store.list_products(page=3, limit=100, category=None, search=None).items[1]
    live.inject(f"/v1/products/{product['id']}", method="DELETE", mode="truncated", count=1)
    async with Client(server_on(live.url, ClientSpec(max_retries=2), confirm="none")) as client:
        result = await client.call_tool("delete_product", {"product_id": product["id"]})
        audit = await client.read_resource("hajatek://audit")
    assert products_with_sku(live, product["sku"]) == 0, "the product is gone"
    assert "not found" not in text(result).lower(), text(result)
    assert '"outcome":"failed"' not in str(audit.contents[0]), "the audit log says the delete failed"
