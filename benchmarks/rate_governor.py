"""Rate governor: a burst of concurrent calls on the starter plan uses the allowance without earning 429s.

The sandbox runs with a scaled window (``sandbox_launcher.py``: 100 requests per rolling 6 s for the starter key,
the minute of the real plan shrunk tenfold). A ``HajatekClient(plan="starter", rate_limit=100, rate_window=6.0)``
is shared by 20 concurrent tasks making 600 ``get_store`` calls. A recording transport under the client counts
every request that reaches the sandbox and its status, so retried 429s cannot hide. Targets: zero upstream 429s (a
429 is a failure of the run) and ≥ 90% of the allowed rate used. The allowed rate is limit / window; the achieved
rate is what was sent after the first full window's burst: (sent - limit) / (last send - first send).
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2

from benchmarks.harness import BENCH_DIR, PYTHON, SANDBOX_STORE, Bench, Outcome, Row, free_port, wait_listening
from benchmarks.svg import Series, line_chart
from hajatek_mcp.api import HajatekClient

LIMIT = 0.90
TASKS = 20
PLOT = "benchmarks-rate-governor.svg"


class RecordingTransport(httpx2.AsyncHTTPTransport):
    """The default transport, noting when each request left and what status came back."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[float] = []
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(time.monotonic())
        response = await super().handle_async_request(request)
        self.statuses.append(response.status_code)
        return response


async def burst(base_url: str, limit: int, window: float, calls: int) -> dict[str, Any]:
    transport = RecordingTransport()
    errors: list[str] = []
    remaining = calls
    async with HajatekClient("sk_sandbox_starter", store_id=SANDBOX_STORE, base_url=base_url, plan="starter",
                             rate_limit=limit, rate_window=window, transport=transport) as client:  # fmt: skip

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                try:
                    await client.get_store()
                except Exception as exc:  # counted: a caller that sees an error is a failure
                    errors.append(repr(exc)[:200])

        started = time.monotonic()
        with anyio.fail_after(window * (calls / limit + 4) + 30):
            async with anyio.create_task_group() as tasks:
                for _ in range(TASKS):
                    tasks.start_soon(worker)
        elapsed = time.monotonic() - started
    return {"sent": [t - started for t in transport.sent], "statuses": transport.statuses, "errors": errors,
            "elapsed": elapsed}  # fmt: skip


def run(bench: Bench) -> Outcome:
    limit, window, calls = (100, 6.0, 600) if not bench.quick else (50, 3.0, 200)
    port = free_port()
    launcher = [PYTHON, str(BENCH_DIR / "sandbox_launcher.py"), str(port), str(window), str(limit)]
    process = bench.processes.spawn(launcher, bench.env(), "governor-sandbox")
    try:
        wait_listening(process, port)
        bench.progress.status(f"{calls} calls from {TASKS} tasks, {limit} per {window:g} s")
        found = anyio.run(burst, f"http://127.0.0.1:{port}/v1", limit, window, calls)
    finally:
        bench.processes.stop(process)
    sent, statuses = found["sent"], found["statuses"]
    rejected = statuses.count(429)
    allowed_rate = limit / window
    achieved_rate = (len(sent) - limit) / (sent[-1] - sent[0])
    share = achieved_rate / allowed_rate
    bench.progress.log(f"{len(sent)} requests in {found['elapsed']:.1f} s, {rejected} × 429, "
                       f"{achieved_rate:.2f}/s of {allowed_rate:.2f}/s allowed = {share:.0%}")  # fmt: skip
    # The most a rolling window allows by time t: `limit` at once, then `limit` more each window.
    horizon = sent[-1] + window / 2
    allowance = [(k * window, (k + 1) * limit) for k in range(int(horizon // window) + 1)] + [(horizon, 0)]
    allowance[-1] = (horizon, allowance[-2][1])
    plot = line_chart(
        f"Rate governor: {calls} calls, {TASKS} tasks, starter plan scaled to {limit} per {window:g} s",
        [Series("most a rolling window allows", allowance, step=True, dashed=True),
         Series("requests sent (cumulative)", [(t, i + 1) for i, t in enumerate(sent)], step=True)],
        "seconds", "requests",
    )  # fmt: skip
    details = {
        "limit": limit, "window_s": window, "calls": calls, "tasks": TASKS, "requests_sent": len(sent),
        "upstream_429": rejected, "caller_errors": found["errors"][:10], "elapsed_s": round(found["elapsed"], 2),
        "allowed_rate_per_s": round(allowed_rate, 3), "achieved_rate_per_s": round(achieved_rate, 3),
        "sent_per_window": [sum(1 for t in sent if k * window <= t < (k + 1) * window)
                            for k in range(int(sent[-1] // window) + 1)],
    }  # fmt: skip
    rows = [
        Row(what=f"starter plan ({limit}/{window:g} s), {calls} calls from {TASKS} tasks: rate used",
            target=f"≥ {LIMIT:.0%} of allowed", baseline=round(allowed_rate, 2), ours=round(achieved_rate, 2),
            unit="req/s", ratio=round(share, 3), ok=share >= LIMIT),
        Row(what="upstream 429 responses", target="0", baseline=None, ours=rejected, unit="", ok=rejected == 0),
    ]  # fmt: skip
    failures = []
    if rejected:
        failures.append(f"the sandbox answered 429 {rejected} times under the governor")
    if found["errors"]:
        failures.append(f"{len(found['errors'])} calls failed, e.g. {found['errors'][0]}")
    return Outcome(rows=rows, details=details, plots={PLOT: plot}, failures=failures)
