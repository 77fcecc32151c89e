"""The hajatek-mcp command, driven as a user drives it."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hajatek_mcp
from hajatek_mcp.cli import ExitCode, main
from hajatek_mcp.commandline import parser
from hajatek_mcp.server import ServerOptions
from hajatek_mcp.server.oauth import OAuthStore
from hajatek_mcp.settings import ENV_PREFIX, Settings
from hajatek_mcp.wiring import COMPUTED_OPTIONS, SANDBOX_STORE, options_from

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "check" in out
    assert "sandbox" in out
    codes = out.split("exit codes:", 1)[1]
    assert [int(code) for code in re.findall(r"^  (\d) ", codes, flags=re.MULTILINE)] == list(ExitCode)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert hajatek_mcp.__version__ in capsys.readouterr().out


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hajatek_mcp", "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == f"hajatek-mcp {hajatek_mcp.__version__}"


def test_serving_without_a_key_says_which_variable_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HAJATEK_API_KEY", "HAJATEK_STORE_ID"):
        monkeypatch.delenv(name, raising=False)
    assert main(["tools"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hajatek-mcp: HAJATEK_API_KEY is not set:")
    assert len(err.splitlines()) == 1


def test_a_malformed_setting_stops_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HAJATEK_PLAN", "platinum")
    assert main(["tools", "--sandbox"]) == ExitCode.CONFIGURATION
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("hajatek-mcp: HAJATEK_PLAN is invalid")


@pytest.mark.parametrize(
    "argv",
    [
        ["--sandbox", "--read-only", "tools"],
        ["tools", "--sandbox", "--read-only"],
        ["--sandbox", "tools", "--read-only"],
        ["--read-only", "tools", "--sandbox"],
    ],
    ids=" ".join,
)
def test_global_flags_go_before_or_after_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    for name in ("HAJATEK_API_KEY", "HAJATEK_SANDBOX", "HAJATEK_READ_ONLY"):
        monkeypatch.delenv(name, raising=False)
    assert main(argv) == 0
    kinds = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    assert kinds, "--sandbox applied: no key needed"
    assert set(kinds) == {"read"}, "--read-only applied"


def test_revoking_an_unknown_oauth_app_fails_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    assert main(["oauth", "revoke", "app_nobody"]) == ExitCode.FAILED  # no OAuth state at all
    assert capsys.readouterr().err.startswith("hajatek-mcp: no app has the client id 'app_nobody'")
    OAuthStore(tmp_path / "oauth.db").close()  # state exists, but not this app
    assert main(["oauth", "revoke", "app_nobody"]) == ExitCode.FAILED
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("`hajatek-mcp oauth clients` lists the registered apps")


def test_the_readme_lists_every_exit_code() -> None:
    section = README.split("## Running it", 1)[1].split("\n## ", 1)[0]
    listed = [int(code) for code in re.findall(r"^\| `(\d)` \|", section, flags=re.MULTILINE)]
    assert listed == list(ExitCode)


def test_the_readme_settings_table_has_every_variable_and_only_those() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("| `"))
    in_table = set(re.findall(rf"`({ENV_PREFIX}[A-Z_]+)`", table))
    assert in_table == {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def test_a_webhook_listener_without_a_secret_says_which_variable_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("HAJATEK_API_KEY", "sk_live_x")
    monkeypatch.setenv("HAJATEK_STORE_ID", "str_x")
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HAJATEK_WEBHOOK_SECRET", raising=False)
    assert main(["--webhook-port", "8799"]) == 2
    err = capsys.readouterr().err
    assert "webhook receiver off" in err
    assert err.strip().splitlines()[-1].startswith("hajatek-mcp: --webhook-port needs HAJATEK_WEBHOOK_SECRET")


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(ENV_PREFIX + name.upper(), raising=False)
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    return monkeypatch


def listed_tools(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}


def test_the_switches_are_read_from_the_environment_and_a_flag_wins(
    sandbox_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_env.setenv("HAJATEK_SANDBOX", "true")  # the bundle's "Use the demo store"
    sandbox_env.setenv("HAJATEK_READ_ONLY", "true")
    sandbox_env.setenv("HAJATEK_TOOLSETS", "orders")
    assert main(["tools"]) == 0
    assert listed_tools(capsys) == {"list_orders": "read", "get_order": "read", "export_orders": "read"}
    assert main(["tools", "--toolsets", "store"]) == 0
    assert listed_tools(capsys) == {"get_store": "read"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [("HAJATEK_READ_ONLY", "perhaps"), ("HAJATEK_TOOLSETS", "payments"), ("HAJATEK_LOG_LEVEL", "loud")],
)
def test_a_malformed_switch_stops_with_one_line_naming_it(
    variable: str, value: str, sandbox_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_env.setenv(variable, value)
    assert main(["tools", "--sandbox"]) == ExitCode.CONFIGURATION
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"hajatek-mcp: {variable} is invalid (")


def test_an_unknown_toolset_flag_names_the_valid_ones(
    sandbox_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--sandbox", "tools", "--toolsets", "orders,nope"]) == ExitCode.CONFIGURATION
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "hajatek-mcp: HAJATEK_TOOLSETS is invalid (unknown names 'nope'): use a comma-separated subset of "
        "store,catalog,orders,customers,analytics,events, or leave it empty for all."
    )


def test_the_sandbox_command_checks_its_signing_secret_like_every_setting(
    sandbox_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_env.setenv("HAJATEK_WEBHOOK_SECRET", "whsec_CANARY\tpasted")
    argv = ["sandbox", "--webhook-url", "http://127.0.0.1:9/hook", "--port", "-1"]  # never bound: refused first
    assert main(argv) == ExitCode.CONFIGURATION
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("hajatek-mcp: HAJATEK_WEBHOOK_SECRET is invalid (contains whitespace")
    assert "CANARY" not in line


def test_each_flag_that_names_a_variable_sets_that_setting() -> None:
    """A flag overrides the setting its ``dest`` names: the variable its help names first must be that one."""
    checked = set()
    parsers = [parser()]
    while parsers:
        current = parsers.pop()
        for action in current._actions:  # argparse lists its flags nowhere public
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
                continue
            named = re.findall(rf"{ENV_PREFIX}[A-Z_]+", action.help or "")
            if action.dest in Settings.model_fields or named:
                assert named[:1] == [ENV_PREFIX + action.dest.upper()], action.option_strings
                checked.add(action.dest)
    assert checked >= {"sandbox", "read_only", "toolsets", "log_level", "mcp_auth_token", "webhook_secret"}


def test_every_server_option_is_a_setting_of_its_name_or_computed() -> None:
    options = {option.name for option in dataclasses.fields(ServerOptions)}
    assert options >= COMPUTED_OPTIONS
    assert options - COMPUTED_OPTIONS <= set(Settings.model_fields)


def test_options_are_taken_from_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "HAJATEK_DATA_DIR": str(tmp_path), "HAJATEK_STORE_ID": "str_mine", "HAJATEK_READ_ONLY": "true",
        "HAJATEK_TOOLSETS": "orders", "HAJATEK_CONFIRM": "token", "HAJATEK_CONFIRM_TTL": "60",
        "HAJATEK_PRICE_CUT_GUARD": "0.2", "HAJATEK_GUARD_WINDOW": "7200", "HAJATEK_REDACT_PII": "yes",
        "HAJATEK_WEBHOOK_SECRET": "whsec_1", "HAJATEK_WEBHOOK_MAX_AGE": "600", "HAJATEK_EVENT_RETENTION_DAYS": "2",
        "HAJATEK_OAUTH_ISSUER": "https://mcp.example.com", "HAJATEK_OAUTH_PASSPHRASE": "correct horse battery",
    })  # fmt: skip
    options = options_from(settings, transport="streamable-http")
    for option in dataclasses.fields(ServerOptions):
        if option.name not in COMPUTED_OPTIONS:
            assert getattr(options, option.name) == getattr(settings, option.name), option.name
    assert (options.state_dir, options.store_id, options.oauth_issuer) == (
        tmp_path,
        "str_mine",
        "https://mcp.example.com",
    )
    assert options_from(settings).oauth_issuer is None, "no OAuth on stdio"
    sandbox = options_from(settings.model_copy(update={"sandbox": True}))
    assert sandbox.store_id == SANDBOX_STORE, "the sandbox serves its own store, whatever HAJATEK_STORE_ID says"
