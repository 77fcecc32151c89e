"""From settings to a running server: the options, the API client (or the in-process sandbox) and the server.

The CLI reads the flags and the environment into :class:`~hajatek_mcp.settings.Settings`; this module turns them into
what :func:`hajatek_mcp.server.build_server` takes. Heavy modules (the sandbox, httpx2's transports, Starlette) are
imported only on the paths that need them.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, cast, get_args

from pydantic import SecretStr

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.api.ratelimit import PLAN_LIMITS
from hajatek_mcp.server import ExternalIssuer, HajatekServer, ServerOptions, build_server
from hajatek_mcp.settings import ENV_PREFIX, Settings, SettingsError
from hajatek_mcp.storage.files import SANDBOX_DB

if TYPE_CHECKING:
    import httpx2
    from starlette.applications import Starlette

    from hajatek_mcp.api.ratelimit import Governor
    from hajatek_mcp.server.tenants import MasterKeys
    from hajatek_mcp.storage.redis_link import RedisLink

__all__ = [
    "COMPUTED_OPTIONS",
    "api_connector",
    "hosted_server",
    "master_keys",
    "options_from",
    "sandbox_client",
    "sandbox_server",
    "server_for",
]

SANDBOX_KEY = "sk_sandbox_pro"
SANDBOX_STORE = "str_sandbox"

#: The :class:`ServerOptions` fields not copied from the setting of the same name: :func:`options_from` computes
#: them (``clock`` keeps its default). Every other option must have a setting of its name (a test holds this).
COMPUTED_OPTIONS = frozenset({"state_dir", "store_id", "oauth_issuer", "oauth_external", "clock"})


def options_from(settings: Settings, *, transport: str = "stdio") -> ServerOptions:
    """The server's options: each option named like a setting takes it, and the few in :data:`COMPUTED_OPTIONS`
    are worked out here, so a new option cannot be left out by accident (it fails here until it is one or the other).
    """
    same_name = {
        option.name: getattr(settings, option.name)
        for option in dataclasses.fields(ServerOptions)
        if option.name not in COMPUTED_OPTIONS
    }
    computed: dict[str, Any] = {
        "state_dir": settings.data_dir,
        "store_id": SANDBOX_STORE if settings.sandbox else settings.store_id,
        # the OAuth server is served on HTTP only: on stdio there is no issuer
        "oauth_issuer": settings.oauth_issuer if transport != "stdio" else None,
        "oauth_external": ExternalIssuer(*external) if (external := settings.external_issuer()) else None,
    }
    return ServerOptions(**same_name, **computed)


def server_for(settings: Settings, *, transport: str = "stdio", activity: float = 0.0) -> HajatekServer:
    """The server ``settings`` describe: on the real API, on the ``--sandbox`` store kept in the data dir, or, with
    ``HAJATEK_MULTI_TENANT``, for every store that connects."""
    if settings.multi_tenant:
        return hosted_server(settings, transport=transport)
    options = options_from(settings, transport=transport)
    if not settings.sandbox:
        return build_server(options, api_connector(settings))
    return sandbox_server(options, str(settings.data_dir / SANDBOX_DB), activity)


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


def api_connector(settings: Settings) -> Callable[[], AbstractAsyncContextManager[HajatekClient]]:
    """Opens the client of the real API from settings (a missing key or store id stops here, with the fix).

    With ``HAJATEK_REDIS_URL`` the key's rate budget is the one every replica shares, through a Redis connection of
    the client's own, closed with it.
    """
    key, store_id = settings.require_api_credentials()

    @asynccontextmanager
    async def api_client() -> AsyncIterator[HajatekClient]:
        link = _redis_link(settings)
        try:
            async with HajatekClient(
                key,
                store_id=store_id,
                base_url=settings.base_url,
                plan=settings.plan,
                rate_limit=settings.rate_limit,
                rate_window=settings.rate_window,
                timeout=settings.timeout,
                max_retries=settings.max_retries,
                governor=_shared_governor(settings, link, key, settings.rate_limit or PLAN_LIMITS[settings.plan]),
            ) as client:
                yield client
        finally:
            if link is not None:
                await link.aclose()

    return api_client


def _redis_link(settings: Settings) -> RedisLink | None:
    """A connection pool to ``HAJATEK_REDIS_URL`` (None without one); the caller closes it."""
    if settings.redis_url is None:
        return None
    from hajatek_mcp.storage.redis_link import RedisLink  # noqa: PLC0415  # hajatek-mcp[hosted]

    return RedisLink(settings.redis_url.get_secret_value())


def _shared_governor(settings: Settings, link: RedisLink | None, key: SecretStr, limit: int | None) -> Governor | None:
    """The key's budget in Redis, shared by every replica (None without Redis: the client keeps its own)."""
    if link is None:
        return None
    from hajatek_mcp.api.shared_rate import SharedRateGovernor  # noqa: PLC0415

    # A request in flight longer than a timeout and a margin is one whose replica died: its token comes back.
    return SharedRateGovernor(link, key, limit, settings.rate_window, lease=settings.timeout + 30.0)


@asynccontextmanager
async def sandbox_client(
    db_path: str, activity: float, secret: SecretStr | None, receiver: list[Starlette]
) -> AsyncIterator[HajatekClient]:
    """The in-process sandbox (kept in ``db_path``); its signed webhooks go to ``receiver`` when there is one."""
    import httpx2  # noqa: PLC0415

    from hajatek_mcp.sandbox import InProcessTransport, SandboxConfig, create_app  # noqa: PLC0415  # --sandbox only
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
    async with (
        app.state.sandbox,
        HajatekClient(
            SANDBOX_KEY,
            store_id=SANDBOX_STORE,
            base_url="http://sandbox.local/v1",
            plan="pro",
            # each answer once the webhooks it caused reached the receiver: a one-shot `call` ends after its events
            transport=InProcessTransport(app),
        ) as client,
    ):
        yield client


def master_keys(settings: Settings, *, serving: bool = True) -> MasterKeys:
    """The master keys of a multi-tenant server, or a one-line :class:`SettingsError` (never quoting a key).

    ``serving``: also check the rest of the mode's settings (the operator's commands need only the keys).
    """
    from hajatek_mcp.server.tenants import MasterKeys  # noqa: PLC0415  # multi-tenant only

    if serving:
        master = settings.require_multi_tenant()
    elif settings.master_key is None:
        raise SettingsError(f"{ENV_PREFIX}MASTER_KEY is not set: use the multi-tenant server's master keys.")
    else:
        master = settings.master_key
    try:
        return MasterKeys.parse(master.get_secret_value())
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def hosted_server(
    settings: Settings, *, transport: str, api_transport: httpx2.AsyncBaseTransport | None = None
) -> HajatekServer:
    """The multi-tenant server: every store that connects on its sign-in page, over one shared connection pool.

    ``api_transport`` replaces the pool's transport (tests: the multi-store sandbox in process).
    """
    import httpx2  # noqa: PLC0415

    from hajatek_mcp.api.models import Plan  # noqa: PLC0415
    from hajatek_mcp.server.backend import StateBackend  # noqa: PLC0415
    from hajatek_mcp.server.hosted import build_hosted_server  # noqa: PLC0415  # multi-tenant only
    from hajatek_mcp.server.oauth.connect import ApiStoreCheck  # noqa: PLC0415
    from hajatek_mcp.server.tenants import SharedTransport, TenantCredentials, Tenants, TenantStore  # noqa: PLC0415
    from hajatek_mcp.server.tenants.store import SCHEMA as TENANTS_SCHEMA  # noqa: PLC0415

    keys = master_keys(settings)
    if transport == "stdio":
        raise SettingsError(
            f"{ENV_PREFIX}MULTI_TENANT serves many merchants over HTTP: add --transport streamable-http (or sse)."
        )
    options = options_from(settings, transport=transport)
    pool = SharedTransport(
        api_transport
        or httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50))
    )

    link = _redis_link(settings)  # one pool for every store's shared budget, closed once the server stops serving

    def open_client(credentials: TenantCredentials) -> HajatekClient:
        plan = cast(Plan, credentials.plan) if credentials.plan in get_args(Plan) else "starter"
        return HajatekClient(
            credentials.api_key,
            store_id=credentials.store_id,
            base_url=settings.base_url,
            plan=plan,
            rate_window=settings.rate_window,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            transport=pool,
            governor=_shared_governor(settings, link, credentials.api_key, PLAN_LIMITS[plan]),
        )

    backend = StateBackend(options.state_dir, options.database_url)
    store = TenantStore(backend.open("tenants.db", TENANTS_SCHEMA), keys)
    tenants = Tenants(store, options, open_client, backend=backend)
    check = ApiStoreCheck(settings.base_url, transport=pool, timeout=min(settings.timeout, 10.0))
    server = build_hosted_server(options, tenants, check)
    if link is not None:
        server.services.insert(0, functools.partial(_closing, link))  # entered first, so left after the stores
    return server


@asynccontextmanager
async def _closing(link: RedisLink) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await link.aclose()
