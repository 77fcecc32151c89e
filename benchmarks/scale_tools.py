"""Bounded tools at scale: every tool that reads more than one page, called with the arguments that make it read the
most, on the sandbox of :mod:`benchmarks.reliability_scale` grown to 50,000 products, 200,000 orders and 20,000 more
customers (the customer directory's bound shows past 2,000 customers).

    python -m benchmarks.scale_tools                                            # full size, about 30 s
    python -m benchmarks.scale_tools --products 5000 --orders 20000 --customers 3000

Each call goes through a real MCP client to ``build_server`` on the in-process sandbox, a new session each (nothing
remembered) unless the row says otherwise. The sandbox serves the narrowest reading of the API (no assumed fields:
an order names no customer), so the server finds names itself, as it must when the real API sends none. For each
call (measured by :mod:`benchmarks.scale_calls`): the upstream requests it made, counted in front of the sandbox;
the bound its module documents, from the module's constants at call time (so a test may lower them); the wall time;
the bytes of its text; whether the answer is partial, against a recount from the sandbox's database, and if so
whether it says so (``complete: false`` and a note, a skipped item's reason, or an error that says how to go on).
A call over its bound, or partial without saying so, fails the run (exit code 1). The same calls run in CI on the
seeded store with the bounds lowered: ``tests/reliability/test_tool_bounds.py``.

``--json PATH`` also writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette

from benchmarks.reliability_scale import NOW, grow_store
from benchmarks.scale_calls import PAGE, UTC_FORMAT, Call, Row, Run, grow_customers, markdown
from hajatek_mcp.api import ORDER_TRANSITIONS
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import directory, guards, order_facts, reporting
from hajatek_mcp.server.bulk import MAX_ITEMS
from hajatek_mcp.server.tools import export, lookups, orders

#: The store's timezone, read once an hour (``GET /stores/{id}``) by the tools that take local dates.
ZONE = 1
#: A category: one product in eight.
SPREAD = "perfumes-oud"

# --- the calls: each scenario calls one tool the widest ways, and judges each answer ------------------------------


async def catalog(run: Run) -> None:
    row = run.db.query_one("SELECT id, sku FROM products ORDER BY created_at, id LIMIT 1")
    assert row is not None
    oldest, sku = str(row[0]), str(row[1])
    bound = 2 + guards.LOOKUP_PAGES  # the page it was listed on, a search by its name, then the walk
    async with run.client() as client:
        call = await run.call(client, "get_product", {"product_id": oldest})
        said = call.stopped(then=["list_products"])
        run.add("get_product", "the oldest product, never listed", call, bound, partial=call.failed, said=said)
        await client.call_tool("list_products", {"search": sku})
        call = await run.call(client, "get_product", {"product_id": oldest})
        run.add("get_product", "the same, after list_products(search=its SKU)", call, bound, partial=call.failed)
    for arguments, where in (
        ({"stock_below": 10}, "stock < 10"),
        ({"sort": "stock", "category": SPREAD}, "category = ?"),
    ):
        async with run.client() as client:
            call = await run.call(client, "list_products", {**arguments, "limit": 20})
        whole = run.count(f"SELECT COUNT(*) FROM products WHERE {where}", (SPREAD,) * where.count("?"))
        partial = call.data.get("total") != whole
        run.add("list_products", _args(arguments), call, reporting.CATALOG_PAGES, partial=partial, said=call.stopped())


async def customers(run: Run) -> None:
    customer_id, email = run.oldest_customer()
    bound = directory.PAGES + 3 + lookups.ORDER_PAGES  # the directory, the customer's page (and two near it), orders
    async with run.client() as client:
        call = await run.call(client, "get_customer", {"customer_id": customer_id})
    said = call.stopped(then=["Call again", "list_customers"])
    run.add("get_customer", "the oldest customer, cold directory", call, bound, partial=call.failed, said=said)
    async with run.client() as client:
        calls = [await run.call(client, "list_customers", {"search": email})]
        while customer_id not in calls[-1].found("customers") and calls[-1].data.get("complete") is False:
            calls.append(await run.call(client, "list_customers", {"search": email}))
        first, last = calls[0], calls[-1]
        partial = customer_id not in first.found("customers")
        what = "search= the oldest customer's email, first call"
        run.add("list_customers", what, first, directory.PAGES, partial=partial, said=first.stopped())
        most = Call(last.result, max(c.requests for c in calls), max(c.seconds for c in calls))
        what = f"the same, repeated: found on call {len(calls)} (the most requests and time of any call)"
        partial = customer_id not in last.found("customers")
        run.add("list_customers", what, most, directory.PAGES, partial=partial, said=last.stopped())
        theirs = run.ids(
            "SELECT id FROM orders WHERE customer_id = ? ORDER BY created_at DESC, id DESC", (customer_id,)
        )
        call = await run.call(client, "get_customer", {"customer_id": customer_id})
    partial = call.found("recent_orders") != theirs[: lookups.RECENT]
    what = f"the same customer, now in the directory ({len(theirs)} orders)"
    run.add("get_customer", what, call, bound, partial=partial, said=call.stopped())


async def order_lists(run: Run) -> None:
    customer_id, _ = run.oldest_customer()
    window = {"since": run.day(85), "until": run.day(60)}
    for arguments in ({"customer_id": customer_id}, {"customer_id": customer_id, **window}):
        async with run.client() as client:
            call = await run.call(client, "list_orders", {**arguments, "limit": 20})
        since, until = run.local_ends(arguments.get("since"), arguments.get("until"))
        theirs = run.ids(
            "SELECT id FROM orders WHERE customer_id = ? AND created_at BETWEEN ? AND ? "
            "ORDER BY created_at DESC, id DESC",
            (customer_id, since, until),
        )
        bound = ZONE + run.window_start() + orders.ORDER_PAGES
        partial = call.found("orders") != theirs
        run.add("list_orders", _args(arguments), call, bound, partial=partial, said=call.stopped())


async def reports(run: Run) -> None:
    old = run.day(60)
    for arguments in (
        {"since": run.day(89), "group_by": "category"},
        {"since": run.day(6), "group_by": "day", "compare": "previous_period"},
        {"since": old, "until": old, "group_by": "city", "compare": "previous_period"},
    ):
        async with run.client() as client:
            call = await run.call(client, "sales_report", arguments)
        data = call.data
        whole = run.orders_between(data["since"], data["until"]) if "since" in data else -1
        partial = data.get("totals", {}).get("orders") != whole or ("compare" in arguments and "previous" not in data)
        said = call.stopped() or "No comparison" in str(data.get("note"))
        catalog_pages = reporting.CATALOG_PAGES if arguments["group_by"] == "category" else 0
        bound = ZONE + run.window_start() + reporting.ORDER_PAGES + catalog_pages
        run.add("sales_report", _args(arguments), call, bound, partial=partial, said=said)
    restock: tuple[dict[str, Any], ...] = ({"days": 90}, {"days": 7, "category": SPREAD})
    for arguments in restock:
        async with run.client() as client:
            call = await run.call(client, "restock_report", arguments)
        where = "AND category = ?" if "category" in arguments else ""
        products = run.count(
            f"SELECT COUNT(*) FROM products WHERE status != 'archived' {where}", (SPREAD,) * bool(where)
        )
        since = (run.now - timedelta(days=int(arguments["days"]))).strftime(UTC_FORMAT)
        partial = call.data.get("checked") != products or call.data.get("since") != since
        bound = run.window_start() + reporting.ORDER_PAGES + reporting.CATALOG_PAGES
        run.add("restock_report", _args(arguments), call, bound, partial=partial, said=call.stopped())


async def one_order(run: Run) -> None:
    """get_order of an order whose products are hardest to find by name (among the newest 1,000 orders, of two lines
    or more, the shortest names: a search by a short name matches the most products), then whose customer signed up
    longest ago (the furthest down the customer listing)."""
    row = run.db.query_one(
        "SELECT o.id FROM (SELECT id, customer_id FROM orders ORDER BY created_at DESC, id DESC LIMIT 1000) o "
        "JOIN order_items i ON i.order_id = o.id JOIN customers c ON c.id = o.customer_id "
        "GROUP BY o.id ORDER BY COUNT(*) >= 2 DESC, MAX(length(i.name)), MIN(c.created_at), o.id LIMIT 1"
    )
    assert row is not None
    order_id = str(row[0])
    names_ar = run.ids(
        "SELECT p.name_ar FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = ? "
        "ORDER BY i.position",
        (order_id,),
    )
    async with run.client() as client:
        call = await run.call(client, "get_order", {"order_id": order_id})
    lines = call.data.get("items", [])
    partial = [line.get("name_ar") for line in lines] != names_ar or "customer_name" not in call.data
    bound = 1 + order_facts.CUSTOMER_PAGES + 2 * min(len(lines), order_facts.NAME_LOOKUPS)
    what = f"{len(lines)} lines of products never listed, the customer deep in the listing"
    run.add("get_order", what, call, bound, partial=partial, said="Not shown" in call.text)


async def bulk(run: Run) -> None:
    half = MAX_ITEMS // 2
    newest = run.ids("SELECT id FROM products ORDER BY created_at DESC, id DESC LIMIT ?", (half,))
    oldest = run.ids("SELECT id FROM products ORDER BY created_at, id LIMIT ?", (MAX_ITEMS - half,))
    picked = {"product_ids": newest + oldest, "price_percent": 5}
    what = f"{half} newest + {MAX_ITEMS - half} oldest product_ids, price_percent=5"
    bound = guards.LOOKUP_PAGES + 2 * MAX_ITEMS  # the newest pages, then two hints (at most) per id not there
    await _bulk(run, "bulk_update_products", picked, what, changing=set(newest + oldest), bound=bound)
    last = math.ceil(run.count("SELECT COUNT(*) FROM products") / PAGE)
    what = "the same, after the agent listed the pages they are on (limit=100)"
    listed = (last - 1, last)
    await _bulk(run, "bulk_update_products", picked, what, changing=set(newest + oldest), bound=bound, listed=listed)
    electronics = set(run.ids("SELECT id FROM products WHERE category = 'electronics'"))
    by_category = {"category": "electronics", "price_percent": 5}
    await _bulk(run, "bulk_update_products", by_category, "category=electronics", changing=electronics, bound=1)
    old_orders = run.db.query("SELECT id, status FROM orders ORDER BY created_at, id LIMIT ?", (MAX_ITEMS,))
    refundable = {str(r[0]) for r in old_orders if "refunded" in ORDER_TRANSITIONS.get(str(r[1]), ())}
    refund = {"order_ids": [str(r[0]) for r in old_orders], "status": "refunded"}
    what = f"the {MAX_ITEMS} oldest orders, status=refunded"
    await _bulk(run, "bulk_update_order_status", refund, what, changing=refundable, bound=MAX_ITEMS)  # a GET each


async def _bulk(
    run: Run,
    tool: str,
    arguments: dict[str, Any],
    what: str,
    *,
    changing: set[str],
    bound: int,
    listed: Sequence[int] = (),
) -> None:
    """A bulk preview, after the agent listed the product pages ``listed``: whole when it previews exactly the items
    that would change (``changing``); it says so when every other item given is skipped with its reason."""
    async with run.client() as client:
        for page in listed:
            await client.call_tool("list_products", {"page": page, "limit": PAGE})
        call = await run.call(client, tool, arguments)
    wanted = set(arguments.get("product_ids") or arguments.get("order_ids") or [])
    previewed = set(call.found("changes"))
    accounted = previewed | {i for r in call.data.get("skipped") or [] for i in r["ids"]}
    partial = call.failed or previewed != changing
    said = call.stopped(then=["Narrow"]) or (partial and bool(wanted) and accounted == wanted)
    run.add(tool, what, call, bound, partial=partial, said=said)


async def exports(run: Run) -> None:
    for arguments in ({}, {"since": run.day(6)}, {"since": run.day(85), "until": run.day(60)}):
        async with run.client() as client:
            call = await run.call(client, "export_orders", arguments)
        # export_orders reads a date as UTC midnight, and until as an instant
        since, until = (
            f"{arguments[k]}T00:00:00Z" if k in arguments else d for k, d in (("since", ""), ("until", "~"))
        )
        whole = run.count("SELECT COUNT(*) FROM orders WHERE created_at BETWEEN ? AND ?", (since, until))
        bound = run.window_start() + math.ceil(export.MAX_EXPORT_ORDERS / PAGE) + 1
        partial = call.data.get("orders") != whole
        said = call.stopped(then=["Narrow"])
        run.add("export_orders", _args(arguments) or "(all)", call, bound, partial=partial, said=said)


SCENARIOS: dict[str, Callable[[Run], Awaitable[None]]] = {
    "catalog": catalog,
    "customers": customers,
    "order_lists": order_lists,
    "reports": reports,
    "one_order": one_order,
    "bulk": bulk,
    "exports": exports,
}


def _args(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in arguments.items() if k != "limit")


async def run_scenarios(app: Starlette, names: Sequence[str] = tuple(SCENARIOS), *, mode: str = "auto") -> list[Row]:
    run = Run(app, mode=mode)
    for name in names:
        await SCENARIOS[name](run)
    return run.rows


async def _main(args: argparse.Namespace) -> list[Row]:
    app = create_app(SandboxConfig(now=NOW, seed=42, assumed_fields=False))
    try:
        started = time.perf_counter()
        people = grow_customers(app.state.sandbox, args.customers)
        totals = grow_store(app.state.sandbox, products=args.products, orders=args.orders)
        print(f"grew the store to {totals['products']:,} products, {totals['orders']:,} orders, {people:,} "
              f"customers in {time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
        with anyio.fail_after(args.budget):
            return await run_scenarios(app, args.only.split(",") if args.only else tuple(SCENARIOS))
    finally:
        await app.state.sandbox.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_tools", description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=50_000, help="products to add to the seed (default 50,000)")
    parser.add_argument("--orders", type=int, default=200_000, help="orders to add to the seed (default 200,000)")
    parser.add_argument("--customers", type=int, default=20_000, help="customers to add (default 20,000)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds the calls may take (default 900)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = anyio.run(_main, args)
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"ok": r.ok} for r in rows], indent=2))
    failed = [r for r in rows if not r.ok]
    print(f"{len(rows)} calls, {len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
