"""Running the sandbox standalone: :func:`serve` (uvicorn, blocking) and the :func:`banner` the CLI prints."""

from __future__ import annotations

import copy
import socket
from collections.abc import Sequence

from .config import SandboxConfig
from .seed_data import STORE

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "banner", "base_url", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


def base_url(host: str, port: int) -> str:
    """``http://host:port/v1`` (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/v1"


def banner(config: SandboxConfig | Sequence[SandboxConfig], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """What ``hajatek-mcp sandbox`` prints at start: base URL, keys, a curl line, and what is switched on.

    ``config`` is one store's config, or the configs of a sandbox serving several stores (store 1 first): then each
    store is listed with its id, name, keys (plan, rate) and a curl line of its own. It never contains a webhook
    secret.
    """
    configs = [config] if isinstance(config, SandboxConfig) else list(config)
    if not configs:
        raise ValueError("banner needs at least one store config")
    if len(configs) == 1:
        return _single_banner(configs[0], host, port)
    return _multi_banner(configs, host, port)


def _name(config: SandboxConfig) -> str:
    return config.store_name if config.store_name is not None else str(STORE["name"])


def _database(config: SandboxConfig) -> str:
    return "in memory (state is lost on exit)" if config.db_path == ":memory:" else config.db_path


def _keys(config: SandboxConfig) -> list[str]:
    lines = []
    width = max(22, *(len(key) for key in config.api_keys))
    for key, plan in config.api_keys.items():
        limit = config.limit_for(plan)
        rate = "unlimited" if limit is None else f"{limit} requests / {config.rate_window:g} s"
        lines.append(f"  {key:<{width}} {plan:<9} {rate}")
    return lines


def _tail(config: SandboxConfig, url: str, host: str, *, admin_note: str = "") -> list[str]:
    """The lines after the keys: activity, admin API, the warning off loopback."""
    lines = [f"Activity: {config.activity:g} orders per minute" if config.activity else "Activity: off"]
    admin = url.removesuffix("/v1") + "/_sandbox/"
    lines.append(
        f"Admin API: {admin}{admin_note} (no key needed; keep it on loopback)"
        if config.enable_admin
        else "Admin API: off"
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"Warning: listening on {host}, not loopback: anyone who can reach it can use the sandbox.")
    return lines


def _single_banner(config: SandboxConfig, host: str, port: int) -> str:
    url = base_url(host, port)
    lines = [
        f"Hajatek sandbox: {_name(config)} ({config.store_id}), seed {config.seed}, database {_database(config)}",
        f"Base URL: {url}",
        "API keys:",
        *_keys(config),
    ]
    key = _try_key(config)
    lines.append(f'Try: curl -H "Authorization: Bearer {key}" "{url}/products?page=1&limit=10"')
    if config.webhook_url:
        lines.append(f"Webhooks: signed POSTs to {config.webhook_url}")
    else:
        lines.append("Webhooks: off (--webhook-url and --webhook-secret turn them on)")
    return "\n".join([*lines, *_tail(config, url, host)])


def _try_key(config: SandboxConfig) -> str:
    """The key of the curl line: the Pro plan's when the store has one."""
    return next((key for key, plan in config.api_keys.items() if plan == "pro"), next(iter(config.api_keys)))


def _multi_banner(configs: list[SandboxConfig], host: str, port: int) -> str:
    url = base_url(host, port)
    first = configs[0]
    lines = [
        f"Hajatek sandbox: {len(configs)} stores on one address; the API key picks the store",
        f"Base URL: {url}",
    ]
    for number, config in enumerate(configs, start=1):
        lines.append(f"Store {number}: {_name(config)} ({config.store_id}), seed {config.seed}, ids {_ids(config)}")
        lines.append(f"  database {_database(config)}")
        lines += [f"  {line}" for line in _keys(config)]
        key = _try_key(config)
        lines.append(f'  Try: curl -H "Authorization: Bearer {key}" "{url}/stores/{config.store_id}"')
        if config.webhook_url:
            lines.append(f"  Webhooks: signed POSTs to {config.webhook_url}")
    if not any(config.webhook_url for config in configs):
        lines.append("Webhooks: off (--webhook-url and --webhook-secret turn them on)")
    note = " (store 1); /_sandbox/stores/{store_id}/ for any store"
    return "\n".join([*lines, *_tail(first, url, host, admin_note=note)])


def _ids(config: SandboxConfig) -> str:
    return f"prod_{config.id_tag}0001, ord_{config.id_tag}000001"


def serve(
    config: SandboxConfig | Sequence[SandboxConfig] | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Run the sandbox under uvicorn until interrupted (blocking). Loopback by default.

    ``config``: one store's config (``None``: the demo store), or several stores' configs (store 1 first), served
    together by :func:`~hajatek_mcp.sandbox.multi.create_multi_app`.

    ``sockets``: already bound listening sockets to serve on (the CLI binds first, so a busy port is reported before
    anything starts); ``host`` and ``port`` are then only shown in the log. Logs, the access log included, go to
    stderr: stdout carries only the banner.
    """
    import uvicorn  # noqa: PLC0415 -- imported only when serving, so importing the package stays light
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415 -- same reason

    from .app import create_app  # noqa: PLC0415 -- same reason
    from .multi import create_multi_app  # noqa: PLC0415 -- same reason

    if config is None or isinstance(config, SandboxConfig):
        app = create_app(config)
    else:
        configs = list(config)
        app = create_app(configs[0]) if len(configs) == 1 else create_multi_app(configs)
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # uvicorn's default is stdout
    # Idle connections stay open 75 s, as behind nginx's default, not uvicorn's 5 s: a client keeping its own for 5 s
    # (httpx's default) would race the server's close and lose a request it cannot safely resend.
    settings = uvicorn.Config(app, host=host, port=port, log_config=log_config, log_level="info", timeout_keep_alive=75)
    server = uvicorn.Server(settings)
    server.run(sockets=sockets)
