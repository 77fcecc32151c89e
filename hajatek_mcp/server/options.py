"""How the server is set up: :class:`ServerOptions` (from settings and CLI flags) and the tool groups to choose from."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from pydantic import SecretStr

__all__ = ["TOOLSETS", "ExternalIssuer", "ServerOptions"]

#: Tool groups that ``--toolsets`` selects from.
TOOLSETS: Final = ("store", "catalog", "orders", "customers", "analytics", "events")


@dataclass(frozen=True)
class ExternalIssuer:
    """An external OAuth authorization server whose tokens are checked by introspection (RFC 7662)."""

    issuer: str
    introspection_url: str
    client_id: str
    client_secret: SecretStr


@dataclass(frozen=True)
class ServerOptions:
    """How the server is set up (from settings and CLI flags)."""

    read_only: bool = False
    toolsets: frozenset[str] = field(default_factory=lambda: frozenset(TOOLSETS))
    sandbox: bool = False
    store_id: str | None = None
    """The store this server serves (``HAJATEK_STORE_ID``): the webhook route files events under it, and the lifespan
    refuses a client of another store. None: the store the lifespan opens (see :class:`~.shop.OpenShops`)."""
    confirm: Literal["auto", "token", "none"] = "auto"
    """How destructive changes are confirmed (see :mod:`hajatek_mcp.server.guards`)."""
    confirm_ttl: float = 300.0
    price_cut_guard: float = 0.5
    """A price cut by more than this share needs confirmation."""
    guard_window: float = 86400.0
    """Seconds of history the price and stock guards look back over for their reference (see guards)."""
    redact_pii: bool = False
    state_dir: Path | None = None
    """Where the audit log and confirmation tokens live (SQLite); None keeps them in memory."""
    database_url: SecretStr | None = None
    """A PostgreSQL database every replica shares, instead of the files in ``state_dir`` (``HAJATEK_DATABASE_URL``)."""
    redis_url: SecretStr | None = None
    """A Redis every replica shares: store events reach subscribers on every replica (``HAJATEK_REDIS_URL``)."""
    request_state_keys: SecretStr | None = None
    """Comma-separated keys sealing 2026-07-28 multi-round-trip state, newest first (``HAJATEK_REQUEST_STATE_KEYS``):
    the same on every replica, so a round trip may end on another replica than it began."""
    clock: Callable[[], float] = time.time
    """Wall clock for token expiry, audit times and the webhook replay window (tests inject a fake)."""
    webhook_secret: SecretStr | None = None
    """Signing secret of Hajatek's webhooks; without it no receiver is served."""
    webhook_max_age: float = 86400.0
    """Events created longer ago than this (seconds) are refused unless already known (replay window)."""
    event_retention_days: float = 30.0
    oauth_issuer: str | None = None
    """Public base URL of this server (https://…) to run the built-in OAuth server; None: no OAuth."""
    oauth_passphrase: SecretStr | None = None
    """The merchant's admin passphrase, asked on the consent page."""
    oauth_external: ExternalIssuer | None = None
    """Accept tokens of an external authorization server instead of running the built-in one."""

    def __post_init__(self) -> None:
        unknown = self.toolsets - set(TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolsets {sorted(unknown)}; choose from {', '.join(TOOLSETS)}")
        if not self.toolsets:
            raise ValueError(f"choose at least one toolset from {', '.join(TOOLSETS)}")
