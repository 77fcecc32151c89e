"""One API key's rate budget shared by replicas through a real Redis (:mod:`hajatek_mcp.api.shared_rate`).

Three clients of one starter key (three replicas of one store), each with its own Redis connection, against one
in-process sandbox whose starter plan is scaled down to LIMIT requests per WINDOW seconds: together they earn no 429.
The same three clients, each on its own process's budget, do earn 429s, which is what the shared budget is for (and
shows the first test can fail). A pause one replica hears (``Retry-After``) holds the others; a replica that died
mid-request gives its token back when the lease ends; a Redis that cannot be reached leaves each replica on its own
budget, said once in the log, and the calls go on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx2
import pytest
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient, RateLimitError
from hajatek_mcp.api.ratelimit import PausedError
from hajatek_mcp.api.shared_rate import SharedRateGovernor
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.storage.redis_link import RedisLink
from tests.support import NOW, free_port

KEY = "sk_sandbox_starter"
#: The starter plan, scaled: LIMIT requests per WINDOW seconds (the governors and the sandbox agree on it).
LIMIT, WINDOW = 20, 1.0
REPLICAS, CALLS_EACH, CONCURRENCY = 3, 30, 6


@pytest.fixture
def sandbox() -> Iterator[Starlette]:
    app = create_app(SandboxConfig(now=NOW, seed=42, rate_window=WINDOW, plan_limits={"starter": LIMIT}))
    yield app
    app.state.sandbox.store.close()


@asynccontextmanager
async def replicas(sandbox: Starlette, redis: str | None) -> AsyncIterator[list[HajatekClient]]:
    """``REPLICAS`` clients of the starter key; with ``redis``, each shares the budget through its own link."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(REPLICAS):
            governor = None
            if redis is not None:
                link = RedisLink(redis)
                stack.push_async_callback(link.aclose)  # after the client: its last releases go through the link
                governor = SharedRateGovernor(link, KEY, LIMIT, WINDOW, lease=30.0)
            client = HajatekClient(
                KEY,
                store_id="str_sandbox",
                base_url="http://sandbox.local/v1",
                plan="starter",
                rate_limit=LIMIT,
                rate_window=WINDOW,
                max_retries=0,  # a 429 surfaces as an error, to be counted
                transport=httpx2.ASGITransport(app=sandbox),
                governor=governor,
            )
            clients.append(await stack.enter_async_context(client))
        yield clients


async def calls(clients: list[HajatekClient]) -> tuple[int, int]:
    """Every client makes ``CALLS_EACH`` reads, ``CONCURRENCY`` at a time: (answered, refused with 429)."""
    answered = refused = 0

    async def one(client: HajatekClient, limiter: anyio.CapacityLimiter) -> None:
        nonlocal answered, refused
        async with limiter:
            try:
                await client.get_store()
                answered += 1
            except RateLimitError:
                refused += 1

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for client in clients:
                limiter = anyio.CapacityLimiter(CONCURRENCY)
                for _ in range(CALLS_EACH):
                    group.start_soon(one, client, limiter)
    return answered, refused


async def test_replicas_sharing_a_key_through_redis_earn_no_429(sandbox: Starlette, redis: str) -> None:
    async with replicas(sandbox, redis) as clients:
        answered, refused = await calls(clients)
    assert (answered, refused) == (REPLICAS * CALLS_EACH, 0)


async def test_replicas_each_on_its_own_budget_earn_429s(sandbox: Starlette) -> None:
    """The control: without Redis each replica spends the whole plan, so together they overspend it."""
    async with replicas(sandbox, None) as clients:
        answered, refused = await calls(clients)
    assert refused > 0
    assert answered + refused == REPLICAS * CALLS_EACH


async def test_a_pause_one_replica_heard_holds_the_others(redis: str) -> None:
    async with AsyncExitStack() as stack:
        links = [RedisLink(redis), RedisLink(redis)]
        for link in links:
            stack.push_async_callback(link.aclose)
        one, two = (SharedRateGovernor(link, KEY, LIMIT, WINDOW) for link in links)
        one.pause(30.0)  # a 429 with Retry-After: 30 answered to the first replica
        await one.aclose()  # its pause has reached Redis
        with pytest.raises(PausedError) as paused:
            await two.acquire(max_pause=1.0)
        assert 25 < paused.value.seconds <= 30
        await two.aclose()


async def test_a_replica_that_died_mid_request_gives_its_token_back_when_the_lease_ends(redis: str) -> None:
    async with AsyncExitStack() as stack:
        links = [RedisLink(redis), RedisLink(redis)]
        for link in links:
            stack.push_async_callback(link.aclose)
        dead, alive = (SharedRateGovernor(link, KEY, 1, 60.0, lease=0.5) for link in links)
        await dead.acquire()  # ... and its process is killed before the answer: no release ever comes
        with anyio.fail_after(10):  # the plan's one token, held by the dead replica, comes back after 0.5 s
            await alive.acquire()
        assert alive.state().remaining == 0
        alive.release()
        await alive.aclose()


async def test_an_unreachable_redis_leaves_each_replica_on_its_own_budget(
    sandbox: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"redis://:hunter2-password@127.0.0.1:{free_port()}/0"
    caplog.set_level(logging.WARNING, logger="hajatek_mcp.api")
    async with replicas(sandbox, nowhere) as clients:
        store = await clients[0].get_store()
        again = await clients[0].get_store()
    assert store.id == again.id == "str_sandbox"
    warnings = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per call
    assert "this process's own" in warnings[0]
    assert "hunter2" not in caplog.text
    assert "127.0.0.1" in warnings[0]  # where it looked, without the password
