"""End-to-end fixtures: the installed ``hajatek-mcp`` console script, run as a subprocess on 127.0.0.1 only.

These tests see what a user sees: the command, its exit code, its stdout and stderr, its stdio pipes and its HTTP
port. Every process gets its own ``HAJATEK_DATA_DIR`` (the ``--sandbox`` store persists there as ``sandbox.db``) and
none of the caller's ``HAJATEK_*`` settings, so a real API key on the developer's machine is never used. The helpers
that run it are in :mod:`tests.support` (``running_server``, ``server_env``); ``script`` and ``mode`` come from
tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
from mcp import Client, StdioServerParameters, stdio_client

from tests.e2e.support import StdioConnect
from tests.support import REQUEST_TIMEOUT, HttpServer, running_server, server_env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path)


# --- stdio -------------------------------------------------------------------------------------------------------


@pytest.fixture
def server_stderr(tmp_path: Path) -> Iterator[TextIO]:
    """The file a stdio server's stderr goes to; read it with ``seek(0)`` after the client has closed."""
    with (tmp_path / "server-stderr.log").open("w+", encoding="utf-8") as file:
        yield file


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


@pytest.fixture(scope="module")
def streamable_http_server(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with running_server(script, "streamable-http", tmp_path_factory.mktemp("streamable-http")) as server:
        yield server


@pytest.fixture(scope="module")
def sse_server(script: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with running_server(script, "sse", tmp_path_factory.mktemp("sse")) as server:
        yield server
