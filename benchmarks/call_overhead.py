"""Per-call overhead: what the MCP layer adds to an API request, against the SDK's own round trip.

One standalone sandbox (``hajatek-mcp sandbox``, business key: no rate limit) serves two callers of the same request,
``list_orders(limit=20)``: ours over stdio (``python -m hajatek_mcp`` with the sandbox as its API, a handshake
client as today's hosts use) and ``HajatekClient.list_orders(limit=20)`` called directly in this process. Our
overhead is the difference of their medians. The yardstick is the bare one-tool server's trivial-tool round trip
over stdio with the same client, measured in the same rounds: target overhead ≤ 1.5× that. A fourth server
(``floor_server.py``) returns the very same result while doing nothing, to show what the result's size alone costs.
The four kinds of call alternate one by one (after a warm-up), so drift hits all alike. The SDK client's
re-validation of a result against the output schema is also timed apart, to tell the client's share from ours.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from referencing import Registry

from benchmarks.harness import (
    BARE,
    FLOOR,
    OURS,
    SANDBOX_KEY,
    SANDBOX_STORE,
    Bench,
    BenchmarkFailure,
    Outcome,
    Row,
    median,
    ours_on_sandbox_env,
    percentile,
    summary,
)
from benchmarks.svg import Series, cdf, line_chart
from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.views import OrderPage, OrderRow

LIMIT = 1.5
PLOT = "benchmarks-call-latency.svg"


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def client_validation_s(output_schema: dict[str, Any], structured: Any, repeat: int = 200) -> float:
    """Median seconds the SDK client spends re-validating one result against the tool's output schema.

    The same steps as ``ClientSession.validate_tool_result`` (a compiled, cached validator; ``best_match`` over
    every error), timed apart so that the client's share of the round trip can be told from the server's.
    """
    validator = validator_for(output_schema)(output_schema, registry=Registry())
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        best_match(validator.iter_errors(structured))
        runs.append(time.perf_counter() - started)
    return median(runs)


async def floor_page(direct: HajatekClient, path: Path) -> Path:
    """Save our view of the first 20 orders, for the floor server to return."""
    page = await direct.list_orders(limit=20)
    view = OrderPage(orders=[OrderRow.of(o) for o in page.items], page=page.page, total=page.total,
                     has_more=page.has_more, next_page=page.next_page)  # fmt: skip
    await anyio.Path(path).write_text(view.model_dump_json(exclude_none=True), encoding="utf-8")
    return path


async def measure(bench: Bench, base_url: str, calls: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    async with HajatekClient(SANDBOX_KEY, store_id=SANDBOX_STORE, base_url=base_url, plan="business") as direct:
        page_file = await floor_page(direct, bench.workdir / "floor-page.json")
        async with (
            bench.stdio_client(OURS, ours_on_sandbox_env(bench, base_url), "overhead-ours") as ours,
            bench.stdio_client(BARE, bench.env(), "overhead-bare") as bare,
            bench.stdio_client([*FLOOR, str(page_file)], bench.env(), "overhead-floor") as floor,
        ):

            async def via_mcp() -> None:
                result = await ours.call_tool("list_orders", {"limit": 20})
                if result.is_error or len(result.structured_content["orders"]) != 20:
                    raise BenchmarkFailure(f"list_orders failed: {result.content}")

            async def via_client() -> None:
                page = await direct.list_orders(limit=20)
                if len(page.items) != 20:
                    raise BenchmarkFailure("HajatekClient.list_orders returned a short page")

            async def trivial() -> None:
                result = await bare.call_tool("ping", {"n": 1})
                if result.is_error:
                    raise BenchmarkFailure(f"ping failed: {result.content}")

            async def canned() -> None:
                result = await floor.call_tool("canned", {})
                if result.is_error:
                    raise BenchmarkFailure(f"canned failed: {result.content}")

            kinds = {"ours_mcp": via_mcp, "direct_client": via_client, "bare_trivial": trivial, "floor": canned}
            samples: dict[str, list[float]] = {name: [] for name in kinds}
            warm_up = max(calls // 10, 10)
            for i in range(warm_up + calls):
                for name, call in kinds.items():
                    elapsed = await _timed(call)
                    if i >= warm_up:
                        samples[name].append(elapsed)
                bench.progress.status("rounds (ours, direct, bare, floor)", i + 1, warm_up + calls)
            validation = {}
            for name, client, tool, arguments in (("ours", ours, "list_orders", {"limit": 20}),
                                                  ("bare", bare, "ping", {"n": 1})):  # fmt: skip
                schema = next(t.output_schema for t in (await client.list_tools()).tools if t.name == tool)
                result = await client.call_tool(tool, arguments)
                validation[name] = client_validation_s(schema or {}, result.structured_content)
            return samples, validation


def run(bench: Bench) -> Outcome:
    calls = bench.n(full=1000, quick=60)
    with bench.sandbox() as base_url:
        samples, validation = anyio.run(measure, bench, base_url, calls)
    p50 = {name: median(values) * 1000 for name, values in samples.items()}
    overhead = p50["ours_mcp"] - p50["direct_client"]
    ratio = overhead / p50["bare_trivial"]
    bench.progress.log(
        f"p50: ours {p50['ours_mcp']:.2f} ms, direct {p50['direct_client']:.2f} ms, bare trivial "
        f"{p50['bare_trivial']:.2f} ms → overhead {overhead:.2f} ms = {ratio:.2f}× bare"
    )
    details = {
        "calls_per_kind": calls,
        "latency_ms": {name: summary(values, 1000) for name, values in samples.items()},
        "overhead_p50_ms": round(overhead, 3),
        "budget_ms": round(LIMIT * p50["bare_trivial"], 3),
        "floor_minus_bare_ms": round(p50["floor"] - p50["bare_trivial"], 3),
        "client_output_validation_ms": {name: round(v * 1000, 3) for name, v in validation.items()},
        "overhead_without_client_validation_ms": round(overhead - (validation["ours"] - validation["bare"]) * 1000, 3),
    }
    labels = {"bare_trivial": "bare MCPServer, trivial tool", "direct_client": "HajatekClient.list_orders(20)",
              "ours_mcp": "hajatek-mcp list_orders(20) over stdio",
              "floor": "floor: the same result, no work done"}  # fmt: skip
    series = [Series(labels[name], cdf([v * 1000 for v in values])) for name, values in samples.items()]
    x_max = max(percentile(values, 99) for values in samples.values()) * 1000
    plot = line_chart("Per-call latency over stdio (handshake client), same run", series, "latency (ms)",
                      "share of calls (%)", x_max=x_max)  # fmt: skip
    server_side = details["overhead_without_client_validation_ms"]
    floor = p50["floor"] - p50["bare_trivial"]
    rows = [
        Row(what="list_orders(limit=20): p50 over stdio minus direct HajatekClient p50",
            target=f"≤ {LIMIT}× bare RTT", baseline=round(p50["bare_trivial"], 3), ours=round(overhead, 3), unit="ms",
            ratio=round(ratio, 3), ok=ratio <= LIMIT,
            note=f"baseline: bare trivial-tool p50 round trip; {calls} calls each"),
        Row(what="the same, less the SDK client's re-validation of the result against the output schema",
            target="reported", baseline=round(p50["bare_trivial"], 3), ours=server_side, unit="ms",
            ratio=round(server_side / p50["bare_trivial"], 3),
            note=f"client validation {validation['ours'] * 1000:.2f} ms vs {validation['bare'] * 1000:.2f} ms bare"),
        Row(what="floor: a server returning the same result with no work, p50 minus the bare round trip",
            target="reported", baseline=round(p50["bare_trivial"], 3), ours=round(floor, 3), unit="ms",
            ratio=round(floor / p50["bare_trivial"], 3), note="what the size of the result alone costs"),
    ]  # fmt: skip
    return Outcome(rows=rows, details=details, plots={PLOT: plot})
