"""The rate governor holds bursts to the plan's budget and follows the server's hints."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import anyio
import httpx2
import pytest

from hajatek_mcp.api import HajatekClient, RateGovernor
from tests.api.support import ScriptedAPI, reply
from tests.support import FakeClock

PAGE = {"customers": [], "page": 1, "limit": 20, "total": 0, "has_more": False}


def max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.mark.parametrize(("plan", "limit"), [("starter", 100), ("pro", 500)])
async def test_a_burst_of_300_concurrent_calls_is_held_to_the_plan_limit(
    clock: FakeClock, plan: str, limit: int
) -> None:
    sent_at: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent_at.append(clock.now)
        return reply(200, PAGE)

    client = HajatekClient("k", plan=plan, transport=httpx2.MockTransport(handler), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    async with client, anyio.create_task_group() as tg:
        for _ in range(300):
            tg.start_soon(client.list_customers)
    assert len(sent_at) == 300
    assert max_in_any_window(sent_at, 60.0) == min(limit, 300)
    # Nobody waits longer than the budget requires: 300 calls at 100/min finish two windows after the first.
    assert max(sent_at) - min(sent_at) == pytest.approx(60.0 * ((300 - 1) // limit))


async def test_business_plan_is_unlimited(clock: FakeClock) -> None:
    governor = RateGovernor(None, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        await governor.acquire()
        governor.release()
    assert clock.sleeps == []
    assert governor.state().remaining is None


async def test_an_unlimited_governor_keeps_nothing_per_request(clock: FakeClock) -> None:
    governor = RateGovernor(None, clock=clock, sleep=clock.sleep)
    await governor.acquire()  # warm up whatever the first call allocates
    governor.release()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            await governor.acquire()
            governor.release()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20_000, f"{grown:,} bytes kept for 10,000 requests on an unlimited plan"


async def test_the_server_limit_header_replaces_the_configured_plan(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(reply(200, PAGE, headers={"x-ratelimit-limit": "100", "x-ratelimit-remaining": "99",
                                       "x-ratelimit-reset": "60"}))  # fmt: skip
    async with make_client(plan="pro") as client:
        assert client.rate_limit_state().limit == 500
        await client.list_customers()
        state = client.rate_limit_state()
    assert state.limit == 100
    assert state.remaining == 99


async def test_zero_remaining_holds_the_next_call_until_the_reset(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient], clock: FakeClock
) -> None:
    exhausted = {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "12"}
    api.then(reply(200, PAGE, headers=exhausted), reply(200, PAGE))
    async with make_client() as client:
        await client.list_customers()
        before = clock.now
        await client.list_customers()
    assert clock.now - before == pytest.approx(12.0)


async def test_a_unix_timestamp_reset_is_understood(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    import time

    reset_at = str(int(time.time()) + 30)
    api.then(reply(200, PAGE, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset_at}))
    async with make_client() as client:
        await client.list_customers()
        assert 25 <= client.rate_limit_state().reset_in <= 31


async def test_state_reports_remaining_budget_and_reset(clock: FakeClock) -> None:
    governor = RateGovernor(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await governor.acquire()
        governor.release()
    state = governor.state()
    assert (state.limit, state.remaining, state.reset_in) == (3, 0, 10.0)
    clock.now += 10.0
    assert governor.state().remaining == 3


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateGovernor(0)
    with pytest.raises(ValueError, match="positive"):
        RateGovernor(10, 0)


async def test_a_slow_request_holds_its_token_until_its_answer_so_arrivals_stay_a_window_apart(
    clock: FakeClock,
) -> None:
    governor = RateGovernor(1, 10.0, clock=clock, sleep=clock.sleep)
    await governor.acquire()  # starts at t0 and is slow: its answer comes 7 s later
    started = clock.now
    clock.now += 7.0
    governor.release()
    await governor.acquire()  # the next may start only a window after that answer, not after the first start
    assert clock.now - started == pytest.approx(17.0)


async def test_when_every_token_is_in_flight_the_next_caller_waits_for_an_answer(clock: FakeClock) -> None:
    governor = RateGovernor(1, 10.0, clock=clock, sleep=clock.sleep)
    await governor.acquire()
    order: list[str] = []

    async def second() -> None:
        await governor.acquire()
        order.append("second started")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert order == []
        order.append("first answered")
        governor.release()
    assert order == ["first answered", "second started"]
    assert clock.now == pytest.approx(1010.0)
