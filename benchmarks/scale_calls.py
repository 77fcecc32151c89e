"""Measuring tool calls on a grown sandbox, for :mod:`benchmarks.scale_tools`: the upstream requests one call made
(an ASGI wrapper in front of the sandbox counts them), its wall time and the bytes the model reads, whether its
answer is partial against the sandbox's database and said so; and a table of them."""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
from mcp import Client
from mcp.types import CallToolResult, EmbeddedResource, TextContent, TextResourceContents
from starlette.applications import Starlette

from benchmarks.reliability_scale import UpstreamLog
from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import Sandbox
from hajatek_mcp.sandbox.values import iso
from hajatek_mcp.server import ServerOptions, build_server

__all__ = ["PAGE", "UTC_FORMAT", "Call", "Row", "Run", "grow_customers", "markdown"]

PAGE = 100
#: The business plan's sandbox key (unlimited: requests, not rate limits, are measured), and the API's address.
KEY, BASE_URL = "sk_sandbox_business", "http://sandbox.local/v1"
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def grow_customers(sandbox: Sandbox, count: int, *, seed: int = 11) -> int:
    """Append ``count`` customers who signed up 91 to 1,000 days before the seed's ``now`` (before any grown order,
    so :func:`~benchmarks.reliability_scale.grow_store`, called after, spreads orders over them too)."""
    rng = random.Random(seed)  # data, not cryptography
    db, now = sandbox.store.db, sandbox.config.seed_reference_time()
    first = int(db.query_one("SELECT value FROM counters WHERE name = 'customer'")[0]) + 1  # type: ignore[index]
    cities = ("Riyadh", "Jeddah", "Dammam", "Mecca", "Medina", "Khobar")
    rows = [
        (f"cus_{n:05d}", f"Customer {n}", f"customer{n}@bulk.example.sa", f"+9665{n:08d}", rng.choice(cities),
         iso(now - timedelta(days=rng.uniform(91, 1000))))
        for n in range(first, first + count)
    ]  # fmt: skip
    with db.bulk():
        db.bulk_insert("customers", rows)
    db.execute("UPDATE counters SET value = ? WHERE name = 'customer'", (first + count - 1,))
    return int(db.query_one("SELECT COUNT(*) FROM customers")[0])  # type: ignore[index]


# --- one measured call -----------------------------------------------------------------------------------------------


@dataclass
class Call:
    result: CallToolResult
    requests: int
    seconds: float

    @property
    def data(self) -> dict[str, Any]:
        return self.result.structured_content or {}

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.result.content if isinstance(b, TextContent))

    @property
    def size(self) -> int:
        """Bytes of what the model reads: the text, and a CSV that came inline."""
        inline = [b.resource.text for b in self.result.content
                  if isinstance(b, EmbeddedResource) and isinstance(b.resource, TextResourceContents)]  # fmt: skip
        return len(self.text.encode()) + sum(len(t.encode()) for t in inline)

    @property
    def failed(self) -> bool:
        return bool(self.result.is_error)

    def found(self, key: str) -> list[str]:
        """The ids of the items under ``key``."""
        return [str(item["id"]) for item in self.data.get(key) or []]

    def stopped(self, *, then: Sequence[str] = ()) -> bool:
        """It says it stopped early: ``complete: false`` and a note (in the data or before it in the text), or an error
        that names one of the ways on (``then``)."""
        if self.result.is_error:
            return any(way in self.text for way in then)
        lead = self.text.split("\n", 1)[0].removeprefix("[sandbox store]").strip()
        note = self.data.get("note") or (lead if not lead.startswith("{") else "")
        return self.data.get("complete") is False and bool(note)


@dataclass
class Row:
    tool: str
    arguments: str
    requests: int
    bound: int
    seconds: float
    size: int
    partial: bool
    """Against the database's recount, the answer is not whole (an error counts as partial)."""
    said: bool
    """The answer says it is partial, and how to go on."""

    @property
    def ok(self) -> bool:
        return self.requests <= self.bound and (self.said or not self.partial)

    def cells(self) -> list[str]:
        whole = {(False, False): "yes", (True, True): "no, and says so", (True, False): "**no, silently**",
                 (False, True): "yes (says partial)"}[(self.partial, self.said)]  # fmt: skip
        requests = f"{self.requests:,}" if self.requests <= self.bound else f"**{self.requests:,}**"
        return [f"`{self.tool}`", self.arguments, requests, f"{self.bound:,}", f"{self.seconds * 1000:,.0f} ms",
                f"{self.size:,}", whole, "yes" if self.ok else "**NO**"]  # fmt: skip


HEADER = ("tool", "arguments", "requests", "bound", "time", "bytes", "complete?", "holds")


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join(lines + ["| " + " | ".join(row.cells()) + " |" for row in rows])


# --- the run: a sandbox, its upstream log, and what its database says ----------------------------------------------


@dataclass
class Run:
    app: Starlette
    mode: str = "auto"
    rows: list[Row] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log = UpstreamLog(self.app)
        self.db = self.app.state.sandbox.store.db
        self.now: datetime = self.app.state.sandbox.now()
        self.tz = ZoneInfo(str(self.db.query_one("SELECT timezone FROM store")[0]))
        self.orders_total = self.count("SELECT COUNT(*) FROM orders")

    def client(self) -> Client:
        """A new MCP session on a new server (its directory and product hints empty), its clock at the store's."""

        def connect() -> HajatekClient:
            transport = httpx2.ASGITransport(app=self.log)
            return HajatekClient(KEY, store_id="str_sandbox", base_url=BASE_URL, plan="business", max_retries=0,
                                 transport=transport)  # fmt: skip

        options = ServerOptions(sandbox=True, confirm="token", clock=self.now.timestamp)
        return Client(build_server(options, connect), mode=self.mode)

    async def call(self, client: Client, tool: str, arguments: dict[str, Any]) -> Call:
        mark = self.log.mark()
        started = time.perf_counter()
        result = await client.call_tool(tool, arguments)
        return Call(result, len(self.log.since(mark)), time.perf_counter() - started)

    def add(self, tool: str, arguments: str, call: Call, bound: int, *, partial: bool, said: bool = False) -> Row:
        row = Row(tool, arguments, call.requests, bound, round(call.seconds, 3), call.size, partial, said)
        self.rows.append(row)
        mark = "ok " if row.ok else "FAIL"
        figures = f"{row.requests}/{bound} requests, {row.seconds:.2f} s, {row.size:,} B"
        print(f"  {mark} {tool}({arguments}): {figures}, partial={partial}, said={said}", file=sys.stderr)
        return row

    # -- the database's answers --

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.db.query_one(sql, params)[0])

    def ids(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        return [str(r[0]) for r in self.db.query(sql, params)]

    def day(self, days_ago: int) -> str:
        """The store-local date ``days_ago`` days before now."""
        return (self.now.astimezone(self.tz) - timedelta(days=days_ago)).date().isoformat()

    def orders_between(self, since: str, until: str) -> int:
        """Orders created in [since, until], ISO times with offsets (as reports give them)."""
        ends = [datetime.fromisoformat(t).astimezone(UTC).strftime(UTC_FORMAT) for t in (since, until)]
        return self.count("SELECT COUNT(*) FROM orders WHERE created_at BETWEEN ? AND ?", ends)

    def local_ends(self, since: str | None, until: str | None) -> tuple[str, str]:
        """The UTC ends of a store-local [since, until] of whole days (None: open)."""
        start = datetime.fromisoformat(since).replace(tzinfo=self.tz) if since else datetime(1, 1, 2, tzinfo=UTC)
        day = timedelta(days=1, seconds=-1)
        end = datetime.fromisoformat(until).replace(tzinfo=self.tz) + day if until else self.now
        return start.astimezone(UTC).strftime(UTC_FORMAT), end.astimezone(UTC).strftime(UTC_FORMAT)

    def window_start(self) -> int:
        """Requests that find where an order window starts: page 1, then a bisection over the listing's pages."""
        return 1 + math.ceil(math.log2(max(1, math.ceil(self.orders_total / PAGE))))

    def oldest_customer(self) -> tuple[str, str]:
        row = self.db.query_one("SELECT id, email FROM customers ORDER BY created_at, id LIMIT 1")
        assert row is not None
        return str(row[0]), str(row[1])
