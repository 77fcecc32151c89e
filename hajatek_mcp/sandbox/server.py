"""Running the sandbox standalone: :func:`serve` (uvicorn, blocking) and the :func:`banner` the CLI prints."""

from __future__ import annotations

import copy
import socket

from .config import API_KEYS, STORE_ID, SandboxConfig

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "banner", "base_url", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


def base_url(host: str, port: int) -> str:
    """``http://host:port/v1`` (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/v1"


def banner(config: SandboxConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """What ``hajatek-mcp sandbox`` prints at start: base URL, keys, a curl line, and what is switched on.

    It never contains the webhook secret.
    """
    url = base_url(host, port)
    database = "in memory (state is lost on exit)" if config.db_path == ":memory:" else config.db_path
    lines = [
        f"Hajatek sandbox: Souq Al-Noor ({STORE_ID}), seed {config.seed}, database {database}",
        f"Base URL: {url}",
        "API keys:",
    ]
    for key, plan in API_KEYS.items():
        limit = config.limit_for(plan)
        rate = "unlimited" if limit is None else f"{limit} requests / {config.rate_window:g} s"
        lines.append(f"  {key:<22} {plan:<9} {rate}")
    lines.append(f'Try: curl -H "Authorization: Bearer sk_sandbox_pro" "{url}/products?page=1&limit=10"')
    if config.webhook_url:
        lines.append(f"Webhooks: signed POSTs to {config.webhook_url}")
    else:
        lines.append("Webhooks: off (--webhook-url and --webhook-secret turn them on)")
    lines.append(f"Activity: {config.activity:g} orders per minute" if config.activity else "Activity: off")
    admin = url.removesuffix("/v1") + "/_sandbox/"
    lines.append(
        f"Admin API: {admin} (no key needed; keep it on loopback)" if config.enable_admin else "Admin API: off"
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"Warning: listening on {host}, not loopback: anyone who can reach it can use the sandbox.")
    return "\n".join(lines)


def serve(
    config: SandboxConfig | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Run the sandbox under uvicorn until interrupted (blocking). Loopback by default.

    ``sockets``: already bound listening sockets to serve on (the CLI binds first, so a busy port is reported before
    anything starts); ``host`` and ``port`` are then only shown in the log. Logs, the access log included, go to
    stderr: stdout carries only the banner.
    """
    import uvicorn  # noqa: PLC0415 -- imported only when serving, so importing the package stays light
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415 -- same reason

    from .app import create_app  # noqa: PLC0415 -- same reason

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # uvicorn's default is stdout
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host=host, port=port, log_config=log_config, log_level="info")
    )
    server.run(sockets=sockets)
