"""The hajatek-mcp command, driven as a user drives it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hajatek_mcp
from hajatek_mcp.cli import main


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "check" in out
    assert "sandbox" in out


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
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAJATEK_PLAN", "platinum")
    assert main(["doctor"]) == 2
    assert capsys.readouterr().err.startswith("hajatek-mcp: HAJATEK_PLAN is invalid")


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
