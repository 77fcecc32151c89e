"""The ``hajatek-mcp`` command: the only place that reads ``argv`` and the environment.

It builds settings → client → (server) and runs them. Heavy modules (the sandbox, uvicorn) are imported only by the
subcommands that need them, so start-up stays near the MCP SDK's own import cost.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import httpx2

from hajatek_mcp import __version__
from hajatek_mcp.api import HajatekClient, HajatekError
from hajatek_mcp.settings import Settings, SettingsError

__all__ = ["main"]

logger = logging.getLogger("hajatek_mcp")

SANDBOX_KEY = "sk_sandbox_pro"
SANDBOX_STORE = "str_sandbox"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hajatek-mcp",
        description="MCP server for Hajatek stores. Configuration comes from HAJATEK_* environment variables "
        "(see the README); flags override them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level on stderr (default WARNING)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="check the configuration and the connection to the Hajatek API")
    check.add_argument("--sandbox", action="store_true", help="check against the embedded sandbox store instead")

    sandbox = sub.add_parser("sandbox", help="run the local Hajatek API sandbox (no account, no network)")
    sandbox.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, loopback only)")
    sandbox.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    sandbox.add_argument("--db", type=Path, help="SQLite file that keeps the store across restarts "
                         "(default: in memory, fresh each start)")  # fmt: skip
    sandbox.add_argument("--seed", type=int, default=42, help="seed of the generated demo store (default 42)")
    sandbox.add_argument("--webhook-url", help="POST signed webhook events to this URL")
    sandbox.add_argument("--webhook-secret", help="secret that signs webhook events (or HAJATEK_WEBHOOK_SECRET)")
    sandbox.add_argument("--activity", type=float, default=0.0, metavar="N",
                         help="simulate N new orders a minute, moving orders through their lifecycle")  # fmt: skip
    sandbox.add_argument("--enable-admin", action="store_true", help="serve the /_sandbox/ admin and fault API")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "check":
            return anyio.run(_check, Settings.from_env(os.environ), args.sandbox)
        if args.command == "sandbox":
            return _run_sandbox(args)
    except SettingsError as exc:
        print(f"hajatek-mcp: {exc}", file=sys.stderr)
        return 2
    parser.print_help(sys.stderr)
    return 2


async def _check(settings: Settings, use_sandbox: bool) -> int:
    if use_sandbox:
        from hajatek_mcp.sandbox import create_app  # noqa: PLC0415  # only this path pays for the sandbox

        client = HajatekClient(
            SANDBOX_KEY, store_id=SANDBOX_STORE, base_url="http://sandbox.local/v1", plan="pro",
            transport=httpx2.ASGITransport(app=create_app()),
        )  # fmt: skip
    else:
        key, store_id = settings.require_api_credentials()
        client = HajatekClient(
            key, store_id=store_id, base_url=settings.base_url, plan=settings.plan, rate_limit=settings.rate_limit,
            timeout=settings.timeout, max_retries=settings.max_retries,
        )  # fmt: skip
    async with client:
        try:
            store = await client.get_store()
            products = await client.list_products(limit=1)
            orders = await client.list_orders(limit=1)
            summary = await client.get_analytics_summary("30d")
        except HajatekError as exc:
            print(f"hajatek-mcp: {exc}", file=sys.stderr)
            return 1
        budget = client.rate_limit_state()
    print(f"OK: connected to {client.base_url}")
    print(f"store      {store.name} ({store.id}), currency {store.currency}")
    print(f"catalog    {products.total} products")
    print(f"orders     {orders.total} in all; {summary.orders_count} in the last 30 days, "
          f"revenue {summary.revenue} {summary.currency}")  # fmt: skip
    limit = "unlimited" if budget.limit is None else f"{budget.remaining}/{budget.limit} requests left this minute"
    print(f"rate limit {limit}")
    return 0


def _run_sandbox(args: argparse.Namespace) -> int:
    from hajatek_mcp.sandbox import SandboxConfig, banner, serve  # noqa: PLC0415  # lazy: uvicorn is heavy

    secret = args.webhook_secret or os.environ.get("HAJATEK_WEBHOOK_SECRET") or None
    if args.webhook_url and not secret:
        raise SettingsError("--webhook-url needs a signing secret: pass --webhook-secret or set HAJATEK_WEBHOOK_SECRET")
    config = SandboxConfig(
        db_path=str(args.db) if args.db else ":memory:",
        seed=args.seed,
        webhook_url=args.webhook_url,
        webhook_secret=secret,
        activity=args.activity,
        enable_admin=args.enable_admin,
    )
    print(banner(config, args.host, args.port), flush=True)
    serve(config, host=args.host, port=args.port)
    return 0
