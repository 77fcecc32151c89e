"""Settings come from HAJATEK_* variables; a bad one ends with one line naming it and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import hajatek_mcp.server
from hajatek_mcp.settings import _FIXES, TOOLSETS, Settings, SettingsError


def test_values_are_read_from_hajatek_variables(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "HAJATEK_API_KEY": "sk_live_abc", "HAJATEK_STORE_ID": "str_xyz789", "HAJATEK_PLAN": "pro",
        "HAJATEK_BASE_URL": "https://api.example.sa/v1/", "HAJATEK_DATA_DIR": str(tmp_path),
        "HAJATEK_MAX_RETRIES": "5", "HAJATEK_WEBHOOK_SECRET": "whsec_1",
    })  # fmt: skip
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk_live_abc"
    assert (settings.store_id, settings.plan, settings.max_retries) == ("str_xyz789", "pro", 5)
    assert settings.base_url == "https://api.example.sa/v1"
    assert settings.data_dir == tmp_path


def test_empty_strings_count_as_unset_as_claude_desktop_sends_them() -> None:
    settings = Settings.from_env({"HAJATEK_API_KEY": "", "HAJATEK_PLAN": "  ", "HAJATEK_RATE_LIMIT": "",
                                  "XDG_DATA_HOME": "/srv/data"})  # fmt: skip
    assert settings.api_key is None
    assert settings.plan == "starter"
    assert settings.rate_limit is None


def test_the_default_data_dir_is_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    assert Settings.from_env({"XDG_DATA_HOME": "/srv/data"}).data_dir == Path("/srv/data/hajatek-mcp")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HAJATEK_PLAN": "gold"}, "HAJATEK_PLAN is invalid"),
        ({"HAJATEK_STORE_ID": "store-1"}, "HAJATEK_STORE_ID is invalid"),
        ({"HAJATEK_BASE_URL": "api.hajatek.com"}, "HAJATEK_BASE_URL is invalid (must start with https://"),
        ({"HAJATEK_MAX_RETRIES": "lots"}, "HAJATEK_MAX_RETRIES is invalid"),
        ({"HAJATEK_TIMEOUT": "-1"}, "HAJATEK_TIMEOUT is invalid"),
        ({"HAJATEK_SANDBOX": "maybe"}, "HAJATEK_SANDBOX is invalid"),
        ({"HAJATEK_READ_ONLY": "perhaps"}, "HAJATEK_READ_ONLY is invalid"),
        ({"HAJATEK_TOOLSETS": "orders,payments"}, "HAJATEK_TOOLSETS is invalid (unknown names 'payments')"),
        ({"HAJATEK_LOG_LEVEL": "loud"}, "HAJATEK_LOG_LEVEL is invalid"),
        ({"HAJATEK_RATE_WINDOW": "0"}, "HAJATEK_RATE_WINDOW is invalid"),
        ({"HAJATEK_REDIS_URL": "cache.internal:6379"}, "HAJATEK_REDIS_URL is invalid (must be a redis://"),
        ({"HAJATEK_REQUEST_STATE_KEYS": "short"}, "HAJATEK_REQUEST_STATE_KEYS is invalid (each key must have"),
        ({"HAJATEK_REQUEST_STATE_KEYS": "k" * 40 + ",,"}, "HAJATEK_REQUEST_STATE_KEYS is invalid (each key must"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_fix(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert ": " in message.split(")", 1)[-1]  # a fix follows the problem


def test_missing_credentials_name_the_variable() -> None:
    settings = Settings.from_env({"HAJATEK_STORE_ID": "str_1"})
    with pytest.raises(SettingsError, match=r"^HAJATEK_API_KEY is not set: .*--sandbox"):
        settings.require_api_credentials()
    settings = Settings.from_env({"HAJATEK_API_KEY": "sk_x"})
    with pytest.raises(SettingsError, match=r"^HAJATEK_STORE_ID is not set"):
        settings.require_api_credentials()


def test_secrets_are_masked_in_repr() -> None:
    settings = Settings.from_env({"HAJATEK_API_KEY": "sk_live_TOPSECRET", "HAJATEK_WEBHOOK_SECRET": "whsec_TOPSECRET"})
    assert "TOPSECRET" not in repr(settings)
    assert "TOPSECRET" not in str(settings.model_dump())


SECRET_VARIABLES = [
    "HAJATEK_API_KEY",
    "HAJATEK_WEBHOOK_SECRET",
    "HAJATEK_MCP_AUTH_TOKEN",
    "HAJATEK_OAUTH_CLIENT_SECRET",
]


@pytest.mark.parametrize("variable", SECRET_VARIABLES)
@pytest.mark.parametrize("junk", ["\n", "\r\n", "\t", " ", "\x00", "\x1b", "\u200b", "\ufeff", "\u00a0", "\udcff"])
def test_a_secret_with_whitespace_or_a_control_character_inside_is_refused_without_quoting_it(
    variable: str, junk: str
) -> None:
    value = f"CANARYsecret0123456789abcdef{junk}0123456789abcdef"  # long enough for the auth token's own rule
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable} is invalid (contains whitespace or a control character): ")
    assert "\n" not in message
    assert "CANARY" not in message


@pytest.mark.parametrize("junk", ["\n", "\t", "\x00", "\u200b", "\u2028"])
def test_a_passphrase_may_have_spaces_inside_but_no_line_break_or_control_character(junk: str) -> None:
    spaced = Settings.from_env({"HAJATEK_OAUTH_PASSPHRASE": "correct horse battery staple"})
    assert spaced.oauth_passphrase is not None
    assert spaced.oauth_passphrase.get_secret_value() == "correct horse battery staple"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"HAJATEK_OAUTH_PASSPHRASE": f"correct horse{junk}battery CANARY"})
    message = str(caught.value)
    assert message.startswith("HAJATEK_OAUTH_PASSPHRASE is invalid (contains a line break, tab or other control")
    assert "CANARY" not in message


def test_a_secret_refused_by_settings_built_directly_is_not_quoted_either(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="api_key") as caught:  # pydantic quotes inputs unless told not to
        Settings(data_dir=tmp_path, api_key="sk_live_CANARY\nrest")
    assert "CANARY" not in str(caught.value)


def test_a_replay_window_longer_than_the_retention_is_refused_naming_both_variables() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"HAJATEK_WEBHOOK_MAX_AGE": "172800", "HAJATEK_EVENT_RETENTION_DAYS": "1"})
    message = str(caught.value)
    assert message.startswith("HAJATEK_WEBHOOK_MAX_AGE (172800 s) is longer than HAJATEK_EVENT_RETENTION_DAYS (1")
    assert "set HAJATEK_EVENT_RETENTION_DAYS to at least 2 or HAJATEK_WEBHOOK_MAX_AGE to at most 86400" in message
    assert "\n" not in message
    same = Settings.from_env({"HAJATEK_WEBHOOK_MAX_AGE": "86400", "HAJATEK_EVENT_RETENTION_DAYS": "1"})
    assert same.webhook_max_age == same.event_retention_days * 86400


@pytest.mark.parametrize(("raw", "expected"), [(None, 86400.0), ("3600", 3600.0), ("2592000", 2592000.0)])
def test_the_guard_window_is_read_in_seconds(raw: str | None, expected: float) -> None:
    env = {} if raw is None else {"HAJATEK_GUARD_WINDOW": raw}
    assert Settings.from_env(env).guard_window == expected


@pytest.mark.parametrize("raw", ["0", "59", "3599", "2592001", "a day"])
def test_a_guard_window_outside_an_hour_to_30_days_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^HAJATEK_GUARD_WINDOW is invalid \(.*\): use a number of seconds from"):
        Settings.from_env({"HAJATEK_GUARD_WINDOW": raw})


def test_the_switches_the_cli_offers_as_flags_are_settings_too() -> None:
    settings = Settings.from_env({"HAJATEK_SANDBOX": "true", "HAJATEK_READ_ONLY": "1",
                                  "HAJATEK_TOOLSETS": " orders, analytics ", "HAJATEK_LOG_LEVEL": "debug"})  # fmt: skip
    assert (settings.sandbox, settings.read_only, settings.log_level) == (True, True, "DEBUG")
    assert settings.toolsets == {"orders", "analytics"}
    defaults = Settings.from_env({"HAJATEK_SANDBOX": "false", "HAJATEK_TOOLSETS": ","})
    assert (defaults.sandbox, defaults.read_only, defaults.log_level) == (False, False, "WARNING")
    assert defaults.toolsets == frozenset(TOOLSETS), "a list naming no group means all of them"


def test_flags_override_the_variables() -> None:
    settings = Settings.from_env({"HAJATEK_TOOLSETS": "orders", "HAJATEK_LOG_LEVEL": "ERROR"}, toolsets="store,events",
                                 log_level="INFO", read_only=None)  # fmt: skip
    assert settings.toolsets == {"store", "events"}
    assert (settings.log_level, settings.read_only) == ("INFO", False)


def test_an_unknown_toolset_is_named_with_every_known_one_in_one_line() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({}, toolsets="orders,nope\nmore")
    message = str(caught.value)
    assert message.startswith("HAJATEK_TOOLSETS is invalid (unknown names 'nope\\nmore'): use a comma-separated ")
    assert "store,catalog,orders,customers,analytics,events" in message
    assert "\n" not in message


def test_the_toolset_names_are_the_servers() -> None:
    assert TOOLSETS == hajatek_mcp.server.TOOLSETS


def test_every_setting_has_a_fix_to_name() -> None:
    assert set(_FIXES) == set(Settings.model_fields)


def test_read_leniently_a_malformed_variable_is_left_at_its_default_and_reported() -> None:
    env = {"HAJATEK_PLAN": "gold", "HAJATEK_READ_ONLY": "true", "HAJATEK_TIMEOUT": "soon"}
    settings, malformed = Settings.from_env_lenient(env, toolsets="orders,payments", sandbox=True)
    assert list(malformed) == ["HAJATEK_PLAN", "HAJATEK_TIMEOUT", "HAJATEK_TOOLSETS"]
    assert all(message.startswith(f"{name} is invalid (") for name, message in malformed.items())
    assert (settings.plan, settings.timeout, settings.toolsets) == ("starter", 30.0, frozenset(TOOLSETS))
    assert (settings.read_only, settings.sandbox) == (True, True), "the rest is read"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env, toolsets="orders,payments", sandbox=True)
    assert str(caught.value) == malformed["HAJATEK_PLAN"], "the first is the one from_env raises"
    assert Settings.from_env_lenient({"HAJATEK_PLAN": "pro"})[1] == {}


def test_replica_settings_are_secrets_never_quoted() -> None:
    keys = "a-request-state-key-of-forty-characters!!, an-older-one-still-read-during-rotation-0"
    settings = Settings.from_env({"HAJATEK_REDIS_URL": "redis://:pa55word@cache:6379/0",
                                  "HAJATEK_REQUEST_STATE_KEYS": keys})  # fmt: skip
    assert settings.redis_url is not None
    assert settings.request_state_keys is not None
    assert "pa55word" not in repr(settings)
    assert "forty" not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"HAJATEK_REQUEST_STATE_KEYS": "a-request-state-key-of-forty-characters!!,tooshort-secret"})
    assert "tooshort" not in str(caught.value)
    assert "openssl rand" in str(caught.value)
