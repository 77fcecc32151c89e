"""The ``hajatek-mcp`` command: the only place that reads ``argv`` and the environment.

It reads the environment once, into :class:`Settings` with the flags given winning, then builds client → server
from those settings and runs them. Serving is the default command, so ``hajatek-mcp --sandbox``
works as a Claude Desktop command line; the global flags (``--sandbox``, ``--read-only``, …) go before or after the
command. Heavy modules (the sandbox, uvicorn) are imported only by the paths that need them, so start-up stays near
the MCP SDK's own import cost.

Every fault of the environment ends the command with one line on stderr naming the cause and the fix, and a distinct
exit code (:class:`ExitCode`): settings, ports and state are checked before anything is announced or started.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from urllib.parse import urlsplit

import anyio

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.commandline import ExitCode, global_options, parser, setting_flags
from hajatek_mcp.listening import ListenError, bind, stdio_with_webhooks, url
from hajatek_mcp.server import ServerOptions
from hajatek_mcp.settings import Settings, SettingsError
from hajatek_mcp.storage.files import (
    SANDBOX_DB,
    SANDBOX_DB_FIX,
    STATE_FILES,
    DataDirError,
    StateFileError,
    check_data_dir,
    check_state_file,
)
from hajatek_mcp.wiring import api_connector, sandbox_client, sandbox_server, server_for

__all__ = ["ExitCode", "main"]

logger = logging.getLogger("hajatek_mcp.cli")


#: The errors that end a command with their one-line message, and the exit code of each.
_FAULTS: dict[type[Exception], ExitCode] = {
    SettingsError: ExitCode.CONFIGURATION,
    ListenError: ExitCode.PORT_BUSY,
    DataDirError: ExitCode.DATA_DIR,
    StateFileError: ExitCode.STATE_FILE,
}


def _with_command(args: list[str]) -> list[str]:
    """``args`` with ``serve`` first when they name no command (serving is the default command)."""
    _, rest = argparse.ArgumentParser(add_help=False, parents=[global_options(sub=False)[2]]).parse_known_args(args)
    if any(arg in _COMMANDS or arg in _DOCTOR or arg in {"-h", "--help", "--version"} for arg in rest):
        return args
    return ["serve", *args]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code (see :class:`ExitCode`)."""
    args = parser().parse_args(_with_command(list(sys.argv[1:] if argv is None else argv)))
    try:
        # The one read of the environment. A malformed variable is left at its default here, so that doctor can
        # report it and check the rest; every other command stops on it (see _run).
        settings, malformed = Settings.from_env_lenient(os.environ, **setting_flags(args))
        logging.basicConfig(level=settings.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
        return _run(args, settings, malformed)
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


def _run(args: argparse.Namespace, settings: Settings, malformed: Mapping[str, str]) -> int:
    if args.command in _DOCTOR:
        return _cmd_doctor(args, settings, malformed)
    if malformed:
        raise SettingsError(next(iter(malformed.values())))  # the first, as Settings.from_env would have raised it
    try:
        return _COMMANDS[args.command](args, settings)
    except* BrokenPipeError:  # `hajatek-mcp tools | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return ExitCode.OK


def _cmd_doctor(args: argparse.Namespace, settings: Settings, malformed: Mapping[str, str]) -> int:
    from hajatek_mcp.doctor import WebhookPort, run_doctor  # noqa: PLC0415

    connect: Callable[[], AbstractAsyncContextManager[HajatekClient]] | None = None
    if settings.sandbox:
        connect = functools.partial(sandbox_client, str(settings.data_dir / SANDBOX_DB), 0.0, None, [])
    elif settings.api_key is not None and settings.store_id is not None:
        connect = api_connector(settings)
    webhook = None
    if args.webhook_port is not None:
        try:
            for sock in bind(args.webhook_host, args.webhook_port, "--webhook-port"):
                sock.close()
            problem = None
        except ListenError as exc:
            problem = str(exc)
        webhook = WebhookPort(args.webhook_host, args.webhook_port, problem)
    code = anyio.run(functools.partial(run_doctor, settings, connect, malformed=malformed, webhook=webhook))
    return ExitCode.CONFIGURATION if malformed else code


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.demo import run_demo  # noqa: PLC0415

    # A fresh store in memory for every tour, with the default options: the same tour each time, whatever the
    # settings, and the user's --sandbox store left alone.
    return anyio.run(run_demo, sandbox_server(ServerOptions(sandbox=True), ":memory:"))


def _cmd_tools(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.scripting import print_tools  # noqa: PLC0415

    server = server_for(settings)
    check_data_dir(settings.data_dir, sandbox=settings.sandbox)
    return anyio.run(print_tools, server)


def _cmd_call(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.scripting import Confirming, call_tool, parse_arguments  # noqa: PLC0415

    arguments = parse_arguments(args.arguments, args.json_args)
    server = server_for(settings)
    check_data_dir(settings.data_dir, sandbox=settings.sandbox)
    # On a terminal the person typing is the human in the loop: a guarded change asks them y/N.
    confirming: Confirming | None = "yes" if args.yes else "ask" if sys.stdin.isatty() else None
    return anyio.run(functools.partial(call_tool, server, args.tool, arguments, confirming=confirming))


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.transport == "stdio":
        return _serve_stdio(args, settings)
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
    server = server_for(settings, transport=args.transport, activity=args.activity)
    check_data_dir(settings.data_dir, sandbox=settings.sandbox)
    for sock in bind(args.host, args.port, "--port"):  # a busy port is said before "serving", not after
        sock.close()
    path = "/mcp" if args.transport == "streamable-http" else "/sse"
    print(f"hajatek-mcp: serving MCP over {args.transport} on {url(args.host, args.port, path)}", file=sys.stderr)
    print(f"hajatek-mcp: {server.webhook_status}", file=sys.stderr)
    if settings.oauth_issuer and settings.oauth_external_issuer:
        print(
            f"hajatek-mcp: OAuth on; tokens of {settings.oauth_external_issuer} checked by introspection",
            file=sys.stderr,
        )
    elif settings.oauth_issuer:
        print(f"hajatek-mcp: OAuth on; consent page at {settings.oauth_issuer}/oauth/consent", file=sys.stderr)
    try:
        serve_http(
            server,
            args.transport,
            host=args.host,
            port=args.port,
            security=security,
            routes=server.public_routes,
            services=server.services,
            readiness=server.readiness,
        )
    finally:
        server.close()
    return ExitCode.OK


def _serve_stdio(args: argparse.Namespace, settings: Settings) -> int:
    """MCP on stdio; with ``--webhook-port`` a webhook listener beside it, whose failure never stops MCP."""
    server = server_for(settings, activity=args.activity)
    check_data_dir(settings.data_dir, sandbox=settings.sandbox)
    if args.webhook_port is None:
        server.run("stdio")
        return ExitCode.OK
    if not server.webhook_routes:
        print(f"hajatek-mcp: {server.webhook_status}", file=sys.stderr)
        raise SettingsError("--webhook-port needs HAJATEK_WEBHOOK_SECRET (the signing secret from the dashboard)")
    from hajatek_mcp.server.events import WEBHOOK_PATH  # noqa: PLC0415

    try:
        sockets = bind(args.webhook_host, args.webhook_port, "--webhook-port")
    except ListenError as exc:
        logger.warning("webhook listener could not start: %s; MCP on stdio goes on without webhooks", exc)
        server.run("stdio")
        return ExitCode.OK
    port = sockets[0].getsockname()[1]
    print(f"hajatek-mcp: webhook listener on {url(args.webhook_host, port, WEBHOOK_PATH)}", file=sys.stderr)
    anyio.run(stdio_with_webhooks, server, sockets)
    return ExitCode.OK


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
        clients = anyio.run(store.clients)
        if args.oauth_command == "revoke":
            if args.client_id not in {client["client_id"] for client in clients}:
                print(f"{unknown}: `hajatek-mcp oauth clients` lists the registered apps", file=sys.stderr)
                return ExitCode.FAILED
            removed = anyio.run(store.revoke_client, args.client_id)
            audit = AuditLog(settings.data_dir / "audit.db", store_id="")  # the OAuth server's entries: no store
            try:
                anyio.run(
                    functools.partial(
                        audit.record, "oauth.revoke", {"by": "cli"}, "executed", "host", target=args.client_id
                    )
                )
            finally:
                audit.close()
            print(f"Revoked {args.client_id}: {removed} tokens removed; the app must ask for consent again.")
            return ExitCode.OK
    finally:
        store.close()
    if not clients:
        print("No app has registered.")
    for client in clients:
        print(
            f"{client['client_id']}  {client['client_name'] or '(no name)'}  scopes: {client['scopes'] or '-'}  "
            f"live grants: {client['live_grants']}"
        )
    return ExitCode.OK


def _oauth(args: argparse.Namespace, settings: Settings) -> int:
    # _cmd_oauth still reads its settings itself, from the same environment; it is being reworked separately.
    return _cmd_oauth(args, os.environ)


def _cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.sandbox import SandboxConfig, banner, multi_store_configs, serve  # noqa: PLC0415  # lazy

    # --webhook-secret overrides HAJATEK_WEBHOOK_SECRET, as every flag overrides its setting
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret is not None else None
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
    try:
        configs = multi_store_configs(args.stores, config)  # --stores N: store 1 is the demo store, as without it
    except ValueError as exc:
        raise SettingsError(f"--stores: {exc}") from None
    for extra in configs[1:]:
        if extra.db_path != ":memory:":
            check_state_file(Path(extra.db_path), "the sandbox store", fix=SANDBOX_DB_FIX)
    sockets = bind(args.host, args.port, "--port")  # before the banner: a busy port is said first, and only
    print(banner(configs, args.host, args.port), flush=True)
    serve(configs, host=args.host, port=args.port, sockets=sockets)
    return ExitCode.OK


def _tenants(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.tenancy import cmd_tenants  # noqa: PLC0415

    return cmd_tenants(args, settings)


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.tenancy import cmd_keys  # noqa: PLC0415

    return cmd_keys(args, settings)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from hajatek_mcp.tenancy import cmd_db  # noqa: PLC0415

    return cmd_db(args, settings)


#: Every command but doctor: (the flags, the settings) → the exit code.
_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "serve": _cmd_serve,
    "tools": _cmd_tools,
    "call": _cmd_call,
    "demo": _cmd_demo,
    "sandbox": _cmd_sandbox,
    "oauth": _oauth,
    "tenants": _tenants,
    "keys": _keys,
    "db": _db,
}
#: doctor and its alias, which also get the malformed settings, to report.
_DOCTOR = frozenset({"doctor", "check"})
