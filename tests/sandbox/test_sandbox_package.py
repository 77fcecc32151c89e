"""The package surface: config checks, an import that does no work, the CLI banner, uvicorn and its lifespan."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime

import httpx2
import pytest

import hajatek_mcp.sandbox as sandbox_package
from hajatek_mcp.sandbox import SandboxConfig, banner, base_url, create_app


def test_importing_the_package_does_no_work() -> None:
    code = (
        "import sys, threading\n"
        "import hajatek_mcp.sandbox\n"
        "assert 'uvicorn' not in sys.modules, 'uvicorn imported'\n"
        "assert 'mcp' not in sys.modules, 'mcp imported'\n"
        "assert threading.active_count() == 1, 'a thread started'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)  # noqa: S603

    assert result.returncode == 0, result.stderr


def test_the_public_surface() -> None:
    assert {"SandboxConfig", "create_app", "serve", "banner"} <= set(sandbox_package.__all__)
    assert all(hasattr(sandbox_package, name) for name in sandbox_package.__all__)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"now": datetime(2026, 3, 15)}, "timezone-aware"),
        ({"webhook_url": "https://x.example/hooks"}, "webhook_secret"),
        ({"webhook_url": "ftp://x", "webhook_secret": "s"}, "http"),
        ({"webhook_url": "https://x.example", "webhook_secret": ""}, "empty"),
        ({"activity": -1}, "activity"),
        ({"rate_window": 0}, "rate_window"),
        ({"plan_limits": {"enterprise": 5}}, "unknown plans"),
        ({"plan_limits": {"starter": 0}}, "starter"),
        ({"low_stock_threshold": -1}, "low_stock_threshold"),
        ({"webhook_max_attempts": 0}, "webhook_max_attempts"),
    ],
)
def test_a_bad_config_says_what_to_fix(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SandboxConfig(**kwargs)


def test_the_banner_shows_the_url_the_keys_and_no_secret() -> None:
    config = SandboxConfig(webhook_url="http://127.0.0.1:9000/hooks", webhook_secret="whsec_topsecret", activity=6)

    text = banner(config, "127.0.0.1", 8787)

    assert "http://127.0.0.1:8787/v1" in text
    for key in ("sk_sandbox_starter", "sk_sandbox_pro", "sk_sandbox_business"):
        assert key in text
    assert "100 requests / 60 s" in text
    assert "unlimited" in text
    assert 'curl -H "Authorization: Bearer sk_sandbox_pro" "http://127.0.0.1:8787/v1/products?page=1&limit=10"' in text
    assert "http://127.0.0.1:9000/hooks" in text
    assert "6 orders per minute" in text
    assert "whsec_topsecret" not in text
    assert "Admin API: off" in text
    assert "Warning" not in text


def test_the_banner_warns_off_loopback_and_shows_the_admin_api() -> None:
    text = banner(SandboxConfig(enable_admin=True), "0.0.0.0", 9999)  # noqa: S104 -- the warning is under test

    assert "http://0.0.0.0:9999/_sandbox/" in text
    assert "Warning" in text


def test_ipv6_hosts_are_bracketed() -> None:
    assert base_url("::1", 8787) == "http://[::1]:8787/v1"


async def test_the_reference_curl_works_over_http_and_the_lifespan_closes_the_sandbox(
    now, clock, serve_loopback
) -> None:
    app = create_app(SandboxConfig(now=now, clock=clock))
    async with serve_loopback(app) as origin, httpx2.AsyncClient(trust_env=False) as http:
        response = await http.get(
            f"{origin}/v1/products?page=1&limit=10",
            headers={"Authorization": "Bearer sk_sandbox_pro", "Content-Type": "application/json"},
        )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert len(response.json()["products"]) == 10
    # uvicorn ran the lifespan: on shutdown the sandbox closed its database
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        app.state.sandbox.store.is_empty()
