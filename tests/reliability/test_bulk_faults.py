"""Bulk changes under upstream faults, over real HTTP on 127.0.0.1.

A bulk call's preview only reads: its rows are in the fault matrix (test_fault_matrix.py). The confirming call does
not fit the matrix's shape: it writes item by item and reports a failed item in its answer instead of failing the
call. So here every fault of the matrix hits the write of one item in the middle of a batch of three, and:

- the call answers ``partial``, naming that item with the cause, and, when the write may have landed, saying so;
- the items before it are applied; the one after it too, unless Hajatek asked for a pause (a 429 stops the batch);
- the token it returns applies only what is left: the items applied are not sent again, an item whose write landed
  after all is found at its new value and not sent again either, and nothing is applied twice (a 10 % raise applied
  twice would show in the price). A 401 gives no token (the key must be fixed first): a new preview offers what is
  left.

A fault while the confirming call reads the batch again sends nothing, and the same token works once it clears.
Retry waits run on a fake clock; the timeout rows wait out real client timeouts, like the matrix's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from mcp import Client

from hajatek_mcp.server import HajatekServer
from tests.reliability.support import ClientSpec, Live, eventually, live_sandbox, server_on
from tests.reliability.test_fault_matrix import COUNT, FAULTS, MAX_RETRIES, TIMEOUT, UpstreamFault
from tests.support import clean_output, structured, text

RAISE = {"price_percent": 10}
#: The fault modes in which the sandbox applies the request and the answer is what fails.
PROCESSED = {"truncated", "delay"}


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with live_sandbox() as served:
        yield served


@pytest.fixture(scope="module")
def servers(live: Live) -> dict[float, HajatekServer]:
    return {
        timeout: server_on(live.url, ClientSpec(timeout=timeout, max_retries=MAX_RETRIES), confirm="none")
        for timeout in (TIMEOUT, 5.0)
    }


@pytest.fixture(scope="module")
def fresh(live: Live) -> dict[str, Iterator[str]]:
    """Products and delivered orders no other test here has touched, three at a time."""
    store = live.sandbox.store
    pages = [store.list_products(page=n, limit=100, category=None, search=None) for n in (1, 2)]
    products = [p["id"] for page in pages for p in page.items]
    delivered = [o["id"] for o in store.list_orders(page=1, limit=100, status="delivered").items]
    return {"products": iter(products), "orders": iter(delivered)}


@pytest.fixture(autouse=True)
def no_faults(live: Live) -> Iterator[None]:
    live.sandbox.faults.clear()
    yield
    live.sandbox.faults.clear()


def three(ids: Iterator[str]) -> list[str]:
    """Three fresh ids in the batch's order (by id): the second is the one faulted."""
    return sorted(itertools.islice(ids, 3))


def server_for(servers: dict[float, HajatekServer], fault: UpstreamFault) -> HajatekServer:
    return servers[TIMEOUT if fault.name == "timeout" else 5.0]


def price(live: Live, product_id: str) -> Decimal:
    return Decimal(str(live.sandbox.store.get_product(product_id)["price"]))


def raised(amount: Decimal) -> Decimal:
    return (amount * Decimal("1.1")).quantize(Decimal("0.01"), ROUND_HALF_UP)


def sent(live: Live, method: str, path: str) -> int:
    """Requests the upstream answered (or cut off) for ``method path``."""
    return sum(1 for m, p, _, _ in live.log.seen if (m, p) == (method, path))


def assert_names_the_failure(result: dict[str, Any], item: str, fault: UpstreamFault) -> None:
    """``item`` failed with a reason naming the fault and what to do; an unknown outcome is said to be unknown."""
    reasons = {i: r["reason"] for r in result["failed"] for i in r["ids"]}
    reason = reasons[item]
    clean_output(reason)
    happened = (fault.happened,) if isinstance(fault.happened, str) else fault.happened
    assert any(h in reason for h in happened), reason
    if fault.unknown_for_writes:
        assert "may have been applied all the same" in reason, reason
    else:
        assert fault.advice.lower() in reason.lower(), reason
        assert "may have been applied" not in reason, reason


async def applied_after_all(live: Live, method: str, path: str, attempts: int, fault: UpstreamFault) -> bool:
    """Whether the faulted write landed: in a processed mode the upstream applies every attempt (wait for them)."""
    if fault.inject.get("mode") not in PROCESSED:
        return False
    await eventually(lambda: sent(live, method, path) >= attempts)
    return True


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
async def test_a_fault_on_one_items_write_fails_that_item_alone_and_the_retry_applies_only_what_is_left(
    live: Live, servers: dict[float, HajatekServer], fresh: dict[str, Iterator[str]], fault: UpstreamFault
) -> None:
    ids = three(fresh["products"])
    first, second, third = ids
    before = {p: price(live, p) for p in ids}
    arguments = {"product_ids": ids, **RAISE}
    async with Client(server_for(servers, fault)) as client:
        token = (await structured(client, "bulk_update_products", arguments))["confirm_token"]
        injected = live.inject(f"/v1/products/{second}", method="PUT", count=COUNT, **fault.inject)

        partial = await structured(client, "bulk_update_products", {**arguments, "confirm_token": token})

        assert partial["outcome"] == "partial", partial
        # A pause (429) or a refused key (401) would meet the next item too: the rest is kept for later.
        paused = fault.inject.get("status") in (429, 401)
        assert partial["applied"] == ([first] if paused else [first, third])
        assert_names_the_failure(partial, second, fault)
        attempts = COUNT - (injected.remaining or 0)
        assert attempts == (MAX_RETRIES + 1 if fault.retried else 1), "a PUT is retried as the policy allows"
        live.sandbox.faults.clear()
        landed = await applied_after_all(live, "PUT", f"/v1/products/{second}", attempts, fault)
        if not fault.retried:  # a 401 will meet the same key: no token; a new preview offers what is left
            assert "confirm_token" not in partial, partial
            again = await structured(client, "bulk_update_products", arguments)
            assert [c["id"] for c in again["changes"]] == [second, third], "the raised one is not offered again"
            token = again["confirm_token"]
        else:
            token = partial["confirm_token"]

        retry = await structured(client, "bulk_update_products", {**arguments, "confirm_token": token})

    assert retry["outcome"] == "done", retry
    left = [second, third] if paused else [second]
    assert retry.get("already_applied") == ([second] if landed else None)
    assert retry.get("applied") == ((left[1:] if landed else left) or None)
    assert {p: price(live, p) for p in ids} == {p: raised(before[p]) for p in ids}, "raised once, never twice"
    assert sent(live, "PUT", f"/v1/products/{first}") == 1
    assert sent(live, "PUT", f"/v1/products/{third}") == 1
    assert sent(live, "PUT", f"/v1/products/{second}") == attempts + (not landed)


@pytest.mark.parametrize("fault", [f for f in FAULTS if f.name in ("503", "truncated-json", "401-mid-session")],
                         ids=lambda f: f.name)  # fmt: skip
async def test_a_fault_on_one_orders_move_fails_that_order_alone_and_the_retry_moves_only_what_is_left(
    live: Live, servers: dict[float, HajatekServer], fresh: dict[str, Iterator[str]], fault: UpstreamFault
) -> None:
    ids = three(fresh["orders"])
    first, second, third = ids
    arguments = {"order_ids": ids, "status": "refunded"}
    path = f"/v1/orders/{second}/status"
    async with Client(server_for(servers, fault)) as client:
        token = (await structured(client, "bulk_update_order_status", arguments))["confirm_token"]
        injected = live.inject(path, method="PUT", count=COUNT, **fault.inject)

        partial = await structured(client, "bulk_update_order_status", {**arguments, "confirm_token": token})

        assert partial["outcome"] == "partial", partial
        refused = fault.inject.get("status") == 401  # the same key would be refused for the third: not sent
        assert partial["applied"] == ([first] if refused else [first, third])
        assert_names_the_failure(partial, second, fault)
        attempts = COUNT - (injected.remaining or 0)
        live.sandbox.faults.clear()
        landed = await applied_after_all(live, "PUT", path, attempts, fault)
        if not fault.retried:
            assert "confirm_token" not in partial, partial
            again = await structured(client, "bulk_update_order_status", arguments)
            assert [c["id"] for c in again["changes"]] == [second, third], "the refunded one is skipped"
            token = again["confirm_token"]
        else:
            token = partial["confirm_token"]

        retry = await structured(client, "bulk_update_order_status", {**arguments, "confirm_token": token})

    assert retry["outcome"] == "done", retry
    assert retry.get("already_applied") == ([second] if landed else None)
    assert retry.get("applied") == (None if landed else [second, third] if refused else [second])
    assert {o: live.sandbox.store.get_order(o)["status"] for o in ids} == dict.fromkeys(ids, "refunded")
    assert sent(live, "PUT", f"/v1/orders/{first}/status") == 1
    assert sent(live, "PUT", f"/v1/orders/{third}/status") == 1
    assert sent(live, "PUT", path) == attempts + (not landed)


async def test_a_fault_while_the_confirming_call_rereads_the_batch_changes_nothing_and_keeps_the_token(
    live: Live, servers: dict[float, HajatekServer], fresh: dict[str, Iterator[str]]
) -> None:
    ids = three(fresh["products"])
    before = {p: price(live, p) for p in ids}
    arguments = {"product_ids": ids, **RAISE}
    async with Client(servers[5.0]) as client:
        token = (await structured(client, "bulk_update_products", arguments))["confirm_token"]
        live.inject("/v1/products", method="GET", count=COUNT, status=503)

        failed = await client.call_tool("bulk_update_products", {**arguments, "confirm_token": token})

        message = text(failed)
        assert failed.is_error, message
        assert "Hajatek API error 503" in message, message
        assert "Nothing was changed" in message, message
        assert "The confirm_token still works" in message, message
        assert {p: price(live, p) for p in ids} == before
        live.sandbox.faults.clear()
        done = await structured(client, "bulk_update_products", {**arguments, "confirm_token": token})
    assert done["applied"] == ids
    assert {p: price(live, p) for p in ids} == {p: raised(before[p]) for p in ids}
