"""What the reliability tests import: the sandbox served on loopback (:func:`live_sandbox`), the upstream's view of
it, and MCP servers built on it (:func:`server_on`).

The server under test holds the canary API key (so a leak anywhere shows); :class:`~tests.support.KeySwap` hands the
sandbox one of its own keys on the way out. Backoff and rate-limit pauses run on a :class:`~tests.support.FakeClock`,
so a test sees every wait the client chose without spending it; network timeouts stay real, because the sockets are
real. Fixtures are in conftest.py; helpers shared with other folders in :mod:`tests.support`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.api.models import Plan
from hajatek_mcp.sandbox import Fault, Sandbox, SandboxConfig, create_app
from hajatek_mcp.server import HajatekServer, ServerOptions, build_server
from tests.support import CANARY_API_KEY, NOW, SANDBOX_KEY, FakeClock, KeySwap, Loopback


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
    """The sandbox (by default the demo store at ``NOW``, admin API on) served by uvicorn on 127.0.0.1 in a thread.

    On exit, requests in flight (delayed faults, held answers) finish before the server stops.
    """
    app = create_app(config or SandboxConfig(now=NOW, seed=42, enable_admin=True))
    late = LateAnswers(app)
    log = StatusLog(late, clock=app.state.sandbox.config.clock)
    try:
        with Loopback(log, log_level="critical", access_log=False, lifespan="off") as root:
            yield Live(app, f"{root}/v1", log, late)
    finally:
        app.state.sandbox.store.close()


@dataclass
class ClientSpec:
    """How :func:`server_on` builds the API client; the defaults are the business plan with instant waits."""

    timeout: float = 5.0
    max_retries: int = 2
    plan: Plan = "business"
    key: str = SANDBOX_KEY
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
