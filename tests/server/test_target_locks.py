"""Writes to one target run one at a time; writes to different targets do not wait for each other."""

from __future__ import annotations

import anyio
import pytest

from hajatek_mcp.server.locks import TargetLocks


async def test_writes_to_one_target_run_one_at_a_time_in_arrival_order() -> None:
    locks = TargetLocks()
    events: list[str] = []

    async def write(name: str, started: anyio.Event | None = None) -> None:
        async with locks.hold("prd_1"):
            events.append(f"{name} starts")
            if started is not None:
                started.set()
            await anyio.sleep(0.05)
            events.append(f"{name} ends")

    async with anyio.create_task_group() as group:
        first = anyio.Event()
        group.start_soon(write, "first", first)
        await first.wait()
        group.start_soon(write, "second")
        await anyio.sleep(0.01)
        group.start_soon(write, "third")
    assert events == ["first starts", "first ends", "second starts", "second ends", "third starts", "third ends"]
    assert len(locks) == 0, "a lock nobody holds or waits for is dropped"


async def test_writes_to_different_targets_and_new_products_do_not_wait() -> None:
    locks = TargetLocks()
    inside = 0
    most = 0

    async def write(target: str | None) -> None:
        nonlocal inside, most
        async with locks.hold(target):
            inside += 1
            most = max(most, inside)
            await anyio.sleep(0.05)
            inside -= 1

    async with anyio.create_task_group() as group:
        for target in ["prd_1", "prd_2", "ord_1", None, None]:
            group.start_soon(write, target)
    assert most == 5
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_the_lock_usable() -> None:
    locks = TargetLocks()
    held = anyio.Event()
    release = anyio.Event()

    async def holder() -> None:
        async with locks.hold("prd_1"):
            held.set()
            await release.wait()

    async with anyio.create_task_group() as group:
        group.start_soon(holder)
        await held.wait()
        with anyio.move_on_after(0.05) as scope:
            async with locks.hold("prd_1"):
                pytest.fail("the lock was held by someone else")
        assert scope.cancelled_caught
        assert len(locks) == 1, "only the holder is left"
        release.set()
    async with locks.hold("prd_1"):
        assert len(locks) == 1
    assert len(locks) == 0


async def test_a_write_to_several_targets_holds_them_all_without_deadlock() -> None:
    locks = TargetLocks()
    events: list[str] = []

    async def write(name: str, *targets: str) -> None:
        async with locks.hold(*targets):
            events.append(f"{name} starts")
            await anyio.sleep(0.02)
            events.append(f"{name} ends")

    with anyio.fail_after(5):  # opposite orders would deadlock without the sorted acquisition
        async with anyio.create_task_group() as group:
            for n in range(10):
                targets = ("ord_1", "prd_1", "prd_2") if n % 2 else ("prd_2", "prd_1", "ord_1")
                group.start_soon(write, f"w{n}", *targets)
    for n in range(0, 20, 2):
        assert events[n].endswith("starts")
        assert events[n + 1] == events[n].replace("starts", "ends"), "one at a time"
    assert len(locks) == 0


async def test_a_cancel_that_restocks_waits_for_a_write_to_one_of_its_products() -> None:
    locks = TargetLocks()
    order: list[str] = []
    stock_set = anyio.Event()

    async def set_stock() -> None:
        async with locks.hold("prd_1"):
            stock_set.set()
            await anyio.sleep(0.05)
            order.append("stock")

    async def cancel() -> None:
        async with locks.hold("ord_1", "prd_1"):
            order.append("cancel")

    async with anyio.create_task_group() as group:
        group.start_soon(set_stock)
        await stock_set.wait()
        group.start_soon(cancel)
    assert order == ["stock", "cancel"]
