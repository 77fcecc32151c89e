"""One Settings model, read once from ``HAJATEK_*`` environment variables by the CLI; its flags override them.

Every setting is here, also those a flag usually gives (``--sandbox``, ``--read-only``, ``--toolsets``,
``--log-level``, ...): the CLI reads no variable itself. Empty strings count as unset: Claude Desktop passes bundle
options the user left blank as ``""``. Bad values end with :class:`SettingsError`, whose message is one line naming
the variable and the fix. Secrets are ``SecretStr``: they print as ``**********`` in reprs, logs and errors, and no
error message quotes a value.

A secret with whitespace or a control character inside (a key pasted with its line break) is refused here: sent
on, it would break the HTTP header it goes in, and the HTTP stack would log the whole header at DEBUG.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from hajatek_mcp.api.client import DEFAULT_BASE_URL
from hajatek_mcp.api.models import Plan

__all__ = ["ENV_PREFIX", "TOOLSETS", "Settings", "SettingsError", "default_data_dir"]

ENV_PREFIX = "HAJATEK_"

#: Tool groups that ``HAJATEK_TOOLSETS`` (``--toolsets``) selects from: the server's groups, in its order. Kept here,
#: not imported from the server, because the server imports this module (a test holds the two lists equal).
TOOLSETS: Final = ("store", "catalog", "orders", "customers", "analytics", "events")

_DAY = 86400.0

#: What to do when a variable is wrong, by field.
_FIXES: dict[str, str] = {
    "sandbox": "use true (the embedded demo store, no account needed) or false",
    "api_key": "copy the API key from the Hajatek dashboard, or run with --sandbox to try the demo store",
    "store_id": "use your store id from the dashboard; it starts with 'str_'",
    "base_url": "use an http(s) URL such as https://api.hajatek.com/v1",
    "plan": "use starter, pro or business (your Hajatek plan; it sets the request budget)",
    "webhook_secret": "copy the webhook signing secret from the Hajatek dashboard",
    "data_dir": "use a directory the server may write to",
    "timeout": "use a number of seconds, e.g. 30",
    "max_retries": "use a whole number from 0 to 10, e.g. 3",
    "rate_limit": "use a whole number of requests per minute, or leave it empty to follow the plan",
    "rate_window": "use the seconds the API counts its rate limit over (Hajatek: 60; a scaled test API: its own)",
    "confirm": "use auto (ask the user when the client can, else a confirmation token), token, or none",
    "confirm_ttl": "use a number of seconds from 30 to 3600, e.g. 300",
    "price_cut_guard": "use a share between 0 and 1, e.g. 0.5 to confirm price cuts of more than half",
    "guard_window": "use a number of seconds from 3600 (an hour) to 2592000 (30 days), e.g. 86400 (a day)",
    "redact_pii": "use true or false",
    "mcp_auth_token": "use a long random string (at least 32 characters), e.g. from `openssl rand -hex 32`",
    "allowed_hosts": "use a comma-separated list of host names, e.g. mcp.example.com,mcp.example.com:443",
    "allowed_origins": "use a comma-separated list of origins, e.g. https://chatgpt.com",
    "webhook_max_age": "use a number of seconds of at least 60, e.g. 86400 (a day)",
    "oauth_issuer": "use the public https:// URL clients reach this server at, e.g. https://mcp.example.com",
    "oauth_passphrase": "use a passphrase of at least 12 characters on one line (spaces inside are fine); the "
    "merchant types it on the consent page",
    "oauth_external_issuer": "use the issuer URL of your identity provider, e.g. https://id.example.com/realms/shop",
    "oauth_introspection_url": "use the provider's RFC 7662 introspection endpoint (https://…)",
    "oauth_client_id": "copy the client id the identity provider issued to this server",
    "oauth_client_secret": "copy the client secret the identity provider issued to this server",
    "event_retention_days": "use a number of days, e.g. 30",
    "read_only": "use true (no tool that changes the store) or false",
    "toolsets": f"use a comma-separated subset of {','.join(TOOLSETS)}, or leave it empty for all",
    "log_level": "use DEBUG, INFO, WARNING or ERROR",
    "multi_tenant": "use true (one server for many merchants, each connecting their own store) or false",
    "master_key": "generate one with `hajatek-mcp keys generate` and keep it in your secret manager",
    "database_url": "use a PostgreSQL URL such as postgresql://hajatek:PASSWORD@db.internal:5432/hajatek",
    "redis_url": "use a Redis URL such as redis://:PASSWORD@cache.internal:6379/0 (rediss:// for TLS)",
    "request_state_keys": "use one random key of at least 32 characters (openssl rand -base64 32), the same on "
    "every replica; while rotating, the new key first, then the old, comma-separated",
}


class SettingsError(ValueError):
    """Configuration is missing or malformed. ``str()`` is one line: the variable, the problem, the fix."""


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Where state lives when ``HAJATEK_DATA_DIR`` is unset: the platform's per-user data directory."""
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "hajatek-mcp"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "hajatek-mcp"
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "hajatek-mcp"


def _field(variable: str) -> str:
    """The Settings field a ``HAJATEK_*`` variable sets."""
    return variable.removeprefix(ENV_PREFIX).lower()


def _has_invisible(value: str, *, inner_spaces: bool) -> bool:
    """Whether ``value`` holds a character no credential has: a control, format (zero-width, BOM), surrogate,
    private-use or unassigned character, a line or paragraph separator, or (unless ``inner_spaces``) any whitespace.
    """
    for char in value:
        category = unicodedata.category(char)
        if category.startswith("C") or category in {"Zl", "Zp"} or (char.isspace() and not inner_spaces):
            return True
    return False


class Settings(BaseModel):
    """Everything the server needs to know, from ``HAJATEK_<FIELD>`` variables."""

    # hide_input_in_errors: a ValidationError raised by Settings(...) directly must not quote a secret either.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    sandbox: bool = Field(default=False, description="HAJATEK_SANDBOX: the embedded demo store instead of the API")
    api_key: SecretStr | None = Field(default=None, description="HAJATEK_API_KEY: the store's API key")
    store_id: str | None = Field(default=None, pattern=r"^str_[A-Za-z0-9_]+$", description="HAJATEK_STORE_ID")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="HAJATEK_BASE_URL")
    plan: Plan = Field(default="starter", description="HAJATEK_PLAN: starter, pro or business")
    webhook_secret: SecretStr | None = Field(default=None, description="HAJATEK_WEBHOOK_SECRET")
    data_dir: Path = Field(description="HAJATEK_DATA_DIR: SQLite state (inbox, audit log, tokens)")
    timeout: float = Field(default=30.0, gt=0, le=300, description="HAJATEK_TIMEOUT: seconds per request")
    max_retries: int = Field(default=3, ge=0, le=10, description="HAJATEK_MAX_RETRIES")
    rate_limit: int | None = Field(default=None, ge=1, description="HAJATEK_RATE_LIMIT: requests/min override")
    rate_window: float = Field(
        default=60.0, gt=0, le=3600, description="HAJATEK_RATE_WINDOW: seconds the API's rate limit is counted over"
    )
    confirm: Literal["auto", "token", "none"] = Field(default="auto", description="HAJATEK_CONFIRM")
    confirm_ttl: float = Field(default=300.0, ge=30, le=3600, description="HAJATEK_CONFIRM_TTL: token lifetime (s)")
    price_cut_guard: float = Field(default=0.5, gt=0, le=1, description="HAJATEK_PRICE_CUT_GUARD")
    guard_window: float = Field(default=_DAY, ge=3600, le=30 * _DAY, description="HAJATEK_GUARD_WINDOW: look-back (s)")
    redact_pii: bool = Field(default=False, description="HAJATEK_REDACT_PII: mask customer emails and phones")
    mcp_auth_token: SecretStr | None = Field(default=None, description="HAJATEK_MCP_AUTH_TOKEN: HTTP bearer token")
    allowed_hosts: list[str] = Field(default_factory=list, description="HAJATEK_ALLOWED_HOSTS")
    allowed_origins: list[str] = Field(default_factory=list, description="HAJATEK_ALLOWED_ORIGINS")
    oauth_issuer: str | None = Field(default=None, description="HAJATEK_OAUTH_ISSUER: public https URL of this server")
    oauth_passphrase: SecretStr | None = Field(default=None, description="HAJATEK_OAUTH_PASSPHRASE: consent sign-in")
    oauth_external_issuer: str | None = Field(default=None, description="HAJATEK_OAUTH_EXTERNAL_ISSUER")
    oauth_introspection_url: str | None = Field(default=None, description="HAJATEK_OAUTH_INTROSPECTION_URL")
    oauth_client_id: str | None = Field(default=None, description="HAJATEK_OAUTH_CLIENT_ID: for introspection")
    oauth_client_secret: SecretStr | None = Field(default=None, description="HAJATEK_OAUTH_CLIENT_SECRET")
    webhook_max_age: float = Field(default=86400.0, ge=60, description="HAJATEK_WEBHOOK_MAX_AGE: replay window (s)")
    event_retention_days: float = Field(default=30.0, gt=0, description="HAJATEK_EVENT_RETENTION_DAYS")
    read_only: bool = Field(default=False, description="HAJATEK_READ_ONLY: register no tool that changes the store")
    toolsets: frozenset[str] = Field(default=frozenset(TOOLSETS), description="HAJATEK_TOOLSETS: tool groups served")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="WARNING", description="HAJATEK_LOG_LEVEL")
    multi_tenant: bool = Field(default=False, description="HAJATEK_MULTI_TENANT: each merchant connects their store")
    master_key: SecretStr | None = Field(default=None, description="HAJATEK_MASTER_KEY: encrypts stores' keys at rest")
    database_url: SecretStr | None = Field(default=None, description="HAJATEK_DATABASE_URL: shared PostgreSQL state")
    redis_url: SecretStr | None = Field(default=None, description="HAJATEK_REDIS_URL: shared rate budget, events")
    request_state_keys: SecretStr | None = Field(
        default=None, description="HAJATEK_REQUEST_STATE_KEYS: seal multi-round-trip state alike on every replica"
    )

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("toolsets", mode="before")
    @classmethod
    def _toolset_names(cls, value: object) -> object:
        """A comma-separated list; one naming no group (``","``) means all of them, as an empty one does."""
        if isinstance(value, str):
            return frozenset(name.strip() for name in value.split(",") if name.strip()) or frozenset(TOOLSETS)
        return value

    @field_validator("toolsets")
    @classmethod
    def _known_toolsets(cls, value: frozenset[str]) -> frozenset[str]:
        """The one check of the names: ``--toolsets`` comes here too, as an override."""
        unknown = value - set(TOOLSETS)
        if unknown:
            raise ValueError(f"unknown names {', '.join(repr(name) for name in sorted(unknown))}")
        if not value:
            raise ValueError("names no tool group")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("oauth_issuer", "oauth_external_issuer", "oauth_introspection_url")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        local = value.startswith(("http://127.0.0.1", "http://localhost"))
        if not (value.startswith("https://") or local):
            raise ValueError("must be an https:// URL (http:// only for 127.0.0.1 or localhost)")
        return value.rstrip("/")

    @field_validator("api_key", "webhook_secret", "mcp_auth_token", "oauth_client_secret", "master_key")
    @classmethod
    def _one_word(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and _has_invisible(value.get_secret_value(), inner_spaces=False):
            raise ValueError("contains whitespace or a control character")
        return value

    @field_validator("oauth_passphrase")
    @classmethod
    def _passphrase(cls, value: SecretStr | None) -> SecretStr | None:
        """A passphrase is typed into a one-line password field: spaces inside are fine, line breaks and tabs not."""
        if value is None:
            return None
        if _has_invisible(value.get_secret_value(), inner_spaces=True):
            raise ValueError("contains a line break, tab or other control character")
        if len(value.get_secret_value()) < 12:
            raise ValueError("too short")
        return value

    @field_validator("mcp_auth_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("too short to resist guessing")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// (or rediss://) URL")
        return value

    @field_validator("request_state_keys")
    @classmethod
    def _state_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            keys = [key.strip() for key in value.get_secret_value().split(",")]
            if not all(keys) or any(len(key) < 32 for key in keys):
                raise ValueError("each key must have at least 32 characters")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// or http://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _replay_window_within_retention(self) -> Settings:
        """An event purged from the inbox but still inside the replay window would be accepted, stored and announced
        a second time if Hajatek (or anyone holding an old delivery) sent it again."""
        retention = self.event_retention_days * _DAY
        if self.webhook_max_age > retention:
            raise ValueError(
                f"{ENV_PREFIX}WEBHOOK_MAX_AGE ({self.webhook_max_age:g} s) is longer than "
                f"{ENV_PREFIX}EVENT_RETENTION_DAYS ({self.event_retention_days:g}, i.e. {retention:g} s), so a "
                f"replayed event could be stored twice: set {ENV_PREFIX}EVENT_RETENTION_DAYS to at least "
                f"{self.webhook_max_age / _DAY:g} or {ENV_PREFIX}WEBHOOK_MAX_AGE to at most {retention:g}."
            )
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``HAJATEK_*`` from ``env`` (default ``os.environ``); ``overrides`` (from CLI flags) win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper(), "").strip()
            if raw:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None and v != ""})
        values.setdefault("data_dir", default_data_dir(env))
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            problem = first["msg"].removeprefix("Value error, ")
            if not first["loc"]:  # a rule across variables: its message names them and the fix
                raise SettingsError(problem) from None
            field = str(first["loc"][0])
            fix = _FIXES.get(field, "check the value")
            raise SettingsError(f"{ENV_PREFIX}{field.upper()} is invalid ({problem}): {fix}.") from None

    @classmethod
    def from_env_lenient(cls, env: Mapping[str, str], **overrides: Any) -> tuple[Settings, dict[str, str]]:
        """Like :meth:`from_env`, but each malformed variable (or flag) is left at its default and reported, so
        ``doctor`` can check the rest: (settings, {variable: the one-line error}), in the order found. The first
        error is the one :meth:`from_env` raises."""
        remaining, given = dict(env), dict(overrides)
        errors: dict[str, str] = {}
        while True:
            try:
                return cls.from_env(remaining, **given), errors
            except SettingsError as exc:
                # The message names the variable first (a rule across two names both; leaving one out fixes it).
                found = re.findall(rf"{ENV_PREFIX}[A-Z_]+", str(exc))
                named = [name for name in found if name in remaining or _field(name) in given]
                errors[named[0] if named else "?"] = str(exc)
                if not named:
                    break
                remaining.pop(named[0], None)
                given.pop(_field(named[0]), None)
        outside = {name: value for name, value in env.items() if not name.startswith(ENV_PREFIX)}
        return cls.from_env({**outside, f"{ENV_PREFIX}DATA_DIR": env.get(f"{ENV_PREFIX}DATA_DIR", "")}), errors

    def external_issuer(self) -> tuple[str, str, str, SecretStr] | None:
        """(issuer, introspection URL, client id, secret) when an external issuer is configured, else None."""
        if self.oauth_external_issuer is None:
            return None
        needed = {
            "INTROSPECTION_URL": self.oauth_introspection_url,
            "CLIENT_ID": self.oauth_client_id,
            "CLIENT_SECRET": self.oauth_client_secret,
        }
        missing = [name for name, value in needed.items() if not value]
        if missing or self.oauth_introspection_url is None or self.oauth_client_id is None:
            raise SettingsError(
                f"{ENV_PREFIX}OAUTH_EXTERNAL_ISSUER needs {', '.join(ENV_PREFIX + 'OAUTH_' + m for m in missing)}: "
                "the introspection endpoint and this server's client credentials at the provider."
            )
        assert self.oauth_client_secret is not None  # noqa: S101  # checked in `missing`
        issuer, url, client = self.oauth_external_issuer, self.oauth_introspection_url, self.oauth_client_id
        return issuer, url, client, self.oauth_client_secret

    def require_multi_tenant(self) -> SecretStr:
        """The master key of a multi-tenant server, or a one-line :class:`SettingsError`: what is missing or what
        does not belong in this mode (a store of its own, the sandbox, another way to sign in)."""
        own = {
            "API_KEY": self.api_key,
            "STORE_ID": self.store_id,
            "WEBHOOK_SECRET": self.webhook_secret,
            "OAUTH_PASSPHRASE": self.oauth_passphrase,
            "OAUTH_EXTERNAL_ISSUER": self.oauth_external_issuer,
            "MCP_AUTH_TOKEN": self.mcp_auth_token,
        }
        clashing = [ENV_PREFIX + name for name, value in own.items() if value is not None]
        if clashing:
            raise SettingsError(
                f"{ENV_PREFIX}MULTI_TENANT is set together with {', '.join(clashing)}: in multi-tenant mode each "
                "merchant connects their own store on the sign-in page, so unset those (or drop --multi-tenant to "
                "serve one store)."
            )
        if self.sandbox:
            raise SettingsError(
                f"{ENV_PREFIX}MULTI_TENANT cannot serve --sandbox: run `hajatek-mcp sandbox --stores N` and point "
                f"{ENV_PREFIX}BASE_URL at it, then connect its stores on the sign-in page."
            )
        if self.oauth_issuer is None:
            raise SettingsError(
                f"{ENV_PREFIX}MULTI_TENANT needs {ENV_PREFIX}OAUTH_ISSUER (--oauth-issuer): merchants connect their "
                "stores through this server's OAuth sign-in page, at its public https:// URL."
            )
        if self.master_key is None:
            raise SettingsError(f"{ENV_PREFIX}MULTI_TENANT needs {ENV_PREFIX}MASTER_KEY: {_FIXES['master_key']}.")
        return self.master_key

    def require_api_credentials(self) -> tuple[SecretStr, str]:
        """The API key and store id, or a :class:`SettingsError` naming the one that is missing."""
        if self.api_key is None:
            raise SettingsError(f"{ENV_PREFIX}API_KEY is not set: {_FIXES['api_key']}.")
        if self.store_id is None:
            raise SettingsError(f"{ENV_PREFIX}STORE_ID is not set: {_FIXES['store_id']}.")
        return self.api_key, self.store_id
