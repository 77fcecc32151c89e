"""End-to-end fixtures: the installed ``hajatek-mcp`` console script, run as a subprocess on 127.0.0.1 only.

These tests see what a user sees: the command, its exit code, its stdout and stderr, its stdio pipes and its HTTP
port. Every process gets its own ``HAJATEK_DATA_DIR`` (the ``--sandbox`` store persists there as ``sandbox.db``) and
none of the caller's ``HAJATEK_*`` settings, so a real API key on the developer's machine is never used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import pytest
from mcp import Client, StdioServerParameters, stdio_client

#: The console script installed next to the interpreter running the tests (the editable install in .venv).
SCRIPT = Path(sys.executable).parent / "hajatek-mcp"

ALL_TOOLS = [
    "get_store",
    "list_products",
    "create_product",
    "update_product",
    "delete_product",
    "list_orders",
    "get_order",
    "update_order_status",
    "export_orders",
    "list_customers",
    "get_analytics",
    "list_events",
]
WRITE_TOOLS = {"create_product", "update_product", "delete_product", "update_order_status"}
READ_TOOLS = [name for name in ALL_TOOLS if name not in WRITE_TOOLS]
TOOLSETS = ("store", "catalog", "orders", "customers", "analytics", "events")

#: The protocol version each client mode negotiates with the server.
PROTOCOL_VERSION = {"auto": "2026-07-28", "legacy": "2025-11-25"}

#: How long a server process may take to accept connections; start-up takes about a second.
STARTUP_TIMEOUT = 30.0
#: Upper bound for one MCP request, so a hung server fails the test instead of hanging it.
REQUEST_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def script() -> Path:
    """The ``hajatek-mcp`` console script; the e2e suite fails (never skips) when it is not installed."""
    if not SCRIPT.is_file():
        pytest.fail(f"{SCRIPT} does not exist: install the package into this environment (pip install -e .)")
    return SCRIPT


def server_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any ``HAJATEK_*`` setting, with state kept in ``data_dir``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAJATEK_")}
    env["HAJATEK_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path)


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: the stateless 2026 client and the handshake of today's hosts (Claude Desktop, Inspector)."""
    return str(request.param)


# --- stdio -------------------------------------------------------------------------------------------------------


@pytest.fixture
def server_stderr(tmp_path: Path) -> Iterator[TextIO]:
    """The file a stdio server's stderr goes to; read it with ``seek(0)`` after the client has closed."""
    with (tmp_path / "server-stderr.log").open("w+", encoding="utf-8") as file:
        yield file


StdioConnect = Callable[..., Client]


@pytest.fixture
def stdio(script: Path, env: dict[str, str], mode: str, server_stderr: TextIO) -> StdioConnect:
    """``async with stdio("--read-only") as client``: ``hajatek-mcp --sandbox <flags>`` over stdio, in ``mode``.

    (The client is opened inside each test, not in a yield fixture: pytest-asyncio runs a fixture's setup and
    teardown in different tasks, and an MCP client's task group must be exited in the task that entered it.)
    """

    def open_client(*flags: str, **client_options: Any) -> Client:
        params = StdioServerParameters(command=str(script), args=["--sandbox", *flags], env=env)
        return Client(
            stdio_client(params, errlog=server_stderr),
            mode=mode,
            read_timeout_seconds=REQUEST_TIMEOUT,
            **client_options,
        )

    return open_client


# --- HTTP --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpServer:
    """A running ``hajatek-mcp serve --transport <transport>`` process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
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
    command = [str(script), "serve", "--sandbox", "--transport", transport, "--host", "127.0.0.1", "--port", str(port),
               *extra_args]  # fmt: skip
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
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def streamable_http_server(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with running_server(script, "streamable-http", tmp_path_factory.mktemp("streamable-http")) as server:
        yield server


@pytest.fixture(scope="module")
def sse_server(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with running_server(script, "sse", tmp_path_factory.mktemp("sse")) as server:
        yield server
