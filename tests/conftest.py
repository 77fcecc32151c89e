"""Fixtures every test folder may use: the secrets check, a fake clock, both protocol eras, the console script, and
real MCP servers on the in-process sandbox. Helpers that tests import are in :mod:`tests.support`.

Tests configure secrets with the canary values of :mod:`tests.support`. Every log record of the whole session is kept,
and at the end none may contain a canary: a secret that leaks into a log anywhere in the suite fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import ServerOptions, Shop, build_server
from tests.support import (
    CANARIES,
    CANARY_API_KEY,
    NOW,
    PROTOCOL_VERSION,
    SCRIPT,
    Connect,
    FakeClock,
    IdentityProvider,
    KeySwap,
    Loopback,
)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.messages.append(text)


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    handler = _Keep()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    leaks = [(canary, m[:200]) for m in handler.messages for canary in CANARIES if canary in m]
    assert not leaks, f"secrets leaked into log records: {leaks[:3]}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=list(PROTOCOL_VERSION), ids=list(PROTOCOL_VERSION.values()))
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras, as ``Client(..., mode=mode)``: the stateless 2026 client (``"auto"``) and the handshake of
    today's hosts such as Claude Desktop and the Inspector (``"legacy"``)."""
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One real PostgreSQL (Debian's package) for the whole run, started by the first test that asks; each test
    makes its own empty database on it with :func:`tests.servers.fresh_database`."""
    from tests.servers import postgres_server  # only runs that need PostgreSQL start it

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One real Redis (Debian's package) for the whole run, started by the first test that asks; tests keep apart by
    key prefix (``RedisLink(url, prefix=...)``) or by database number."""
    from tests.servers import redis_server  # only runs that need Redis start it

    with redis_server() as url:
        yield url


@pytest.fixture
def redis(redis_url: str) -> str:
    """The session's Redis, emptied for this test (rate budgets are per key, and tests share the sandbox keys)."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(redis_url)
    with socket.create_connection((where.hostname, where.port), timeout=5) as conn:
        conn.sendall(b"FLUSHALL\r\n")
        assert conn.recv(16).startswith(b"+OK")
    return redis_url


@pytest.fixture(scope="session")
def script() -> Path:
    """The installed ``hajatek-mcp`` console script; missing is a failure, never a skip."""
    if not SCRIPT.is_file():
        pytest.fail(f"{SCRIPT} does not exist: install the package into this environment (pip install -e .)")
    return SCRIPT


# --- MCP servers on the in-process sandbox ----------------------------------------------------------------------


async def _no_wait(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


@pytest.fixture
def sandbox_app(request: pytest.FixtureRequest) -> Iterator[Starlette]:
    """The demo sandbox (seed 42, time pinned at ``NOW``, admin API on), in process. Indirect parametrization may
    change its configuration: ``{"assumed_fields": False}`` answers only what the API reference states."""
    app = create_app(SandboxConfig(now=NOW, seed=42, enable_admin=True, **getattr(request, "param", {})))
    yield app
    app.state.sandbox.store.close()


@pytest.fixture
def make_server(sandbox_app: Starlette) -> Callable[..., MCPServer[Shop]]:
    """``make_server(read_only=True, ...)``: ``build_server`` on :func:`sandbox_app`, holding the canary API key."""

    def factory(
        *,
        key: str = CANARY_API_KEY,
        timeout: float = 30.0,
        max_retries: int = 0,
        instant_retries: bool = True,
        **options: Any,
    ) -> MCPServer[Shop]:
        options.setdefault("sandbox", True)
        # Backoff between retries is the client's business and has its own tests; here it need not take real time.
        sleep = _no_wait if instant_retries else anyio.sleep

        def connect() -> HajatekClient:
            return HajatekClient(
                key, store_id="str_sandbox", base_url="http://sandbox.local/v1", plan="business", timeout=timeout,
                max_retries=max_retries, transport=KeySwap(httpx2.ASGITransport(app=sandbox_app)), sleep=sleep,
            )  # fmt: skip

        return build_server(ServerOptions(**options), connect)

    return factory


@pytest.fixture
def connect(make_server: Callable[..., MCPServer[Shop]], mode: str) -> Connect:
    """``async with connect(read_only=True) as client``: a real MCP client on a server built with those options.

    (A client is opened inside each test, not in a yield fixture: pytest-asyncio runs a fixture's setup and teardown
    in different tasks, and an MCP client's task group must be exited in the task that entered it.)
    """

    def open_client(**options: Any) -> Client:
        return Client(make_server(**options), mode=mode)

    return open_client


@pytest.fixture
def identity_provider() -> Iterator[IdentityProvider]:
    """An external identity provider (RFC 7662 introspection) served on 127.0.0.1; tests fill its ``tokens``."""
    provider = IdentityProvider()
    with Loopback(provider.app) as url:
        provider.url = url
        yield provider
