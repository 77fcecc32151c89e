"""The hajatek-mcp command, driven as a user drives it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import hajatek_mcp
from hajatek_mcp.cli import ExitCode, main
from hajatek_mcp.server.oauth import OAuthStore
from hajatek_mcp.settings import ENV_PREFIX, Settings

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


def test_the_readme_settings_table_has_every_variable() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    in_table = set(re.findall(rf"`({ENV_PREFIX}[A-Z_]+)`", section))
    read_by_the_cli = {"HAJATEK_SANDBOX", "HAJATEK_READ_ONLY", "HAJATEK_TOOLSETS", "HAJATEK_LOG_LEVEL"}
    settings = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert settings | read_by_the_cli <= in_table


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
