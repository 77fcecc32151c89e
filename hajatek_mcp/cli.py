"""The ``hajatek-mcp`` command: the only place that reads ``argv`` and the environment.

It builds settings → client → server and runs them. Serving is the default command, so ``hajatek-mcp --sandbox``
works as a Claude Desktop command line. Heavy modules (the sandbox, uvicorn) are imported only by the paths that
need them, so start-up stays near the MCP SDK's own import cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
from pydantic import SecretStr

from hajatek_mcp import __version__
from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import TOOLSETS, HajatekServer, ServerOptions, build_server
from hajatek_mcp.server.state import ExternalIssuer
from hajatek_mcp.settings import Settings, SettingsError

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["main"]

SANDBOX_KEY = "sk_sandbox_pro"
SANDBOX_STORE = "str_sandbox"
_TRUE = {"1", "true", "yes", "on"}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level on stderr (default WARNING; env HAJATEK_LOG_LEVEL)")  # fmt: skip

    store = argparse.ArgumentParser(add_help=False, parents=[common])
    store.add_argument("--sandbox", action="store_true",
                       help="use the embedded sandbox store, no account needed (env HAJATEK_SANDBOX)")  # fmt: skip
    store.add_argument("--read-only", action="store_true", default=None,
                       help="register no tool that changes the store (env HAJATEK_READ_ONLY)")  # fmt: skip
    store.add_argument("--confirm", choices=["auto", "token", "none"],
                       help="how destructive changes are confirmed: auto (ask the user when the client can, else a "
                       "single-use token; default), token, or none (trust the host's own approval; env "
                       "HAJATEK_CONFIRM)")  # fmt: skip
    store.add_argument("--redact-pii", action="store_true", default=None,
                       help="mask customer emails and phones in all output (env HAJATEK_REDACT_PII)")  # fmt: skip
    store.add_argument("--toolsets", metavar="LIST",
                       help=f"comma-separated subset of {','.join(TOOLSETS)} (env HAJATEK_TOOLSETS)")  # fmt: skip

    parser = argparse.ArgumentParser(
        prog="hajatek-mcp",
        description="MCP server for Hajatek stores. Configuration comes from HAJATEK_* environment variables "
        "(see the README); flags override them. Without a command, serves MCP on stdio.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[store], help="serve MCP (the default command)")
    serve.add_argument("--transport", choices=["stdio", "streamable-http", "sse"], default="stdio",
                       help="stdio (default, for Claude Desktop), streamable-http (endpoint /mcp) or sse")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="HTTP interface (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--auth-token", help="require 'Authorization: Bearer TOKEN' on HTTP (prefer the env "
                       "HAJATEK_MCP_AUTH_TOKEN: command lines are visible to other users)")  # fmt: skip
    serve.add_argument("--allowed-host", action="append", metavar="HOST",
                       help="Host header to accept besides loopback (repeatable; HAJATEK_ALLOWED_HOSTS)")  # fmt: skip
    serve.add_argument("--allowed-origin", action="append", metavar="ORIGIN",
                       help="browser Origin to accept (repeatable; env HAJATEK_ALLOWED_ORIGINS)")  # fmt: skip
    serve.add_argument("--oauth-issuer", metavar="URL",
                       help="run the built-in OAuth server; URL is this server's public https address "
                       "(env HAJATEK_OAUTH_ISSUER; needs HAJATEK_OAUTH_PASSPHRASE)")  # fmt: skip
    serve.add_argument("--webhook-port", type=int, metavar="PORT",
                       help="with stdio: also receive webhooks on this port (POST /webhooks/hajatek)")  # fmt: skip
    serve.add_argument("--webhook-host", default="127.0.0.1",
                       help="interface of that listener (default 127.0.0.1; put a tunnel in front)")  # fmt: skip
    serve.add_argument("--activity", type=float, default=0.0, metavar="N",
                       help="with --sandbox: simulate N new orders a minute, so events arrive live")  # fmt: skip
    serve.add_argument("--dangerously-allow-unauthenticated", action="store_true",
                       help="serve a non-loopback address WITHOUT an auth token (anyone who reaches the port can "
                       "act on the store)")  # fmt: skip

    sub.add_parser("tools", parents=[store], help="list the tools this configuration offers")
    call = sub.add_parser("call", parents=[store], help="call one tool through an MCP client and print the result")
    call.add_argument("tool", help="tool name, e.g. list_orders")
    call.add_argument("arguments", nargs="*", metavar="key=value", help="tool arguments (numbers are parsed)")
    call.add_argument("--json", dest="json_args", metavar="OBJECT", help="tool arguments as one JSON object")
    sub.add_parser("demo", parents=[common], help="a guided tour of the sandbox store through a real MCP client")

    doctor = sub.add_parser("doctor", aliases=["check"], parents=[common],
                            help="check the configuration, the connection, the store and the webhooks")  # fmt: skip
    doctor.add_argument("--sandbox", action="store_true", help="check the embedded sandbox store instead")

    oauth = sub.add_parser("oauth", parents=[common], help="list or revoke the apps granted access over OAuth")
    oauth_sub = oauth.add_subparsers(dest="oauth_command", metavar="ACTION", required=True)
    oauth_sub.add_parser("clients", help="list registered apps and their grants")
    revoke = oauth_sub.add_parser("revoke", help="revoke every token of an app (it must ask for consent again)")
    revoke.add_argument("client_id")

    sandbox = sub.add_parser("sandbox", parents=[common], help="run the local Hajatek API sandbox over HTTP")
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
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in _COMMANDS and args_list[0] not in {"-h", "--help", "--version"}):
        args_list.insert(0, "serve")  # serving is the default command
    args = _parser().parse_args(args_list)
    env = os.environ
    if getattr(args, "sandbox", None) is False and env.get("HAJATEK_SANDBOX", "").strip().lower() in _TRUE:
        args.sandbox = True  # the bundle's "Use the demo store" switch
    level = args.log_level or env.get("HAJATEK_LOG_LEVEL", "").upper() or "WARNING"
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args, env)
    except SettingsError as exc:
        print(f"hajatek-mcp: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    try:
        return _COMMANDS[args.command](args, env)
    except* BrokenPipeError:  # `hajatek-mcp tools | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _cmd_doctor(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.doctor import run_doctor  # noqa: PLC0415

    settings = Settings.from_env(env)
    connect: Callable[[], AbstractAsyncContextManager[HajatekClient]] | None = None
    if args.sandbox:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        connect = functools.partial(_sandbox_client, settings.data_dir / "sandbox.db", 0.0, None, [])
    elif settings.api_key is not None and settings.store_id is not None:
        connect = _api_connector(settings)
    return anyio.run(functools.partial(run_doctor, settings, connect, sandbox=args.sandbox))


def _cmd_sandbox(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return _run_sandbox(args, env.get("HAJATEK_WEBHOOK_SECRET"))


def _cmd_demo(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.demo import run_demo  # noqa: PLC0415

    settings = Settings.from_env(env)
    return anyio.run(run_demo, _build(ServerOptions(sandbox=True), settings, sandbox=True))


def _settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
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


def _server(args: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> HajatekServer:
    return _build(_options(args, settings, env), settings, sandbox=args.sandbox,
                  activity=getattr(args, "activity", 0.0))  # fmt: skip


def _build(options: ServerOptions, settings: Settings, *, sandbox: bool, activity: float = 0.0) -> HajatekServer:
    """The server on the real API, or on the in-process sandbox whose webhooks loop back into this server."""
    if not sandbox:
        return build_server(options, _api_connector(settings))
    from starlette.applications import Starlette  # noqa: PLC0415

    secret = options.webhook_secret or SecretStr(secrets.token_urlsafe(32))
    options = dataclasses.replace(options, webhook_secret=secret)
    receiver: list[Starlette] = []  # filled once the server exists; read when the lifespan opens the sandbox
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    connect = functools.partial(_sandbox_client, settings.data_dir / "sandbox.db", activity, secret, receiver)
    server = build_server(options, connect)
    receiver.append(Starlette(routes=server.webhook_routes))
    return server


def _cmd_tools(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.scripting import print_tools  # noqa: PLC0415

    return anyio.run(print_tools, _server(args, _settings(args, env), env))


def _cmd_call(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.scripting import call_tool, parse_arguments  # noqa: PLC0415

    arguments = parse_arguments(args.arguments, args.json_args)
    return anyio.run(call_tool, _server(args, _settings(args, env), env), args.tool, arguments)


def _cmd_serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = _settings(args, env)
    if args.transport == "stdio":
        server = _server(args, settings, env)
        if args.webhook_port is None:
            server.run("stdio")
            return 0
        print(f"hajatek-mcp: {server.webhook_status}", file=sys.stderr)
        if not server.webhook_routes:
            raise SettingsError("--webhook-port needs HAJATEK_WEBHOOK_SECRET (the signing secret from the dashboard)")
        anyio.run(_stdio_with_webhooks, server, args.webhook_host, args.webhook_port)
        return 0
    from hajatek_mcp.server.http import HttpSecurity, check_bind, serve_http  # noqa: PLC0415

    hosts, origins = list(settings.allowed_hosts), list(settings.allowed_origins)
    if settings.oauth_issuer:  # the consent page is posted from the issuer's origin, to the issuer's host
        issuer = urlsplit(settings.oauth_issuer)
        hosts.append(issuer.netloc)
        origins.append(f"{issuer.scheme}://{issuer.netloc}")
    security = HttpSecurity(
        auth_token=settings.mcp_auth_token,
        allowed_hosts=tuple(hosts),
        allowed_origins=tuple(origins),
        allow_unauthenticated_remote=args.dangerously_allow_unauthenticated,
        oauth=settings.oauth_issuer is not None,
    )
    check_bind(args.host, security)  # before anything starts: a refused bind changes nothing
    server = _server(args, settings, env)
    path = "/mcp" if args.transport == "streamable-http" else "/sse"
    print(f"hajatek-mcp: serving MCP over {args.transport} on http://{args.host}:{args.port}{path}", file=sys.stderr)
    print(f"hajatek-mcp: {server.webhook_status}", file=sys.stderr)
    if settings.oauth_issuer and settings.oauth_external_issuer:
        print(f"hajatek-mcp: OAuth on; tokens of {settings.oauth_external_issuer} checked by introspection",
              file=sys.stderr)  # fmt: skip
    elif settings.oauth_issuer:
        print(f"hajatek-mcp: OAuth on; consent page at {settings.oauth_issuer}/oauth/consent", file=sys.stderr)
    serve_http(server, args.transport, host=args.host, port=args.port, security=security, routes=server.public_routes)
    return 0


async def _stdio_with_webhooks(server: HajatekServer, host: str, port: int) -> None:
    """MCP on stdio, and beside it a small HTTP listener that only receives webhooks (for Claude Desktop users)."""
    import uvicorn  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415

    # log_config=None and no access log: uvicorn's defaults would print to stdout, which is the MCP protocol here.
    config = uvicorn.Config(Starlette(routes=server.webhook_routes), host=host, port=port, log_config=None,
                            access_log=False, lifespan="off")  # fmt: skip
    listener = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve)
        try:
            await server.run_stdio_async()
        finally:
            listener.should_exit = True


def _cmd_oauth(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.server.audit import AuditLog  # noqa: PLC0415
    from hajatek_mcp.server.oauth import OAuthStore  # noqa: PLC0415

    settings = Settings.from_env(env)
    path = settings.data_dir / "oauth.db"
    if not path.exists():
        print(f"No OAuth state in {settings.data_dir}: no app has been granted access.")
        return 0
    store = OAuthStore(path)
    try:
        if args.oauth_command == "revoke":
            removed = store.revoke_client(args.client_id)
            audit = AuditLog(settings.data_dir / "audit.db")
            audit.record("oauth.revoke", {"by": "cli"}, "executed", "host", target=args.client_id)
            audit.close()
            print(f"Revoked {args.client_id}: {removed} tokens removed; the app must ask for consent again.")
            return 0
        clients = store.clients()
    finally:
        store.close()
    if not clients:
        print("No app has registered.")
    for client in clients:
        print(f"{client['client_id']}  {client['client_name'] or '(no name)'}  scopes: {client['scopes'] or '-'}  "
              f"live grants: {client['live_grants']}")  # fmt: skip
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, Mapping[str, str]], int]] = {
    "serve": _cmd_serve,
    "tools": _cmd_tools,
    "call": _cmd_call,
    "demo": _cmd_demo,
    "doctor": _cmd_doctor,
    "check": _cmd_doctor,
    "sandbox": _cmd_sandbox,
    "oauth": _cmd_oauth,
}


def _options(args: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> ServerOptions:
    read_only = args.read_only if args.read_only is not None else env.get("HAJATEK_READ_ONLY", "").lower() in _TRUE
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


def _api_connector(settings: Settings) -> Callable[[], HajatekClient]:
    """Opens the client of the real API from settings (a missing key or store id stops here, with the fix)."""
    key, store_id = settings.require_api_credentials()

    def api_client() -> HajatekClient:
        return HajatekClient(
            key, store_id=store_id, base_url=settings.base_url, plan=settings.plan, rate_limit=settings.rate_limit,
            timeout=settings.timeout, max_retries=settings.max_retries,
        )  # fmt: skip

    return api_client


@asynccontextmanager
async def _sandbox_client(
    db_path: Path, activity: float, secret: SecretStr | None, receiver: list[Starlette]
) -> AsyncIterator[HajatekClient]:
    """The in-process sandbox (kept in the data dir); its signed webhooks go to ``receiver`` when there is one."""
    import httpx2  # noqa: PLC0415

    from hajatek_mcp.sandbox import SandboxConfig, create_app  # noqa: PLC0415  # only --sandbox pays for it
    from hajatek_mcp.server.events import WEBHOOK_PATH  # noqa: PLC0415

    loop_back = secret is not None and bool(receiver)
    config = SandboxConfig(
        db_path=str(db_path),
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


def _run_sandbox(args: argparse.Namespace, env_secret: str | None) -> int:
    from hajatek_mcp.sandbox import SandboxConfig, banner, serve  # noqa: PLC0415  # lazy: uvicorn is heavy

    secret = args.webhook_secret or env_secret or None
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
