"""Reliability fixtures: the sandbox served by uvicorn on 127.0.0.1, MCP servers built on it, and what they share.

The server under test holds the canary API key (so a leak anywhere shows); :class:`KeySwap` hands the sandbox one of
its own keys on the way out. Backoff and rate-limit pauses run on a :class:`~tests.conftest.FakeClock`, so a test
sees every wait the client chose without spending it; network timeouts stay real, because the sockets are real.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp.types import CallToolResult, TextContent
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.api.models import Plan
from hajatek_mcp.sandbox import Fault, Sandbox, SandboxConfig, create_app
from hajatek_mcp.server import HajatekServer, ServerOptions, build_server
from tests.conftest import CANARIES, CANARY_API_KEY, FakeClock
from tests.server.conftest import NOW


def text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def clean_output(output: str) -> None:
    """What no output may contain: a Python traceback, or a secret (the canaries the tests configure)."""
    assert "Traceback (most recent call last)" not in output, output[:500]
    assert 'File "' not in output, output[:500]
    for canary in CANARIES:
        assert canary not in output, "a secret leaked into the output"


class KeySwap(httpx2.AsyncBaseTransport):
    """The server holds the canary key; the sandbox sees ``key`` (one of its own) instead."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, key: str) -> None:
        self.inner = inner
        self.key = key

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.headers.get("authorization") == f"Bearer {CANARY_API_KEY}":
            request.headers["authorization"] = f"Bearer {self.key}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class StatusLog:
    """ASGI wrapper that records every (method, path, status, arrival time) the sandbox answers: the upstream's view."""

    def __init__(self, app: Any, clock: Callable[[], float]) -> None:
        self.app = app
        self.clock = clock
        self.seen: list[tuple[str, str, int, float]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = self.clock()

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"], arrived))
            await send(message)

        await self.app(scope, receive, record)

    def statuses(self, path_prefix: str = "/v1") -> list[int]:
        return [status for _, path, status, _ in self.seen if path.startswith(path_prefix)]


class LateAnswers:
    """ASGI wrapper: a request it holds is processed at once, and its answer is sent ``delay`` seconds later.

    This is "the write happened, the answer was lost in transit" for any method. (The sandbox's own ``delay`` fault
    waits *before* the request is read, so under uvicorn a body-carrying request whose client gave up is never
    processed; see test_no_duplicate_writes.py.)
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._held: list[tuple[str, str, float]] = []

    def hold(self, method: str, path: str, delay: float) -> None:
        """Hold the answer to the next ``method path`` request for ``delay`` seconds."""
        self._held.append((method, path, delay))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = next((r for r in self._held if scope["type"] == "http" and r[:2] == (scope["method"], scope["path"])),
                    None)  # fmt: skip
        if rule is None:
            await self.app(scope, receive, send)
            return
        self._held.remove(rule)
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        await anyio.sleep(rule[2])
        for message in answer:
            await send(message)


@contextmanager
def serve_on_loopback(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yields ``http://127.0.0.1:PORT``.

    Stops on exit (in-flight requests, such as delayed faults, finish first). uvicorn binds the port itself: handing
    it a pre-bound socket costs ~40 ms per request on Linux loopback, which would make the matrix crawl.
    """
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="critical", access_log=False,
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        ready = threading.Event()
        for _ in range(1000):  # bounded: 10 s
            if server.started:
                break
            ready.wait(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass
class Live:
    """A sandbox served on loopback: its app, its state, and its base URL (``http://127.0.0.1:PORT/v1``)."""

    app: Starlette
    url: str
    log: StatusLog
    late: LateAnswers

    @property
    def sandbox(self) -> Sandbox:
        sandbox: Sandbox = self.app.state.sandbox
        return sandbox

    def inject(self, path: str, **kwargs: Any) -> Fault:
        return self.sandbox.faults.inject(path, **kwargs)


@contextmanager
def live_sandbox(config: SandboxConfig | None = None) -> Iterator[Live]:
    app = create_app(config or SandboxConfig(now=NOW, seed=42, enable_admin=True))
    late = LateAnswers(app)
    log = StatusLog(late, clock=app.state.sandbox.config.clock)
    try:
        with serve_on_loopback(log) as root:
            yield Live(app, f"{root}/v1", log, late)
    finally:
        app.state.sandbox.store.close()


@dataclass
class ClientSpec:
    """How :func:`server_on` builds the API client; the defaults are the business plan with instant waits."""

    timeout: float = 5.0
    max_retries: int = 2
    plan: Plan = "business"
    key: str = "sk_sandbox_business"
    rate_limit: int | None = None
    rate_window: float = 60.0
    clock: FakeClock | None = field(default_factory=FakeClock)
    """``None``: real monotonic time and real sleeps (rate-limit tests); otherwise waits are recorded, not spent."""


def server_on(
    url: str,
    spec: ClientSpec | None = None,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    **options: Any,
) -> HajatekServer:
    """``build_server`` on the sandbox at ``url`` (over real HTTP unless ``transport`` is given)."""
    spec = spec or ClientSpec()
    options.setdefault("sandbox", True)

    def connect() -> HajatekClient:
        timing: dict[str, Any] = {}
        if spec.clock is not None:
            timing = {"clock": spec.clock, "sleep": spec.clock.sleep}
        return HajatekClient(
            CANARY_API_KEY, store_id="str_sandbox", base_url=url, plan=spec.plan, rate_limit=spec.rate_limit,
            rate_window=spec.rate_window, timeout=spec.timeout, max_retries=spec.max_retries,
            transport=KeySwap(transport or httpx2.AsyncHTTPTransport(), spec.key), **timing,
        )  # fmt: skip

    return build_server(ServerOptions(**options), connect)


def audit_rows(state_dir: Path) -> list[dict[str, Any]]:
    """Every entry of the audit log in ``state_dir``, oldest first (the file, not the 50-entry resource)."""
    with closing(sqlite3.connect(state_dir / "audit.db")) as conn:
        rows = conn.execute("SELECT seq, tool, target, arguments, outcome, path, detail FROM audit ORDER BY seq")
        return [
            {"seq": seq, "tool": tool, "target": target, "arguments": json.loads(args), "outcome": outcome,
             "path": path, "detail": detail}
            for seq, tool, target, args, outcome, path, detail in rows.fetchall()
        ]  # fmt: skip


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], *, within: float = 10.0) -> None:
    """Poll ``check`` (sync or async) until it is true, for at most ``within`` seconds."""
    with anyio.fail_after(within):
        while True:
            outcome = check()
            if not isinstance(outcome, bool):
                outcome = await outcome
            if outcome:
                return
            await anyio.sleep(0.02)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(now=NOW, seed=42, enable_admin=True)


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: the stateless 2026 client and the handshake of today's hosts."""
    return str(request.param)


@pytest.fixture(scope="session")
def script() -> Path:
    """The installed ``hajatek-mcp`` console script; missing is a failure, never a skip."""
    from tests.e2e.conftest import SCRIPT

    if not SCRIPT.is_file():
        pytest.fail(f"{SCRIPT} does not exist: install the package into this environment (pip install -e .)")
    return SCRIPT
