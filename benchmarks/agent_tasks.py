"""Agent tasks: fifteen merchant requests in plain words, each solved by the calls a capable agent would make.

Each task of :mod:`benchmarks.merchant_tasks` runs on a fresh sandbox store with our server in front (the world of
:mod:`benchmarks.agent_world`): its reference solution (:mod:`benchmarks.task_solutions`) calls the tools a capable
agent would pick from their descriptions alone, and answers; the answer is checked against a ground truth computed
straight from the sandbox's database. Measured per task: correct or not, the number of tool calls, and the bytes of
tool output read (the text content the model sees, attachments included).

Targets: every task correct; median ≤ 2 calls and ≤ 8 KB read per task. The baseline beside each figure is the best
solution with the 0.1 tools (``benchmarks/agent_baseline.py``), measured once and recorded in
``benchmarks/results/agent_tasks_baseline.json``. A wrong answer is a failure of the run, in quick mode (CI) too.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from benchmarks.agent_world import TaskError, world
from benchmarks.harness import Bench, Outcome, Row
from benchmarks.merchant_tasks import TASKS
from benchmarks.task_solutions import SOLUTIONS, Solver

BASELINE = Path(__file__).parent / "results" / "agent_tasks_baseline.json"
MAX_CALLS = 2
MAX_BYTES = 8 * 1024


async def measure(solutions: Mapping[str, Solver]) -> list[dict[str, Any]]:
    """Each task on a fresh store, solved by ``solutions[task.name]``: correct or not, calls and bytes read."""
    results = []
    for task in TASKS:
        async with world() as w:
            w.facts = await task.facts(w) if task.facts else {}
            truth = task.truth(w, w.facts)
            try:
                answer = await solutions[task.name](w.agent, w.facts)
            except TaskError as exc:
                problems = [str(exc)[:500]]
            except (KeyError, IndexError, TypeError, StopIteration) as exc:  # a result without what the agent needs
                problems = [f"the answer could not be read from the results: {exc!r}"]
            else:
                problems = task.check(answer, truth, w)
            results.append(
                {
                    "task": task.name,
                    "request": task.words(w.facts),
                    "correct": not problems,
                    "problems": problems[:5],
                    "calls": len(w.agent.calls),
                    "bytes": w.agent.bytes_read,
                    "tools": [c.tool for c in w.agent.calls],
                }
            )
    return results


def _medians(tasks: list[dict[str, Any]]) -> tuple[float, float]:
    return statistics.median(t["calls"] for t in tasks), statistics.median(t["bytes"] for t in tasks)


def run(bench: Bench) -> Outcome:
    bench.progress.status(f"{len(TASKS)} merchant requests, each on a fresh sandbox store")
    tasks = anyio.run(measure, SOLUTIONS)
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))["tasks"]
    calls, read = _medians(tasks)
    base_calls, base_read = _medians(baseline)
    correct = sum(t["correct"] for t in tasks)
    base_correct = sum(t["correct"] for t in baseline)
    rows = [
        Row("agent tasks: correct", f"all {len(tasks)}", base_correct, correct, "tasks", ok=correct == len(tasks)),
        Row(
            "agent tasks: tool calls per task (median)",
            f"≤ {MAX_CALLS}",
            base_calls,
            calls,
            "calls",
            ratio=round(calls / base_calls, 2),
            ok=calls <= MAX_CALLS,
            note=f"{sum(t['calls'] for t in tasks)} calls in all; baseline {sum(t['calls'] for t in baseline)}",
        ),
        Row(
            "agent tasks: tool output read per task (median)",
            f"≤ {MAX_BYTES // 1024} KB",
            round(base_read / 1024, 1),
            round(read / 1024, 1),
            "KB",
            ratio=round(read / base_read, 2),
            ok=read <= MAX_BYTES,
            note=f"{sum(t['bytes'] for t in tasks) // 1024} KB in all; "
            f"baseline {sum(t['bytes'] for t in baseline) // 1024}",
        ),
    ]
    by_name = {t["task"]: t for t in baseline}
    details = {
        "tasks": [{**t, "baseline": {k: by_name[t["task"]][k] for k in ("correct", "calls", "bytes")}} for t in tasks],
        "tools_used": dict(Counter(tool for t in tasks for tool in t["tools"])),
    }
    failures = [f"{t['task']}: {'; '.join(t['problems'])}" for t in tasks if not t["correct"]]
    return Outcome(rows, details=details, failures=failures)
