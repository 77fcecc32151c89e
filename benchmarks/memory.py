"""Memory: peak RSS of ours against the bare server, and growth over many calls.

Both servers run over stdio with a handshake client; ours uses a standalone sandbox as its API (business key).
Peak: ``VmHWM`` from /proc after ``initialize`` and 50 calls (ours ``list_orders(limit=20)``, bare its trivial
tool); target ≤ 1.3× the bare server. Growth: after a warm-up of 500 calls, ``VmRSS`` is read, then 10,000 more calls
cycle through the read tools an agent uses most (orders, products, customers, one order, the store, analytics),
and ``VmRSS`` is read again; target ≤ 10 MB. The bare server makes the same number of trivial calls, for
comparison (what the SDK alone grows).
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
from mcp import Client

from benchmarks.harness import (
    BARE,
    OURS,
    Bench,
    BenchmarkFailure,
    Outcome,
    Row,
    children,
    new_child,
    ours_on_sandbox_env,
    proc_status,
)
from benchmarks.svg import Series, line_chart

PEAK_LIMIT = 1.3
GROWTH_LIMIT_MB = 10.0
WARM_UP = 500
PLOT = "benchmarks-memory.svg"
Mix = list[tuple[str, dict[str, Any]]]
MIX: Mix = [
    ("list_orders", {"limit": 20}),
    ("list_products", {"limit": 20}),
    ("get_order", {"order_id": "ord_000600"}),
    ("list_customers", {"limit": 20}),
    ("get_store", {}),
    ("list_orders", {"status": "pending", "limit": 20}),
    ("get_analytics", {"period": "7d"}),
]


async def calls(client: Client, mix: Mix, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        name, arguments = mix[i % len(mix)]
        result = await client.call_tool(name, arguments)
        if result.is_error:
            raise BenchmarkFailure(f"{name} failed: {result.content}")


async def measure(
    bench: Bench, name: str, command: list[str], env: dict[str, str], *, peak_mix: Mix, mix: Mix, growth_calls: int
) -> dict[str, Any]:
    """Peak RSS after 50 ``peak_mix`` calls, then the RSS trace over ``growth_calls`` ``mix`` calls."""
    before = children()
    async with bench.stdio_client(command, env, f"memory-{name}") as client:
        pid = new_child(before)
        await calls(client, peak_mix, 50)
        peak_kib = proc_status(pid)["VmHWM"]
        await calls(client, mix, WARM_UP)
        trace = [(0, proc_status(pid)["VmRSS"] / 1024)]
        step = max(growth_calls // 20, 1)
        for done in range(0, growth_calls, step):
            await calls(client, mix, step, start=done)
            trace.append((done + step, proc_status(pid)["VmRSS"] / 1024))
            bench.progress.status(f"{name}: calls", done + step, growth_calls)
    return {"peak_mib": peak_kib / 1024, "trace": trace, "growth_mib": trace[-1][1] - trace[0][1]}


def run(bench: Bench) -> Outcome:
    growth_calls = bench.n(full=10_000, quick=600)
    trivial = [("ping", {"n": 1})]
    with bench.sandbox() as base_url:
        ours_env = ours_on_sandbox_env(bench, base_url)
        peak_mix = [("list_orders", {"limit": 20})]
        ours = anyio.run(
            functools.partial(measure, peak_mix=peak_mix, mix=MIX, growth_calls=growth_calls),
            bench, "ours", OURS, ours_env,
        )  # fmt: skip
        bare = anyio.run(
            functools.partial(measure, peak_mix=trivial, mix=trivial, growth_calls=growth_calls),
            bench, "bare", BARE, bench.env(),
        )  # fmt: skip
    ratio = ours["peak_mib"] / bare["peak_mib"]
    growth_mb = ours["growth_mib"] * 1.048576  # MiB → MB
    bench.progress.log(f"peak bare {bare['peak_mib']:.1f} MiB, ours {ours['peak_mib']:.1f} MiB ({ratio:.2f}×); "
                       f"growth over {growth_calls} calls: ours {ours['growth_mib']:+.1f} MiB, bare "
                       f"{bare['growth_mib']:+.1f} MiB")  # fmt: skip
    plot = line_chart(
        f"Resident memory over {growth_calls:,} calls after a {WARM_UP}-call warm-up (stdio)",
        [Series("bare MCPServer, trivial tool", bare["trace"]), Series("hajatek-mcp, mixed read tools", ours["trace"])],
        "calls", "VmRSS (MiB)",
    )  # fmt: skip
    details = {
        "peak_mib": {"bare": round(bare["peak_mib"], 1), "ours": round(ours["peak_mib"], 1)},
        "growth_calls": growth_calls,
        "growth_mib": {"bare": round(bare["growth_mib"], 2), "ours": round(ours["growth_mib"], 2)},
        "rss_trace_mib": {
            name: [(n, round(v, 1)) for n, v in found["trace"]] for name, found in (("bare", bare), ("ours", ours))
        },
        "mix": [name for name, _ in MIX],
    }
    rows = [
        Row(what="peak RSS (VmHWM) after initialize + 50 calls", target=f"≤ {PEAK_LIMIT}× bare",
            baseline=round(bare["peak_mib"], 1), ours=round(ours["peak_mib"], 1), unit="MiB", ratio=round(ratio, 3),
            ok=ratio <= PEAK_LIMIT),
        Row(what=f"RSS growth over {growth_calls:,} calls after warm-up", target=f"≤ {GROWTH_LIMIT_MB:g} MB",
            baseline=round(bare["growth_mib"] * 1.048576, 2), ours=round(growth_mb, 2), unit="MB",
            ok=growth_mb <= GROWTH_LIMIT_MB, note="baseline: bare server, same number of trivial calls"),
    ]  # fmt: skip
    return Outcome(rows=rows, details=details, plots={PLOT: plot})
