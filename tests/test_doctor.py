"""hajatek-mcp doctor gives the right verdict: sandbox ok, missing key, wrong key, unreachable API."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hajatek_mcp.cli import ExitCode, main
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.settings import ENV_PREFIX, Settings
from tests.servers import fresh_database
from tests.support import CANARY_API_KEY, Loopback


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(ENV_PREFIX + name.upper(), raising=False)
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HAJATEK_MAX_RETRIES", "0")
    return monkeypatch


@pytest.fixture
def standalone_sandbox() -> Iterator[str]:
    """The sandbox served by uvicorn on 127.0.0.1, as `hajatek-mcp sandbox` runs it."""
    app = create_app(SandboxConfig())
    try:
        with Loopback(app, lifespan="off") as origin:
            yield f"{origin}/v1"
    finally:
        app.state.sandbox.store.close()


def test_the_sandbox_passes(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert "store Souq Al-Noor (str_sandbox)" in out
    assert "Everything needed works." in out


def test_a_missing_key_is_named(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  HAJATEK_API_KEY is not set" in out
    assert "Connection" not in out


def test_a_wrong_key_is_reported_as_refused_without_showing_it(
    clean_env: pytest.MonkeyPatch, standalone_sandbox: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HAJATEK_API_KEY", CANARY_API_KEY)
    clean_env.setenv("HAJATEK_STORE_ID", "str_sandbox")
    clean_env.setenv("HAJATEK_BASE_URL", standalone_sandbox)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "the API key was refused (401)" in out
    assert "HAJATEK_API_KEY is set" in out
    assert CANARY_API_KEY not in out


def test_a_right_key_against_the_standalone_sandbox_passes(
    clean_env: pytest.MonkeyPatch, standalone_sandbox: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HAJATEK_API_KEY", "sk_sandbox_starter")
    clean_env.setenv("HAJATEK_STORE_ID", "str_sandbox")
    clean_env.setenv("HAJATEK_BASE_URL", standalone_sandbox)
    assert main(["doctor"]) == 0
    assert "rate budget 9" in capsys.readouterr().out  # starter: 100 a minute, a few already used


def test_an_unreachable_base_url_is_reported(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe closes
    clean_env.setenv("HAJATEK_API_KEY", "sk_live_x")
    clean_env.setenv("HAJATEK_STORE_ID", "str_x")
    clean_env.setenv("HAJATEK_BASE_URL", f"http://127.0.0.1:{port}/v1")
    assert main(["doctor"]) == 1
    assert "cannot reach http://127.0.0.1:" in capsys.readouterr().out


def test_a_malformed_setting_fails_one_check_and_the_rest_still_runs(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HAJATEK_PLAN", "platinum")
    clean_env.setenv("HAJATEK_TIMEOUT", "soon")
    assert main(["doctor", "--sandbox"]) == ExitCode.CONFIGURATION
    out = capsys.readouterr().out
    assert "FAIL  HAJATEK_PLAN is invalid" in out
    assert "FAIL  HAJATEK_TIMEOUT is invalid" in out
    assert "HAJATEK_DATA_DIR is a writable directory" in out
    assert "store Souq Al-Noor (str_sandbox)" in out
    assert "2 problems to fix" in out


def test_a_malformed_base_url_skips_the_connection_instead_of_guessing_one(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HAJATEK_API_KEY", "sk_live_x")
    clean_env.setenv("HAJATEK_STORE_ID", "str_x")
    clean_env.setenv("HAJATEK_BASE_URL", "api.hajatek.com")
    assert main(["doctor"]) == ExitCode.CONFIGURATION
    out = capsys.readouterr().out
    assert "FAIL  HAJATEK_BASE_URL is invalid" in out
    assert "skipped until HAJATEK_BASE_URL is fixed" in out
    assert "HAJATEK_API_KEY is set" in out


def test_a_plan_that_differs_from_the_stores_is_a_warning(
    clean_env: pytest.MonkeyPatch, standalone_sandbox: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HAJATEK_API_KEY", "sk_sandbox_starter")
    clean_env.setenv("HAJATEK_STORE_ID", "str_sandbox")
    clean_env.setenv("HAJATEK_BASE_URL", standalone_sandbox)
    clean_env.setenv("HAJATEK_PLAN", "pro")
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "WARN  HAJATEK_PLAN is pro but the store is on the starter plan: set HAJATEK_PLAN=starter" in out
    assert "Everything needed works. (1 warning above)" in out


def test_a_data_dir_that_is_a_file_is_a_failed_check_not_a_crash(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file\n")
    clean_env.setenv("HAJATEK_DATA_DIR", str(not_a_dir))
    assert main(["doctor", "--sandbox"]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert f"FAIL  HAJATEK_DATA_DIR {not_a_dir} is a file, not a directory" in out
    assert "skipped: the --sandbox store cannot be opened" in out


def test_the_demo_store_switch_in_the_environment_is_the_sandbox_flag(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HAJATEK_SANDBOX", "true")
    assert main(["doctor"]) == 0
    assert "store Souq Al-Noor (str_sandbox)" in capsys.readouterr().out


def test_a_malformed_switch_is_one_failed_check(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HAJATEK_TOOLSETS", "orders,payments")
    clean_env.setenv("HAJATEK_LOG_LEVEL", "loud")
    assert main(["doctor", "--sandbox"]) == ExitCode.CONFIGURATION
    out = capsys.readouterr().out
    assert "FAIL  HAJATEK_TOOLSETS is invalid (unknown names 'payments')" in out
    assert "FAIL  HAJATEK_LOG_LEVEL is invalid" in out
    assert "store Souq Al-Noor (str_sandbox)" in out


def test_replicas_shared_state_is_checked_and_the_missing_settings_named(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], postgres_url: str, redis: str
) -> None:
    clean_env.setenv("HAJATEK_DATABASE_URL", fresh_database(postgres_url, "doctor_shared"))
    clean_env.setenv("HAJATEK_REDIS_URL", redis)
    assert main(["doctor", "--sandbox"]) == 0
    out = capsys.readouterr().out
    assert "Shared state (replicas)" in out
    assert "ok    PostgreSQL at postgresql://postgres@127.0.0.1:" in out
    assert "ok    Redis at redis://127.0.0.1:" in out
    assert "HAJATEK_REQUEST_STATE_KEYS is not set" in out  # a note: one process needs none


def test_an_unreachable_redis_fails_the_check_without_its_password(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clean_env.setenv("HAJATEK_REDIS_URL", f"redis://:s3cret-redis-pass@127.0.0.1:{port}/0")
    clean_env.setenv("HAJATEK_REQUEST_STATE_KEYS", "k" * 40)
    assert main(["doctor", "--sandbox"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  Redis at redis://:***@127.0.0.1:{port}/0 cannot be reached" in out
    assert "s3cret" not in out
    assert "REQUEST_STATE_KEYS" not in out
