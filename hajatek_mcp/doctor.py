"""``hajatek-mcp doctor``: is everything in place? Configuration, data dir and state, connection, store, budget,
webhooks.

The whole checklist always runs: a malformed setting is one failed line, and the checks that do not depend on it go
on. Secrets are shown only as set or unset. The exit code is 0 only when everything the server needs works; optional
parts that are off (the webhook receiver, OAuth) are reported, not failed, and warnings do not fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import httpx2

from hajatek_mcp.api import APIConnectionError, AuthenticationError, HajatekClient, HajatekError, NotFoundError
from hajatek_mcp.scripting import echo, plural
from hajatek_mcp.server.events import WEBHOOK_PATH
from hajatek_mcp.settings import ENV_PREFIX, Settings, SettingsError
from hajatek_mcp.storage.files import (
    SANDBOX_DB,
    SANDBOX_DB_FIX,
    STATE_FILES,
    StateFileError,
    check_state_file,
    data_dir_problem,
)
from hajatek_mcp.storage.postgres import Postgres, PostgresError
from hajatek_mcp.storage.redis_link import RedisError, RedisLink

__all__ = ["WebhookPort", "run_doctor"]

#: Settings without which the connection check would go to the wrong place or with the wrong key: skipped instead.
_CONNECTION_SETTINGS = frozenset(ENV_PREFIX + name for name in ("API_KEY", "STORE_ID", "BASE_URL"))


@dataclass(frozen=True)
class WebhookPort:
    """``doctor --webhook-port``: where the stdio server's webhook listener would listen, and whether it can."""

    host: str
    port: int
    problem: str | None
    """Why it cannot bind there (one line with the fix), or None when the port is free."""


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def ok(self, text: str) -> None:
        echo(f"  ok    {text}")

    def note(self, text: str) -> None:
        echo(f"  --    {text}")

    def warn(self, text: str) -> None:
        echo(f"  WARN  {text}")
        self.warnings.append(text)

    def fail(self, text: str) -> None:
        echo(f"  FAIL  {text}")
        self.problems.append(text)


def _configuration(settings: Settings, malformed: Mapping[str, str], report: Report) -> None:
    echo("Configuration")
    for message in malformed.values():
        report.fail(message)
    if settings.multi_tenant:
        _multi_tenant(settings, report)
    elif settings.sandbox:
        report.note("--sandbox: the embedded demo store (HAJATEK_API_KEY and HAJATEK_STORE_ID are not needed)")
    else:
        for name, present in (
            ("HAJATEK_API_KEY", settings.api_key is not None),
            ("HAJATEK_STORE_ID", settings.store_id is not None),
        ):
            if name in malformed:
                continue
            if present:
                report.ok(f"{name} is set" + (f" ({settings.store_id})" if name == "HAJATEK_STORE_ID" else ""))
            else:
                report.fail(f"{name} is not set: copy it from the Hajatek dashboard, or try --sandbox")
        shown = [
            f"{ENV_PREFIX}{name.upper()} {getattr(settings, name)}"
            for name in ("base_url", "plan")
            if f"{ENV_PREFIX}{name.upper()}" not in malformed
        ]
        if shown:
            report.ok(", ".join(shown))
    _receivers(settings, malformed, report)


def _receivers(settings: Settings, malformed: Mapping[str, str], report: Report) -> None:
    """The webhook receiver and the OAuth server of a single-store server."""
    if settings.multi_tenant:
        return  # each store's webhooks and the sign-in page: see _multi_tenant
    if settings.webhook_secret is not None:
        report.ok("HAJATEK_WEBHOOK_SECRET is set: the webhook receiver can start")
    elif settings.sandbox:
        report.note("webhooks: the sandbox delivers its own signed events in-process (a per-run secret)")
    elif "HAJATEK_WEBHOOK_SECRET" not in malformed:
        report.note("HAJATEK_WEBHOOK_SECRET is unset: no webhook receiver (events stay off)")
    if settings.oauth_issuer:
        passphrase = settings.oauth_passphrase is not None or settings.oauth_external_issuer is not None
        (report.ok if passphrase else report.fail)(
            f"OAuth issuer {settings.oauth_issuer}"
            + ("" if passphrase else ": set HAJATEK_OAUTH_PASSPHRASE (or an external issuer)")
        )


def _multi_tenant(settings: Settings, report: Report) -> None:
    """Multi-tenant mode: its settings, and the master keys (parsed; never shown)."""
    from hajatek_mcp.server.tenants import MasterKeys  # noqa: PLC0415  # multi-tenant only

    report.note("HAJATEK_MULTI_TENANT: each merchant connects their own store on the sign-in page")
    try:
        settings.require_multi_tenant()
    except SettingsError as exc:
        report.fail(str(exc))
        return
    assert settings.master_key is not None  # noqa: S101  # required just above
    try:
        keys = MasterKeys.parse(settings.master_key.get_secret_value())
    except ValueError as exc:
        report.fail(str(exc))
        return
    report.ok(
        f"HAJATEK_MASTER_KEY holds {plural(len(keys.key_ids), 'key')}; new keys are encrypted under {keys.primary_id}"
    )


async def _tenants(settings: Settings, report: Report) -> None:
    """The connected stores: how many, and whether each is encrypted under a key the server holds."""
    from hajatek_mcp.server.tenants import MasterKeys, TenantStore  # noqa: PLC0415  # multi-tenant only

    echo("Connected stores")
    path = settings.data_dir / "tenants.db"
    if settings.master_key is None or not path.exists():
        report.note("none yet: merchants connect on the sign-in page")
        return
    try:
        keys = MasterKeys.parse(settings.master_key.get_secret_value())
    except ValueError:
        return  # already a failed line under Configuration
    store = TenantStore(path, keys)
    try:
        tenants = await store.tenants()
    finally:
        store.close()
    lost = [t.store_id for t in tenants if t.key_id not in keys.key_ids]
    stale = [t.store_id for t in tenants if t.key_id in keys.key_ids and t.key_id != keys.primary_id]
    if lost:
        report.fail(
            f"{plural(len(lost), 'store')} encrypted under a master key not in HAJATEK_MASTER_KEY ({', '.join(lost)}): "
            "add the old key after the new one, or have those merchants connect again"
        )
    if stale:
        report.warn(f"{plural(len(stale), 'store')} still under an older master key: run `hajatek-mcp keys rotate`")
    if not lost:
        report.ok(f"{plural(len(tenants), 'store')} connected, every one readable under HAJATEK_MASTER_KEY")


def _state(settings: Settings, report: Report) -> bool:
    """The data dir and the state files in it; False when the ``--sandbox`` store cannot be opened."""
    echo(f"Data dir {settings.data_dir}")
    problem = data_dir_problem(settings.data_dir)
    if problem is not None:
        report.fail(problem)
        return False
    report.ok("HAJATEK_DATA_DIR is a writable directory")
    files: list[tuple[Path, str, str | None]] = [(settings.data_dir / n, what, None) for n, what in STATE_FILES.items()]
    files.append((settings.data_dir / SANDBOX_DB, "the --sandbox demo store", SANDBOX_DB_FIX))
    usable = True
    for path, what, fix in files:
        if not path.exists():
            continue
        try:
            check_state_file(path, what, fix=fix)
        except StateFileError as exc:
            report.fail(str(exc))
            usable = usable and path.name != SANDBOX_DB
        else:
            report.ok(f"{path.name} ({what}) opens")
    return usable or not settings.sandbox


async def _shared(settings: Settings, report: Report) -> None:
    """What replicas share: the PostgreSQL and the Redis answer, and the settings every replica needs are there."""
    if settings.database_url is None and settings.redis_url is None:
        return
    echo("Shared state (replicas)")
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        try:
            database = await anyio.to_thread.run_sync(Postgres, url)
            try:
                await anyio.to_thread.run_sync(database.check)
            finally:
                database.close()
        except PostgresError as exc:
            report.fail(str(exc))
        else:
            report.ok(f"PostgreSQL at {database.where} answers")
    if settings.redis_url is not None:
        link = RedisLink(settings.redis_url.get_secret_value())
        try:
            await link.ping()
            report.ok(f"Redis at {link.where} answers")
        except RedisError as exc:
            report.fail(str(exc))
        finally:
            await link.aclose()
    else:
        report.note(
            f"{ENV_PREFIX}REDIS_URL is not set: replicas would each spend the whole rate budget and tell only their "
            "own subscribers of events (one process needs none)"
        )
    if settings.request_state_keys is None:
        report.note(
            f"{ENV_PREFIX}REQUEST_STATE_KEYS is not set: behind a load balancer, a 2026-07-28 confirmation asked by "
            "one replica cannot be answered on another (set the same key on every replica)"
        )


async def _connection(client: HajatekClient, report: Report, *, plan: str | None) -> None:
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
        report.fail(
            f"cannot reach {client.base_url} ({exc.__cause__ or type(exc).__name__}): check the network and "
            "HAJATEK_BASE_URL"
        )
        return
    except HajatekError as exc:
        report.fail(str(exc))
        return
    report.ok(f"store {store.name} ({store.id}), currency {store.currency}, plan {store.plan or 'unknown'}")
    if plan is not None and store.plan and store.plan != plan:
        report.warn(
            f"HAJATEK_PLAN is {plan} but the store is on the {store.plan} plan: set HAJATEK_PLAN={store.plan} "
            "so the request budget matches the store's"
        )
    try:
        products = await client.list_products(limit=1)
        orders = await client.list_orders(limit=1)
    except HajatekError as exc:
        report.fail(f"the store answered, but listing failed: {exc}")
        return
    counts = [
        plural(total, noun) if total is not None else f"{noun}s (no count)"
        for total, noun in ((products.total, "product"), (orders.total, "order"))
    ]
    report.ok(f"catalog {', '.join(counts)}")
    budget = client.rate_limit_state()
    if budget.limit is None:
        report.ok("rate budget: unlimited")
    else:
        report.ok(f"rate budget {budget.remaining}/{budget.limit} requests left in this window")


async def _webhook_port(webhook: WebhookPort, report: Report) -> None:
    """Can ``--webhook-port`` listen there? A port held by a running hajatek-mcp's own listener is fine."""
    echo(f"Webhook listener (--webhook-port {webhook.port})")
    if webhook.problem is None:
        report.ok(f"port {webhook.port} on {webhook.host} is free: the listener can start there")
        return
    url = f"http://{webhook.host}:{webhook.port}{WEBHOOK_PATH}"
    try:  # an unsigned POST: our listener refuses it with 401 naming the signature, and stores nothing
        async with httpx2.AsyncClient(timeout=1.0) as http:
            answer = await http.post(url, content=b"{}", headers={"content-type": "application/json"})
        ours = answer.status_code == 401 and "signature" in answer.text.lower()
    except httpx2.HTTPError:
        ours = False
    if ours:
        report.ok(f"a hajatek-mcp webhook listener already answers at {url}")
    else:
        report.fail(webhook.problem)


async def run_doctor(
    settings: Settings,
    connect: Callable[[], AbstractAsyncContextManager[HajatekClient]] | None,
    *,
    malformed: Mapping[str, str] | None = None,
    webhook: WebhookPort | None = None,
) -> int:
    """Print the report; 0 when everything needed works. ``connect`` is None when credentials are missing.

    ``malformed`` holds the settings that failed to parse, {variable: the one-line error}
    (:meth:`Settings.from_env_lenient`): each is a failed check, and the checks that do not need it still run.
    """
    malformed = malformed or {}
    sandbox = settings.sandbox
    report = Report()
    _configuration(settings, malformed, report)
    state_usable = _state(settings, report)
    await _shared(settings, report)
    skipped = sorted(_CONNECTION_SETTINGS.intersection(malformed)) if not sandbox else []
    if settings.multi_tenant:
        if state_usable:
            await _tenants(settings, report)
    elif skipped:
        echo("Connection")
        report.note(f"skipped until {', '.join(skipped)} is fixed")
    elif not state_usable:
        echo("Connection")
        report.note("skipped: the --sandbox store cannot be opened (see above)")
    elif connect is not None:
        async with connect() as client:
            await _connection(client, report, plan=None if sandbox or "HAJATEK_PLAN" in malformed else settings.plan)
    if webhook is not None:
        await _webhook_port(webhook, report)
    echo("")
    warned = f" ({plural(len(report.warnings), 'warning')} above)" if report.warnings else ""
    if report.problems:
        echo(f"{plural(len(report.problems), 'problem')} to fix (see FAIL above){warned}.")
        return 1
    echo("Everything needed works." + (" (sandbox)" if sandbox else "") + warned)
    return 0
