"""What tests import: the helpers more than one test folder uses. Fixtures live in conftest.py files; no test module
imports from a conftest module.

A folder's own helpers sit beside its tests (``tests/api/support.py``, ``tests/e2e/support.py``,
``tests/reliability/support.py``). Here, by concern:

- secrets: the canary values tests configure, and :func:`clean_output` (no traceback, no canary in a text);
- the sandbox: its pinned time and key, :class:`KeySwap`, :class:`CountingTransport`, and reading its state through
  its HTTP API (:func:`sandbox_http`, :func:`walk`, :func:`oldest`), never through its database;
- the server's state files, read through its stores: :func:`audit_rows`, :func:`stored_event_ids`;
- time: :class:`FakeClock`, :class:`FakeSleep`;
- what an MCP client sees: :func:`text`, :func:`structured`, :func:`audit_entries`, and :class:`Asked` (elicitation);
- sockets: :func:`loopback_socket`, :class:`Loopback` (uvicorn on 127.0.0.1), :class:`IdentityProvider`;
- the console script: :data:`SCRIPT`, :func:`server_env`, :func:`running_server` and the pieces it is made of.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import anyio
import anyio.lowlevel
import httpx2
import pytest
import uvicorn
from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.types import CallToolResult, TextContent, TextResourceContents
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from hajatek_mcp.server import ExternalIssuer
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.events import EventInbox

# --- secrets ----------------------------------------------------------------------------------------------------------

#: Tests configure secrets with these values; at the end of the session no log record may contain one (tests/conftest).
CANARY_API_KEY = "sk_live_CANARYapikey_5b9e1d"
CANARY_AUTH_TOKEN = "mcp_CANARYauthtoken_0123456789abcdef0123456789"
CANARY_WEBHOOK_SECRET = "whsec_CANARYwebhook_a41c"
CANARIES = (CANARY_API_KEY, CANARY_AUTH_TOKEN, CANARY_WEBHOOK_SECRET)


def clean_output(output: str) -> None:
    """What no output may contain: a Python traceback, or a secret (the canaries the tests configure)."""
    assert "Traceback (most recent call last)" not in output, output[:500]
    assert 'File "' not in output, output[:500]
    for canary in CANARIES:
        assert canary not in output, "a secret leaked into the output"


# --- the sandbox ------------------------------------------------------------------------------------------------------

#: The sandbox's clock is pinned so seeded data and analytics windows are the same on every run.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
#: The business plan's sandbox key: unlimited, so rate limits show only in the tests that set them up.
SANDBOX_KEY = "sk_sandbox_business"
#: Each ``Client(..., mode=...)`` and the protocol version it negotiates: the ``mode`` fixture runs both eras.
PROTOCOL_VERSION = {"auto": "2026-07-28", "legacy": "2025-11-25"}


class KeySwap(httpx2.AsyncBaseTransport):
    """The server under test holds the canary API key (so a leak anywhere shows); on the way out, the sandbox is sent
    ``key``, one of its own keys, instead."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, key: str = SANDBOX_KEY) -> None:
        self.inner = inner
        self.key = key

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.headers.get("authorization") == f"Bearer {CANARY_API_KEY}":
            request.headers["authorization"] = f"Bearer {self.key}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CountingTransport(httpx2.AsyncBaseTransport):
    """An in-process ASGI app (the sandbox) as an HTTP transport, keeping every request it was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx2.ASGITransport(app=app)
        self.sent: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def sandbox_http(app: ASGIApp, key: str = SANDBOX_KEY) -> AsyncIterator[httpx2.AsyncClient]:
    """A raw HTTP client on an in-process sandbox: its API under ``/v1``, its admin API under ``/_sandbox``.

    How a test reads (or changes behind a client's back) the sandbox's state: through the interface a user has,
    beside the client under test, so it counts none of that client's requests.
    """
    transport = httpx2.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox", headers=headers) as http:
        yield http


async def walk(http: httpx2.AsyncClient, path: str, key: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a sandbox listing (``walk(http, "/v1/products", "products")``), newest first, and its total."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await http.get(path, params={**params, "page": page, "limit": 100})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["page"], body["limit"]) == (page, 100)
        items += body[key]
        if not body["has_more"]:
            return items, int(body["total"])
        page += 1


async def oldest(http: httpx2.AsyncClient, path: str, key: str) -> dict[str, Any]:
    """The oldest item of a sandbox listing: listings are newest first, so the last item of the last page."""
    total = (await http.get(path, params={"limit": 1})).json()["total"]
    assert total, f"{path} lists nothing"
    response = await http.get(path, params={"limit": 100, "page": (total + 99) // 100})
    assert response.status_code == 200, response.text
    last: dict[str, Any] = response.json()[key][-1]
    return last


# --- the server's state files -----------------------------------------------------------------------------------------

#: More entries than any test writes: the readers below take at most this many, and fail if that was short.
_EVERY = 100_000


async def stored_event_ids(state_dir: Path, store_id: str = "str_sandbox") -> list[str]:
    """The ids of every event in the inbox in ``state_dir`` (``events.db``), newest first, read through
    :class:`~hajatek_mcp.server.events.EventInbox` as the server that wrote them would."""
    inbox = EventInbox(state_dir / "events.db", store_id=store_id)
    try:
        events = await inbox.recent(limit=_EVERY)
    finally:
        inbox.close()
    assert len(events) < _EVERY, "the inbox holds more events than stored_event_ids reads"
    return [event["id"] for event in events]


async def audit_rows(state_dir: Path, store_id: str = "str_sandbox") -> list[dict[str, Any]]:
    """Every write attempt in the audit log in ``state_dir`` (``audit.db``), oldest first: the whole log, read
    through :class:`~hajatek_mcp.server.audit.AuditLog` as the server wrote it (not the resource's newest 50)."""
    log = AuditLog(state_dir / "audit.db", store_id=store_id)
    try:
        entries = await log.recent(_EVERY)
    finally:
        log.close()
    assert len(entries) < _EVERY, "the log holds more entries than audit_rows reads"
    return entries[::-1]


# --- time -------------------------------------------------------------------------------------------------------------


class FakeClock:
    """Injectable seconds that move only when a test says so: pass it as ``clock=`` and its :meth:`sleep` as
    ``sleep=``. A sleep records the wait and moves the clock at once, so a test sees every wait without spending it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()


class FakeSleep:
    """A sleep that records the waits asked for and returns at once (yielding to the event loop); no clock moves."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await anyio.lowlevel.checkpoint()


# --- an MCP client's view ---------------------------------------------------------------------------------------------


#: What the ``connect`` fixture gives: ``async with connect(read_only=True) as client``.
Connect = Callable[..., Client]


def text(result: CallToolResult) -> str:
    """A tool result's text blocks, one per line."""
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call ``tool``; it must succeed with structured content, which is returned."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def audit_entries(client: Client) -> list[dict[str, Any]]:
    """hajatek://audit's entries, newest first."""
    result = await client.read_resource("hajatek://audit")
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    entries: list[dict[str, Any]] = json.loads(content.text)["entries"]
    return entries


class Asked:
    """An elicitation callback that records every question and gives one answer (by default: accept, confirm)."""

    def __init__(self, action: str = "accept", content: dict[str, Any] | None = None) -> None:
        self.action, self.content = action, content if content is not None or action != "accept" else {"confirm": True}
        self.questions: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.questions.append(params.message)
        return types.ElicitResult(action=self.action, content=self.content)


# --- sockets ----------------------------------------------------------------------------------------------------------


def loopback_socket() -> socket.socket:
    """A TCP socket bound to 127.0.0.1 on a free port the kernel picks (port 0); ``getsockname()[1]`` is the port.

    Made with ``proto=IPPROTO_TCP`` on purpose: asyncio turns Nagle's algorithm off (``TCP_NODELAY``) only on
    accepted sockets whose protocol says TCP, and ``socket.socket()`` says 0. Served from such a socket, every answer
    waits for the client's delayed ACK: about 40 ms per request on Linux loopback.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


class Loopback:
    """An ASGI app served by uvicorn on 127.0.0.1, over real sockets; stops by itself when the block ends.

    ``with Loopback(app) as origin`` runs uvicorn in a thread, on its own event loop, so the test may block
    meanwhile (a sync HTTP client, ``anyio.run``); ``async with Loopback(app) as origin`` runs it in the calling
    event loop, for an app that must share the test's loop (webhook routes notifying the test's MCP sessions).
    ``origin`` is ``http://127.0.0.1:PORT``. It is known before anything serves: bind with :func:`loopback_socket`
    first and pass ``sock`` when the app must name its own URL (an OAuth issuer, a token audience).

    ``options`` go to ``uvicorn.Config``. The log config is never applied (``log_config=None``): uvicorn's own stops
    its loggers propagating, which would hide their records from ``caplog`` and from the session's secrets check.
    Leaving waits for requests in flight (uvicorn's graceful shutdown) and fails the test if uvicorn does not stop.
    """

    def __init__(self, app: ASGIApp, sock: socket.socket | None = None, **options: Any) -> None:
        self.sock = sock or loopback_socket()
        self.origin = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, **options))
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> str:
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self._thread.start()
        pause = threading.Event()
        for _ in range(1000):  # at most 10 s; uvicorn offers a flag, not an event
            if self.server.started or not self._thread.is_alive():
                break
            pause.wait(0.01)
        if not self.server.started:
            self.__exit__(None, None, None)
            pytest.fail("uvicorn did not start on 127.0.0.1")
        return self.origin

    def __exit__(self, *exc_info: object) -> None:
        assert self._thread is not None
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self.sock.close()
        assert not self._thread.is_alive(), "uvicorn did not stop"

    async def __aenter__(self) -> str:
        self._task = asyncio.ensure_future(self.server.serve(sockets=[self.sock]))
        try:
            with anyio.fail_after(10):
                while not (self.server.started or self._task.done()):  # noqa: ASYNC110  # a flag, not an event
                    await anyio.sleep(0.01)
        finally:
            if not self.server.started:
                await self.__aexit__(None, None, None)  # raises what stopped uvicorn, if anything did
        if not self.server.started:
            pytest.fail("uvicorn stopped before it started")
        return self.origin

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        self.server.should_exit = True
        try:
            with anyio.fail_after(30):
                await self._task
        finally:
            self.sock.close()


class IdentityProvider:
    """An external OAuth authorization server reduced to RFC 7662 introspection (for resource-server-only mode).

    ``tokens`` maps a token to its introspection answer; any other token is inactive. The endpoint, ``/introspect``,
    demands HTTP Basic client authentication as ``hajatek-mcp`` with ``secret`` and answers 401 ``invalid_client``
    otherwise. ``url`` is set while it is served (the ``identity_provider`` fixture does that).
    """

    client_id = "hajatek-mcp"

    def __init__(self, secret: str = "introspection-secret-9f2c") -> None:  # noqa: S107  # a test's own IdP
        self.secret = secret
        self.tokens: dict[str, dict[str, Any]] = {}
        self.url = ""
        self.app = Starlette(routes=[Route("/introspect", self._introspect, methods=["POST"])])

    def issuer(self) -> ExternalIssuer:
        """How the server under test is told to trust this provider (``ServerOptions(oauth_external=...)``)."""
        assert self.url, "not served: use the identity_provider fixture"
        return ExternalIssuer(self.url, f"{self.url}/introspect", self.client_id, SecretStr(self.secret))

    async def _introspect(self, request: Request) -> JSONResponse:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        return JSONResponse(self.tokens.get(str(form.get("token")), {"active": False}))


# --- the console script -----------------------------------------------------------------------------------------------

#: The console script installed next to the interpreter running the tests (the editable install in the venv).
SCRIPT = Path(sys.executable).parent / "hajatek-mcp"
#: How long a server process may take to accept connections; start-up takes about a second.
STARTUP_TIMEOUT = 30.0
#: Upper bound for one MCP request, so a hung server fails the test instead of hanging it.
REQUEST_TIMEOUT = 60.0


def server_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any ``HAJATEK_*`` setting, with state kept in ``data_dir``: a real API key
    on the developer's machine is never used."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAJATEK_")}
    env["HAJATEK_DATA_DIR"] = str(data_dir)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a process that binds it itself)."""
    with loopback_socket() as probe:
        return int(probe.getsockname()[1])


def wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once ``process`` accepts connections on 127.0.0.1:``port``; fail if it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"hajatek-mcp did not listen on 127.0.0.1:{port} within {STARTUP_TIMEOUT} s:\n{log.read_text()}"
            )
        try:
            code = process.wait(timeout=0.05)  # the pause between attempts doubles as the check that it is alive
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"hajatek-mcp exited with code {code} before listening on 127.0.0.1:{port}:\n{log.read_text()}")


@dataclass(frozen=True)
class HttpServer:
    """A running ``hajatek-mcp serve --transport <transport>`` process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def running_server(
    script: Path,
    transport: Literal["streamable-http", "sse"],
    data_dir: Path,
    *extra_args: str,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[HttpServer]:
    """``hajatek-mcp serve --sandbox`` over HTTP on a free loopback port, stopped (terminate, then kill) on exit."""
    port = port or free_port()
    log = data_dir / f"{transport}.log"
    command = [str(script), "serve", "--sandbox", "--transport", transport, "--host", "127.0.0.1", "--port", str(port)]
    command += extra_args
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603  # our own console script, fixed arguments
            command,
            env={**server_env(data_dir), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_listening(process, port, log)
        yield HttpServer(process, port, log)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """End a server process the tests started: terminate, then kill if it has not exited within ``grace`` s."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
