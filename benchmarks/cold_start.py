"""Cold start: from spawning the process to reading the ``initialize`` result on stdout (2025-11-25 handshake).

This is how long a host (Claude Desktop, Inspector) waits before it can list tools. The request is written right
after the spawn, as a host does. Ours runs ``python -m hajatek_mcp`` with a real-API configuration (no network is
needed to answer ``initialize``); the baseline is the bare one-tool ``MCPServer`` of ``bare_server.py``. Runs are
interleaved (bare, ours, ours, bare, ...) so that drift of the machine hits both alike; the best of each is compared
(the least the machine's other work added), the medians are reported beside it.

Our tools and prompts are built when first read (see ``hajatek_mcp/server/lazy.py``), after ``initialize`` is
answered: so the time to the first ``tools/list`` answer is measured too, the same way, and reported.

Also recorded, to explain the figure: ``-X importtime`` of both (self time grouped by top-level package, and the
modules only ours imports), and the time ``build_server`` takes once everything is imported.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import defaultdict
from typing import Any

from benchmarks.harness import BARE, INITIALIZE, OURS, REAL_API_ENV, Bench, Outcome, RawStdio, Row, median, summary

TITLE = "Cold start (spawn → initialize over stdio)"
LIMIT = 1.10

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def spawn_to_initialize(bench: Bench, command: list[str], env: dict[str, str], name: str) -> tuple[float, float]:
    """Seconds from Popen to the initialize response line, and to the first tools/list response line after it."""
    with (bench.workdir / "logs" / f"cold-{name}.log").open("ab") as errlog:
        started = time.perf_counter()
        server = RawStdio(command, env, errlog)
        try:
            server.send(INITIALIZE)
            server.receive(1)
            initialized = time.perf_counter() - started
            server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
            server.receive(2)
            return initialized, time.perf_counter() - started
        finally:
            server.close()


def import_times(command: list[str], env: dict[str, str]) -> dict[str, tuple[int, int]]:
    """module → (self µs, cumulative µs) of a start-up under ``-X importtime`` (the server exits at end of input)."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=60, check=False)  # fmt: skip
    times: dict[str, tuple[int, int]] = {}
    for line in result.stderr.decode(errors="replace").splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            times[match.group(4)] = (int(match.group(1)), int(match.group(2)))
    return times


def explain_imports(bare: dict[str, tuple[int, int]], ours: dict[str, tuple[int, int]]) -> dict[str, Any]:
    def by_package(times: dict[str, tuple[int, int]]) -> dict[str, float]:
        groups: dict[str, int] = defaultdict(int)
        for module, (self_us, _) in times.items():
            groups[module.split(".")[0]] += self_us
        top = sorted(groups.items(), key=lambda kv: -kv[1])[:12]
        return {name: round(us / 1000, 1) for name, us in top}

    only_ours = {m: t for m, t in ours.items() if m not in bare}
    added = sorted(only_ours.items(), key=lambda kv: -kv[1][0])
    return {
        "bare_total_self_ms": round(sum(t[0] for t in bare.values()) / 1000, 1),
        "ours_total_self_ms": round(sum(t[0] for t in ours.values()) / 1000, 1),
        "bare_self_ms_by_package": by_package(bare),
        "ours_self_ms_by_package": by_package(ours),
        "only_ours_modules": len(only_ours),
        "only_ours_self_ms": round(sum(t[0] for t in only_ours.values()) / 1000, 1),
        "only_ours_top_self_ms": {m: round(t[0] / 1000, 1) for m, t in added[:15]},
        "ours_top_cumulative_ms": {
            m: round(t[1] / 1000, 1) for m, t in sorted(ours.items(), key=lambda kv: -kv[1][1])[:15]
        },
    }


def build_server_ms() -> float:
    """Milliseconds ``build_server`` takes with every module already imported (the tool schemas are built here)."""
    from hajatek_mcp.api import HajatekClient  # noqa: PLC0415  # the measurement imports first, then times
    from hajatek_mcp.server import ServerOptions, build_server  # noqa: PLC0415

    build_server(ServerOptions(), lambda: HajatekClient("sk_x", store_id="str_x"))  # warm: first-use caches
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        build_server(ServerOptions(), lambda: HajatekClient("sk_x", store_id="str_x"))
        runs.append(time.perf_counter() - started)
    return round(median(runs) * 1000, 1)


def run(bench: Bench) -> Outcome:
    pairs = bench.n(full=20, quick=4)
    ours_env = bench.env(REAL_API_ENV)
    bare_env = bench.env()
    servers = {"bare": (BARE, bare_env), "ours": (OURS, ours_env)}
    for name, (command, env) in servers.items():  # warm-up: page cache, .pyc files
        spawn_to_initialize(bench, command, env, name)
    samples: dict[str, list[float]] = {"bare": [], "ours": []}
    listed: dict[str, list[float]] = {"bare": [], "ours": []}
    for i in range(pairs):
        order = ("bare", "ours") if i % 2 == 0 else ("ours", "bare")
        for name in order:
            command, env = servers[name]
            initialized, tools_listed = spawn_to_initialize(bench, command, env, name)
            samples[name].append(initialized)
            listed[name].append(tools_listed)
        bench.progress.status("spawn → initialize pairs", i + 1, pairs)
    bare_ms, ours_ms = min(samples["bare"]) * 1000, min(samples["ours"]) * 1000
    ratio = ours_ms / bare_ms
    medians = {name: median(values) * 1000 for name, values in samples.items()}
    bench.progress.log(f"best: bare {bare_ms:.0f} ms, ours {ours_ms:.0f} ms: {ratio:.2f}×")
    bare_list_ms, ours_list_ms = min(listed["bare"]) * 1000, min(listed["ours"]) * 1000

    bench.progress.status("-X importtime")
    imports = explain_imports(import_times(BARE, bare_env), import_times(OURS, ours_env))
    details = {
        "pairs": pairs,
        "bare_ms": summary(samples["bare"], 1000, 1),
        "ours_ms": summary(samples["ours"], 1000, 1),
        "samples_ms": {k: [round(v * 1000, 1) for v in vs] for k, vs in samples.items()},
        "tools_list_ms": {k: summary(vs, 1000, 1) for k, vs in listed.items()},
        "build_server_ms": build_server_ms(),
        "importtime": imports,
    }
    rows = [
        Row(what=TITLE, target=f"≤ {LIMIT:.2f}× bare", baseline=round(bare_ms, 1), ours=round(ours_ms, 1), unit="ms",
            ratio=round(ratio, 3), ok=ratio <= LIMIT,
            note=f"best of {pairs}; medians {medians['bare']:,.0f} / {medians['ours']:,.0f} ms"),
        Row(what="Spawn → first tools/list answer (after initialize; our tools are built then)", target="reported",
            baseline=round(bare_list_ms, 1), ours=round(ours_list_ms, 1), unit="ms",
            ratio=round(ours_list_ms / bare_list_ms, 3), note=f"best of {pairs}; 18 tools vs 1"),
    ]  # fmt: skip
    return Outcome(rows=rows, details=details)
