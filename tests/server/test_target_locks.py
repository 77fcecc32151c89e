"""Writes to one target run one at a time; writes to different targets do not wait for each other."""

from __future__ import annotations

import anyio
import pytest

from hajatek_mcp.server.state import TargetLocks


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
