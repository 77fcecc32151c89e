"""One side of the multi-tenant memory benchmark, in a process of its own (RSS is per process).

``python benchmarks/tenant_server.py BASE_URL API_KEY STORES DATA_DIR`` builds the multi-tenant server as
``hajatek-mcp serve --multi-tenant`` does (:func:`hajatek_mcp.wiring.hosted_server`, its production connection pool
to ``BASE_URL``), connects STORES stores in its tenant store (distinct ids, each key encrypted under a fresh master
key; every one is the sandbox's ``API_KEY``, since what is measured is our cost per store, not the API's), then opens
each store's shop and makes one real request with its client (``list_products(limit=1)``), so each client has built
its ``httpx2.AsyncClient``; then the shops stay open and idle.

It prints one JSON line: VmRSS and VmHWM (KiB) after the server was built and after the shops went idle (after a
garbage collection), how many shops are open, and the seconds each step took. A failed request ends it with exit
code 1 and the error on stderr.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from pydantic import SecretStr

from hajatek_mcp.server.tenants import MasterKeys, Tenants
from hajatek_mcp.settings import Settings
from hajatek_mcp.wiring import hosted_server

#: The plan each store is connected with: a limited one, so each client keeps a live rate governor as in production
#: (the sandbox key itself is unlimited, so the sandbox never answers 429).
PLAN = "pro"


def store_id(i: int) -> str:
    return "str_sandbox" if i == 0 else f"str_bench{i:05d}"


def vm() -> dict[str, int]:
    """VmRSS and VmHWM of this process in KiB, after a full garbage collection."""
    gc.collect()
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


async def request(tenants: Tenants, store: str) -> bool:
    """One ``list_products(limit=1)`` through the store's shop; whether its client has built its HTTP client."""
    async with tenants.use(store) as shop:
        page = await shop.client.list_products(limit=1)
        built = shop.client._http_client is not None  # the check that each client paid its cost
    if len(page.items) != 1:
        raise RuntimeError(f"list_products(limit=1) for {store} returned {len(page.items)} products")
    return built


async def fill(tenants: Tenants, api_key: str, stores: int) -> dict[str, Any]:
    timings: dict[str, Any] = {}
    started = time.perf_counter()
    key = SecretStr(api_key)
    for i in range(stores):
        await tenants.store.connect(store_id(i), f"Bench store {i}", PLAN, key, None)
    timings["connect_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    built = 0
    for i in range(stores):
        built += await request(tenants, store_id(i))
    timings["requests_s"] = round(time.perf_counter() - started, 3)
    timings["open"] = tenants.open_count
    timings["clients_built"] = built
    timings["after"] = vm()
    await tenants.aclose()
    return timings


def main(base_url: str, api_key: str, stores: int, data_dir: Path) -> None:
    settings = Settings(
        data_dir=data_dir,
        multi_tenant=True,
        master_key=SecretStr(MasterKeys.generate()),
        oauth_issuer="http://127.0.0.1:9",
        base_url=base_url,
        max_retries=0,
    )
    server = hosted_server(settings, transport="streamable-http")
    tenants = server.tenants
    assert isinstance(tenants, Tenants)  # a multi-tenant server always has its registry
    built = vm()
    try:
        found = anyio.run(fill, tenants, api_key, stores)
    finally:
        server.close()
    print(json.dumps({"stores": stores, "built": built, **found}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
