"""Faults of the machine, not of the code: a busy port, an unusable data dir, a damaged state file.

Each is started as a real process (the console script) and must end with one line on stderr that names the cause and
the fix, no traceback, and the exit code that ``hajatek-mcp --help`` lists for it. A busy webhook port is the one
fault that does not stop anything: the stdio MCP server goes on serving without the listener.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import httpx2
import pytest

from hajatek_mcp.cli import ExitCode
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.confirmations import ConfirmationStore
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.storage.files import StateFileError
from tests.e2e.support import ALL_TOOLS, StdioConnect
from tests.e2e.test_cli_commands import hajatek_mcp
from tests.support import free_port

NOT_A_DATABASE = b"these bytes are not an SQLite database\n" * 50


@contextmanager
def occupied_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line on stderr (and nothing on stdout, which may be the stdio protocol)."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("hajatek-mcp: ")
    return line


# --- ports ---------------------------------------------------------------------------------------------------------


def test_a_busy_http_port_is_named_before_serving_is_announced(script: Path, env: dict[str, str]) -> None:
    with occupied_port() as port:
        result = hajatek_mcp(script, "serve", "--sandbox", "--transport", "streamable-http", "--port", str(port),
                             env=env)  # fmt: skip
    assert result.returncode == ExitCode.PORT_BUSY == 3
    line = the_one_line(result)
    assert f"port {port} on 127.0.0.1 is in use (another hajatek-mcp?): stop it or pass --port N" in line


def test_a_busy_sandbox_port_is_named_before_the_banner(script: Path, env: dict[str, str]) -> None:
    with occupied_port() as port:
        result = hajatek_mcp(script, "sandbox", "--port", str(port), env=env)
    assert result.returncode == ExitCode.PORT_BUSY
    assert f"port {port} on 127.0.0.1 is in use" in the_one_line(result)


async def test_a_busy_webhook_port_leaves_the_stdio_server_serving(stdio: StdioConnect, server_stderr: TextIO) -> None:
    with occupied_port() as port:
        async with stdio("--webhook-port", str(port)) as client:
            tools = (await client.list_tools()).tools
    assert len(tools) == len(ALL_TOOLS)
    server_stderr.seek(0)
    log = server_stderr.read()
    assert "Traceback" not in log
    [line] = log.splitlines()
    assert line.startswith("WARNING hajatek_mcp.cli: webhook listener could not start: ")
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert "MCP on stdio goes on without webhooks" in line


async def test_the_webhook_listener_says_where_it_listens(stdio: StdioConnect, server_stderr: TextIO) -> None:
    port = free_port()
    async with stdio("--webhook-port", str(port)) as client:
        await client.list_tools()
        async with httpx2.AsyncClient() as http:  # it is there: an unsigned delivery is refused, not ignored
            refused = await http.post(f"http://127.0.0.1:{port}/webhooks/hajatek", content=b"{}")
    assert refused.status_code == 401
    server_stderr.seek(0)
    first, *_rest = server_stderr.read().splitlines()  # then the rejection of that unsigned delivery, logged
    assert first == f"hajatek-mcp: webhook listener on http://127.0.0.1:{port}/webhooks/hajatek"


def test_doctor_reports_a_busy_webhook_port(script: Path, env: dict[str, str]) -> None:
    with occupied_port() as port:
        result = hajatek_mcp(script, "doctor", "--sandbox", "--webhook-port", str(port), env=env)
    assert result.returncode == ExitCode.FAILED
    assert f"FAIL  port {port} on 127.0.0.1 is in use" in result.stdout
    assert "store Souq Al-Noor" in result.stdout, "the rest of the checklist ran"
    assert "Traceback" not in result.stderr


# --- the data dir --------------------------------------------------------------------------------------------------


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this user cannot create files in."""
    if os.geteuid() == 0:  # permissions do not stop root; procfs takes no new files from anyone
        yield Path("/proc/self/fdinfo")
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    yield locked
    locked.chmod(0o700)


@pytest.mark.parametrize("command", [["--sandbox"], ["tools", "--sandbox"], ["call", "get_store", "--sandbox"]])
def test_a_data_dir_that_is_a_file_is_one_line(
    script: Path, env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file\n")
    env["HAJATEK_DATA_DIR"] = str(not_a_dir)
    result = hajatek_mcp(script, *command, env=env)
    assert result.returncode == ExitCode.DATA_DIR == 4
    assert the_one_line(result) == (
        f"hajatek-mcp: HAJATEK_DATA_DIR {not_a_dir} is a file, not a directory: point HAJATEK_DATA_DIR at a "
        "directory (or move that file away)"
    )


def test_an_unwritable_data_dir_is_one_line(script: Path, env: dict[str, str], unwritable_dir: Path) -> None:
    env["HAJATEK_DATA_DIR"] = str(unwritable_dir)
    result = hajatek_mcp(script, "call", "get_store", "--sandbox", env=env)
    assert result.returncode == ExitCode.DATA_DIR
    line = the_one_line(result)
    assert line.startswith(f"hajatek-mcp: HAJATEK_DATA_DIR {unwritable_dir} is not writable (")
    assert "choose a directory this user may write" in line


def test_doctor_reports_a_data_dir_that_is_a_file(script: Path, env: dict[str, str], tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file\n")
    env["HAJATEK_DATA_DIR"] = str(not_a_dir)
    result = hajatek_mcp(script, "doctor", "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (ExitCode.FAILED, "")
    assert f"FAIL  HAJATEK_DATA_DIR {not_a_dir} is a file, not a directory" in result.stdout


# --- damaged state files -------------------------------------------------------------------------------------------


def test_a_damaged_sandbox_store_is_named_with_the_advice_to_delete_it(
    script: Path, env: dict[str, str], tmp_path: Path
) -> None:
    damaged = tmp_path / "sandbox.db"
    damaged.write_bytes(NOT_A_DATABASE)
    result = hajatek_mcp(script, "call", "get_store", "--sandbox", env=env)
    assert result.returncode == ExitCode.STATE_FILE == 5
    assert the_one_line(result) == (
        f"hajatek-mcp: {damaged} is not a readable SQLite database (the --sandbox demo store): delete it (the demo "
        "store is rebuilt on the next start)."
    )


@pytest.mark.parametrize(
    ("name", "what"),
    [("audit.db", "the audit log"), ("events.db", "the event inbox"), ("confirmations.db", "the confirmation tokens")],
)
def test_a_damaged_state_file_is_named_and_never_deleted(
    script: Path, env: dict[str, str], tmp_path: Path, name: str, what: str
) -> None:
    damaged = tmp_path / name
    damaged.write_bytes(NOT_A_DATABASE)
    result = hajatek_mcp(script, "--sandbox", env=env)  # the stdio server, as Claude Desktop starts it
    assert result.returncode == ExitCode.STATE_FILE
    assert the_one_line(result) == (
        f"hajatek-mcp: {damaged} is not a readable SQLite database ({what}): move it aside (mv {damaged} "
        f"{damaged}.broken) and start again; nothing was deleted."
    )
    assert damaged.read_bytes() == NOT_A_DATABASE


def test_a_damaged_oauth_store_is_named(script: Path, env: dict[str, str], tmp_path: Path) -> None:
    damaged = tmp_path / "oauth.db"
    damaged.write_bytes(NOT_A_DATABASE)
    result = hajatek_mcp(script, "oauth", "clients", env=env)
    assert result.returncode == ExitCode.STATE_FILE
    assert f"{damaged} is not a readable SQLite database (the OAuth grants)" in the_one_line(result)


def test_doctor_names_a_damaged_audit_log(script: Path, env: dict[str, str], tmp_path: Path) -> None:
    damaged = tmp_path / "audit.db"
    damaged.write_bytes(NOT_A_DATABASE)
    result = hajatek_mcp(script, "doctor", "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (ExitCode.FAILED, "")
    assert f"FAIL  {damaged} is not a readable SQLite database (the audit log): move it aside" in result.stdout
    assert "store Souq Al-Noor" in result.stdout, "the sandbox store is fine, so the connection is still checked"


@pytest.mark.parametrize(
    "open_store", [AuditLog, ConfirmationStore, EventInbox], ids=["audit", "confirmations", "events"]
)
def test_each_store_names_its_damaged_file_itself(tmp_path: Path, open_store: Callable[..., object]) -> None:
    """The same error when a store is opened by the server's lifespan rather than checked by the CLI first."""
    damaged = tmp_path / "state.db"
    damaged.write_bytes(NOT_A_DATABASE)
    with pytest.raises(StateFileError, match="is not a readable SQLite database") as caught:
        open_store(damaged, store_id="str_a")
    assert caught.value.path == damaged
    assert damaged.read_bytes() == NOT_A_DATABASE
