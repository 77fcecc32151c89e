"""Sandbox configuration: one frozen dataclass, plus the fixed sandbox keys and plans.

Everything that makes the sandbox slow or non-deterministic is a field here, so tests can pin it: the seed, the
reference time of the seed (``now``), the clock behind rate limits and timestamps, the rate-limit window and limits,
the ``sleep`` used between webhook retries and activity ticks, and the transport that delivers webhooks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx2

__all__ = ["API_KEYS", "DEFAULT_PLAN_LIMITS", "PLANS", "STORE_ID", "SandboxConfig"]

STORE_ID = "str_sandbox"
PLANS = ("starter", "pro", "business")
# The three public sandbox keys. They are not secrets: they only open the local sandbox.
API_KEYS: Mapping[str, str] = {
    "sk_sandbox_starter": "starter",
    "sk_sandbox_pro": "pro",
    "sk_sandbox_business": "business",
}
DEFAULT_PLAN_LIMITS: Mapping[str, int | None] = {"starter": 100, "pro": 500, "business": None}


_STORE_ID = re.compile(r"^str_[A-Za-z0-9_]+$")
_ID_TAG = re.compile(r"^[a-z0-9_]*$")


def _default_plan_limits() -> dict[str, int | None]:
    return dict(DEFAULT_PLAN_LIMITS)


def _default_api_keys() -> dict[str, str]:
    return dict(API_KEYS)


@dataclass(frozen=True, kw_only=True)
class SandboxConfig:
    """How one sandbox instance behaves. The defaults give the demo store of the README.

    One instance serves one store. Several stores in one process (``hajatek-mcp sandbox --stores N``) are several
    configs with distinct ``store_id``, ``api_keys`` and ``id_tag``: see :mod:`hajatek_mcp.sandbox.multi`.
    """

    store_id: str = STORE_ID
    """The store's id (``str_…``): what ``GET /stores/{store_id}`` answers for and the webhook payloads carry."""
    api_keys: Mapping[str, str] = field(default_factory=_default_api_keys, repr=False)
    """The store's API keys, each with its plan. The API identifies the store by the key, as Hajatek does."""
    store_name: str | None = None
    """The store's name. ``None``: the demo store's, "Souq Al-Noor"."""
    store_name_ar: str | None = None
    """The store's Arabic name. ``None``: the demo store's when ``store_name`` is ``None`` too, else ``store_name``."""
    id_tag: str = ""
    """Put after the prefix of every product, customer and order id of this store (``prod_{tag}0001``,
    ``ord_{tag}000001``), in the seed and in everything created later, so ids of several stores never meet.
    Empty for the demo store: its ids are those of docs/sandbox.md."""

    db_path: str = ":memory:"
    """SQLite database: ``":memory:"`` (state lives as long as the app) or a file (state survives restarts; the seed
    is written only when the file holds no store yet)."""
    seed: int = 42
    """Seed of the demo data: the same seed and the same ``now`` give the same store, byte for byte."""
    now: datetime | None = None
    """Reference time of the seed data (orders spread over the 90 days before it) and the sandbox's time at start;
    sandbox time then advances with ``clock``. ``None``: the current time truncated to the hour, and sandbox time is
    the wall clock. Must be timezone-aware."""
    webhook_url: str | None = None
    """Where events are POSTed. Webhooks are off without it (a secret alone is accepted and unused)."""
    webhook_secret: str | None = field(default=None, repr=False)
    """Secret used to sign deliveries (``X-Hajatek-Signature``). Never logged."""
    webhook_transport: httpx2.AsyncBaseTransport | None = None
    """Transport of the delivery client (tests pass ``httpx2.MockTransport`` or ``httpx2.ASGITransport``)."""
    webhook_max_attempts: int = 5
    """Delivery attempts per event, the first included."""
    webhook_backoff: float = 1.0
    """Seconds before the first retry; doubles on each further retry, capped at 60 seconds."""
    webhook_timeout: float = 10.0
    """Seconds one delivery attempt may take."""
    activity: float = 0
    """Live activity: simulated orders per minute (each tick also moves one open order along). 0 turns it off."""
    enable_admin: bool = False
    """Serve the ``/_sandbox/`` admin API (faults, events, reset, simulated orders). Off: those paths are 404."""
    rate_window: float = 60.0
    """Length in seconds of the rolling rate-limit window."""
    plan_limits: dict[str, int | None] = field(default_factory=_default_plan_limits)
    """Requests per window for each plan; ``None`` is unlimited (and sends no ``X-RateLimit-*`` headers)."""
    low_stock_threshold: int = 5
    """``inventory.low`` fires when a product's stock falls from at least this value to below it."""
    assumed_fields: bool = True
    """Serve the fields docs/api.md marks assumed beyond the reference's shapes: orders' ``customer_name`` and
    ``status_history``, customers' ``name_ar``. False leaves them out (the narrowest reading), to test what a client
    works out when the real API sends none of them."""
    clock: Callable[[], float] = time.time
    """Seconds as a float: drives rate-limit windows and, from ``now``, sandbox time. With ``now=None`` it must be
    Unix time (sandbox time is then ``clock()`` itself). Tests inject a fake."""
    sleep: Callable[[float], Awaitable[None]] | None = None
    """Sleeps between webhook retries and activity ticks; ``None`` is ``anyio.sleep``. Tests inject a fake."""

    def __post_init__(self) -> None:
        self._check_identity()
        if self.now is not None and self.now.utcoffset() is None:
            raise ValueError("SandboxConfig.now must be timezone-aware, e.g. datetime(2026, 3, 15, tzinfo=UTC)")
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("webhook_url needs webhook_secret to sign deliveries (--webhook-secret)")
        if self.webhook_secret is not None and not self.webhook_secret:
            raise ValueError("webhook_secret must not be empty")
        if self.webhook_url is not None and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        if self.activity < 0:
            raise ValueError("activity is orders per minute and must be >= 0 (0 turns it off)")
        if self.rate_window <= 0:
            raise ValueError("rate_window must be > 0 seconds")
        unknown = set(self.plan_limits) - set(PLANS)
        if unknown:
            raise ValueError(f"plan_limits has unknown plans {sorted(unknown)}; plans are {', '.join(PLANS)}")
        for plan, limit in self.plan_limits.items():
            if limit is not None and limit < 1:
                raise ValueError(f"plan_limits[{plan!r}] must be >= 1 or None (unlimited)")
        if self.low_stock_threshold < 0:
            raise ValueError("low_stock_threshold must be >= 0")
        if self.webhook_max_attempts < 1:
            raise ValueError("webhook_max_attempts must be >= 1")
        if self.webhook_backoff < 0 or self.webhook_timeout <= 0:
            raise ValueError("webhook_backoff must be >= 0 and webhook_timeout > 0")

    def _check_identity(self) -> None:
        """The store's id, keys, name and id tag. Errors never show a key: a configured key may be a real one."""
        if not isinstance(self.store_id, str) or not _STORE_ID.fullmatch(self.store_id):
            raise ValueError(f"store_id must look like str_ followed by letters, digits or _ (got {self.store_id!r})")
        if not self.api_keys:
            raise ValueError(f"store {self.store_id} needs at least one API key (api_keys maps each key to its plan)")
        for key, plan in self.api_keys.items():
            if not isinstance(key, str) or not key or key != key.strip() or any(c.isspace() for c in key):
                raise ValueError(f"an API key of store {self.store_id} is empty or holds whitespace")
            if plan not in PLANS:
                raise ValueError(
                    f"an API key of store {self.store_id} has unknown plan {plan!r}; plans are {', '.join(PLANS)}"
                )
        for name in (self.store_name, self.store_name_ar):
            if name is not None and not (isinstance(name, str) and name.strip() and len(name) <= 100):
                raise ValueError("store_name and store_name_ar must be 1 to 100 characters, or None")
        if not isinstance(self.id_tag, str) or not _ID_TAG.fullmatch(self.id_tag):
            raise ValueError(f"id_tag must be a-z, 0-9 and _ only, such as 's2_' (got {self.id_tag!r})")

    def limit_for(self, plan: str) -> int | None:
        """Requests per window for ``plan`` (plans missing from ``plan_limits`` use the published limits)."""
        if plan in self.plan_limits:
            return self.plan_limits[plan]
        return DEFAULT_PLAN_LIMITS[plan]

    def seed_reference_time(self) -> datetime:
        """The fixed "now" the seed data is generated against, whole seconds, UTC."""
        if self.now is not None:
            return self.now.astimezone(UTC).replace(microsecond=0)
        return datetime.fromtimestamp(self.clock(), UTC).replace(minute=0, second=0, microsecond=0)

    def time_source(self) -> Callable[[], datetime]:
        """Sandbox time: the wall clock, or ``now`` advanced by the clock since this call when ``now`` is pinned."""
        clock = self.clock
        if self.now is None:
            return lambda: datetime.fromtimestamp(clock(), UTC)
        start = clock()
        base = self.now.astimezone(UTC)
        return lambda: base + timedelta(seconds=clock() - start)
