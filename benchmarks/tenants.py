"""Multi-tenant mode: what 1,000 connected stores cost in memory, and what a call costs over single-store mode.

**Memory.** Each side runs in a fresh process (RSS is per process): :mod:`benchmarks.tenant_server` builds the
multi-tenant server as ``serve --multi-tenant`` does (its production connection pool, to a standalone sandbox),
connects stores in its tenant store (distinct ids, keys encrypted under a master key), opens each store's shop and
makes one real request with its client, so each client has built its HTTP client, and reads ``VmRSS`` once the
shops are idle. One store against 1,000 (quick: 200), in the order 1, N, N, 1; the lower reading of each side.
Target: ≤ 50 MB over the server with one store (issue #16).

**Per call.** One standalone sandbox serves two servers over streamable HTTP on 127.0.0.1: the single-store server
(``serve --transport streamable-http`` with ``HAJATEK_MCP_AUTH_TOKEN``, the sandbox as its API) and the multi-tenant
server (``serve --multi-tenant --oauth-issuer``), where the sandbox store was connected through the OAuth flow done
by hand (register, authorize, the connect form with store id and API key, token). The same tool call, ``get_store``
(the lightest that still makes one API request), from an SDK ``Client`` on each (default mode), one call each in
turn after a warm-up, the order swapped every round; p50s. Target: multi-tenant ≤ 1.2× single-store (issue #16).
Any error, or an answer for another store than the one connected, fails the run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from benchmarks.harness import (
    BENCH_DIR,
    OURS,
    PYTHON,
    REQUEST_TIMEOUT,
    SANDBOX_KEY,
    SANDBOX_STORE,
    Bench,
    BenchmarkFailure,
    Outcome,
    Row,
    free_port,
    median,
    ours_on_sandbox_env,
    summary,
)
from hajatek_mcp.server.tenants import MasterKeys

MEMORY_LIMIT_MB = 50.0
CALL_LIMIT = 1.2
SIDE_TIMEOUT = 120.0
REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the flow reads the redirect's Location header
TOOL = "get_store"


# --- memory ------------------------------------------------------------------------------------------------------


def memory_side(bench: Bench, base_url: str, stores: int) -> dict[str, Any]:
    """One :mod:`benchmarks.tenant_server` process with ``stores`` stores; its JSON report."""
    data = bench.workdir / f"tenants-{stores}-{time.monotonic_ns()}"
    data.mkdir()
    command = [PYTHON, str(BENCH_DIR / "tenant_server.py"), base_url, SANDBOX_KEY, str(stores), str(data)]
    process = bench.processes.spawn(command, bench.env(), f"tenants-memory-{stores}")
    try:
        process.wait(timeout=SIDE_TIMEOUT)
    finally:
        bench.processes.stop(process)
    log: Path = process.log  # type: ignore[attr-defined]
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        raise BenchmarkFailure(
            f"tenant_server.py with {stores} stores exited with {process.returncode}:\n{text[-2000:]}"
        )
    report: dict[str, Any] = json.loads([line for line in text.splitlines() if line.startswith("{")][-1])
    if report["open"] != stores or report["clients_built"] != stores:
        raise BenchmarkFailure(f"{stores} stores: {report['open']} shops open, {report['clients_built']} clients built")
    return report


def measure_memory(bench: Bench, base_url: str, many: int) -> dict[str, Any]:
    sides: dict[int, list[dict[str, Any]]] = {1: [], many: []}
    for i, stores in enumerate((1, many, many, 1)):
        bench.progress.status(f"memory: side {i + 1}/4 ({stores} stores)")
        sides[stores].append(memory_side(bench, base_url, stores))
    rss_mb = {stores: min(r["after"]["VmRSS"] for r in reports) * 1024 / 1e6 for stores, reports in sides.items()}
    return {
        "stores": many,
        "rss_mb": {"one": round(rss_mb[1], 2), "many": round(rss_mb[many], 2)},
        "extra_mb": rss_mb[many] - rss_mb[1],
        "per_store_kb": (rss_mb[many] - rss_mb[1]) * 1000 / (many - 1),
        "samples": {("one" if s == 1 else "many"): reports for s, reports in sides.items()},
    }


# --- per call ----------------------------------------------------------------------------------------------------


async def oauth_token(base: str) -> str:
    """An access token of the multi-tenant server at ``base`` for the sandbox store, read-only, as a merchant gets
    it: register, authorize, the connect form (store id and API key, checked live by the server), token."""
    async with httpx2.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        registered = await http.post(f"{base}/register", json={
            "client_name": "hajatek-benchmarks", "redirect_uris": [REDIRECT], "scope": "store.read",
            "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none",
        })  # fmt: skip
        if registered.status_code != 201:
            raise BenchmarkFailure(f"OAuth registration failed: {registered.status_code} {registered.text[:300]}")
        client_id = registered.json()["client_id"]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "bench",
                  "code_challenge": challenge, "code_challenge_method": "S256", "scope": "store.read",
                  "resource": f"{base}/mcp"}  # fmt: skip
        page = await http.get(str(httpx2.URL(f"{base}/authorize", params=params)), follow_redirects=True)
        if page.status_code != 200:
            raise BenchmarkFailure(f"OAuth authorize failed: {page.status_code} {page.text[:300]}")
        form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
        form |= {"store_id": SANDBOX_STORE, "api_key": SANDBOX_KEY, "scope": "store.read", "action": "approve"}
        approved = await http.post(str(page.url).split("?")[0], data=form)
        if approved.status_code != 303:
            raise BenchmarkFailure(f"connecting the store failed: {approved.status_code} {approved.text[:300]}")
        code = dict(httpx2.URL(approved.headers["location"]).params)["code"]
        exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                    "code_verifier": verifier, "client_id": client_id}  # fmt: skip
        token = await http.post(f"{base}/token", data=exchange)
        if token.status_code != 200:
            raise BenchmarkFailure(f"OAuth token failed: {token.status_code} {token.text[:300]}")
        return str(token.json()["access_token"])


async def measure_calls(urls: dict[str, str], bearers: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """``rounds`` timed ``get_store`` calls on each server, one each in turn, after a warm-up."""
    samples: dict[str, list[float]] = {name: [] for name in urls}
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearers['single']}"}, timeout=60) as single_http,
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearers['multi']}"}, timeout=60) as multi_http,
        Client(streamable_http_client(urls["single"], http_client=single_http)) as single,
        Client(streamable_http_client(urls["multi"], http_client=multi_http)) as multi,
    ):
        clients = {"single": single, "multi": multi}
        warm_up = max(rounds // 10, 10)
        for i in range(warm_up + rounds):
            for name in ("single", "multi") if i % 2 == 0 else ("multi", "single"):
                started = time.perf_counter()
                result = await clients[name].call_tool(TOOL, {})
                elapsed = time.perf_counter() - started
                if result.is_error:
                    raise BenchmarkFailure(f"{name}: {TOOL} failed: {result.content}")
                store = (result.structured_content or {}).get("id")
                if store != SANDBOX_STORE:
                    raise BenchmarkFailure(f"{name}: {TOOL} answered for store {store!r}, not {SANDBOX_STORE}")
                if i >= warm_up:
                    samples[name].append(elapsed)
    return samples


def measure_overhead(bench: Bench, base_url: str, rounds: int) -> dict[str, list[float]]:
    single_port, multi_port = free_port(), free_port()
    serve = [*OURS, "serve", "--transport", "streamable-http", "--host", "127.0.0.1"]
    auth = secrets.token_hex(32)
    single_env = {**ours_on_sandbox_env(bench, base_url), "HAJATEK_MCP_AUTH_TOKEN": auth}
    issuer = f"http://127.0.0.1:{multi_port}"
    multi_cmd = [*serve, "--port", str(multi_port), "--multi-tenant", "--oauth-issuer", issuer]
    multi_env = bench.env({"HAJATEK_BASE_URL": base_url, "HAJATEK_MASTER_KEY": MasterKeys.generate()})
    with (
        bench.http_server([*serve, "--port", str(single_port)], single_port, single_env, "tenants-single"),
        bench.http_server(multi_cmd, multi_port, multi_env, "tenants-multi"),
    ):
        token = anyio.run(oauth_token, issuer)
        urls = {"single": f"http://127.0.0.1:{single_port}/mcp", "multi": f"{issuer}/mcp"}
        bench.progress.status(f"per call: {rounds} rounds of {TOOL} (single-store, multi-tenant)")
        return anyio.run(measure_calls, urls, {"single": auth, "multi": token}, rounds)


# --- the benchmark -----------------------------------------------------------------------------------------------


def run(bench: Bench) -> Outcome:
    many = bench.n(full=1000, quick=200)
    rounds = bench.n(full=1000, quick=60)
    with bench.sandbox() as base_url:
        memory = measure_memory(bench, base_url, many)
        samples = measure_overhead(bench, base_url, rounds)
    p50 = {name: median(values) * 1000 for name, values in samples.items()}
    ratio = p50["multi"] / p50["single"]
    bench.progress.log(
        f"memory: {many} stores {memory['extra_mb']:+.1f} MB over one ({memory['per_store_kb']:.1f} KB per store); "
        f"{TOOL} p50 single-store {p50['single']:.2f} ms, multi-tenant {p50['multi']:.2f} ms ({ratio:.2f}×)"
    )
    details = {
        "memory": memory,
        "calls_per_side": rounds,
        "latency_ms": {name: summary(values, 1000) for name, values in samples.items()},
        "tool": TOOL,
    }
    scaled = "" if many == 1000 else f"; 1,000 stores at this rate: {memory['per_store_kb'] * 999 / 1000:.1f} MB"
    rows = [
        Row(what=f"multi-tenant: RSS with {many:,} connected stores (each client used once, then idle) vs one store",
            target=f"≤ +{MEMORY_LIMIT_MB:g} MB", baseline=round(memory["rss_mb"]["one"], 1),
            ours=round(memory["rss_mb"]["many"], 1), unit="MB", ok=memory["extra_mb"] <= MEMORY_LIMIT_MB,
            note=f"+{memory['extra_mb']:.1f} MB, {memory['per_store_kb']:.1f} KB per store{scaled}"),
        Row(what=f"multi-tenant: {TOOL} p50 over streamable HTTP vs the single-store server (same sandbox)",
            target=f"≤ {CALL_LIMIT}× single-store", baseline=round(p50["single"], 3), ours=round(p50["multi"], 3),
            unit="ms", ratio=round(ratio, 3), ok=ratio <= CALL_LIMIT,
            note=f"{rounds} calls each, interleaved; OAuth token vs static bearer token"),
    ]  # fmt: skip
    return Outcome(rows=rows, details=details)
