"""Three replicas behind HAProxy, as docs/deploy/haproxy.cfg deploys them, all on 127.0.0.1; then one is killed.

Real parts only: Debian's HAProxy running the documented config, three ``hajatek-mcp serve`` processes of one store
sharing one PostgreSQL and one Redis, and the sandbox process as the API, which signs its webhooks and sends them to
the balancer (so each lands on whichever replica is next). Fifty agents, half of each protocol era, make 2,000 calls
through the balancer, among them guarded price cuts whose token is redeemed wherever the balancer sends the second
call, while orders placed in the store send webhooks and four agents (two per era) listen to ``hajatek://events``.

Every call is answered; every webhook the sandbox delivered is in the shared inbox once; every listener heard of each
event once, whichever replica it reached.

Then (the module's last test: the deployment is left with two replicas) one replica is killed with SIGKILL while
agents of both eras work and webhooks arrive: only the calls it held fail; the agents carry on through the balancer
(a handshake-era agent whose session died with it opens a new one); no acknowledged webhook is lost; a confirmation
whose answer was lost, sent again with its token, is done at most once.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp
import psycopg
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.support import replica_env, running_process
from tests.servers import postgres_server, redis_server, require_haproxy
from tests.support import free_port, server_env, structured, text

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "deploy" / "haproxy.cfg"
API_KEY = "sk_sandbox_business"
TOKEN = "a-bearer-token-every-replica-shares-000001"
SECRET = "whsec-balanced-replicas"
STATE_KEYS = "the-request-state-key-of-every-replica-0001"
EVENTS = "hajatek://events"
REPLICAS = 3
AGENTS, CALLS_EACH = 50, 40
ORDERS_PLACED = 30
PLACED = itertools.count()


@dataclass(frozen=True)
class Deployment:
    balancer: str
    sandbox: str
    database_url: str
    replicas: list[subprocess.Popen[bytes]]
    origins: dict[str, str]
    """Each replica's own address, by the name the balancer gives it (``replica1``...)."""


@pytest.fixture(scope="module")
def deployment(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    haproxy = require_haproxy()
    root = tmp_path_factory.mktemp("balanced")
    api, balancer = free_port(), free_port()
    ports = [free_port() for _ in range(REPLICAS)]
    processes: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_server())
        redis_url = stack.enter_context(redis_server())
        sandbox = [str(script), "sandbox", "--port", str(api), "--enable-admin", "--webhook-secret", SECRET,
                   "--webhook-url", f"http://127.0.0.1:{balancer}/webhooks/hajatek"]  # fmt: skip
        stack.enter_context(running_process(sandbox, server_env(root / "sandbox"), api, root / "sandbox.log"))
        for n, port in enumerate(ports):
            env = replica_env(root / f"replica{n}", api, (database_url, redis_url), plan="business",
                              request_state_keys=STATE_KEYS, mcp_auth_token=TOKEN, webhook_secret=SECRET)  # fmt: skip
            command = [str(script), "serve", "--transport", "streamable-http", "--port", str(port)]
            processes.append(stack.enter_context(running_process(command, env, port, root / f"replica{n}.log")))
        addresses = {f"HAJATEK_REPLICA_{n + 1}": f"127.0.0.1:{port}" for n, port in enumerate(ports)}
        env = {**os.environ, "HAJATEK_LB_BIND": f"127.0.0.1:{balancer}", **addresses}
        stack.enter_context(running_process([haproxy, "-f", str(CONFIG), "-db"], env, balancer, root / "lb.log"))
        origin = f"http://127.0.0.1:{balancer}"
        deadline = time.monotonic() + 30
        while httpx2.get(f"{origin}/readyz", timeout=5).status_code != 200:  # a fixture's setup: blocking is fine
            assert time.monotonic() < deadline, "the replicas never got ready behind the balancer"
            time.sleep(0.2)
        origins = {f"replica{n + 1}": f"http://127.0.0.1:{port}" for n, port in enumerate(ports)}
        yield Deployment(origin, f"http://127.0.0.1:{api}", database_url, processes, origins)


@asynccontextmanager
async def agent(origin: str, mode: str, served: Served | None = None, **options: Any) -> AsyncIterator[Client]:
    """An agent's client through the balancer; ``served`` notes which replica answered its last request."""
    hooks = {"response": [served.note]} if served is not None else {}
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60, event_hooks=hooks) as http,
        Client(streamable_http_client(f"{origin}/mcp", http_client=http), mode=mode, **options) as client,
    ):
        yield client


class Served:
    """The replica that answered an agent's last POST, from the balancer's ``X-Hajatek-Replica`` header."""

    def __init__(self) -> None:
        self.last: str | None = None

    async def note(self, response: httpx2.Response) -> None:
        if response.request.method == "POST":
            self.last = response.headers.get("x-hajatek-replica")


class Listener:
    """An agent listening to ``hajatek://events`` through the balancer; ``heard`` counts the updates."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.heard = 0

    @asynccontextmanager
    async def listening(self, origin: str) -> AsyncIterator[None]:
        async def on_message(message: Any) -> None:
            root = getattr(message, "root", message)
            if isinstance(root, types.ResourceUpdatedNotification) and str(root.params.uri) == EVENTS:
                self.heard += 1

        if self.mode == "legacy":
            async with agent(origin, self.mode, message_handler=on_message) as client:
                with warnings.catch_warnings():  # the handshake era's way; deprecated in 2026
                    warnings.simplefilter("ignore", mcp.MCPDeprecationWarning)
                    await client.session.subscribe_resource(EVENTS)
                yield
            return
        async with (
            agent(origin, self.mode) as client,
            client.listen(resource_subscriptions=[EVENTS]) as subscription,
            anyio.create_task_group() as group,
        ):

            async def drain() -> None:
                async for change in subscription:
                    if getattr(change, "uri", None) == EVENTS:
                        self.heard += 1

            group.start_soon(drain)
            yield
            group.cancel_scope.cancel()


@dataclass
class Tally:
    answered: int = 0
    confirmed: int = 0
    crossed: dict[str, int] = field(default_factory=lambda: {"legacy": 0, "auto": 0})
    """Confirmations answered by another replica than their preview, per era."""


async def work(deployment: Deployment, mode: str, n: int, tally: Tally) -> None:
    """One agent's ``CALLS_EACH`` calls, among them one guarded price cut on its product (see :func:`cut_price`)."""
    rng = random.Random(n)  # noqa: S311  # a test's mix of calls
    product = f"prod_{n + 1:04d}"
    reads: list[tuple[str, dict[str, Any]]] = [
        ("get_store", {}),
        ("list_products", {"limit": 5}),
        ("list_orders", {"limit": 5}),
        ("get_product", {"product_id": product}),
    ]
    served = Served()
    async with agent(deployment.balancer, mode, served) as client:
        calls = 0
        while calls < CALLS_EACH:
            if calls == CALLS_EACH // 2:
                calls += await cut_price(client, served, deployment, mode, product, tally)
                continue
            tool, arguments = rng.choice(reads)
            await structured(client, tool, arguments)
            calls += 1
            tally.answered += 1


async def cut_price(
    client: Client, served: Served, deployment: Deployment, mode: str, product: str, tally: Tally
) -> int:
    """A price cut to a tenth: previewed, then confirmed with its token; the calls made.

    2026-07-28: the confirmation is the agent's next request, on whichever replica the balancer picks. 2025-11-25: the
    session is pinned to its replica, so the agent confirms in a new session on another replica (as an agent that
    reconnected would), so that every handshake-era confirmation crosses replicas: opened through the balancer, or,
    when round robin keeps landing on the same replica under load, at another replica's own address."""
    price = (await structured(client, "get_product", {"product_id": product}))["price"]
    cut = {"product_id": product, "price": round(price / 10, 2)}
    preview = await structured(client, "update_product", cut)
    assert preview["outcome"] == "confirmation_required", preview
    previewed_on = served.last
    assert previewed_on in deployment.origins, previewed_on
    confirm = {**cut, "confirm_token": preview["confirm_token"]}
    calls = 2
    if mode == "auto":
        done = await structured(client, "update_product", confirm)
        confirmed_on = served.last
    else:
        other = Served()
        for _ in range(10):  # round robin: a new session lands on another replica within a few tries
            async with agent(deployment.balancer, mode, other) as elsewhere:
                if other.last == previewed_on:
                    continue
                done = await structured(elsewhere, "update_product", confirm)
                confirmed_on = other.last
                break
        else:
            confirmed_on = next(name for name in deployment.origins if name != previewed_on)
            async with agent(deployment.origins[confirmed_on], mode) as elsewhere:
                done = await structured(elsewhere, "update_product", confirm)
    assert done["outcome"] == "done", done
    calls += 1
    tally.answered += calls
    tally.confirmed += 1
    tally.crossed[mode] += previewed_on != confirmed_on
    return calls


async def place_orders(sandbox: str) -> None:
    """Orders placed in the store while the agents work: each sends its signed webhooks to the balancer."""
    async with httpx2.AsyncClient(base_url=sandbox, timeout=30) as http:
        listed = await http.get("/v1/products", params={"limit": 100}, headers={"Authorization": f"Bearer {API_KEY}"})
        in_stock = [p["id"] for p in listed.json()["products"] if p["stock"] >= 5 and p["status"] == "active"]
        for _ in range(ORDERS_PLACED):
            k = next(PLACED)
            items = [{"product_id": in_stock[k % len(in_stock)], "quantity": 1}]
            placed = await http.post("/_sandbox/orders", json={"customer_id": f"cus_{k % 20 + 1:04d}", "items": items})
            assert placed.status_code == 201, placed.text
            await anyio.sleep(0.05)


def inbox_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM events WHERE store_id = 'str_sandbox'").fetchone()
    return int(row[0]) if row else 0


async def test_fifty_agents_of_both_eras_through_haproxy_are_all_answered_and_hear_each_event_once(
    deployment: Deployment,
) -> None:
    tally = Tally()
    listeners = [Listener(mode) for mode in ("legacy", "auto", "legacy", "auto")]
    async with AsyncExitStack() as stack:
        for listener in listeners:
            await stack.enter_async_context(listener.listening(deployment.balancer))
        with anyio.fail_after(300):
            async with anyio.create_task_group() as group:
                group.start_soon(place_orders, deployment.sandbox)
                for n in range(AGENTS):
                    group.start_soon(work, deployment, "legacy" if n % 2 else "auto", n, tally)
        async with httpx2.AsyncClient(base_url=deployment.sandbox, timeout=30) as http:
            with anyio.fail_after(60):  # every webhook delivered (the sandbox retries any that failed)
                while True:
                    sent = (await http.get("/_sandbox/events")).json()["events"]
                    if all(event["delivery"]["status"] == "delivered" for event in sent):
                        break
                    await anyio.sleep(0.2)
        with anyio.fail_after(30):  # and announced to every listener, wherever it landed
            while any(listener.heard < len(sent) for listener in listeners):  # noqa: ASYNC110  # counters
                await anyio.sleep(0.1)
        await anyio.sleep(1.0)  # time enough for a duplicate to arrive
    assert tally.answered >= AGENTS * CALLS_EACH >= 2000
    assert tally.confirmed == AGENTS
    assert tally.crossed["legacy"] == AGENTS // 2  # every handshake-era token redeemed on another replica
    assert tally.crossed["auto"] >= AGENTS // 8  # round robin under load: most 2026 ones cross too (expected ~2/3)
    assert len(sent) >= ORDERS_PLACED
    assert inbox_count(deployment.database_url) == len(sent)  # each delivered webhook kept once
    assert [listener.heard for listener in listeners] == [len(sent)] * len(listeners)
    assert json.dumps(sent).count(SECRET) == 0


@dataclass
class Outcomes:
    """What the agents saw around the kill: each call's start and end (monotonic) and whether it was answered; per
    product, its price before the cuts and how many cut tokens were redeemed (done, or "already used" when sent again
    after a lost answer)."""

    calls: list[tuple[float, float, bool]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    """Each failed call's end and what it raised, for the assertion messages."""
    prices: dict[str, float] = field(default_factory=dict)
    redeemed: dict[str, int] = field(default_factory=dict)
    retried: list[str] = field(default_factory=list)


async def carry_on(origin: str, mode: str, n: int, over: Callable[[], bool], seen: Outcomes) -> None:
    """Cycles of two reads, a guarded price cut (preview, then its token) and the price put back, until ``over()``.

    A failed call is noted; a confirmation whose answer was lost is sent again with the same token (never a new
    preview: the first may have been applied); a handshake-era agent whose replica died opens a new session."""
    product = f"prod_{n + 101:04d}"
    pending: dict[str, Any] | None = None
    step = 0
    while not over():
        try:
            async with agent(origin, mode) as client:
                while not over():
                    started = time.monotonic()
                    try:
                        if pending is not None:
                            answer = await client.call_tool("update_product", pending)
                            seen.retried.append(text(answer) if answer.is_error else "done")
                            assert not answer.is_error or "already used" in text(answer), text(answer)
                            seen.redeemed[product] = seen.redeemed.get(product, 0) + 1
                            pending = None
                        elif step % 4 in (0, 1):
                            await structured(client, "list_orders", {"limit": 3})
                        elif step % 4 == 2:
                            price = seen.prices.setdefault(
                                product, (await structured(client, "get_product", {"product_id": product}))["price"]
                            )
                            cut = {"product_id": product, "price": round(price / 10, 2)}
                            preview = await structured(client, "update_product", cut)
                            pending = {**cut, "confirm_token": preview["confirm_token"]}
                            done = await structured(client, "update_product", pending)
                            assert done["outcome"] == "done", done
                            seen.redeemed[product] = seen.redeemed.get(product, 0) + 1
                            pending = None
                        else:
                            back = {"product_id": product, "price": seen.prices[product]}
                            assert (await structured(client, "update_product", back))["outcome"] == "done"
                        step += 1
                        seen.calls.append((started, time.monotonic(), True))
                    except Exception as error:  # the replica holding it was killed: noted, then go on
                        seen.calls.append((started, time.monotonic(), False))
                        seen.errors.append((time.monotonic(), repr(error)[:300]))
                        if mode == "legacy":
                            break  # the session may have died with its replica: open a new one
        except Exception as error:  # the session's end failed too (its replica is gone)
            now = time.monotonic()
            seen.calls.append((now, now, False))
            seen.errors.append((now, repr(error)[:300]))
        await anyio.sleep(0.05)


def executed_cuts(database_url: str, prices: dict[str, float]) -> dict[str, int]:
    """Per product, the price cuts the audit log says were executed (on any replica)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT target, arguments FROM audit WHERE tool = 'update_product' AND outcome = 'executed'"
        ).fetchall()
    cuts: dict[str, int] = {}
    for target, arguments in rows:
        if target in prices and float(json.loads(arguments)["price"]) < prices[target] / 2:
            cuts[target] = cuts.get(target, 0) + 1
    return cuts


async def test_a_replica_killed_mid_load_loses_no_webhook_and_applies_no_write_twice(deployment: Deployment) -> None:
    seen = Outcomes()
    start = time.monotonic()
    killed: list[float] = []  # when the victim was killed
    victim = deployment.replicas[0]

    async def kill_one() -> None:
        """Three seconds in, once 40 calls were answered (a loaded machine takes longer to get there)."""
        while time.monotonic() < start + 3 or sum(ok for _, _, ok in seen.calls) < 40:
            if time.monotonic() > start + 60:
                return
            await anyio.sleep(0.05)
        killed.append(time.monotonic())
        victim.send_signal(signal.SIGKILL)  # no shutdown: the requests it holds die with it

    def over() -> bool:
        """Nine seconds of load after the kill, and (on a slow machine, later) 40 calls started once it is down."""
        now = time.monotonic()
        if not killed:
            return now > start + 60
        settling = sum(started > killed[0] + 4 for started, _, _ in seen.calls)
        return now > start + 60 or (now > killed[0] + 9 and settling >= 40)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            group.start_soon(kill_one)
            group.start_soon(place_orders, deployment.sandbox)
            for n in range(20):
                group.start_soon(carry_on, deployment.balancer, "legacy" if n % 2 else "auto", n, over, seen)
    assert killed, "the agents never got 40 calls answered"
    killed_at = killed[0]
    assert victim.wait(timeout=5) == -signal.SIGKILL
    before = [ok for _, ended, ok in seen.calls if ended < killed_at]
    settled = [ok for started, _, ok in seen.calls if started > killed_at + 4]  # marked down by then (fall 2 x 1 s)
    failed = [ok for ok in (ok for _, _, ok in seen.calls) if not ok]
    errors = [f"{at - killed_at:+.2f} s: {error}" for at, error in seen.errors]
    assert before
    assert all(before), f"calls failed before the kill: {errors}"
    assert settled
    assert all(settled), f"{settled.count(False)} calls failed well after the kill: {errors}"
    assert len(failed) <= 2 * 20  # the calls the victim held, and each lost session's next call
    assert sum(seen.redeemed.values()) >= 20
    async with httpx2.AsyncClient(base_url=deployment.sandbox, timeout=30) as http:
        with anyio.fail_after(60):  # the sandbox redelivers what the victim never acknowledged
            while True:
                sent = (await http.get("/_sandbox/events")).json()["events"]
                if all(event["delivery"]["status"] == "delivered" for event in sent):
                    break
                await anyio.sleep(0.2)
    assert inbox_count(deployment.database_url) == len(sent)  # every acknowledged webhook kept, once
    cuts = executed_cuts(deployment.database_url, seen.prices)
    for product, redeemed in seen.redeemed.items():
        # a cut runs once per redeemed token; the victim may have died between the store's answer and its audit entry
        assert redeemed - 1 <= cuts.get(product, 0) <= redeemed, (product, redeemed, cuts.get(product))
