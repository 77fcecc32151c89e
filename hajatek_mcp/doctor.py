"""``hajatek-mcp doctor``: is everything in place? Configuration, connection, store, budget, webhooks, state.

Secrets are shown only as set or unset. The exit code is 0 only when everything the server needs works; optional
parts that are off (the webhook receiver, OAuth) are reported, not failed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from hajatek_mcp.api import APIConnectionError, AuthenticationError, HajatekClient, HajatekError, NotFoundError
from hajatek_mcp.scripting import echo
from hajatek_mcp.settings import Settings

__all__ = ["run_doctor"]


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def ok(self, text: str) -> None:
        echo(f"  ok    {text}")

    def note(self, text: str) -> None:
        echo(f"  --    {text}")

    def fail(self, text: str) -> None:
        echo(f"  FAIL  {text}")
        self.problems.append(text)


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def _configuration(settings: Settings, report: Report, *, sandbox: bool) -> None:
    echo("Configuration")
    if sandbox:
        report.note("--sandbox: the embedded demo store (HAJATEK_API_KEY and HAJATEK_STORE_ID are not needed)")
    else:
        for name, present in (("HAJATEK_API_KEY", settings.api_key is not None),
                              ("HAJATEK_STORE_ID", settings.store_id is not None)):  # fmt: skip
            if present:
                report.ok(f"{name} is set" + (f" ({settings.store_id})" if name == "HAJATEK_STORE_ID" else ""))
            else:
                report.fail(f"{name} is not set: copy it from the Hajatek dashboard, or try --sandbox")
        report.ok(f"HAJATEK_BASE_URL {settings.base_url}, HAJATEK_PLAN {settings.plan}")
    if _writable(settings.data_dir):
        report.ok(f"HAJATEK_DATA_DIR {settings.data_dir} is writable")
    else:
        report.fail(f"HAJATEK_DATA_DIR {settings.data_dir} is not writable: choose a directory this user may write")
    if settings.webhook_secret is not None:
        report.ok("HAJATEK_WEBHOOK_SECRET is set: the webhook receiver can start")
    elif sandbox:
        report.note("webhooks: the sandbox delivers its own signed events in-process (a per-run secret)")
    else:
        report.note("HAJATEK_WEBHOOK_SECRET is unset: no webhook receiver (events stay off)")
    if settings.oauth_issuer:
        passphrase = settings.oauth_passphrase is not None or settings.oauth_external_issuer is not None
        (report.ok if passphrase else report.fail)(
            f"OAuth issuer {settings.oauth_issuer}"
            + ("" if passphrase else ": set HAJATEK_OAUTH_PASSPHRASE (or an external issuer)")
        )


async def _connection(client: HajatekClient, report: Report) -> None:
    echo(f"Connection to {client.base_url}")
    try:
        store = await client.get_store()
    except AuthenticationError:
        report.fail("the API key was refused (401): copy HAJATEK_API_KEY again from the Hajatek dashboard")
        return
    except NotFoundError:
        report.fail(f"no store {client.store_id} for this key (404): check HAJATEK_STORE_ID")
        return
    except APIConnectionError as exc:
        report.fail(f"cannot reach {client.base_url} ({exc.__cause__ or type(exc).__name__}): check the network and "
                    "HAJATEK_BASE_URL")  # fmt: skip
        return
    except HajatekError as exc:
        report.fail(str(exc))
        return
    report.ok(f"store {store.name} ({store.id}), currency {store.currency}, plan {store.plan or 'unknown'}")
    try:
        products = await client.list_products(limit=1)
        orders = await client.list_orders(limit=1)
    except HajatekError as exc:
        report.fail(f"the store answered, but listing failed: {exc}")
        return
    report.ok(f"catalog {products.total} products, {orders.total} orders")
    budget = client.rate_limit_state()
    if budget.limit is None:
        report.ok("rate budget: unlimited")
    else:
        report.ok(f"rate budget {budget.remaining}/{budget.limit} requests left in this window")


async def run_doctor(
    settings: Settings, connect: Callable[[], AbstractAsyncContextManager[HajatekClient]] | None, *, sandbox: bool
) -> int:
    """Print the report; 0 when everything needed works. ``connect`` is None when credentials are missing."""
    report = Report()
    _configuration(settings, report, sandbox=sandbox)
    if connect is not None:
        async with connect() as client:
            await _connection(client, report)
    echo("")
    if report.problems:
        echo(f"{len(report.problems)} problem{'s' if len(report.problems) > 1 else ''} to fix (see FAIL above).")
        return 1
    echo("Everything needed works." + (" (sandbox)" if sandbox else ""))
    return 0
