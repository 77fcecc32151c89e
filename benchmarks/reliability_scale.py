"""Reliability at scale: a sandbox grown to 50,000 products and 200,000 orders, driven through a real MCP client.

    python -m benchmarks.reliability_scale                                   # full size, a few minutes
    python -m benchmarks.reliability_scale --products 5000 --orders 20000 --calls 1000   # about CI size

Everything runs in this process on the in-process sandbox (``httpx2.ASGITransport``): no port is opened and nothing
leaves the machine. Every phase is bounded (``--budget`` seconds in all). The seed has no size knob, so
:func:`grow_store` appends rows to the seeded store through the sandbox's own ``Database`` (one transaction, ids
continuing the sequences, totals computed by the sandbox's VAT and shipping rules).

Checks (each a row of the printed table; a failed check makes the exit code 1, a slow timing never does):

1. **listings stay paginated**: ``list_products``, ``list_orders`` and ``list_customers`` through MCP, first and last
   page: at most ``limit`` items, the right ``total`` and ``has_more``; latency p50/p95 and result size.
2. **iterating all orders respects the plan**: every order read with ``HajatekClient.iterate`` on a starter key whose
   window is scaled down (``--rate-limit`` per ``--rate-window`` s); the upstream's log must show no 429 and never
   more than the limit in any rolling window; every order seen once.
3. **get_analytics stays correct**: for each period, the tool's revenue, counts by status, paid count and average
   order value equal a recount from the raw orders read in 2.
4. **memory stays flat**: ``--calls`` mixed read calls after a warm-up; live Python blocks and RSS along the way.
5. **the price guard's lookup**: a guarded price cut on the oldest product, and how many requests the API's missing
   ``GET /products/{id}`` costs at this catalog size: never listed, at most 20 pages, then an answer that asks the
   agent to search for it, after which one request; after the agent listed the page it is on, one request.
6. **resources stay bounded**: ``hajatek://catalog`` reads at most 2,000 products and says so, a category at most
   200 with the call that pages on, and category completions read the catalog once, not on every keystroke.

``--json PATH`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.types import ResourceTemplateReference
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import Sandbox, SandboxConfig, create_app
from hajatek_mcp.sandbox.values import iso, shipping_for, vat_for
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server.guards import LOOKUP_PAGES

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CATEGORIES = ("electronics", "fashion", "home-kitchen", "beauty", "perfumes-oud", "dates-coffee", "sports", "kids-toys")
#: Order statuses and their odds in the grown history (every status occurs, most orders have settled).
STATUS_ODDS = (("pending", 3), ("processing", 5), ("shipped", 7), ("delivered", 70), ("cancelled", 8), ("refunded", 7))
PAID = frozenset({"processing", "shipped", "delivered"})
PERIODS = {"today": 0, "7d": 6, "30d": 29, "90d": 89}
CHECKS = ("listings", "plan", "analytics", "memory", "guard", "resources")
CENT = Decimal("0.01")


# --- growing the store -------------------------------------------------------------------------------------------


def grow_store(sandbox: Sandbox, *, products: int, orders: int, seed: int = 7) -> dict[str, int]:
    """Append ``products`` products and ``orders`` orders (1-3 lines each, over the 90 days before the seed's ``now``)
    to the seeded store in one transaction. Returns the new totals."""
    rng = random.Random(seed)  # data, not cryptography
    db = sandbox.store.db
    now = sandbox.config.seed_reference_time()
    first_product = int(db.query_one("SELECT value FROM counters WHERE name = 'product'")[0]) + 1  # type: ignore[index]
    first_order = int(db.query_one("SELECT value FROM counters WHERE name = 'order'")[0]) + 1  # type: ignore[index]
    customers = [r["id"] for r in db.query("SELECT id FROM customers")]
    product_rows = []
    for n in range(first_product, first_product + products):
        created = iso(now - timedelta(days=rng.uniform(91, 900), seconds=rng.randrange(86400)))
        price = rng.randint(5, 2500) * 100 - rng.choice((0, 1, 5, 50))
        category, stock = rng.choice(CATEGORIES), rng.randint(0, 500)
        product_rows.append((f"prod_{n:04d}", f"Bulk item {n}", f"منتج {n}", None, f"BULK-{n:06d}", category, price,
                             stock, "active", created, created))  # fmt: skip
    sellable = [(row[0], row[1], row[6]) for row in product_rows] or [
        (r["id"], r["name"], r["price"]) for r in db.query("SELECT id, name, price FROM products")
    ]
    statuses, weights = zip(*STATUS_ODDS, strict=True)
    order_rows, item_rows = [], []
    span = 89.9 * 86400
    for n in range(first_order, first_order + orders):
        order_id = f"ord_{n:06d}"
        created_at = now - timedelta(seconds=rng.uniform(60, span))
        subtotal = 0
        for position, (pid, name, price) in enumerate(rng.sample(sellable, rng.choice((1, 1, 2, 3)))):
            quantity = rng.choice((1, 1, 2, 3))
            subtotal += quantity * price
            item_rows.append((order_id, position, pid, name, quantity, price))
        shipping = shipping_for(subtotal)
        vat = vat_for(subtotal + shipping)
        status = rng.choices(statuses, weights)[0]
        order_rows.append((order_id, rng.choice(customers), status, subtotal, shipping, vat, subtotal + shipping + vat,
                           "Riyadh", iso(created_at), iso(created_at)))  # fmt: skip
    with db.bulk():
        db.bulk_insert("products", product_rows)
        db.bulk_insert("orders", order_rows)
        db.bulk_insert("order_items", item_rows)
    db.execute("UPDATE counters SET value = ? WHERE name = 'product'", (first_product + products - 1,))
    db.execute("UPDATE counters SET value = ? WHERE name = 'order'", (first_order + orders - 1,))
    return {
        "products": int(db.query_one("SELECT COUNT(*) FROM products")[0]),  # type: ignore[index]
        "orders": int(db.query_one("SELECT COUNT(*) FROM orders")[0]),  # type: ignore[index]
    }


# --- the upstream's view -----------------------------------------------------------------------------------------


class UpstreamLog:
    """ASGI wrapper: the status and arrival time (``clock``) of every request the sandbox answers."""

    def __init__(self, app: Starlette, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self.seen: list[tuple[str, int, float]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        arrived = self.clock()

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope.get("path", ""), message["status"], arrived))
            await send(message)

        await self.app(scope, receive, record)

    def mark(self) -> int:
        return len(self.seen)

    def since(self, mark: int) -> list[tuple[str, int, float]]:
        return self.seen[mark:]


def most_in_any_window(times: Sequence[float], window: float) -> int:
    """The largest number of ``times`` inside any half-open window of ``window`` seconds (the server's rule)."""
    best, inside = 0, deque[float]()
    for moment in sorted(times):
        inside.append(moment)
        while inside[0] <= moment - window:
            inside.popleft()
        best = max(best, len(inside))
    return best


# --- analytics, recounted ------------------------------------------------------------------------------------------


@dataclass
class Recount:
    revenue: Decimal = Decimal(0)
    orders_count: int = 0
    paid_orders_count: int = 0
    by_status: Counter[str] = field(default_factory=Counter)

    @property
    def average_order_value(self) -> Decimal:
        if not self.paid_orders_count:
            return Decimal(0)
        return (self.revenue / self.paid_orders_count).quantize(CENT, rounding=ROUND_HALF_UP)


def recount(orders: Sequence[tuple[datetime, str, Decimal]], now: datetime, period: str) -> Recount:
    """Analytics of docs/api.md from raw orders: the period starts at midnight UTC of its first day, ends at ``now``;
    revenue is the sum of the totals of paid orders (processing, shipped, delivered)."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=PERIODS[period])
    result = Recount()
    for created, status, total in orders:
        if start <= created <= now:
            result.orders_count += 1
            result.by_status[status] += 1
            if status in PAID:
                result.paid_orders_count += 1
                result.revenue += total
    return result


def analytics_mismatches(view: dict[str, Any], expected: Recount) -> list[str]:
    """Fields of a ``get_analytics`` result that differ from the recount."""
    by_status = {k: v for k, v in view["orders_by_status"].items() if v}
    wrong = []
    if Decimal(str(view["revenue"])) != expected.revenue:
        wrong.append(f"revenue {view['revenue']} != {expected.revenue}")
    if view["orders_count"] != expected.orders_count:
        wrong.append(f"orders_count {view['orders_count']} != {expected.orders_count}")
    if view.get("paid_orders_count") != expected.paid_orders_count:
        wrong.append(f"paid_orders_count {view.get('paid_orders_count')} != {expected.paid_orders_count}")
    if Decimal(str(view.get("average_order_value", 0))) != expected.average_order_value:
        wrong.append(f"average_order_value {view.get('average_order_value')} != {expected.average_order_value}")
    if by_status != dict(expected.by_status):
        wrong.append(f"orders_by_status {by_status} != {dict(expected.by_status)}")
    return wrong


# --- the run -------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    check: str
    figure: str
    ok: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, check: str, figure: str, ok: bool | None = None) -> None:
        self.rows.append(Row(check, figure, ok))
        print(f"  {'ok ' if ok else '---' if ok is None else 'FAIL'} {check}: {figure}", file=sys.stderr)

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.ok is False]

    def markdown(self) -> str:
        lines = ["| check | figure | holds |", "|---|---|---|"]
        marks = {True: "yes", False: "**NO**", None: "(reported)"}
        lines += [f"| {row.check} | {row.figure} | {marks[row.ok]} |" for row in self.rows]
        return "\n".join(lines)


@asynccontextmanager
async def mcp_client(app: Any, rate_window: float = 60.0) -> Any:
    """An MCP client on ``build_server`` over the in-process sandbox (business key: latency, not rate limits)."""

    def connect() -> HajatekClient:
        return HajatekClient("sk_sandbox_business", store_id="str_sandbox", base_url="http://sandbox.local/v1",
                             plan="business", rate_window=rate_window, max_retries=0,
                             transport=httpx2.ASGITransport(app=app))  # fmt: skip

    async with Client(build_server(ServerOptions(sandbox=True, confirm="token"), connect)) as client:
        yield client


async def timed(client: Client, tool: str, args: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await client.call_tool(tool, args)
    elapsed = time.perf_counter() - started
    if result.is_error:
        raise RuntimeError(f"{tool}({args}) failed: {result.content}")
    return elapsed, result


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def check_listings(app: Any, totals: dict[str, int], report: Report, repeats: int) -> None:
    customers = 320
    async with mcp_client(app) as client:
        for tool, key, total in (("list_products", "products", totals["products"]),
                                 ("list_orders", "orders", totals["orders"]),
                                 ("list_customers", "customers", customers)):  # fmt: skip
            last = max(1, -(-total // 100))
            latencies, sizes, right = [], [], True
            for page in (1, last):
                for _ in range(repeats):
                    elapsed, result = await timed(client, tool, {"page": page, "limit": 100})
                    latencies.append(elapsed)
                data = result.structured_content
                sizes.append(len(result.content[0].text.encode()))
                expected_items = min(100, total - (page - 1) * 100)
                right &= len(data[key]) == expected_items and data["total"] == total
                right &= data["has_more"] == (page < last)
            figure = (f"{total:,} {key}: pages of ≤100 items, first and last page right; p50 "
                      f"{statistics.median(latencies) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms,"
                      f" ≤{max(sizes) / 1024:.0f} KiB per page")  # fmt: skip
            report.figures[f"{tool}_p50_ms"] = round(statistics.median(latencies) * 1000, 1)
            report.figures[f"{tool}_p95_ms"] = round(percentile(latencies, 0.95) * 1000, 1)
            report.add(f"{tool} stays paginated", figure, right)


async def iterate_under_plan(
    app: Starlette, totals: dict[str, int], report: Report, *, limit: int, window: float
) -> list[tuple[datetime, str, Decimal]]:
    """Read every order on the (scaled) starter plan; return (created_at, status, total) of each."""
    upstream = UpstreamLog(app, clock=app.state.sandbox.config.clock)
    seen: list[tuple[datetime, str, Decimal]] = []
    ids: set[str] = set()
    started = time.perf_counter()
    async with HajatekClient("sk_sandbox_starter", store_id="str_sandbox", base_url="http://sandbox.local/v1",
                             plan="starter", rate_limit=limit, rate_window=window, max_retries=3,
                             transport=httpx2.ASGITransport(app=upstream)) as api:  # fmt: skip
        async for order in api.iterate(api.list_orders):
            assert order.created_at is not None
            seen.append((order.created_at, order.status, order.total))
            ids.add(order.id)
    elapsed = time.perf_counter() - started
    statuses = [status for _, status, _ in upstream.seen]
    busiest = most_in_any_window([at for _, _, at in upstream.seen], window)
    requests = len(statuses)
    rate_limited = statuses.count(429)
    report.figures.update(iterate_requests=requests, iterate_seconds=round(elapsed, 1), iterate_429=rate_limited,
                          iterate_busiest_window=busiest)  # fmt: skip
    report.add(
        "iterating all orders respects the plan",
        f"{len(ids):,} orders in {requests:,} requests over {elapsed:.1f} s at {limit} per {window:g} s: busiest "
        f"window {busiest}, {rate_limited} × 429",
        busiest <= limit and rate_limited == 0,
    )
    report.add("every order read exactly once", f"{len(seen):,} read, {len(ids):,} distinct, {totals['orders']:,} "
               "in the store", len(seen) == len(ids) == totals["orders"])  # fmt: skip
    return seen


async def check_analytics(app: Starlette, orders: list[tuple[datetime, str, Decimal]], report: Report) -> None:
    async with mcp_client(app) as client:
        for period in PERIODS:
            _, result = await timed(client, "get_analytics", {"period": period})
            now = app.state.sandbox.now()
            wrong = analytics_mismatches(result.structured_content, recount(orders, now, period))
            view = result.structured_content
            report.add(f"get_analytics {period} equals a recount of the raw orders",
                       f"{view['orders_count']:,} orders, revenue {view['revenue']:,} SAR" + (
                           f"; {'; '.join(wrong)}" if wrong else ""), not wrong)  # fmt: skip


async def check_memory(app: Starlette, report: Report, calls: int) -> None:
    """``calls`` mixed read calls after a warm-up; the live Python objects (``sys.getallocatedblocks`` after a full
    collection) and RSS are read ten times along the way. Flat: the second half adds under 1 % of the blocks.

    The client uses the business key (unlimited: the rate governor keeps nothing per request); a limited plan keeps
    the finishing time of each request for one rate window, bounded by the rate."""
    mix: list[tuple[str, dict[str, Any]]] = [
        ("list_orders", {"limit": 20}), ("list_products", {"limit": 20, "category": "perfumes-oud"}),
        ("get_order", {"order_id": "ord_000500"}), ("list_customers", {"limit": 20}), ("get_store", {}),
        ("list_orders", {"status": "pending", "limit": 20}), ("get_analytics", {"period": "today"}),
    ]  # fmt: skip
    warm_up = max(calls // 10, 50)
    step = max(calls // 10, 1)
    trace: list[tuple[int, int, int]] = []  # (calls, blocks, RSS KiB)

    def measure(done: int) -> None:
        gc.collect()
        trace.append((done, sys.getallocatedblocks(), rss_kib()))

    async with mcp_client(app) as client:
        for n in range(warm_up):
            await timed(client, *mix[n % len(mix)])
        started = time.perf_counter()
        measure(0)
        for n in range(calls):
            await timed(client, *mix[n % len(mix)])
            if (n + 1) % step == 0:
                measure(n + 1)
        elapsed = time.perf_counter() - started
    start, middle, end = trace[0], trace[len(trace) // 2], trace[-1]
    second_half = end[1] - middle[1]
    rss_growth = (end[2] - start[2]) / 1024
    report.figures.update(memory_calls=calls, blocks_trace=trace, rss_growth_mib=round(rss_growth, 1),
                          calls_per_second=round(calls / elapsed))  # fmt: skip
    report.add(
        f"memory flat over {calls:,} calls",
        f"live blocks {start[1]:,} → {middle[1]:,} → {end[1]:,} ({second_half:+,} in the second half), RSS "
        f"{rss_growth:+.1f} MiB; {calls / elapsed:.0f} calls/s",
        second_half < start[1] // 100,
    )


async def _timed_cut(client: Client, upstream: UpstreamLog, cut: dict[str, Any]) -> tuple[int, float, Any, str]:
    """The guarded price cut: upstream requests it made, seconds to its answer, its outcome (None for an error), and
    its text."""
    mark = upstream.mark()
    started = time.perf_counter()
    result = await client.call_tool("update_product", cut)
    elapsed = time.perf_counter() - started
    text = " ".join(getattr(block, "text", "") for block in result.content)
    outcome = None if result.is_error else (result.structured_content or {}).get("outcome")
    return len(upstream.since(mark)), elapsed, outcome, text


async def report_guard_lookup(app: Starlette, report: Report) -> None:
    """A price cut on the oldest product: the guard reads the product first, and the API has no
    ``GET /products/{id}``. Never listed, the guard reads at most ``LOOKUP_PAGES`` pages, then asks the agent to
    search for it (checked: bounded, and the answer says what to do); once the agent has listed the page it is on
    (the usual way an agent learns an id), the client asks that page again: one request (checked)."""
    db = app.state.sandbox.store.db
    oldest = db.query_one("SELECT id, sku, price FROM products ORDER BY created_at, id LIMIT 1")
    upstream = UpstreamLog(app)
    server_app: Any = upstream
    cut = {"product_id": oldest["id"], "price": 1}
    async with mcp_client(server_app) as client:
        cold, elapsed, outcome, text = await _timed_cut(client, upstream, cut)
        await timed(client, "list_products", {"search": oldest["sku"]})  # what the answer asks the agent to do
        after, after_elapsed, after_outcome, _ = await _timed_cut(client, upstream, cut)
    total = db.query_one("SELECT COUNT(*) AS n FROM products")["n"]
    walk = -(-total // 100)
    bounded = min(walk, LOOKUP_PAGES)
    report.figures.update(guard_lookup_requests=cold, guard_lookup_seconds=round(elapsed, 2),
                          guard_lookup_after_search_requests=after)  # fmt: skip
    asks = "list_products" in text and "search" in text
    said = "the answer asks to search for it" if asks else text[:80]
    report.add("price-cut guard, product never listed", f"{cold:,} requests in {elapsed * 1000:.0f} ms (a whole walk "
               f"would be {walk:,}), then {said}; after that search, {after} request, {after_elapsed * 1000:.0f} ms "
               f"to the preview ({after_outcome})",
               cold <= bounded and (asks or walk <= LOOKUP_PAGES) and after == 1
               and after_outcome == "confirmation_required")  # fmt: skip

    async with mcp_client(server_app) as client:  # a new session: nothing remembered
        await timed(client, "list_products", {"page": -(-total // 20), "limit": 20})  # the last page: the oldest
        warm, elapsed, outcome, _ = await _timed_cut(client, upstream, cut)
    report.figures.update(guard_lookup_listed_requests=warm, guard_lookup_listed_seconds=round(elapsed, 3))
    report.add("price-cut guard, product the agent listed", f"{warm} request, {elapsed * 1000:.0f} ms to the "
               f"preview ({outcome})", warm == 1 and outcome == "confirmation_required")  # fmt: skip


async def check_resources(app: Starlette, report: Report) -> None:
    """The catalog resources and category completions on a large catalog: requests and size are bounded."""
    upstream = UpstreamLog(app)
    server_app: Any = upstream
    template = ResourceTemplateReference(type="ref/resource", uri="hajatek://catalog/{category}")
    async with mcp_client(server_app) as client:
        for uri, most in (("hajatek://catalog", 20), ("hajatek://catalog/electronics", 2)):
            mark = upstream.mark()
            started = time.perf_counter()
            [content] = (await client.read_resource(uri)).contents
            elapsed = time.perf_counter() - started
            requests = len(upstream.since(mark))
            text = getattr(content, "text", "")
            note = json.loads(text).get("note", "")
            report.add(f"{uri} stays bounded", f"{requests} requests, {len(text) / 1024:,.0f} KiB, {elapsed:.2f} s; "
                       f"says: {note[:60]}…", requests <= most and bool(note))  # fmt: skip
        mark = upstream.mark()
        for typed in ("", "e", "el", "ele", "p", "pe"):
            await client.complete(template, {"name": "category", "value": typed})
        requests = len(upstream.since(mark))
    report.add("category completions, 6 keystrokes", f"{requests} requests in all", requests <= 20)


def rss_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def run(args: argparse.Namespace) -> Report:
    report = Report()
    app = create_app(SandboxConfig(now=NOW, seed=42, rate_window=args.rate_window,
                                   plan_limits={"starter": args.rate_limit, "pro": 500, "business": None}))  # fmt: skip
    try:
        started = time.perf_counter()
        totals = grow_store(app.state.sandbox, products=args.products, orders=args.orders)
        report.figures["grow_seconds"] = round(time.perf_counter() - started, 1)
        report.add("grow the store", f"{totals['products']:,} products, {totals['orders']:,} orders in "
                   f"{time.perf_counter() - started:.1f} s", None)  # fmt: skip
        report.figures.update(totals)
        checks = set(args.checks.split(","))
        phases: dict[str, float] = {}

        @contextmanager
        def phase(name: str) -> Iterator[None]:
            begun = time.perf_counter()
            yield
            phases[name] = round(time.perf_counter() - begun, 1)

        with anyio.fail_after(args.budget):
            if "listings" in checks:
                with phase("listings"):
                    await check_listings(app, totals, report, repeats=args.repeats)
            if "plan" in checks or "analytics" in checks:
                with phase("plan"):
                    orders = await iterate_under_plan(app, totals, report, limit=args.rate_limit,
                                                      window=args.rate_window)  # fmt: skip
                if "analytics" in checks:
                    with phase("analytics"):
                        await check_analytics(app, orders, report)
            if "memory" in checks:
                with phase("memory"):
                    await check_memory(app, report, args.calls)
            if "guard" in checks:
                with phase("guard"):
                    await report_guard_lookup(app, report)
            if "resources" in checks:
                with phase("resources"):
                    await check_resources(app, report)
        report.figures["phase_seconds"] = phases
    finally:
        await app.state.sandbox.aclose()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=50_000, help="products to add to the seed (default 50,000)")
    parser.add_argument("--orders", type=int, default=200_000, help="orders to add to the seed (default 200,000)")
    parser.add_argument("--calls", type=int, default=10_000, help="calls of the memory check (default 10,000)")
    parser.add_argument("--repeats", type=int, default=5, help="calls per listing page timed (default 5)")
    parser.add_argument("--rate-limit", type=int, default=100, help="starter requests per window (default 100)")
    parser.add_argument("--rate-window", type=float, default=1.0, help="scaled window in seconds (default 1)")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds the checks may take (default 1800)")
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"comma-separated subset of {','.join(CHECKS)}")
    parser.add_argument("--json", type=Path, help="also write the figures and rows here")
    args = parser.parse_args(argv)
    print(f"reliability at scale: +{args.products:,} products, +{args.orders:,} orders", file=sys.stderr)
    report = anyio.run(run, args)
    print(report.markdown())
    if args.json:
        rows = [{"check": r.check, "figure": r.figure, "ok": r.ok} for r in report.rows]
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows,
                                         "figures": report.figures}, indent=2, default=str))  # fmt: skip
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
