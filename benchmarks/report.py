"""Machine information, the JSON results, and the table published in docs/benchmarks.md.

The table sits between two markers in docs/benchmarks.md; a full run rewrites only that part (and the plots), so
the hand-written method and explanations around it stay.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- results:begin (written by python -m benchmarks) -->", "<!-- results:end -->"
PACKAGES = ("hajatek-mcp", "mcp", "mcp-types", "pydantic", "pydantic-core", "starlette", "uvicorn", "httpx2", "anyio")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip()

    try:
        return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except OSError:
        return {"commit": None, "dirty": None}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _mem_total_gib(),
        "load_average_at_start": load_average(),
        "packages": versions,
        "git": _git(),
        "argv": sys.argv[1:],
    }


# --- JSON --------------------------------------------------------------------------------------------------------


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def merge(previous: dict[str, Any] | None, run: dict[str, Any]) -> dict[str, Any]:
    """The published results: this run's benchmarks replace the same ones of the previous full run."""
    benchmarks = dict((previous or {}).get("benchmarks", {}))
    benchmarks.update(run["benchmarks"])
    return {**run, "benchmarks": benchmarks}


# --- the table ---------------------------------------------------------------------------------------------------


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def table(results: dict[str, Any]) -> str:
    lines = [
        "| benchmark | measure | target | baseline | ours | ratio | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in results["benchmarks"].items():
        if "error" in entry:
            lines.append(f"| {name} | crashed: {entry['error'][:80]} | | | | | **failed** |")
            continue
        for row in entry["rows"]:
            ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}"
            verdict = {"met": "met", "missed": "**missed**", "reported": "reported"}[row["verdict"]]
            if entry["failures"]:
                verdict = "**failed**"
            what = row["what"] + (f" ({row['note']})" if row["note"] else "")
            lines.append(
                f"| {name} | {what} | {row['target']} | {_number(row['baseline'], row['unit'])} | "
                f"{_number(row['ours'], row['unit'])} | {ratio} | {verdict} |"
            )
    return "\n".join(lines)


def conditions(results: dict[str, Any]) -> str:
    m = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    return (
        f"Run of {m['date']} ({'quick' if results['quick'] else 'full'} mode, {results['duration_s']:.0f} s) on "
        f"{m['cpus']} × {m['cpu']}, {m['memory_gib']} GiB, {m['python']}, {m['platform']}; load average "
        f"{m['load_average_at_start']} at start, {results.get('load_average_at_end')} at the end; commit "
        f"{m['git']['commit']}{' (with uncommitted changes)' if m['git']['dirty'] else ''}. {packages}."
    )


def publish(results: dict[str, Any]) -> None:
    """Rewrite the results section of docs/benchmarks.md (the rest of the page is written by hand)."""
    block = f"{BEGIN}\n{conditions(results)}\n\n{table(results)}\n{END}"
    if DOC.exists():
        text = DOC.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            text = head + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = f"# Benchmarks\n\n{block}\n"
    DOC.write_text(text, encoding="utf-8")
