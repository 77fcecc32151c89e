"""``build_server``: the MCP face of a Hajatek store.

A plain constructor: it registers the tools the options allow (toolsets, read-only), the resources and the prompts,
and a lifespan that opens the API client and closes it on shutdown. Nothing runs at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.request_state import RequestStateSecurity
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    InputRequiredResult,
    ListResourcesResult,
    ListToolsResult,
    PaginatedRequestParams,
)
from pydantic import ValidationError
from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from hajatek_mcp.server.oauth import ExternalOAuth, OAuthSetup
    from hajatek_mcp.server.tenants import Tenants

from hajatek_mcp import __version__
from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import prompts, resources, ui
from hajatek_mcp.server.audit import SCHEMA as AUDIT_SCHEMA
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.backend import StateBackend
from hajatek_mcp.server.confirmations import SCHEMA as TOKENS_SCHEMA
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.directory import SCHEMA as DIRECTORY_SCHEMA
from hajatek_mcp.server.directory import CustomerDirectory
from hajatek_mcp.server.events import SCHEMA as EVENTS_SCHEMA
from hajatek_mcp.server.events import WEBHOOK_PATH, EventInbox
from hajatek_mcp.server.exports import SCHEMA as EXPORTS_SCHEMA
from hajatek_mcp.server.exports import ExportStore
from hajatek_mcp.server.fanout import relay_for
from hajatek_mcp.server.instructions import instructions
from hajatek_mcp.server.lazy import LazyPrompts, LazyTools
from hajatek_mcp.server.locks import TargetLocks
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.receiver import EventHub, webhook_route
from hajatek_mcp.server.schemas import inline_refs, published, slim
from hajatek_mcp.server.shop import OpenShops, Shop, bind_request_shop, request_shop
from hajatek_mcp.server.tools import TOOLS, ToolSpec

__all__ = ["HajatekServer", "assemble_server", "build_server", "request_store", "selected_tools", "unavailable_tools"]


def selected_tools(options: ServerOptions) -> list[ToolSpec]:
    """The tools this configuration registers: the chosen toolsets, and no write tool when read-only."""
    return [t for t in TOOLS if t.toolset in options.toolsets and (t.read_only or not options.read_only)]


def unavailable_tools(options: ServerOptions) -> dict[str, str]:
    """Why each tool this configuration leaves out is not there, as the answer to a call of it."""
    reasons: dict[str, str] = {}
    for spec in TOOLS:
        if spec.toolset not in options.toolsets:
            reasons[spec.name] = (
                f"{spec.name} is not available: its toolset '{spec.toolset}' is not enabled on this server "
                f"(--toolsets). Nothing was done."
            )
        elif options.read_only and not spec.read_only:
            reasons[spec.name] = f"{spec.name} is not available: this server is read-only. Nothing was changed."
    return reasons


def _tool(spec: ToolSpec, fn: Callable[..., Awaitable[Any]] | None = None) -> Tool:
    """The tool ``spec`` describes, of its function (or of ``fn``: the benchmarks' floor server's own)."""
    from hajatek_mcp.server.arguments import StrictTool  # noqa: PLC0415  # built after initialize (see lazy.py)

    function = spec.fn if fn is None else fn
    tool = StrictTool.from_function(
        function,
        name=spec.name,
        title=spec.title,
        description=" ".join((function.__doc__ or "").split()),
        annotations=spec.annotations,
        meta=ui.tool_meta(spec.name),
    )
    assert isinstance(tool, StrictTool)  # noqa: S101  # from_function builds its own class (typed as Tool)
    slim(tool.parameters)
    tool.declared = tool.parameters  # what the arguments are checked and explained against
    tool.parameters = {**published(tool.parameters), "additionalProperties": False}  # unknown ones are refused
    if tool.fn_metadata.output_schema is not None:
        slim(tool.fn_metadata.output_schema)
        inline_refs(tool.fn_metadata.output_schema)
    return tool


class HajatekServer(MCPServer[Any]):
    """The MCP server, plus the HTTP routes it needs served beside MCP (webhook receiver, OAuth consent page)."""

    unavailable: dict[str, str]
    """Tools this configuration leaves out, and why (a call of one says so instead of "unknown tool")."""
    webhook_routes: list[BaseRoute]
    webhook_status: str
    """Why the receiver is or is not served, for the start-up log."""
    oauth_routes: list[BaseRoute]
    on_close: list[Callable[[], None]]
    """What :meth:`close` closes: files the server opened when it was built (the built-in OAuth server's)."""
    tenants: Tenants | None = None
    """A multi-tenant server's connected stores (see :mod:`~hajatek_mcp.server.hosted`); None for one store."""
    services: list[Callable[[], AbstractAsyncContextManager[None]]]
    """What runs once per process while the HTTP app runs (the other replicas' events, heard through Redis)."""
    readiness: dict[str, Callable[[], Awaitable[None]]]
    """``/readyz``'s checks by name (the shared database, Redis): each raises, saying why, when not ready."""

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        return ui.visible_resources(ctx, await super()._handle_list_resources(ctx, params))

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ui.visible_tools(ctx, await super()._handle_list_tools(ctx, params))

    def close(self) -> None:
        """Close what the server opened when it was built, not per session (the lifespan closes those)."""
        while self.on_close:
            self.on_close.pop()()

    @property
    def public_routes(self) -> list[BaseRoute]:
        """Routes served beside MCP that authenticate themselves (signatures, the passphrase)."""
        return [*self.webhook_routes, *self.oauth_routes]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Shop, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """As the SDK's, but a tool this configuration leaves out says why (read-only, toolset off)."""
        if name in self.unavailable:
            raise ToolError(self.unavailable[name])
        return await super().call_tool(name, arguments, context)

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Shop, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """As the SDK's, but an unknown prompt or bad arguments are -32602 Invalid params, not an internal error."""
        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as exc:
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, ValidationError):
                cause = cause.__cause__
            if isinstance(cause, ValidationError):
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in cause.errors())
                message = f"Invalid arguments for prompt {name}: {problems}"
            else:
                message = f"{exc}; prompts/list names the prompts and their arguments"
            raise MCPError(INVALID_PARAMS, message, data={"name": name}) from exc


def _oauth(options: ServerOptions, backend: StateBackend) -> OAuthSetup | ExternalOAuth | None:
    if options.oauth_issuer is None:
        return None
    from hajatek_mcp.server.oauth import ExternalOAuth, OAuthSetup  # noqa: PLC0415  # only OAuth servers pay for it

    if options.oauth_external is not None:
        return ExternalOAuth(options.oauth_issuer, options.oauth_external)
    if options.oauth_passphrase is None:
        raise ValueError("the built-in OAuth server needs an admin passphrase (HAJATEK_OAUTH_PASSPHRASE)")
    return OAuthSetup(options.oauth_issuer, options.oauth_passphrase, backend, clock=options.clock)


def request_store() -> str:
    """The store id of the request being served (whose subscriptions these are)."""
    return request_shop().store_id


def _request_state(options: ServerOptions) -> RequestStateSecurity | None:
    """Seal multi-round-trip state with the keys every replica shares (None: the SDK's key of this process)."""
    if options.request_state_keys is None:
        return None
    return RequestStateSecurity(keys=[key.strip() for key in options.request_state_keys.get_secret_value().split(",")])


def assemble_server(
    options: ServerOptions,
    lifespan: Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]],
    hub: EventHub,
    oauth: OAuthSetup | ExternalOAuth | None,
    backend: StateBackend,
) -> HajatekServer:
    """The server with its tools, resources, prompts and subscriptions, for a lifespan that gives each request its
    shop (one store's, or a :class:`~hajatek_mcp.server.shop.ShopSource` of several); no webhook routes yet."""
    server = HajatekServer(
        "hajatek",
        title="Hajatek store" + (" (sandbox)" if options.sandbox else ""),
        description="Run a Hajatek store: catalog, orders, customers, analytics and store events.",
        instructions=instructions(options, selected_tools(options)),
        version=__version__,
        website_url="https://github.com/hajatek/hajatek-mcp",
        lifespan=lifespan,
        log_level="WARNING",
        subscriptions=hub.bus,
        middleware=[bind_request_shop],  # every handler finds the shop of its request (see shop.py)
        request_state_security=_request_state(options),
        extensions=[ui.extension()],
        **(oauth.server_arguments if oauth else {}),
    )
    server.oauth_routes = oauth.routes if oauth else []
    server.on_close = [oauth.close] if oauth else []
    server.unavailable = unavailable_tools(options)
    server.webhook_routes = []
    server.webhook_status = "webhook receiver off"
    server.services = [hub.running]
    server.readiness = {"database": backend.check}
    if hub.relay is not None:
        server.readiness["redis"] = hub.relay.link.ping
    hub.install(server)
    present = [spec.name for spec in selected_tools(options)]
    # Built on first read, after initialize is answered (see lazy.py); the SDK takes no registry of ours.
    server._tool_manager = LazyTools(lambda: [*map(_tool, selected_tools(options)), *ui.app_tools(present)])
    server._prompt_manager = LazyPrompts(lambda: prompts.register(server, options))
    resources.register(server, options)
    ui.register(server, present)
    return server


def build_server(
    options: ServerOptions, connect: Callable[[], AbstractAsyncContextManager[HajatekClient]]
) -> HajatekServer:
    """The MCP server for one store.

    ``connect`` opens the API client (a ``HajatekClient`` is its own context manager); the lifespan owns it and
    closes it, and whatever stands behind it, on shutdown. The lifespan also opens the store's durable state (audit
    log, confirmation tokens, event inbox, exports, customer directory) in the data dir, or in the PostgreSQL
    database of ``options.database_url`` (see :class:`~hajatek_mcp.server.backend.StateBackend`).
    """

    backend = StateBackend(options.state_dir, options.database_url)
    shops = OpenShops()
    hub = EventHub(request_store, relay_for(options.redis_url))
    locks = TargetLocks()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Shop]) -> AsyncIterator[Shop]:
        state = backend
        async with connect() as client:
            store_id = client.store_id or ""  # every piece of local state below is this store's alone
            if options.store_id is not None and store_id != options.store_id:
                raise ValueError(f"this server is for store {options.store_id}, but its client is for {store_id!r}")
            with ExitStack() as stack:
                audit = AuditLog(state.open("audit.db", AUDIT_SCHEMA), store_id=store_id, clock=options.clock)
                stack.callback(audit.close)
                confirmations = ConfirmationStore(
                    state.open("confirmations.db", TOKENS_SCHEMA),
                    store_id=store_id,
                    ttl=options.confirm_ttl,
                    clock=options.clock,
                )
                stack.callback(confirmations.close)
                inbox = EventInbox(
                    state.open("events.db", EVENTS_SCHEMA),
                    store_id=store_id,
                    retention_days=options.event_retention_days,
                    max_age=options.webhook_max_age,
                    clock=options.clock,
                    receiving=options.webhook_secret is not None,
                )
                stack.callback(inbox.close)
                exports = ExportStore(state.open("exports.db", EXPORTS_SCHEMA), store_id=store_id, clock=options.clock)
                stack.callback(exports.close)
                directory = CustomerDirectory(
                    state.open("directory.db", DIRECTORY_SCHEMA), store_id=store_id, clock=options.clock
                )
                stack.callback(directory.close)
                shop = Shop(
                    client=client,
                    options=options,
                    audit=audit,
                    confirmations=confirmations,
                    inbox=inbox,
                    exports=exports,
                    directory=directory,
                    locks=locks,
                )
                shops.add(shop)
                try:
                    yield shop
                finally:
                    shops.remove(shop)

    server = assemble_server(options, lifespan, hub, _oauth(options, backend), backend)
    server.on_close.insert(0, backend.close)  # last: after the stores that use it
    if options.webhook_secret is None:
        server.webhook_status = "webhook receiver off: set HAJATEK_WEBHOOK_SECRET to receive Hajatek's events"
    else:
        server.webhook_routes = [webhook_route(lambda: shops.get(options.store_id).inbox, hub, options.webhook_secret)]
        server.webhook_status = f"webhook receiver on at POST {WEBHOOK_PATH}"
    return server
