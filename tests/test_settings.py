"""Settings come from HAJATEK_* variables; a bad one ends with one line naming it and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hajatek_mcp.settings import Settings, SettingsError


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
