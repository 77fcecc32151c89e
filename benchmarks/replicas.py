"""Replicas: one process against one and three replicas behind HAProxy, and three replicas sharing one rate budget.

**Throughput.** One standalone sandbox (business key: no rate limit) is the API of: the embedded single process
(``serve --transport streamable-http``, state in SQLite files), and three replica processes sharing one PostgreSQL
and one Redis (``HAJATEK_DATABASE_URL``, ``HAJATEK_REDIS_URL``). Two HAProxy processes run ``docs/deploy/haproxy.cfg``
as deployed: one with the first replica as its only backend ("1 replica"), one with all three ("3 replicas"). 32
``mcp.Client`` clients (default mode, 2026-07-28) call ``get_store`` (one API request) through each, phases in the
order single, 1, 3, 3, 1, single. Reported: throughput and p50/p99, and each ratio to the single process; no target:
every process (clients, balancer, replicas, databases, the sandbox) shares the machine's cores, so three replicas on
two cores measure the cost of the shared state, not scaling.

**Shared rate budget.** The sandbox runs in this process with the starter plan scaled to 100 requests per rolling 6 s
(quick: 50 per 3 s), behind a recorder that notes when each API request arrived and what status it got. Three replica
processes hold the same starter key and share its budget through Redis; 21 clients, seven per replica, make 600
``list_orders`` calls (quick: 200). Targets (issue #17): zero upstream 429s and ≥ 85% of the allowed rate used,
measured as in ``rate_governor.py``: (requests - limit) / (last request - first request), against limit / window.

Needs Debian's ``postgresql``, ``redis-server`` and ``haproxy`` (CI installs them); started on 127.0.0.1 in temporary
directories by the tests' own starters (``tests/servers.py``), stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio
import uvicorn
from mcp import Client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.harness import (
    OURS,
    ROOT,
    SANDBOX_KEY,
    SANDBOX_STORE,
    Bench,
    BenchmarkFailure,
    Outcome,
    Row,
    free_port,
    ours_on_sandbox_env,
    percentile,
    summary,
)
from benchmarks.http_load import phase
from hajatek_mcp.sandbox import SandboxConfig, create_app

CONFIG = ROOT / "docs" / "deploy" / "haproxy.cfg"
CLIENTS = 32
RATE_TARGET = 0.85
RATE_CLIENTS_PER_REPLICA = 7
NEEDS = {"haproxy": "haproxy", "redis-server": "redis-server"}


@contextmanager
def shared_state() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL and Redis on 127.0.0.1: (database URL, Redis URL)."""
    from tests.servers import postgres_bin, postgres_server, redis_server  # noqa: PLC0415  # the tests' starters

    missing = [package for binary, package in NEEDS.items() if shutil.which(binary) is None]
    if postgres_bin() is None:
        missing.append("postgresql")
    if missing:
        raise BenchmarkFailure(f"needs Debian's {', '.join(missing)}: apt-get install {' '.join(missing)}")
    with postgres_server() as database_url, redis_server() as redis_url:
        yield database_url, redis_url


def replica_env(bench: Bench, base_url: str, key: str, plan: str, shared: tuple[str, str]) -> dict[str, str]:
    """A replica's settings: the API at ``base_url`` with ``key``, the state in ``shared`` (database, Redis)."""
    database_url, redis_url = shared
    return bench.env({
        "HAJATEK_BASE_URL": base_url, "HAJATEK_API_KEY": key, "HAJATEK_STORE_ID": SANDBOX_STORE,
        "HAJATEK_PLAN": plan, "HAJATEK_DATABASE_URL": database_url, "HAJATEK_REDIS_URL": redis_url,
        "HAJATEK_REQUEST_STATE_KEYS": "a-request-state-key-the-benchmark-replicas-share",
    })  # fmt: skip


def start_replicas(bench: Bench, stack: ExitStack, env: dict[str, str], count: int) -> list[int]:
    """``count`` replica processes with ``env``; their ports."""
    ports = []
    for n in range(count):
        port = free_port()
        command = [*OURS, "serve", "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)]
        stack.enter_context(bench.http_server(command, port, env, f"replica{n + 1}"))
        ports.append(port)
    return ports


def start_balancer(bench: Bench, stack: ExitStack, backends: list[int], name: str) -> str:
    """HAProxy running the documented config in front of ``backends`` (repeated to fill its three slots)."""
    port = free_port()
    slots = {f"HAJATEK_REPLICA_{n + 1}": f"127.0.0.1:{backends[n % len(backends)]}" for n in range(3)}
    env = {**os.environ, "HAJATEK_LB_BIND": f"127.0.0.1:{port}", **slots}
    haproxy = shutil.which("haproxy") or "haproxy"
    stack.enter_context(bench.http_server([haproxy, "-f", str(CONFIG), "-db"], port, env, name))
    return f"http://127.0.0.1:{port}/mcp"


# --- throughput --------------------------------------------------------------------------------------------------


def measure_throughput(bench: Bench, database_url: str, redis_url: str) -> dict[str, dict[str, Any]]:
    per_phase = bench.n(full=1000, quick=150)
    results: dict[str, dict[str, Any]] = {n: {"latencies": [], "errors": [], "wall": 0.0} for n in ("1", "r1", "r3")}
    with ExitStack() as stack:
        base_url = stack.enter_context(bench.sandbox())
        single_port = free_port()
        command = [*OURS, "serve", "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(single_port)]
        stack.enter_context(bench.http_server(command, single_port, ours_on_sandbox_env(bench, base_url), "single"))
        env = replica_env(bench, base_url, SANDBOX_KEY, "business", (database_url, redis_url))
        ports = start_replicas(bench, stack, env, 3)
        urls = {
            "1": f"http://127.0.0.1:{single_port}/mcp",
            "r1": start_balancer(bench, stack, ports[:1], "haproxy-1"),
            "r3": start_balancer(bench, stack, ports, "haproxy-3"),
        }
        for url in urls.values():  # warm-up: connections, first-call caches, every replica's pool
            anyio.run(phase, url, "get_store", {}, CLIENTS * 3)
        order = ("1", "r1", "r3", "r3", "r1", "1")
        for i, name in enumerate(order):
            bench.progress.status(f"phase {i + 1}/{len(order)} ({name}, {per_phase // 2} calls)")
            found = anyio.run(phase, urls[name], "get_store", {}, per_phase // 2)
            for key in ("latencies", "errors"):
                results[name][key] += found[key]
            results[name]["wall"] += found["wall"]
    return results


# --- the shared rate budget --------------------------------------------------------------------------------------


class Recorder:
    """ASGI middleware noting each API request's arrival (monotonic) and status while :attr:`on`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.on = False
        self.arrived: list[float] = []
        self.statuses: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.on or not str(scope["path"]).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        self.arrived.append(time.monotonic())

        async def note(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, note)


@contextmanager
def recorded_sandbox(limit: int, window: float) -> Iterator[tuple[str, Recorder]]:
    """The sandbox in a thread of this process (starter scaled to ``limit`` per ``window`` s), behind a recorder."""
    config = SandboxConfig(rate_window=window, plan_limits={"starter": limit, "pro": 500, "business": None})
    recorder = Recorder(create_app(config))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise BenchmarkFailure("the recorded sandbox did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", recorder
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def rate_load(urls: list[str], calls: int) -> list[str]:
    """``calls`` list_orders calls from RATE_CLIENTS_PER_REPLICA clients per replica; the errors."""
    errors: list[str] = []
    remaining = calls

    async def client_loop(url: str) -> None:
        nonlocal remaining
        async with Client(url, read_timeout_seconds=120) as client:
            while remaining > 0:
                remaining -= 1
                try:
                    result = await client.call_tool("list_orders", {"limit": 1})
                except Exception as exc:  # every failure is counted, none stops the load
                    errors.append(repr(exc)[:200])
                    continue
                if result.is_error:
                    errors.append(str(result.content)[:200])

    async with anyio.create_task_group() as tasks:
        for url in urls:
            for _ in range(RATE_CLIENTS_PER_REPLICA):
                tasks.start_soon(client_loop, url)
    return errors


def measure_rate(bench: Bench, database_url: str, redis_url: str) -> dict[str, Any]:
    limit, window, calls = (100, 6.0, 600) if not bench.quick else (50, 3.0, 200)
    with recorded_sandbox(limit, window) as (base_url, recorder), ExitStack() as stack:
        env = replica_env(bench, base_url, "sk_sandbox_starter", "starter", (database_url, redis_url))
        env.update(HAJATEK_RATE_LIMIT=str(limit), HAJATEK_RATE_WINDOW=str(window))  # the plan, scaled like the sandbox
        ports = start_replicas(bench, stack, env, 3)
        time.sleep(window)  # the replicas' start-up requests leave the window
        bench.progress.status(f"{calls} calls through 3 replicas, {limit} per {window:g} s")
        recorder.on = True
        started = time.monotonic()
        errors = anyio.run(rate_load, [f"http://127.0.0.1:{port}/mcp" for port in ports], calls)
        elapsed = time.monotonic() - started
        recorder.on = False
    arrived = recorder.arrived
    if len(arrived) <= limit:
        raise BenchmarkFailure(f"only {len(arrived)} API requests for {calls} calls: the window was never full")
    achieved = (len(arrived) - limit) / (arrived[-1] - arrived[0])
    return {
        "limit": limit, "window_s": window, "calls": calls, "replicas": 3,
        "clients": 3 * RATE_CLIENTS_PER_REPLICA, "requests": len(arrived), "upstream_429": recorder.statuses.count(429),
        "allowed_rate_per_s": round(limit / window, 3), "achieved_rate_per_s": round(achieved, 3),
        "elapsed_s": round(elapsed, 2), "errors": errors[:10], "error_count": len(errors),
    }  # fmt: skip


def run(bench: Bench) -> Outcome:
    cores = os.cpu_count() or 1
    with shared_state() as (database_url, redis_url):
        results = measure_throughput(bench, database_url, redis_url)
        rate = measure_rate(bench, database_url, redis_url)
    throughput = {n: len(r["latencies"]) / r["wall"] for n, r in results.items()}
    p = {n: (percentile(r["latencies"], 50) * 1000, percentile(r["latencies"], 99) * 1000) for n, r in results.items()}
    share = rate["achieved_rate_per_s"] / rate["allowed_rate_per_s"]
    bench.progress.log(
        "; ".join(f"{n}: {throughput[n]:.0f} calls/s (p50 {p[n][0]:.1f}, p99 {p[n][1]:.1f} ms)" for n in results)
        + f"; rate {rate['achieved_rate_per_s']:.2f}/s of {rate['allowed_rate_per_s']:.2f}/s ({share:.0%}), "
        f"{rate['upstream_429']} × 429, {rate['error_count']} errors"
    )
    labels = {"1": "one process (SQLite)", "r1": "1 replica behind HAProxy", "r3": "3 replicas behind HAProxy"}
    rows = [
        Row(what=f"streamable HTTP, {CLIENTS} clients, get_store: {labels[n]} (PostgreSQL + Redis) vs one process, "
            f"{cores} cores", target="reported", baseline=round(throughput["1"], 1), ours=round(throughput[n], 1),
            unit="calls/s", ratio=round(throughput[n] / throughput["1"], 3),
            note=f"p50/p99 {p[n][0]:.0f}/{p[n][1]:.0f} ms vs {p['1'][0]:.0f}/{p['1'][1]:.0f} ms")
        for n in ("r1", "r3")
    ] + [
        Row(what=f"3 replicas sharing one starter key through Redis ({rate['limit']}/{rate['window_s']:g} s), "
            f"{rate['calls']} calls from {rate['clients']} clients: rate used",
            target=f"≥ {RATE_TARGET:.0%} of allowed",
            baseline=rate["allowed_rate_per_s"], ours=rate["achieved_rate_per_s"], unit="req/s", ratio=round(share, 3),
            ok=share >= RATE_TARGET),
        Row(what="3 replicas sharing one starter key: upstream 429 responses", target="0", baseline=None,
            ours=rate["upstream_429"], unit="", ok=rate["upstream_429"] == 0),
    ]  # fmt: skip
    details = {
        "cores": cores,
        "clients": CLIENTS,
        "throughput_per_s": {labels[n]: round(v, 1) for n, v in throughput.items()},
        "latency_ms": {labels[n]: summary(r["latencies"], 1000) for n, r in results.items()},
        "errors": {labels[n]: r["errors"][:10] for n, r in results.items()},
        "shared_rate": rate,
    }
    failures = [f"{labels[n]}: {len(r['errors'])} errors under load, e.g. {r['errors'][0]}" for n, r in results.items()
                if r["errors"]]  # fmt: skip
    if rate["upstream_429"]:
        failures.append(f"the sandbox answered 429 {rate['upstream_429']} times to replicas sharing the budget")
    if rate["error_count"]:
        failures.append(f"{rate['error_count']} calls failed under the shared budget, e.g. {rate['errors'][0]}")
    return Outcome(rows=rows, details=details, failures=failures)
