"""From settings to a running server: the options, the API client (or the in-process sandbox) and the server.

The CLI parses flags and the environment; this module turns them into what :func:`hajatek_mcp.server.build_server`
takes. Heavy modules (the sandbox, httpx2's transports, Starlette) are imported only on the paths that need them.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from pydantic import SecretStr

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import TOOLSETS, HajatekServer, ServerOptions, build_server
from hajatek_mcp.server.state import ExternalIssuer
from hajatek_mcp.settings import Settings, SettingsError
from hajatek_mcp.storage.files import SANDBOX_DB

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["TRUE", "api_connector", "options_from", "sandbox_client", "sandbox_server", "server_for", "settings_from"]

SANDBOX_KEY = "sk_sandbox_pro"
SANDBOX_STORE = "str_sandbox"
#: Spellings of "yes" in a boolean environment variable.
TRUE = frozenset({"1", "true", "yes", "on"})


def settings_from(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    """HAJATEK_* from the environment, overridden by the flags that were given."""
    return Settings.from_env(
        env,
        confirm=getattr(args, "confirm", None),
        redact_pii=getattr(args, "redact_pii", None),
        mcp_auth_token=getattr(args, "auth_token", None),
        allowed_hosts=getattr(args, "allowed_host", None),
        allowed_origins=getattr(args, "allowed_origin", None),
        oauth_issuer=getattr(args, "oauth_issuer", None),
    )


def server_for(args: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> HajatekServer:
    options = options_from(args, settings, env)
    if not args.sandbox:
        return build_server(options, api_connector(settings))
    return sandbox_server(options, str(settings.data_dir / SANDBOX_DB), getattr(args, "activity", 0.0))


def sandbox_server(options: ServerOptions, db_path: str, activity: float = 0.0) -> HajatekServer:
    """The server on the in-process sandbox (kept in ``db_path``), whose webhooks loop back into this server."""
    from starlette.applications import Starlette  # noqa: PLC0415

    secret = options.webhook_secret or SecretStr(secrets.token_urlsafe(32))
    options = dataclasses.replace(options, webhook_secret=secret)
    receiver: list[Starlette] = []  # filled once the server exists; read when the lifespan opens the sandbox
    connect = functools.partial(sandbox_client, db_path, activity, secret, receiver)
    server = build_server(options, connect)
    receiver.append(Starlette(routes=server.webhook_routes))
    return server


def options_from(args: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> ServerOptions:
    read_only = args.read_only if args.read_only is not None else env.get("HAJATEK_READ_ONLY", "").lower() in TRUE
    raw = args.toolsets or env.get("HAJATEK_TOOLSETS", "")
    names = frozenset(n.strip() for n in raw.split(",") if n.strip()) or frozenset(TOOLSETS)
    unknown = names - set(TOOLSETS)
    if unknown:
        raise SettingsError(
            f"HAJATEK_TOOLSETS / --toolsets has unknown names {', '.join(sorted(unknown))}: "
            f"choose from {','.join(TOOLSETS)}."
        )
    return ServerOptions(
        read_only=read_only,
        toolsets=names,
        sandbox=args.sandbox,
        confirm=settings.confirm,
        confirm_ttl=settings.confirm_ttl,
        price_cut_guard=settings.price_cut_guard,
        guard_window=settings.guard_window,
        redact_pii=settings.redact_pii,
        state_dir=settings.data_dir,
        webhook_secret=settings.webhook_secret,
        webhook_max_age=settings.webhook_max_age,
        event_retention_days=settings.event_retention_days,
        oauth_issuer=settings.oauth_issuer if getattr(args, "transport", "stdio") != "stdio" else None,
        oauth_passphrase=settings.oauth_passphrase,
        oauth_external=ExternalIssuer(*external) if (external := settings.external_issuer()) else None,
    )


def api_connector(settings: Settings) -> Callable[[], HajatekClient]:
    """Opens the client of the real API from settings (a missing key or store id stops here, with the fix)."""
    key, store_id = settings.require_api_credentials()

    def api_client() -> HajatekClient:
        return HajatekClient(
            key, store_id=store_id, base_url=settings.base_url, plan=settings.plan, rate_limit=settings.rate_limit,
            timeout=settings.timeout, max_retries=settings.max_retries,
        )  # fmt: skip

    return api_client


@asynccontextmanager
async def sandbox_client(
    db_path: str, activity: float, secret: SecretStr | None, receiver: list[Starlette]
) -> AsyncIterator[HajatekClient]:
    """The in-process sandbox (kept in ``db_path``); its signed webhooks go to ``receiver`` when there is one."""
    import httpx2  # noqa: PLC0415

    from hajatek_mcp.sandbox import SandboxConfig, create_app  # noqa: PLC0415  # only --sandbox pays for it
    from hajatek_mcp.server.events import WEBHOOK_PATH  # noqa: PLC0415

    loop_back = secret is not None and bool(receiver)
    config = SandboxConfig(
        db_path=db_path,
        activity=activity,
        webhook_url=f"http://hajatek-mcp.local{WEBHOOK_PATH}" if loop_back else None,
        webhook_secret=secret.get_secret_value() if loop_back and secret else None,
        webhook_transport=httpx2.ASGITransport(app=receiver[0]) if loop_back else None,
    )
    app = create_app(config)
    async with app.state.sandbox, HajatekClient(
        SANDBOX_KEY, store_id=SANDBOX_STORE, base_url="http://sandbox.local/v1", plan="pro",
        transport=httpx2.ASGITransport(app=app),
    ) as client:  # fmt: skip
        yield client
