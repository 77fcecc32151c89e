"""Result compactness: the text the model reads from ``list_orders(limit=50)`` against the raw API page.

Both come from the same standalone sandbox (``hajatek-mcp sandbox``): the raw page is ``GET /v1/orders?limit=50``
as the API sends it (compact JSON, Arabic unescaped re-encoded the same way as ours); ours is the text content of
the tool result over stdio, page envelope and note included. Both are divided by the number of orders. Target:
≤ 0.6× the raw bytes per order, with nothing the agent needs dropped: every order's id, status, total, units,
customer and creation time must be in the text and equal to the API's (a mismatch is a failure of the run).
What the listing leaves to ``get_order`` (line items, address, tax split) is recorded in the details.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import httpx2

from benchmarks.harness import OURS, SANDBOX_KEY, Bench, BenchmarkFailure, Outcome, Row, ours_on_sandbox_env

LIMIT = 0.6
PAGE = 50


def _bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def model_text(result: Any) -> str:
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    if result.is_error or len(texts) != 1:
        raise BenchmarkFailure(f"list_orders did not return one text block: {texts!r}")
    return texts[0]


def check_nothing_dropped(raw_orders: list[dict[str, Any]], text: str) -> list[str]:
    """What the text lacks or gets wrong, order by order (empty: everything an agent needs is there)."""
    json_line = next((line for line in text.splitlines() if line.startswith("{")), None)
    if json_line is None:
        return ["the text holds no JSON object"]
    rows = {row["id"]: row for row in json.loads(json_line, parse_float=Decimal)["orders"]}
    problems = []
    for order in raw_orders:
        row = rows.get(order["id"])
        if row is None:
            problems.append(f"{order['id']} is missing")
            continue
        expected = {
            "status": order["status"],
            "total": Decimal(str(order["total"])),
            "units": sum(item["quantity"] for item in order["items"]),
            "customer_id": order.get("customer_id"),
            "created": order["created_at"][:16] + "Z",
        }
        for key, value in expected.items():
            if row.get(key) != value:
                problems.append(f"{order['id']}.{key}: {row.get(key)!r} != {value!r}")
    return problems


async def measure(bench: Bench, base_url: str) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {SANDBOX_KEY}"}) as http:
        response = await http.get("/orders", params={"limit": PAGE})
        response.raise_for_status()
    raw_body = response.content
    raw = json.loads(raw_body)
    async with bench.stdio_client(OURS, ours_on_sandbox_env(bench, base_url), "compactness") as client:
        result = await client.call_tool("list_orders", {"limit": PAGE})
    text = model_text(result)
    orders = raw["orders"]
    kept = set(json.loads(next(line for line in text.splitlines() if line.startswith("{")))["orders"][0])
    return {
        "orders": len(orders),
        "raw_body_bytes": len(raw_body),
        "raw_compact_bytes": _bytes(raw),
        "text_bytes": len(text.encode()),
        "structured_bytes": _bytes(result.structured_content),
        "problems": check_nothing_dropped(orders, text),
        "row_fields": sorted(kept),
        "left_to_get_order": sorted(set(orders[0]) - {"id", "status", "total", "customer_id", "created_at"}),
        "text_sample": text[:400],
    }


def run(bench: Bench) -> Outcome:
    with bench.sandbox() as base_url:
        bench.progress.status(f"list_orders(limit={PAGE}) vs GET /v1/orders?limit={PAGE}")
        found = anyio.run(measure, bench, base_url)
    n = found["orders"]
    raw_per, ours_per = found["raw_compact_bytes"] / n, found["text_bytes"] / n
    ratio = ours_per / raw_per
    bench.progress.log(f"raw {raw_per:.0f} B/order, ours {ours_per:.0f} B/order: {ratio:.2f}×")
    row = Row(
        what=f"list_orders(limit={n}): text the model reads vs raw API JSON", target=f"≤ {LIMIT}× raw",
        baseline=round(raw_per, 1), ours=round(ours_per, 1), unit="B/order", ratio=round(ratio, 3),
        ok=ratio <= LIMIT and not found["problems"], note="nothing needed dropped" if not found["problems"] else "",
    )  # fmt: skip
    failures = [f"the text drops or changes what the agent needs: {p}" for p in found["problems"][:10]]
    return Outcome(rows=[row], details=found, failures=failures)
