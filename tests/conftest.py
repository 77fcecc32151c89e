"""Fixtures shared by every test package: a fake clock, and the canary check on secrets.

Tests configure secrets with the canary values below. Every log record of the whole session is kept, and at the end
none may contain a canary: a secret that leaks into a log anywhere in the suite fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
import httpx2
import pytest
from starlette.types import ASGIApp

CANARY_API_KEY = "sk_live_CANARYapikey_5b9e1d"
CANARY_AUTH_TOKEN = "mcp_CANARYauthtoken_0123456789abcdef0123456789"
CANARY_WEBHOOK_SECRET = "whsec_CANARYwebhook_a41c"
CANARIES = (CANARY_API_KEY, CANARY_AUTH_TOKEN, CANARY_WEBHOOK_SECRET)


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


class FakeClock:
    """A monotonic clock for injection; ``sleep`` moves time forward at once and records the wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class CountingTransport(httpx2.AsyncBaseTransport):
    """An in-process ASGI app (the sandbox) as an HTTP transport, keeping every request it was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx2.ASGITransport(app=app)
        self.sent: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)
