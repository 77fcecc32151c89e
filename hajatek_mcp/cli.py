"""The ``hajatek-mcp`` command: the only place that reads ``argv`` and the environment.

It builds settings → client → server and runs them. Serving is the default command, so ``hajatek-mcp --sandbox``
works as a Claude Desktop command line; the global flags (``--sandbox``, ``--read-only``, …) go before or after the
command. Heavy modules (the sandbox, uvicorn) are imported only by the paths that need them, so start-up stays near
the MCP SDK's own import cost.

Every fault of the environment ends the command with one line on stderr naming the cause and the fix, and a distinct
exit code (:class:`ExitCode`): settings, ports and state are checked before anything is announced or started.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import functools
import logging
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
from pydantic import SecretStr

from hajatek_mcp import __version__
from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import TOOLSETS, HajatekServer, ServerOptions, build_server
from hajatek_mcp.server.state import ExternalIssuer
from hajatek_mcp.server.statefile import (
    SANDBOX_DB,
    SANDBOX_DB_FIX,
    STATE_FILES,
    DataDirError,
    StateFileError,
    check_data_dir,
    check_state_file,
)
from hajatek_mcp.settings import Settings, SettingsError

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["ExitCode", "main"]

logger = logging.getLogger("hajatek_mcp.cli")

SANDBOX_KEY = "sk_sandbox_pro"
SANDBOX_STORE = "str_sandbox"
_TRUE = {"1", "true", "yes", "on"}


class ExitCode(IntEnum):
    """What the exit status of ``hajatek-mcp`` means; :data:`_EXIT_MEANINGS` says it in ``--help`` (and the README)."""

    OK = 0
    FAILED = 1
    CONFIGURATION = 2  # argparse's own usage errors are 2 as well
    PORT_BUSY = 3
    DATA_DIR = 4
    STATE_FILE = 5


_EXIT_MEANINGS = {
    ExitCode.OK: "done",
    ExitCode.FAILED: "the command failed: a tool answered with an error, doctor found a problem, an unknown OAuth app",
    ExitCode.CONFIGURATION: "a setting or flag is missing or malformed (the message names it and the fix)",
    ExitCode.PORT_BUSY: "a port to listen on is in use or cannot be bound: stop that program, or pass another port",
    ExitCode.DATA_DIR: "HAJATEK_DATA_DIR is a file or is not writable",
    ExitCode.STATE_FILE: "a state file in HAJATEK_DATA_DIR is damaged (the message names it and how to move it aside)",
}


class ListenError(Exception):
    """A port cannot be listened on. ``str()`` is one line: the port, why, the fix."""


#: The errors that end a command with their one-line message, and the exit code of each.
_FAULTS: dict[type[Exception], ExitCode] = {
    SettingsError: ExitCode.CONFIGURATION,
    ListenError: ExitCode.PORT_BUSY,
    DataDirError: ExitCode.DATA_DIR,
    StateFileError: ExitCode.STATE_FILE,
}


def _global_options(*, sub: bool) -> tuple[argparse.ArgumentParser, ...]:
    """Parents holding the global flags: (log level), (+ --sandbox), (+ the store flags).

    The main parser takes them before the command, with their defaults; each command takes them after itself with
    ``SUPPRESS`` as default, so a flag given before the command is not reset by the command's parser.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if sub else value

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default=default(None),
                        help="log level on stderr (default WARNING; env HAJATEK_LOG_LEVEL)")  # fmt: skip
    sandbox = argparse.ArgumentParser(add_help=False, parents=[common])
    sandbox.add_argument("--sandbox", action="store_true", default=default(False),
                         help="use the embedded sandbox store, no account needed (env HAJATEK_SANDBOX)")  # fmt: skip
    store = argparse.ArgumentParser(add_help=False, parents=[sandbox])
    store.add_argument("--read-only", action="store_true", default=default(None),
                       help="register no tool that changes the store (env HAJATEK_READ_ONLY)")  # fmt: skip
    store.add_argument("--confirm", choices=["auto", "token", "none"], default=default(None),
                       help="how destructive changes are confirmed: auto (ask the user when the client can, else a "
                       "single-use token; default), token, or none (trust the host's own approval; env "
                       "HAJATEK_CONFIRM)")  # fmt: skip
    store.add_argument("--redact-pii", action="store_true", default=default(None),
                       help="mask customer emails and phones in all output (env HAJATEK_REDACT_PII)")  # fmt: skip
    store.add_argument("--toolsets", metavar="LIST", default=default(None),
                       help=f"comma-separated subset of {','.join(TOOLSETS)} (env HAJATEK_TOOLSETS)")  # fmt: skip
    return common, sandbox, store


def _parser() -> argparse.ArgumentParser:
    common, with_sandbox, store = _global_options(sub=True)

    parser = argparse.ArgumentParser(
        prog="hajatek-mcp",
        parents=[_global_options(sub=False)[2]],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="MCP server for Hajatek stores. Configuration comes from HAJATEK_* environment variables (see\n"
        "the README); flags override them. Without a command, serves MCP on stdio. The global flags\n"
        "(--sandbox, --read-only, ...) go before or after the command.",
        epilog="exit codes:\n" + "".join(f"  {code}  {meaning}\n" for code, meaning in _EXIT_MEANINGS.items()),
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
    _webhook_options(serve, "with stdio: also receive webhooks on this port (POST /webhooks/hajatek)")
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
    call.add_argument("--yes", "-y", action="store_true",
                      help="answer yes when a change asks for confirmation (for scripts; on a terminal you are "
                      "asked y/N, elsewhere you get a preview and a confirmation token)")  # fmt: skip
    sub.add_parser("demo", parents=[with_sandbox],
                   help="a guided tour of a fresh sandbox store through a real MCP client")  # fmt: skip

    doctor = sub.add_parser("doctor", aliases=["check"], parents=[with_sandbox],
                            help="check the configuration, the data dir, the connection, the store and the "
                            "webhooks")  # fmt: skip
    _webhook_options(doctor, "also check that the stdio server's webhook listener can listen on this port")

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


def _webhook_options(parser: argparse.ArgumentParser, port_help: str) -> None:
    parser.add_argument("--webhook-port", type=int, metavar="PORT", help=port_help)
    parser.add_argument("--webhook-host", default="127.0.0.1",
                        help="interface of that listener (default 127.0.0.1; put a tunnel in front)")  # fmt: skip


def _with_command(args: list[str]) -> list[str]:
    """``args`` with ``serve`` first when they name no command (serving is the default command)."""
    _, rest = argparse.ArgumentParser(add_help=False, parents=[_global_options(sub=False)[2]]).parse_known_args(args)
    if any(arg in _COMMANDS or arg in {"-h", "--help", "--version"} for arg in rest):
        return args
    return ["serve", *args]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code (see :class:`ExitCode`)."""
    args = _parser().parse_args(_with_command(list(sys.argv[1:] if argv is None else argv)))
    env = os.environ
    if args.sandbox is False and env.get("HAJATEK_SANDBOX", "").strip().lower() in _TRUE:
        args.sandbox = True  # the bundle's "Use the demo store" switch
    level = args.log_level or env.get("HAJATEK_LOG_LEVEL", "").upper() or "WARNING"
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args, env)
    except Exception as exc:
        fault = _fault(exc)
        if fault is None:
            raise
        print(f"hajatek-mcp: {fault}", file=sys.stderr)
        return next(code for kind, code in _FAULTS.items() if isinstance(fault, kind))


def _fault(exc: BaseException) -> Exception | None:
    """The known fault in ``exc``, also when it comes out of a task group (the server's lifespan runs in one)."""
    if isinstance(exc, BaseExceptionGroup):
        return next((found for inner in exc.exceptions if (found := _fault(inner)) is not None), None)
    return exc if isinstance(exc, Exception) and isinstance(exc, tuple(_FAULTS)) else None


def _run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    try:
        return _COMMANDS[args.command](args, env)
    except* BrokenPipeError:  # `hajatek-mcp tools | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return ExitCode.OK


def _bind(host: str, port: int, flag: str) -> list[socket.socket]:
    """Listening sockets on every address of ``host``; :class:`ListenError` (one line, with the fix) if one fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}: {exc.strerror}; pass an address of this machine") from None
    bound: list[socket.socket] = []
    for family, kind, proto, _, address in dict.fromkeys(infos):
        sock = socket.socket(family, kind, proto)
        bound.append(sock)
        try:
            if sys.platform != "win32":  # as uvicorn does: a port whose old connections wait out TIME_WAIT is free
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
        except OSError as exc:
            for opened in bound:
                opened.close()
            if exc.errno in {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}:
                raise ListenError(f"port {port} on {host} is in use (another hajatek-mcp?): stop it or pass "
                                  f"{flag} N") from None  # fmt: skip
            raise ListenError(f"cannot listen on port {port} on {host} ({exc.strerror}): pass another {flag}, or an "
                              "address of this machine") from None  # fmt: skip
    return bound


def _url(host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}{path}"


def _cmd_doctor(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.doctor import WebhookPort, read_settings, run_doctor  # noqa: PLC0415

    settings, malformed = read_settings(env)
    connect: Callable[[], AbstractAsyncContextManager[HajatekClient]] | None = None
    if args.sandbox:
        connect = functools.partial(_sandbox_client, str(settings.data_dir / SANDBOX_DB), 0.0, None, [])
    elif settings.api_key is not None and settings.store_id is not None:
        connect = _api_connector(settings)
    webhook = None
    if args.webhook_port is not None:
        try:
            for sock in _bind(args.webhook_host, args.webhook_port, "--webhook-port"):
                sock.close()
            problem = None
        except ListenError as exc:
            problem = str(exc)
        webhook = WebhookPort(args.webhook_host, args.webhook_port, problem)
    run = functools.partial(run_doctor, settings, connect, sandbox=args.sandbox, malformed=malformed, webhook=webhook)
    code = anyio.run(run)
    return ExitCode.CONFIGURATION if malformed.errors else code


def _cmd_sandbox(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return _run_sandbox(args, env.get("HAJATEK_WEBHOOK_SECRET"))


def _cmd_demo(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.demo import run_demo  # noqa: PLC0415

    # A fresh store in memory for every tour: the same tour each time, and the user's --sandbox store left alone.
    return anyio.run(run_demo, _sandbox_server(ServerOptions(sandbox=True), ":memory:"))


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
    options = _options(args, settings, env)
    if not args.sandbox:
        return build_server(options, _api_connector(settings))
    return _sandbox_server(options, str(settings.data_dir / SANDBOX_DB), getattr(args, "activity", 0.0))


def _sandbox_server(options: ServerOptions, db_path: str, activity: float = 0.0) -> HajatekServer:
    """The server on the in-process sandbox (kept in ``db_path``), whose webhooks loop back into this server."""
    from starlette.applications import Starlette  # noqa: PLC0415

    secret = options.webhook_secret or SecretStr(secrets.token_urlsafe(32))
    options = dataclasses.replace(options, webhook_secret=secret)
    receiver: list[Starlette] = []  # filled once the server exists; read when the lifespan opens the sandbox
    connect = functools.partial(_sandbox_client, db_path, activity, secret, receiver)
    server = build_server(options, connect)
    receiver.append(Starlette(routes=server.webhook_routes))
    return server


def _cmd_tools(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.scripting import print_tools  # noqa: PLC0415

    settings = _settings(args, env)
    server = _server(args, settings, env)
    check_data_dir(settings.data_dir, sandbox=args.sandbox)
    return anyio.run(print_tools, server)


def _cmd_call(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.scripting import Confirming, call_tool, parse_arguments  # noqa: PLC0415

    arguments = parse_arguments(args.arguments, args.json_args)
    settings = _settings(args, env)
    server = _server(args, settings, env)
    check_data_dir(settings.data_dir, sandbox=args.sandbox)
    # On a terminal the person typing is the human in the loop: a guarded change asks them y/N.
    confirming: Confirming | None = "yes" if args.yes else "ask" if sys.stdin.isatty() else None
    return anyio.run(functools.partial(call_tool, server, args.tool, arguments, confirming=confirming))


def _cmd_serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = _settings(args, env)
    if args.transport == "stdio":
        return _serve_stdio(args, settings, env)
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
    check_data_dir(settings.data_dir, sandbox=args.sandbox)
    for sock in _bind(args.host, args.port, "--port"):  # a busy port is said before "serving", not after
        sock.close()
    path = "/mcp" if args.transport == "streamable-http" else "/sse"
    print(f"hajatek-mcp: serving MCP over {args.transport} on {_url(args.host, args.port, path)}", file=sys.stderr)
    print(f"hajatek-mcp: {server.webhook_status}", file=sys.stderr)
    if settings.oauth_issuer and settings.oauth_external_issuer:
        print(f"hajatek-mcp: OAuth on; tokens of {settings.oauth_external_issuer} checked by introspection",
              file=sys.stderr)  # fmt: skip
    elif settings.oauth_issuer:
        print(f"hajatek-mcp: OAuth on; consent page at {settings.oauth_issuer}/oauth/consent", file=sys.stderr)
    serve_http(server, args.transport, host=args.host, port=args.port, security=security, routes=server.public_routes)
    return ExitCode.OK


def _serve_stdio(args: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> int:
    """MCP on stdio; with ``--webhook-port`` a webhook listener beside it, whose failure never stops MCP."""
    server = _server(args, settings, env)
    check_data_dir(settings.data_dir, sandbox=args.sandbox)
    if args.webhook_port is None:
        server.run("stdio")
        return ExitCode.OK
    if not server.webhook_routes:
        print(f"hajatek-mcp: {server.webhook_status}", file=sys.stderr)
        raise SettingsError("--webhook-port needs HAJATEK_WEBHOOK_SECRET (the signing secret from the dashboard)")
    from hajatek_mcp.server.events import WEBHOOK_PATH  # noqa: PLC0415

    try:
        sockets = _bind(args.webhook_host, args.webhook_port, "--webhook-port")
    except ListenError as exc:
        logger.warning("webhook listener could not start: %s; MCP on stdio goes on without webhooks", exc)
        server.run("stdio")
        return ExitCode.OK
    port = sockets[0].getsockname()[1]
    print(f"hajatek-mcp: webhook listener on {_url(args.webhook_host, port, WEBHOOK_PATH)}", file=sys.stderr)
    anyio.run(_stdio_with_webhooks, server, sockets)
    return ExitCode.OK


async def _stdio_with_webhooks(server: HajatekServer, sockets: list[socket.socket]) -> None:
    """MCP on stdio, and beside it a small HTTP listener that only receives webhooks (for Claude Desktop users)."""
    import uvicorn  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415

    # log_config=None and no access log: uvicorn's defaults would print to stdout, which is the MCP protocol here.
    config = uvicorn.Config(Starlette(routes=server.webhook_routes), log_config=None, access_log=False,
                            lifespan="off")  # fmt: skip
    listener = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(functools.partial(listener.serve, sockets=sockets))
        try:
            await server.run_stdio_async()
        finally:
            listener.should_exit = True


def _cmd_oauth(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hajatek_mcp.server.audit import AuditLog  # noqa: PLC0415
    from hajatek_mcp.server.oauth import OAuthStore  # noqa: PLC0415

    settings = Settings.from_env(env)
    path = settings.data_dir / "oauth.db"
    unknown = f"hajatek-mcp: no app has the client id {args.client_id!r}" if args.oauth_command == "revoke" else ""
    if not path.exists():
        if unknown:
            print(f"{unknown}: no app has been granted access in {settings.data_dir}", file=sys.stderr)
            return ExitCode.FAILED
        print(f"No OAuth state in {settings.data_dir}: no app has been granted access.")
        return ExitCode.OK
    check_state_file(path, STATE_FILES["oauth.db"])
    check_state_file(settings.data_dir / "audit.db", STATE_FILES["audit.db"])
    store = OAuthStore(path)
    try:
        clients = store.clients()
        if args.oauth_command == "revoke":
            if args.client_id not in {client["client_id"] for client in clients}:
                print(f"{unknown}: `hajatek-mcp oauth clients` lists the registered apps", file=sys.stderr)
                return ExitCode.FAILED
            removed = store.revoke_client(args.client_id)
            audit = AuditLog(settings.data_dir / "audit.db")
            audit.record("oauth.revoke", {"by": "cli"}, "executed", "host", target=args.client_id)
            audit.close()
            print(f"Revoked {args.client_id}: {removed} tokens removed; the app must ask for consent again.")
            return ExitCode.OK
    finally:
        store.close()
    if not clients:
        print("No app has registered.")
    for client in clients:
        print(f"{client['client_id']}  {client['client_name'] or '(no name)'}  scopes: {client['scopes'] or '-'}  "
              f"live grants: {client['live_grants']}")  # fmt: skip
    return ExitCode.OK


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


def _run_sandbox(args: argparse.Namespace, env_secret: str | None) -> int:
    from hajatek_mcp.sandbox import SandboxConfig, banner, serve  # noqa: PLC0415  # lazy: uvicorn is heavy

    secret = args.webhook_secret or env_secret or None
    if args.webhook_url and not secret:
        raise SettingsError("--webhook-url needs a signing secret: pass --webhook-secret or set HAJATEK_WEBHOOK_SECRET")
    if args.db:
        check_state_file(args.db, "the sandbox store", fix=SANDBOX_DB_FIX)
    config = SandboxConfig(
        db_path=str(args.db) if args.db else ":memory:",
        seed=args.seed,
        webhook_url=args.webhook_url,
        webhook_secret=secret,
        activity=args.activity,
        enable_admin=args.enable_admin,
    )
    sockets = _bind(args.host, args.port, "--port")  # before the banner: a busy port is said first, and only
    print(banner(config, args.host, args.port), flush=True)
    serve(config, host=args.host, port=args.port, sockets=sockets)
    return ExitCode.OK
