"""Context footprint: the bytes of ``tools/list`` a model reads, per tool, and that no tool pays for it in metadata.

The exact response line is read off stdio from ``python -m hajatek_mcp`` (real-API configuration, every toolset).
*Model-visible* bytes are what hosts put in the model's context: ``name`` + ``description`` + ``inputSchema`` as
compact UTF-8 JSON. *Full* bytes are the whole tool object (with ``title``, ``annotations``, ``outputSchema``).
The budget: ≤ 400 B model-visible per tool on average while every tool keeps title, annotations and output schema.
Both are failures of the run when missed, in quick mode too: bytes are exact, not timings. For reference, issue 9
measured 458 B/tool for the leanest commerce server and 610-4,173 B for others, most of them without annotations or
output schemas.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.harness import INITIALIZE, OURS, REAL_API_ENV, Bench, Outcome, RawStdio, Row

BUDGET = 400
REFERENCE = 458  # leanest commerce server measured in issue 9 (not measured here)


def compact(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def model_visible(tool: dict[str, Any]) -> int:
    return compact({k: tool[k] for k in ("name", "description", "inputSchema") if k in tool})


def wire_listing(bench: Bench) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """(initialize result, tools, bytes of the tools/list response lines) as the server sends them."""
    with (bench.workdir / "logs" / "context.log").open("ab") as errlog:
        server = RawStdio(OURS, bench.env(REAL_API_ENV), errlog)
        try:
            server.send(INITIALIZE)
            initialized = json.loads(server.receive(1))["result"]
            server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            tools: list[dict[str, Any]] = []
            wire_bytes, cursor, request_id = 0, None, 2
            while True:
                params = {"cursor": cursor} if cursor else {}
                server.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params})
                line = server.receive(request_id)
                wire_bytes += len(line)
                result = json.loads(line)["result"]
                tools.extend(result["tools"])
                cursor = result.get("nextCursor")
                if not cursor:
                    return initialized, tools, wire_bytes
                request_id += 1
        finally:
            server.close()


def run(bench: Bench) -> Outcome:
    bench.progress.status("tools/list over stdio")
    initialized, tools, wire_bytes = wire_listing(bench)
    per_tool = {t["name"]: {"model_visible": model_visible(t), "full": compact(t)} for t in tools}
    visible = sum(v["model_visible"] for v in per_tool.values()) / len(tools)
    full = sum(v["full"] for v in per_tool.values()) / len(tools)
    incomplete = {
        t["name"]: [k for k in ("title", "annotations", "outputSchema") if not t.get(k)]
        for t in tools
        if not (t.get("title") and t.get("annotations") and t.get("outputSchema"))
    }
    complete = len(tools) - len(incomplete)
    bench.progress.log(f"{len(tools)} tools: {visible:.0f} B model-visible, {full:.0f} B full per tool")
    instructions = initialized.get("instructions") or ""
    details = {
        "tools": len(tools),
        "per_tool_bytes": per_tool,
        "model_visible_total": sum(v["model_visible"] for v in per_tool.values()),
        "full_total": sum(v["full"] for v in per_tool.values()),
        "tools_list_response_bytes": wire_bytes,
        "instructions_bytes": len(instructions.encode()),
        "incomplete_tools": incomplete,
        "largest_model_visible": sorted(per_tool, key=lambda n: -per_tool[n]["model_visible"])[:3],
    }
    rows = [
        Row(what="tools/list, model-visible bytes per tool (name + description + inputSchema)",
            target=f"≤ {BUDGET} B", baseline=REFERENCE, ours=round(visible, 1), unit="B",
            ratio=round(visible / REFERENCE, 3), ok=visible <= BUDGET,
            note=f"mean of {len(tools)}; baseline: leanest commerce server, issue 9"),
        Row(what="tools/list, full bytes per tool (with title, annotations, outputSchema)", target="—",
            baseline=None, ours=round(full, 1), unit="B", note=f"mean of {len(tools)}"),
        Row(what="tools with title, annotations and output schema", target="all", baseline=len(tools),
            ours=complete, unit="tools", ok=not incomplete),
    ]  # fmt: skip
    failures = [f"{name} lacks {', '.join(missing)}" for name, missing in incomplete.items()]
    if visible > BUDGET:  # bytes are exact, not a timing: over the budget is a regression, in quick mode too
        failures.append(f"{visible:.1f} B model-visible per tool, over the {BUDGET} B budget")
    return Outcome(rows=rows, details=details, failures=failures)
