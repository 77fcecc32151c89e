"""The operator's commands of a multi-tenant server: ``tenants list|show|disconnect`` and ``keys generate|rotate``.

They work on the data directory of the server (``HAJATEK_DATA_DIR``), with its master keys (``HAJATEK_MASTER_KEY``),
while it runs or not: SQLite lets both at once, and a disconnect revokes the store's tokens, so a running server
refuses its next request at once. No secret is ever printed: a store shows its id, name, plan, when it connected,
whether it gave a webhook secret, which master key encrypts it, and the apps holding grants.
"""

from __future__ import annotations

import argparse
import time

import anyio

from hajatek_mcp.commandline import ExitCode
from hajatek_mcp.scripting import echo
from hajatek_mcp.server.backend import StateBackend
from hajatek_mcp.settings import Settings, SettingsError
from hajatek_mcp.storage.files import STATE_FILES, check_data_dir, check_state_file
from hajatek_mcp.storage.postgres import PostgresError
from hajatek_mcp.wiring import master_keys

__all__ = ["cmd_db", "cmd_keys", "cmd_tenants"]


def _when(seconds: float | None) -> str:
    return "-" if seconds is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def _backend(settings: Settings) -> StateBackend:
    """Where the running server keeps its state: its PostgreSQL database, or the files of its data dir (checked)."""
    if settings.database_url is None:
        check_data_dir(settings.data_dir, sandbox=False)
        for name in ("tenants.db", "oauth.db", "audit.db"):
            if (settings.data_dir / name).exists():
                check_state_file(settings.data_dir / name, STATE_FILES[name])
    try:
        return StateBackend(settings.data_dir, settings.database_url)
    except PostgresError as exc:
        raise SettingsError(str(exc)) from None


def cmd_tenants(args: argparse.Namespace, settings: Settings) -> int:
    """``tenants list``, ``tenants show STORE_ID``, ``tenants disconnect STORE_ID``."""
    return anyio.run(_tenants, args, settings)


async def _tenants(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.server import audit as audit_log  # noqa: PLC0415
    from hajatek_mcp.server.audit import AuditLog  # noqa: PLC0415
    from hajatek_mcp.server.hosted import disconnect_store  # noqa: PLC0415
    from hajatek_mcp.server.oauth import OAuthStore  # noqa: PLC0415
    from hajatek_mcp.server.oauth import store as oauth_store  # noqa: PLC0415
    from hajatek_mcp.server.tenants import TenantStore  # noqa: PLC0415
    from hajatek_mcp.server.tenants import store as tenants  # noqa: PLC0415

    keys = master_keys(settings, serving=False)
    backend = _backend(settings)
    store = TenantStore(backend.open("tenants.db", tenants.SCHEMA), keys)
    oauth = OAuthStore(backend.open("oauth.db", oauth_store.SCHEMA))  # the server's grants: what disconnect revokes
    audit = AuditLog(backend.open("audit.db", audit_log.SCHEMA), store_id="")  # the OAuth server's, no store
    try:
        if args.tenants_command == "list":
            rows = await store.tenants()
            if not rows:
                echo("No store is connected.")
            for row in rows:
                grants = await oauth.grants_of(row.store_id)
                connected = _when(row.connected_at)
                echo(
                    f"{row.store_id}  {row.store_name}  plan {row.plan}  connected {connected}"
                    f"  webhooks {'yes' if row.has_webhook_secret else 'no'}  apps {len(grants)}"
                )
            return ExitCode.OK
        tenant = await store.tenant(args.tenant)
        if tenant is None:
            echo(f"hajatek-mcp: no store {args.tenant} is connected (`hajatek-mcp tenants list`)", err=True)
            return ExitCode.FAILED
        if args.tenants_command == "show":
            echo(f"store        {tenant.store_id}\nname         {tenant.store_name}\nplan         {tenant.plan}")
            echo(f"connected    {_when(tenant.connected_at)}\nkey updated  {_when(tenant.updated_at)}")
            echo(f"webhooks     {'signing secret kept' if tenant.has_webhook_secret else 'no signing secret'}")
            echo(f"master key   {tenant.key_id}")
            grants = await oauth.grants_of(tenant.store_id)
            echo(f"apps         {len(grants)} with live grants")
            for grant in grants:
                name = grant["client_name"] or "(no name)"
                echo(f"  {grant['client_id']}  {name}  {grant['scopes']}  until {_when(grant['expires'])}")
            return ExitCode.OK
        _, revoked = await disconnect_store(store.disconnect, oauth, audit, args.tenant)
        echo(f"Disconnected {args.tenant}: its API key and secret deleted, {revoked} tokens revoked.")
        return ExitCode.OK
    finally:
        store.close()
        oauth.close()
        audit.close()
        backend.close()


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    """``keys generate`` prints a new master key; ``keys rotate`` re-encrypts every store under the first key."""
    from hajatek_mcp.server.tenants import MasterKeys, TenantStore  # noqa: PLC0415

    if args.keys_command == "generate":
        echo(MasterKeys.generate())
        return ExitCode.OK
    from hajatek_mcp.server.tenants.store import SCHEMA  # noqa: PLC0415

    keys = master_keys(settings, serving=False)
    backend = _backend(settings)
    store = TenantStore(backend.open("tenants.db", SCHEMA), keys)
    try:
        changed = anyio.run(store.rotate)
    finally:
        store.close()
        backend.close()
    echo(
        f"Re-encrypted {changed} stores under master key {keys.primary_id}. Once every server runs with it first, "
        "the old keys can leave HAJATEK_MASTER_KEY."
    )
    return ExitCode.OK


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """``db migrate``: bring every store's tables to this version's schema (PostgreSQL, or the data dir's files).

    Safe while replicas run or start: migrations take a lock and run once. Servers also migrate at start.
    """
    from hajatek_mcp.server import audit, confirmations, directory, events, exports  # noqa: PLC0415
    from hajatek_mcp.server.oauth import store as oauth_store  # noqa: PLC0415
    from hajatek_mcp.server.tenants import store as tenants  # noqa: PLC0415
    from hajatek_mcp.storage import Database  # noqa: PLC0415

    schemas = {
        "audit.db": audit.SCHEMA,
        "confirmations.db": confirmations.SCHEMA,
        "events.db": events.SCHEMA,
        "exports.db": exports.SCHEMA,
        "directory.db": directory.SCHEMA,
        "oauth.db": oauth_store.SCHEMA,
        "tenants.db": tenants.SCHEMA,
    }
    backend = _backend(settings)
    try:
        for name, schema in schemas.items():
            opened = backend.open(name, schema)
            (opened if isinstance(opened, Database) else Database(opened, schema)).close()
            echo(f"{schema.what}: schema {len(schema.postgres if backend.shared else schema.migrations)}")
    finally:
        backend.close()
    echo(f"Every store's tables are up to date in {backend.where}.")
    return ExitCode.OK
