"""``python -m benchmarks [--quick] [--only NAME[,NAME]]``: run the benchmarks, write the results, print the table.

A full run writes ``benchmarks/results/latest.json`` (merged with the previous one when ``--only`` selects a few) and
rewrites the results table and plots of docs/benchmarks.md. A quick run (CI) writes ``benchmarks/results/quick.json``
and publishes nothing. Progress goes to stderr, the table to stdout.

Exit code: 0 when every selected benchmark ran; 1 when one crashed or saw what it measures fail (an error under
load, an upstream 429 under the rate governor, a tool without title, annotations or output schema, a result that
drops a field the agent needs). A missed numeric target is reported, never an exit code: timings on a shared
machine are not a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from benchmarks import (
    agent_tasks,
    call_overhead,
    cold_start,
    context_footprint,
    http_load,
    memory,
    rate_governor,
    replicas,
    result_compactness,
    tenants,
)
from benchmarks.harness import BENCH_DIR, Bench, BenchmarkFailure, Processes, Progress
from benchmarks.report import DOC, load_average, machine_info, merge, publish, table, write_json

BENCHMARKS: dict[str, ModuleType] = {
    "cold_start": cold_start,
    "context_footprint": context_footprint,
    "result_compactness": result_compactness,
    "call_overhead": call_overhead,
    "http_load": http_load,
    "rate_governor": rate_governor,
    "memory": memory,
    "agent_tasks": agent_tasks,
    "tenants": tenants,
    "replicas": replicas,
}
#: Wall-clock bound of one benchmark (seconds), full and quick; a hung benchmark fails instead of hanging CI.
TIME_LIMIT = {False: 300, True: 90}
RESULTS = BENCH_DIR / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (CI); publishes nothing")
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"run only these: {', '.join(BENCHMARKS)}")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (server logs)")
    return parser


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise BenchmarkFailure("the benchmark ran past its time limit")


def run_one(bench: Bench, name: str) -> dict[str, Any]:
    started = time.monotonic()
    signal.alarm(TIME_LIMIT[bench.quick])
    try:
        outcome = BENCHMARKS[name].run(bench)
    except Exception as exc:  # any crash is recorded, reported and turned into the exit code
        bench.progress.log(f"CRASHED: {exc!r}")
        trace = traceback.format_exc()
        print(trace, file=sys.stderr)
        return {"error": repr(exc), "traceback": trace, "duration_s": round(time.monotonic() - started, 1)}
    finally:
        signal.alarm(0)
        bench.processes.stop_all()
    for failure in outcome.failures:
        bench.progress.log(f"FAILURE: {failure}")
    bench.progress.log(f"done in {time.monotonic() - started:.1f} s")
    return {**outcome.to_json(), "duration_s": round(time.monotonic() - started, 1), "_plots": outcome.plots}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = list(BENCHMARKS) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="hajatek-bench-"))
    (workdir / "logs").mkdir()
    progress = Progress()
    bench = Bench(quick=args.quick, workdir=workdir, progress=progress, processes=Processes(workdir / "logs"))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stopped run still stops its servers
    run: dict[str, Any] = {"quick": args.quick, "machine": machine_info(), "benchmarks": {}}
    started = time.monotonic()
    try:
        for i, name in enumerate(names, 1):
            progress.stage(f"[{i}/{len(names)}] {name}")
            run["benchmarks"][name] = run_one(bench, name)
    finally:
        bench.processes.stop_all()
        for file in bench.files:
            file.close()
        if args.keep:
            print(f"working directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    run["duration_s"] = round(time.monotonic() - started, 1)
    run["load_average_at_end"] = load_average()

    plots = {file: svg for entry in run["benchmarks"].values() for file, svg in entry.pop("_plots", {}).items()}
    if args.quick:
        write_json(RESULTS / "quick.json", run)
    else:
        latest = RESULTS / "latest.json"
        previous = json.loads(latest.read_text(encoding="utf-8")) if latest.exists() else None
        run = merge(previous, run)
        write_json(latest, run)
        for file, svg in plots.items():
            (DOC.parent / file).write_text(svg, encoding="utf-8")
        publish(run)
    print(table(run))
    failed = [n for n, e in run["benchmarks"].items() if n in names and ("error" in e or e["failures"])]
    print(f"{len(names)} benchmark(s) in {run['duration_s']:.0f} s", file=sys.stderr)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
