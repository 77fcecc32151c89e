"""Fixtures for the sandbox tests: a pinned clock and seed, sandboxes in process, raw HTTP clients.

Every sandbox runs in process through ``httpx2.ASGITransport`` (no port) unless a test needs real sockets; the
factories close everything at teardown. Time never passes for real: the clock is a ``FakeClock`` the test moves.
Helpers are handed out as fixtures; what a test module imports besides the package is in :mod:`tests.support`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from hajatek_mcp.sandbox import SandboxConfig, create_app
from tests.support import FakeClock, FakeSleep, Loopback, walk

BASE_URL = "http://sandbox/v1"


MakeApp = Callable[..., Starlette]
MakeClient = Callable[..., httpx2.AsyncClient]


@pytest.fixture
def now() -> datetime:
    """The pinned "now" of every sandbox in these tests."""
    return datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    """Unix time of :func:`now`, moved only by the test (``clock.advance``) or by sleeps on it."""
    return FakeClock(start=1_773_576_000.0)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def make_app(now: datetime, clock: FakeClock) -> AsyncIterator[MakeApp]:
    """Build sandboxes with the pinned seed, ``now`` and clock; any config field can be overridden."""
    apps: list[Starlette] = []

    def make(**overrides: Any) -> Starlette:
        settings: dict[str, Any] = {"now": now, "clock": clock, "seed": 42}
        settings.update(overrides)
        app = create_app(SandboxConfig(**settings))
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.state.sandbox.aclose()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Raw HTTP clients on in-process sandboxes: ``make_client(app, key="sk_sandbox_pro", **client_kwargs)``."""
    clients: list[httpx2.AsyncClient] = []

    def make(app: Starlette, key: str | None = "sk_sandbox_pro", **kwargs: Any) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, headers=headers, **kwargs)
        clients.append(http)
        return http

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
def app(make_app: MakeApp) -> Starlette:
    """The default demo sandbox, admin API on."""
    return make_app(enable_admin=True)


@pytest.fixture
def client(app: Starlette, make_client: MakeClient) -> httpx2.AsyncClient:
    """A client with the Pro key on :func:`app`."""
    return make_client(app)


Collect = Callable[..., Awaitable[tuple[list[dict[str, Any]], int]]]


@pytest.fixture
def collect() -> Collect:
    """``await collect(http, "/products", "products", **params)``: every item of a listing, and its total."""
    return walk


FirstOrder = Callable[[httpx2.AsyncClient, str], Awaitable[dict[str, Any]]]


@pytest.fixture
def first_order() -> FirstOrder:
    """``await first_order(http, status)``: the newest order in that status."""

    async def find(http: httpx2.AsyncClient, status: str) -> dict[str, Any]:
        response = await http.get("/orders", params={"status": status, "limit": 1})
        orders: list[dict[str, Any]] = response.json()["orders"]
        assert orders, f"the seed has no {status} order"
        return orders[0]

    return find


Events = Callable[..., Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def events() -> Events:
    """``await events(http, type=None)``: recorded webhook events from the admin API, oldest first."""

    async def fetch(http: httpx2.AsyncClient, type_: str | None = None) -> list[dict[str, Any]]:
        response = await http.get("http://sandbox/_sandbox/events", params={"type": type_} if type_ else {})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["events"]
        return found

    return fetch


ServeLoopback = Callable[[Any], Loopback]


@pytest.fixture
def serve_loopback() -> ServeLoopback:
    """``async with serve_loopback(asgi_app) as origin``: the app under a real uvicorn on 127.0.0.1, in this event
    loop (see :class:`tests.support.Loopback`)."""
    return lambda asgi_app: Loopback(asgi_app, log_level="critical", access_log=False)
