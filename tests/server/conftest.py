"""Server tests drive a real MCP client against build_server(...) backed by the in-process sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import ServerOptions, Shop, build_server
from tests.conftest import CANARY_API_KEY

#: The sandbox's clock is pinned so seeded data and analytics windows are the same on every run.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SANDBOX_KEY = "sk_sandbox_business"  # unlimited plan: rate limits have their own tests
KEY = SANDBOX_KEY


class KeySwap(httpx2.AsyncBaseTransport):
    """Lets the server hold the canary API key (so any leak shows) while the sandbox sees one of its own keys."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.headers.get("authorization") == f"Bearer {CANARY_API_KEY}":
            request.headers["authorization"] = f"Bearer {SANDBOX_KEY}"
        return await self.inner.handle_async_request(request)


async def _no_wait(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


@pytest.fixture
def sandbox_app() -> Iterator[Starlette]:
    app = create_app(SandboxConfig(now=NOW, seed=42, enable_admin=True))
    yield app
    app.state.sandbox.store.close()


@pytest.fixture
def make_server(sandbox_app: Starlette) -> Callable[..., MCPServer[Shop]]:
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


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: the stateless 2026 client and the handshake of today's hosts."""
    return str(request.param)


Connect = Callable[..., Client]


@pytest.fixture
def connect(make_server: Callable[..., MCPServer[Shop]], mode: str) -> Connect:
    """``async with connect(read_only=True) as client``: a real MCP client on a server built with those options.

    (A client is opened inside each test, not in a yield fixture: pytest-asyncio runs a fixture's setup and teardown
    in different tasks, and an MCP client's task group must be exited in the task that entered it.)
    """

    def open_client(**options: Any) -> Client:
        return Client(make_server(**options), mode=mode)  # type: ignore[arg-type]

    return open_client


def text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))
