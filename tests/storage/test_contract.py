"""The storage contract: what every backend of the audit log, the confirmation tokens and the event inbox promises.

Written against the stores' public async interfaces only (no SQL, no file), so a second backend runs it unchanged:
add it to ``BACKENDS`` in conftest.py. Time is the test's fake clock; nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from hajatek_mcp.api import WebhookEvent
from hajatek_mcp.server.audit import TEXT_CAP
from hajatek_mcp.server.confirmations import ConfirmationError
from tests.conftest import FakeClock
from tests.storage.conftest import Backend

DAY = 86400.0
ARGS = {"product_id": "prod_1", "price": "90.00"}


def event(event_id: str, clock: FakeClock, *, type: str = "order.created", **data: Any) -> WebhookEvent:
    """A verified delivery created now (by the fake clock)."""
    created = datetime.fromtimestamp(clock.now, UTC)
    return WebhookEvent(id=event_id, type=type, created_at=created, data=data or {"order_id": "ord_1"})


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The audit log


async def test_a_recorded_entry_is_read_back_newest_first_with_every_field(backend: Backend, clock: FakeClock) -> None:
    log = backend.audit("str_a")
    await log.record("update_product", ARGS, "preview", "token", target="prod_1")
    clock.now += 60
    await log.record("update_product", ARGS, "executed", "token", target="prod_1", detail="price 100.00 → 90.00")

    newest, oldest = await log.recent()

    assert newest == {
        "seq": newest["seq"],
        "at": datetime.fromtimestamp(clock.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": "update_product",
        "target": "prod_1",
        "arguments": ARGS,
        "outcome": "executed",
        "path": "token",
        "detail": "price 100.00 → 90.00",
    }
    assert (oldest["outcome"], oldest["detail"]) == ("preview", None)
    assert newest["seq"] > oldest["seq"]


async def test_recent_is_bounded_by_its_limit(backend: Backend) -> None:
    log = backend.audit("str_a")
    for n in range(5):
        await log.record("update_product", {"n": n}, "executed", "not_guarded", target="prod_1")

    assert [e["arguments"]["n"] for e in await log.recent(3)] == [4, 3, 2]


async def test_the_values_before_a_write_appear_in_the_targets_history(backend: Backend) -> None:
    log = backend.audit("str_a")
    await log.record("update_product", ARGS, "executed", "token", target="prod_1", before={"price": "100.00"})
    await log.record("update_product", ARGS, "preview", "token", target="prod_1")

    preview, executed = await log.history("prod_1", since=0)

    assert executed == {
        "tool": "update_product",
        "arguments": ARGS,
        "outcome": "executed",
        "path": "token",
        "before": {"price": "100.00"},
    }
    assert preview["before"] == {}


async def test_history_is_one_targets_entries_since_a_moment_newest_first_and_bounded(
    backend: Backend, clock: FakeClock
) -> None:
    log = backend.audit("str_a")
    for n in range(6):
        await log.record("update_product", {"n": n}, "executed", "not_guarded", target="prod_1")
        await log.record("update_product", {"n": n}, "executed", "not_guarded", target="prod_2")
        clock.now += 10
    since = 1000.0 + 20  # entries 2, 3, 4, 5

    assert [e["arguments"]["n"] for e in await log.history("prod_1", since=since)] == [5, 4, 3, 2]
    assert [e["arguments"]["n"] for e in await log.history("prod_1", since=since, limit=2)] == [5, 4]
    assert await log.history("prod_3", since=0) == []


async def test_recent_lists_store_writes_and_oauth_entries_apart(backend: Backend) -> None:
    log = backend.audit("str_a")
    await log.record("oauth.register", {"client_name": "Claude"}, "executed", "not_guarded")
    await log.record("update_product", ARGS, "executed", "not_guarded", target="prod_1")
    await log.record("oauth.token", {"grant_type": "authorization_code"}, "refused", "not_guarded")

    assert [e["tool"] for e in await log.recent()] == ["update_product"]
    assert [e["tool"] for e in await log.recent(oauth=True)] == ["oauth.token", "oauth.register"]


async def test_credentials_are_never_stored_whole(backend: Backend) -> None:
    log = backend.audit("str_a")
    token = "cfm_SECRETconfirmationtoken_9f3a"
    arguments = {"confirm_token": token, "api_key": "sk_live_x", "id": "prod_1"}
    await log.record("delete_product", arguments, "executed", "token", target="prod_1")

    (entry,) = await log.recent()

    assert entry["arguments"] == {"confirm_token": "…9f3a", "api_key": "[redacted]", "id": "prod_1"}
    assert token not in str(await log.history("prod_1", since=0))
    assert "sk_live_x" not in str(await log.history("prod_1", since=0))


async def test_every_string_is_cleaned_and_capped(backend: Backend) -> None:
    log = backend.audit("str_a")
    arguments = {"name": "x\u200b" * 1000, "k" * 1000: 1}
    await log.record(
        "update_product\u202e",
        arguments,
        "failed",
        "not_guarded",
        target="prod_1\n2",
        detail="d\U000e0041" * 1000,
        before={"name": "y" * 1000},
    )

    (entry,) = await log.recent()
    (item,) = await log.history("prod_1 2", since=0)

    assert (entry["tool"], entry["target"]) == ("update_product", "prod_1 2")
    assert entry["detail"] == "d" * (TEXT_CAP - 1) + "…"
    assert entry["arguments"]["name"] == "x" * (TEXT_CAP - 1) + "…"
    assert all(len(key) <= TEXT_CAP for key in entry["arguments"])
    assert item["before"] == {"name": "y" * (TEXT_CAP - 1) + "…"}


async def test_a_stores_entries_are_never_shown_to_another_store(backend: Backend) -> None:
    store_a, store_b = backend.audit("str_a"), backend.audit("str_b")
    await store_a.record("update_product", {"by": "a"}, "executed", "not_guarded", target="prod_1")
    await store_a.record("oauth.register", {"by": "a"}, "executed", "not_guarded")
    await store_b.record("update_product", {"by": "b"}, "executed", "not_guarded", target="prod_1")

    assert [e["arguments"]["by"] for e in await store_a.recent()] == ["a"]
    assert [e["arguments"]["by"] for e in await store_b.recent()] == ["b"]
    assert [e["arguments"]["by"] for e in await store_b.history("prod_1", since=0)] == ["b"]
    assert await store_b.recent(oauth=True) == []


# Confirmation tokens


async def test_a_token_is_redeemed_once(backend: Backend) -> None:
    tokens = backend.confirmations("str_a")
    token = await tokens.issue("delete_product", ARGS, "state-1")

    await tokens.redeem(token, "delete_product", dict(reversed(ARGS.items())), "state-1")  # key order is no matter
    with pytest.raises(ConfirmationError, match="already used"):
        await tokens.redeem(token, "delete_product", ARGS, "state-1")


@pytest.mark.parametrize(
    ("tool", "arguments", "state", "why"),
    [
        ("update_product", ARGS, "state-1", "different call"),
        ("delete_product", {**ARGS, "price": "1.00"}, "state-1", "different call"),
        ("delete_product", ARGS, "state-2", "target changed"),
    ],
    ids=["other tool", "other arguments", "other state"],
)
async def test_a_token_is_refused_for_another_call_and_stays_usable(
    backend: Backend, tool: str, arguments: dict[str, Any], state: str, why: str
) -> None:
    tokens = backend.confirmations("str_a")
    token = await tokens.issue("delete_product", ARGS, "state-1")

    with pytest.raises(ConfirmationError, match=why):
        await tokens.redeem(token, tool, arguments, state)
    await tokens.redeem(token, "delete_product", ARGS, "state-1")


async def test_a_token_expires_after_its_ttl(backend: Backend, clock: FakeClock) -> None:
    tokens = backend.confirmations("str_a", ttl=60)
    early, late = await tokens.issue("delete_product", ARGS, "s"), await tokens.issue("delete_product", ARGS, "s")

    clock.now += 60
    await tokens.redeem(early, "delete_product", ARGS, "s")
    clock.now += 1
    with pytest.raises(ConfirmationError, match="expired"):
        await tokens.redeem(late, "delete_product", ARGS, "s")


async def test_a_made_up_token_is_refused(backend: Backend) -> None:
    with pytest.raises(ConfirmationError, match="not one this server issued"):
        await backend.confirmations("str_a").redeem("cfm_madeup", "delete_product", ARGS, "s")


async def test_a_stores_token_is_unknown_to_another_store(backend: Backend) -> None:
    store_a, store_b = backend.confirmations("str_a"), backend.confirmations("str_b")
    token = await store_a.issue("delete_product", ARGS, "s")

    with pytest.raises(ConfirmationError, match="not one this server issued"):
        await store_b.redeem(token, "delete_product", ARGS, "s")
    await store_a.redeem(token, "delete_product", ARGS, "s")


async def test_concurrent_redeems_of_one_token_let_exactly_one_through(backend: Backend) -> None:
    tokens = backend.confirmations("str_a")
    token = await tokens.issue("delete_product", ARGS, "s")
    outcomes: list[str] = []

    async def redeem() -> None:
        try:
            await tokens.redeem(token, "delete_product", ARGS, "s")
        except ConfirmationError as exc:
            outcomes.append(str(exc))
        else:
            outcomes.append("redeemed")

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(redeem)

    assert outcomes.count("redeemed") == 1
    assert all("already used" in o for o in outcomes if o != "redeemed")


# The event inbox


async def test_an_event_is_stored_once(backend: Backend, clock: FakeClock) -> None:
    inbox = backend.inbox("str_a")

    assert await inbox.add(event("evt_1", clock)) is True
    assert await inbox.add(event("evt_1", clock, order_id="ord_other")) is False
    assert await inbox.known("evt_1")
    assert not await inbox.known("evt_2")
    assert await inbox.count() == 1
    assert (await inbox.get("evt_1") or {})["data"] == {"order_id": "ord_1"}


async def test_events_are_read_newest_first_whole_and_one_by_one(backend: Backend, clock: FakeClock) -> None:
    inbox = backend.inbox("str_a")
    await inbox.add(event("evt_0", clock))
    clock.now += 1
    for n in (1, 2, 3):  # three arrivals in the same second: the later one is the newer
        await inbox.add(event(f"evt_{n}", clock))
    moment = datetime.fromtimestamp(clock.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert [e["id"] for e in await inbox.recent()] == ["evt_3", "evt_2", "evt_1", "evt_0"]
    assert [e["id"] for e in await inbox.recent(limit=2)] == ["evt_3", "evt_2"]
    assert await inbox.get("evt_3") == {
        "id": "evt_3",
        "type": "order.created",
        "created_at": moment,
        "received_at": moment,
        "data": {"order_id": "ord_1"},
    }
    assert await inbox.get("evt_missing") is None
    assert await inbox.count() == 4


async def test_recent_filters_by_type_and_by_receipt_time(backend: Backend, clock: FakeClock) -> None:
    inbox = backend.inbox("str_a")
    await inbox.add(event("evt_old_order", clock))
    clock.now += 100
    since = datetime.fromtimestamp(clock.now, UTC)
    await inbox.add(event("evt_new_order", clock))
    await inbox.add(event("evt_new_payment", clock, type="payment.completed"))

    assert [e["id"] for e in await inbox.recent(type="order.created")] == ["evt_new_order", "evt_old_order"]
    assert [e["id"] for e in await inbox.recent(since=since)] == ["evt_new_payment", "evt_new_order"]
    assert [e["id"] for e in await inbox.recent(type="payment.completed", since=since)] == ["evt_new_payment"]
    assert await inbox.recent(type="inventory.low") == []


async def test_a_body_is_shown_until_the_retention_and_no_longer(backend: Backend, clock: FakeClock) -> None:
    inbox = backend.inbox("str_a", retention_days=1, max_age=3 * DAY)
    await inbox.add(event("evt_1", clock))

    clock.now += DAY
    assert await inbox.get("evt_1") is not None
    assert [e["id"] for e in await inbox.recent()] == ["evt_1"]
    assert await inbox.count() == 1

    clock.now += 1
    assert await inbox.get("evt_1") is None
    assert await inbox.recent() == []
    assert await inbox.count() == 0
    assert await inbox.known("evt_1"), "the body is gone, the id is not"


@pytest.mark.parametrize(("retention_days", "max_age"), [(1, 3 * DAY), (3, 1 * DAY)], ids=["window", "retention"])
async def test_an_id_stays_known_for_the_longer_of_the_retention_and_the_replay_window(
    backend: Backend, clock: FakeClock, retention_days: float, max_age: float
) -> None:
    inbox = backend.inbox("str_a", retention_days=retention_days, max_age=max_age)
    await inbox.add(event("evt_1", clock))

    clock.now += max(retention_days * DAY, max_age) - 1
    await inbox.add(event("evt_2", clock))  # another delivery: whatever a backend purges on a write, it has purged

    assert await inbox.known("evt_1")
    assert await inbox.add(event("evt_1", clock)) is False, "a replay inside the id's lifetime is never stored"


async def test_a_stores_events_are_invisible_to_another_store(backend: Backend, clock: FakeClock) -> None:
    store_a, store_b = backend.inbox("str_a"), backend.inbox("str_b")
    await store_a.add(event("evt_a", clock))

    assert await store_b.get("evt_a") is None
    assert not await store_b.known("evt_a")
    assert await store_b.recent() == []
    assert await store_b.count() == 0


async def test_the_same_event_id_lives_in_two_stores_independently(backend: Backend, clock: FakeClock) -> None:
    store_a = backend.inbox("str_a", retention_days=1, max_age=DAY)
    store_b = backend.inbox("str_b", retention_days=30)

    assert await store_a.add(event("evt_1", clock, store="a")) is True
    assert await store_b.add(event("evt_1", clock, store="b")) is True
    assert (await store_b.get("evt_1") or {})["data"] == {"store": "b"}

    clock.now += 2 * DAY
    await store_a.add(event("evt_2", clock))  # store A forgets evt_1; store B keeps its own
    assert await store_a.get("evt_1") is None
    assert (await store_b.get("evt_1") or {})["data"] == {"store": "b"}
    assert await store_b.known("evt_1")


async def test_concurrent_deliveries_of_one_event_store_it_once(backend: Backend, clock: FakeClock) -> None:
    inbox = backend.inbox("str_a")
    added: list[bool] = []

    async def deliver() -> None:
        added.append(await inbox.add(event("evt_1", clock)))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(deliver)

    assert sorted(added) == [False] * 19 + [True]
    assert await inbox.count() == 1


async def test_receiving_since_is_the_first_open_of_a_receiver_per_store_until_a_run_without_one(
    backend: Backend, clock: FakeClock
) -> None:
    first = backend.inbox("str_a", receiving=True)
    clock.now += 3600
    again, other = backend.inbox("str_a", receiving=True), backend.inbox("str_b", receiving=True)

    assert await first.receiving_since() == await again.receiving_since() == iso(1000.0)
    assert await other.receiving_since() == iso(1000.0 + 3600)
    assert await backend.inbox("str_a").receiving_since() is None, "a reader does not receive"

    backend.inbox("str_a", receiving=False)  # a run without a secret ends the stretch
    clock.now += 3600
    assert await backend.inbox("str_a", receiving=True).receiving_since() == iso(1000.0 + 7200)
    assert await other.receiving_since() == iso(1000.0 + 3600)


# Cancellation and concurrency


async def test_a_write_started_by_a_cancelled_caller_is_still_written(backend: Backend, clock: FakeClock) -> None:
    log, inbox, tokens = backend.audit("str_a"), backend.inbox("str_a"), backend.confirmations("str_a")
    token = await tokens.issue("delete_product", ARGS, "s")

    with anyio.CancelScope() as scope:
        scope.cancel()
        await log.record("delete_product", ARGS, "executed", "token", target="prod_1")
    with anyio.CancelScope() as scope:
        scope.cancel()
        await inbox.add(event("evt_1", clock))
    with anyio.CancelScope() as scope:
        scope.cancel()
        await tokens.redeem(token, "delete_product", ARGS, "s")

    assert [e["target"] for e in await log.recent()] == ["prod_1"]
    assert await inbox.known("evt_1")
    with pytest.raises(ConfirmationError, match="already used"):
        await tokens.redeem(token, "delete_product", ARGS, "s")


async def test_concurrent_records_all_land(backend: Backend) -> None:
    log = backend.audit("str_a")

    async with anyio.create_task_group() as tg:
        for n in range(50):
            tg.start_soon(lambda n=n: log.record("update_product", {"n": n}, "executed", "not_guarded", target="p"))

    entries = await log.recent(100)
    assert sorted(e["arguments"]["n"] for e in entries) == list(range(50))
    assert len(await log.history("p", since=0, limit=100)) == 50
