"""The command line's grammar: the commands, their flags, and what each exit code means.

The global flags (``--sandbox``, ``--read-only``, …) are accepted before and after the command; ``cli`` runs what
this module parses. A flag that overrides a setting has that setting's name as its ``dest``
(``--auth-token`` → ``mcp_auth_token``), so :func:`setting_flags` hands them all to
:meth:`~hajatek_mcp.settings.Settings.from_env` without a list to keep.
"""

from __future__ import annotations

import argparse
from enum import IntEnum
from pathlib import Path
from typing import Any

from hajatek_mcp import __version__
from hajatek_mcp.settings import TOOLSETS, Settings

__all__ = ["EXIT_MEANINGS", "ExitCode", "global_options", "parser", "setting_flags"]


class ExitCode(IntEnum):
    """What the exit status of ``hajatek-mcp`` means; :data:`EXIT_MEANINGS` says it in ``--help`` (and the README)."""

    OK = 0
    FAILED = 1
    CONFIGURATION = 2  # argparse's own usage errors are 2 as well
    PORT_BUSY = 3
    DATA_DIR = 4
    STATE_FILE = 5


EXIT_MEANINGS = {
    ExitCode.OK: "done",
    ExitCode.FAILED: "the command failed: a tool answered with an error, doctor found a problem, an unknown OAuth app",
    ExitCode.CONFIGURATION: "a setting or flag is missing or malformed (the message names it and the fix)",
    ExitCode.PORT_BUSY: "a port to listen on is in use or cannot be bound: stop that program, or pass another port",
    ExitCode.DATA_DIR: "HAJATEK_DATA_DIR is a file or is not writable",
    ExitCode.STATE_FILE: "a state file in HAJATEK_DATA_DIR is damaged (the message names it and how to move it aside)",
}


def global_options(*, sub: bool) -> tuple[argparse.ArgumentParser, ...]:
    """Parents holding the global flags: (log level), (+ --sandbox), (+ the store flags).

    The main parser takes them before the command, with their defaults; each command takes them after itself with
    ``SUPPRESS`` as default, so a flag given before the command is not reset by the command's parser.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if sub else value

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=default(None),
        help="log level on stderr (default WARNING; env HAJATEK_LOG_LEVEL)",
    )
    sandbox = argparse.ArgumentParser(add_help=False, parents=[common])
    sandbox.add_argument(
        "--sandbox",
        action="store_true",
        default=default(False),
        help="use the embedded sandbox store, no account needed (env HAJATEK_SANDBOX)",
    )
    store = argparse.ArgumentParser(add_help=False, parents=[sandbox])
    store.add_argument(
        "--read-only",
        action="store_true",
        default=default(None),
        help="register no tool that changes the store (env HAJATEK_READ_ONLY)",
    )
    store.add_argument(
        "--confirm",
        choices=["auto", "token", "none"],
        default=default(None),
        help="how destructive changes are confirmed: auto (ask the user when the client can, else a "
        "single-use token; default), token, or none (trust the host's own approval; env "
        "HAJATEK_CONFIRM)",
    )
    store.add_argument(
        "--redact-pii",
        action="store_true",
        default=default(None),
        help="mask customer emails and phones in all output (env HAJATEK_REDACT_PII)",
    )
    store.add_argument(
        "--toolsets",
        metavar="LIST",
        default=default(None),
        help=f"comma-separated subset of {','.join(TOOLSETS)} (env HAJATEK_TOOLSETS)",
    )
    return common, sandbox, store


def setting_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given that override a setting, by field name. A switch left off (``False``) overrides nothing."""
    return {
        name: value
        for name in Settings.model_fields
        if (value := getattr(args, name, None)) is not None and value is not False
    }


def parser() -> argparse.ArgumentParser:
    common, with_sandbox, store = global_options(sub=True)

    parser = argparse.ArgumentParser(
        prog="hajatek-mcp",
        parents=[global_options(sub=False)[2]],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="MCP server for Hajatek stores. Configuration comes from HAJATEK_* environment variables (see\n"
        "the README); flags override them. Without a command, serves MCP on stdio. The global flags\n"
        "(--sandbox, --read-only, ...) go before or after the command.",
        epilog="exit codes:\n" + "".join(f"  {code}  {meaning}\n" for code, meaning in EXIT_MEANINGS.items()),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[store], help="serve MCP (the default command)")
    serve.add_argument(
        "--transport",
        choices=["stdio", "streamable-http", "sse"],
        default="stdio",
        help="stdio (default, for Claude Desktop), streamable-http (endpoint /mcp) or sse",
    )
    serve.add_argument("--host", default="127.0.0.1", help="HTTP interface (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument(
        "--auth-token",
        dest="mcp_auth_token",
        metavar="AUTH_TOKEN",
        help="require 'Authorization: Bearer TOKEN' on HTTP (prefer the env HAJATEK_MCP_AUTH_TOKEN: "
        "command lines are visible to other users)",
    )
    serve.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        metavar="HOST",
        help="Host header to accept besides loopback (repeatable; HAJATEK_ALLOWED_HOSTS)",
    )
    serve.add_argument(
        "--allowed-origin",
        dest="allowed_origins",
        action="append",
        metavar="ORIGIN",
        help="browser Origin to accept (repeatable; env HAJATEK_ALLOWED_ORIGINS)",
    )
    serve.add_argument(
        "--oauth-issuer",
        metavar="URL",
        help="run the built-in OAuth server; URL is this server's public https address "
        "(env HAJATEK_OAUTH_ISSUER; needs HAJATEK_OAUTH_PASSPHRASE)",
    )
    serve.add_argument(
        "--database-url",
        metavar="URL",
        help="keep the state in this PostgreSQL database, shared by replicas (pip install 'hajatek-mcp[hosted]'; "
        "prefer the env HAJATEK_DATABASE_URL: command lines are visible to other users)",
    )
    serve.add_argument(
        "--redis-url",
        metavar="URL",
        help="share each API key's rate budget and the store events with the other replicas through this Redis "
        "(pip install 'hajatek-mcp[hosted]'; prefer the env HAJATEK_REDIS_URL)",
    )
    serve.add_argument(
        "--multi-tenant",
        action="store_true",
        default=None,
        help="serve many merchants, each connecting their own store on the OAuth sign-in page (env "
        "HAJATEK_MULTI_TENANT; needs --oauth-issuer, HAJATEK_MASTER_KEY and no HAJATEK_API_KEY; see docs/hosting.md)",
    )
    _webhook_options(serve, "with stdio: also receive webhooks on this port (POST /webhooks/hajatek)")
    serve.add_argument(
        "--activity",
        type=float,
        default=0.0,
        metavar="N",
        help="with --sandbox: simulate N new orders a minute, so events arrive live",
    )
    serve.add_argument(
        "--dangerously-allow-unauthenticated",
        action="store_true",
        help="serve a non-loopback address WITHOUT an auth token (anyone who reaches the port can act on the store)",
    )

    sub.add_parser("tools", parents=[store], help="list the tools this configuration offers")
    call = sub.add_parser("call", parents=[store], help="call one tool through an MCP client and print the result")
    call.add_argument("tool", help="tool name, e.g. list_orders")
    call.add_argument("arguments", nargs="*", metavar="key=value", help="tool arguments (numbers are parsed)")
    call.add_argument("--json", dest="json_args", metavar="OBJECT", help="tool arguments as one JSON object")
    call.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="answer yes when a change asks for confirmation (for scripts; on a terminal you are "
        "asked y/N, elsewhere you get a preview and a confirmation token)",
    )
    sub.add_parser(
        "demo", parents=[with_sandbox], help="a guided tour of a fresh sandbox store through a real MCP client"
    )

    doctor = sub.add_parser(
        "doctor",
        aliases=["check"],
        parents=[with_sandbox],
        help="check the configuration, the data dir, the connection, the store and the webhooks",
    )
    _webhook_options(doctor, "also check that the stdio server's webhook listener can listen on this port")

    oauth = sub.add_parser("oauth", parents=[common], help="list or revoke the apps granted access over OAuth")
    oauth_sub = oauth.add_subparsers(dest="oauth_command", metavar="ACTION", required=True)
    oauth_sub.add_parser("clients", help="list registered apps and their grants")
    revoke = oauth_sub.add_parser("revoke", help="revoke every token of an app (it must ask for consent again)")
    revoke.add_argument("client_id")

    _operator_commands(sub, common)

    sandbox = sub.add_parser("sandbox", parents=[common], help="run the local Hajatek API sandbox over HTTP")
    sandbox.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, loopback only)")
    sandbox.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    sandbox.add_argument(
        "--db",
        type=Path,
        help="SQLite file that keeps the store across restarts (default: in memory, fresh each start)",
    )
    sandbox.add_argument("--seed", type=int, default=42, help="seed of the generated demo store (default 42)")
    sandbox.add_argument("--webhook-url", help="POST signed webhook events to this URL")
    sandbox.add_argument("--webhook-secret", help="secret that signs webhook events (or HAJATEK_WEBHOOK_SECRET)")
    sandbox.add_argument(
        "--activity",
        type=float,
        default=0.0,
        metavar="N",
        help="simulate N new orders a minute, moving orders through their lifecycle",
    )
    sandbox.add_argument("--enable-admin", action="store_true", help="serve the /_sandbox/ admin and fault API")
    sandbox.add_argument(
        "--stores",
        type=int,
        default=1,
        metavar="N",
        help="serve N stores (1-50), each with its own data, id and keys (printed), to try multi-tenant hosting",
    )
    return parser


def _operator_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``tenants``, ``keys`` and ``db``: operating a hosted server (multi-tenant, shared database)."""
    tenants = sub.add_parser(
        "tenants", parents=[common], help="multi-tenant: list, show or disconnect the connected stores"
    )
    tenants_sub = tenants.add_subparsers(dest="tenants_command", metavar="ACTION", required=True)
    tenants_sub.add_parser("list", help="the connected stores (never a key or secret)")
    # dest "tenant", not "store_id": that is a setting (HAJATEK_STORE_ID), which a multi-tenant server refuses
    tenants_sub.add_parser("show", help="one store: plan, when it connected, its apps").add_argument(
        "tenant", metavar="STORE_ID"
    )
    tenants_sub.add_parser(
        "disconnect", help="revoke every token of a store and delete its API key and webhook secret"
    ).add_argument("tenant", metavar="STORE_ID")
    keys = sub.add_parser("keys", parents=[common], help="multi-tenant: the master keys that encrypt stores' keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    keys_sub.add_parser("generate", help="print a new master key (for HAJATEK_MASTER_KEY)")
    keys_sub.add_parser(
        "rotate", help="re-encrypt every store under the first key of HAJATEK_MASTER_KEY=new,old (then drop old)"
    )

    db = sub.add_parser("db", parents=[common], help="the shared PostgreSQL database (HAJATEK_DATABASE_URL)")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("migrate", help="bring every store's tables to this version (servers also do it at start)")


def _webhook_options(parser: argparse.ArgumentParser, port_help: str) -> None:
    parser.add_argument("--webhook-port", type=int, metavar="PORT", help=port_help)
    parser.add_argument(
        "--webhook-host",
        default="127.0.0.1",
        help="interface of that listener (default 127.0.0.1; put a tunnel in front)",
    )
