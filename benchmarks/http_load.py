"""HTTP under load: 32 concurrent MCP clients over streamable HTTP, ours against the bare server.

Ours is ``python -m hajatek_mcp serve --transport streamable-http --host 127.0.0.1`` with a standalone sandbox as its
API (business key: no rate limit), called with ``get_store``, the lightest tool that still makes an API request, so
the figure is about the MCP server rather than the sandbox's database. The baseline is the bare server's trivial
tool under the same load. Each of 32 ``mcp.Client(url)`` clients (default mode, 2026-07-28) calls in a loop until
the phase's count is reached; phases run bare, ours, ours, bare (half the calls each), so that drift hits both.
Any error (exception or ``is_error`` result) fails the run. Reported: throughput, p50/p99 latency, and the
throughput ratio to the bare server (no target: the client, the server and the sandbox share two cores).
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from mcp import Client

from benchmarks.harness import BARE, OURS, Bench, Outcome, Row, free_port, ours_on_sandbox_env, percentile, summary
from benchmarks.svg import Series, cdf, line_chart

CLIENTS = 32
PLOT = "benchmarks-http-latency.svg"


async def phase(url: str, tool: str, arguments: dict[str, Any], calls: int) -> dict[str, Any]:
    """``calls`` calls from CLIENTS concurrent clients; latencies, errors and wall time."""
    latencies: list[float] = []
    errors: list[str] = []
    remaining = calls
    connected = 0
    all_connected = anyio.Event()
    go = anyio.Event()

    async def client_loop() -> None:
        nonlocal remaining, connected
        try:
            async with Client(url, read_timeout_seconds=60) as client:
                connected += 1
                if connected == CLIENTS:
                    all_connected.set()
                await go.wait()
                while remaining > 0:
                    remaining -= 1
                    started = time.perf_counter()
                    try:
                        result = await client.call_tool(tool, arguments)
                    except Exception as exc:  # every failure is counted, none stops the load
                        errors.append(repr(exc)[:200])
                        continue
                    latencies.append(time.perf_counter() - started)
                    if result.is_error:
                        errors.append(str(result.content)[:200])
        except Exception as exc:  # a client that cannot connect is an error of the run
            errors.append(f"client: {exc!r}"[:200])
            all_connected.set()

    with anyio.fail_after(240):
        async with anyio.create_task_group() as tasks:
            for _ in range(CLIENTS):
                tasks.start_soon(client_loop)
            await all_connected.wait()
            started = time.perf_counter()
            go.set()
        wall = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "wall": wall}


def run(bench: Bench) -> Outcome:
    per_phase = bench.n(full=1100, quick=200)
    results: dict[str, dict[str, Any]] = {"bare": {"latencies": [], "errors": [], "wall": 0.0},
                                          "ours": {"latencies": [], "errors": [], "wall": 0.0}}  # fmt: skip
    with bench.sandbox() as base_url:
        ours_port, bare_port = free_port(), free_port()
        ours_cmd = [*OURS, "serve", "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(ours_port)]
        targets = {
            "ours": (f"http://127.0.0.1:{ours_port}/mcp", "get_store", {}),
            "bare": (f"http://127.0.0.1:{bare_port}/mcp", "ping", {"n": 1}),
        }
        with (
            bench.http_server(ours_cmd, ours_port, ours_on_sandbox_env(bench, base_url), "http-ours"),
            bench.http_server([*BARE, "http", str(bare_port)], bare_port, bench.env(), "http-bare"),
        ):
            for name in ("bare", "ours"):  # warm-up: connections, first-call caches
                url, tool, arguments = targets[name]
                anyio.run(phase, url, tool, arguments, CLIENTS * 2)
            for i, name in enumerate(("bare", "ours", "ours", "bare")):
                bench.progress.status(f"phase {i + 1}/4 ({name}, {per_phase} calls)")
                url, tool, arguments = targets[name]
                found = anyio.run(phase, url, tool, arguments, per_phase)
                for key in ("latencies", "errors"):
                    results[name][key] += found[key]
                results[name]["wall"] += found["wall"]
    throughput = {n: len(r["latencies"]) / r["wall"] for n, r in results.items()}
    ratio = throughput["ours"] / throughput["bare"]
    p = {n: (percentile(r["latencies"], 50) * 1000, percentile(r["latencies"], 99) * 1000) for n, r in results.items()}
    bench.progress.log(
        f"bare {throughput['bare']:.0f} calls/s (p50 {p['bare'][0]:.1f}, p99 {p['bare'][1]:.1f} ms), ours "
        f"{throughput['ours']:.0f} calls/s (p50 {p['ours'][0]:.1f}, p99 {p['ours'][1]:.1f} ms), "
        f"errors {len(results['ours']['errors'])}+{len(results['bare']['errors'])}"
    )
    details = {
        "clients": CLIENTS,
        "calls": {n: len(r["latencies"]) + len(r["errors"]) for n, r in results.items()},
        "throughput_per_s": {n: round(v, 1) for n, v in throughput.items()},
        "latency_ms": {n: summary(r["latencies"], 1000) for n, r in results.items()},
        "errors": {n: r["errors"][:10] for n, r in results.items()},
        "error_count": {n: len(r["errors"]) for n, r in results.items()},
        "tools": {"ours": "get_store (one API request to the sandbox)", "bare": "ping"},
    }
    labels = {"bare": "bare MCPServer, trivial tool", "ours": "hajatek-mcp get_store (+ sandbox API call)"}
    series = [Series(labels[n], cdf([v * 1000 for v in results[n]["latencies"]])) for n in ("bare", "ours")]
    plot = line_chart(f"Streamable HTTP, {CLIENTS} concurrent clients: latency per call", series, "latency (ms)",
                      "share of calls (%)", x_max=max(v[1] for v in p.values()))  # fmt: skip
    errors = len(results["ours"]["errors"]) + len(results["bare"]["errors"])
    calls = details["calls"]["ours"]
    rows = [
        Row(what=f"streamable HTTP, {CLIENTS} clients: throughput (get_store vs trivial tool)", target="reported",
            baseline=round(throughput["bare"], 1), ours=round(throughput["ours"], 1), unit="calls/s",
            ratio=round(ratio, 3), note=f"{calls} calls; p50/p99 ours {p['ours'][0]:.0f}/{p['ours'][1]:.0f} ms, "
            f"bare {p['bare'][0]:.0f}/{p['bare'][1]:.0f} ms"),
        Row(what=f"streamable HTTP, {CLIENTS} clients: errors", target="0", baseline=len(results["bare"]["errors"]),
            ours=len(results["ours"]["errors"]), unit="", ok=errors == 0),
    ]  # fmt: skip
    failures = [f"{n}: {len(r['errors'])} errors under load, e.g. {r['errors'][0]}" for n, r in results.items()
                if r["errors"]]  # fmt: skip
    return Outcome(rows=rows, details=details, plots={PLOT: plot}, failures=failures)
