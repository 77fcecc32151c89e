"""hajatek-mcp doctor gives the right verdict: sandbox ok, missing key, wrong key, unreachable API."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from hajatek_mcp.cli import main
from hajatek_mcp.sandbox import SandboxConfig, create_app
from tests.conftest import CANARY_API_KEY


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("HAJATEK_API_KEY", "HAJATEK_STORE_ID", "HAJATEK_BASE_URL", "HAJATEK_WEBHOOK_SECRET", "HAJATEK_PLAN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HAJATEK_MAX_RETRIES", "0")
    return monkeypatch


@pytest.fixture
def standalone_sandbox() -> Iterator[str]:
    """The sandbox served by uvicorn on 127.0.0.1, as `hajatek-mcp sandbox` runs it."""
    app = create_app(SandboxConfig())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
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
