"""The server over stdio, as Claude Desktop runs it: ``hajatek-mcp --sandbox`` as a subprocess, in both eras."""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any, TextIO

import pytest
from mcp.client.session import IncomingMessage
from mcp.types import TextContent, TextResourceContents

from tests.e2e.support import ALL_TOOLS, READ_TOOLS, StdioConnect
from tests.support import PROTOCOL_VERSION, REQUEST_TIMEOUT

#: A Python warning as the interpreter prints it ("...: DeprecationWarning: ..."); log levels are upper case.
PYTHON_WARNING = re.compile(r"\b[A-Z]\w*Warning\b")


async def test_stdio_server_introduces_itself_as_hajatek_with_every_tool(stdio: StdioConnect, mode: str) -> None:
    async with stdio() as client:
        assert client.protocol_version == PROTOCOL_VERSION[mode]
        assert client.server_info is not None
        assert client.server_info.name == "hajatek"
        tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == ALL_TOOLS


async def test_stdio_tool_call_returns_structured_content(stdio: StdioConnect) -> None:
    async with stdio() as client:
        result = await client.call_tool("get_store", {})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["id"] == "str_sandbox"
    assert result.structured_content["sandbox"] is True


async def test_stdio_tool_call_with_arguments_filters_orders(stdio: StdioConnect) -> None:
    async with stdio() as client:
        result = await client.call_tool("list_orders", {"status": "pending", "limit": 3})
    assert not result.is_error
    assert result.structured_content is not None
    orders = result.structured_content["orders"]
    assert len(orders) == 3
    assert {order["status"] for order in orders} == {"pending"}


async def test_stdio_reads_the_store_resource_as_json(stdio: StdioConnect) -> None:
    async with stdio() as client:
        result = await client.read_resource("hajatek://store")
    [contents] = result.contents
    assert isinstance(contents, TextResourceContents)
    assert contents.mime_type == "application/json"
    assert json.loads(contents.text)["id"] == "str_sandbox"


async def test_stdio_daily_briefing_prompt_asks_for_the_chosen_period(stdio: StdioConnect) -> None:
    async with stdio() as client:
        result = await client.get_prompt("daily_briefing", {"period": "7d"})
    [message] = result.messages
    assert message.role == "user"
    assert isinstance(message.content, TextContent)
    assert "for the last 7 days" in message.content.text
    assert "sales_report(since=<the local date 6 days ago>, compare='previous_week')" in message.content.text


async def test_stdio_keeps_stdout_for_the_protocol_and_stderr_free_of_warnings_and_tracebacks(
    stdio: StdioConnect, server_stderr: TextIO
) -> None:
    unparsable: list[Exception] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, Exception):  # a stdout line that is not JSON-RPC arrives here
            unparsable.append(message)

    async with stdio(message_handler=on_message) as client:
        await client.list_tools()
        assert not (await client.call_tool("get_analytics", {"period": "7d"})).is_error
        assert (await client.call_tool("get_order", {"order_id": "ord_999999"})).is_error
        await client.read_resource("hajatek://catalog")
        await client.get_prompt("order_triage", {"status": "processing"})
    assert unparsable == []
    server_stderr.seek(0)
    stderr = server_stderr.read()
    assert "Traceback" not in stderr
    assert not PYTHON_WARNING.search(stderr), stderr


async def test_read_only_server_lists_no_write_tool(stdio: StdioConnect) -> None:
    async with stdio("--read-only") as client:
        tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == READ_TOOLS
    assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools)


async def test_toolsets_orders_and_analytics_offer_only_those_tools(stdio: StdioConnect) -> None:
    async with stdio("--toolsets", "orders,analytics") as client:
        tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == [
        "list_orders",
        "get_order",
        "update_order_status",
        "bulk_update_order_status",
        "export_orders",
        "get_analytics",
        "sales_report",
    ]


# --- the raw wire ------------------------------------------------------------------------------------------------

_HANDSHAKE: list[dict[str, Any]] = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}},
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
]
_REQUESTS: list[dict[str, Any]] = [
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_store", "arguments": {}}},
    {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": "get_order", "arguments": {"order_id": "x"}},
    },
    {"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {"uri": "hajatek://orders/ord_999999"}},
    {"jsonrpc": "2.0", "id": 6, "method": "prompts/get", "params": {"name": "daily_briefing"}},
]


def _read_lines_until(process: subprocess.Popen[bytes], ids: set[int]) -> tuple[list[bytes], bytes]:
    """stdout lines up to the responses to ``ids``, and the start of a line after them (the server keeps running).

    Bounded by REQUEST_TIMEOUT: reads only what is there (``select``), so a silent server fails the test.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    lines: list[bytes] = []
    pending = b""
    deadline = time.monotonic() + REQUEST_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while ids - {json.loads(line).get("id") for line in lines}:  # until every request has its answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no answer within {REQUEST_TIMEOUT} s; stdout so far: {lines}")
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"the server closed stdout early; stdout so far: {lines}")
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                try:
                    json.loads(line)
                except ValueError:
                    pytest.fail(f"stdout line is not JSON: {line!r}")
                lines.append(line)
    return lines, pending


def test_stdout_carries_only_json_rpc_lines_until_the_server_exits_on_stdin_close(
    script: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """Byte-level check, shutdown included: output flushed at exit would be invisible to a client's session."""
    with (tmp_path / "stderr.log").open("w+b") as stderr:
        with subprocess.Popen(  # noqa: S603  # our own console script, fixed arguments
            [str(script), "--sandbox"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        ) as process:
            try:
                assert process.stdin is not None
                process.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in [*_HANDSHAKE, *_REQUESTS]))
                process.stdin.flush()
                lines, partial = _read_lines_until(process, {m["id"] for m in [*_HANDSHAKE, *_REQUESTS] if "id" in m})
                rest, _ = process.communicate(timeout=REQUEST_TIMEOUT)  # closes stdin: the client hangs up
            finally:
                if process.poll() is None:  # a failed test must not leave a server running
                    process.kill()
        stderr.seek(0)
        stderr_text = stderr.read().decode()
    assert process.returncode == 0, stderr_text
    messages: list[dict[str, Any]] = [json.loads(line) for line in [*lines, *(partial + rest).splitlines()]]
    assert all(message["jsonrpc"] == "2.0" for message in messages)
    by_id = {message.get("id"): message for message in messages}
    assert by_id[1]["result"]["serverInfo"]["name"] == "hajatek"
    assert by_id[3]["result"]["structuredContent"]["id"] == "str_sandbox"
    assert by_id[4]["result"]["isError"] is True
    assert by_id[5]["error"]["code"] == -32602
    assert "Traceback" not in stderr_text
    assert not PYTHON_WARNING.search(stderr_text), stderr_text
