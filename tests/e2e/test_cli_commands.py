"""The ``hajatek-mcp`` commands as a user types them: the installed script in a subprocess, output captured."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx2

from tests.e2e.support import ALL_TOOLS, READ_TOOLS, TOOLSETS, WRITE_TOOLS
from tests.support import free_port, server_env, wait_until_listening


def hajatek_mcp(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the command with stdin closed (as a detached shell would) and its output captured."""
    return subprocess.run(  # noqa: S603  # our own console script, fixed arguments
        [str(script), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def tool_table(stdout: str) -> dict[str, str]:
    """``hajatek-mcp tools`` output as {tool name: "read" | "write"}; every line also carries a summary."""
    rows = [line.split(maxsplit=2) for line in stdout.splitlines()]
    assert all(len(row) == 3 for row in rows), stdout
    return {name: kind for name, kind, _summary in rows}


def test_tools_lists_every_tool_each_marked_read_or_write(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "tools", "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    table = tool_table(result.stdout)
    assert list(table) == ALL_TOOLS
    assert table == {name: "write" if name in WRITE_TOOLS else "read" for name in ALL_TOOLS}


def test_global_flags_also_go_before_the_command(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "--sandbox", "--read-only", "tools", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert tool_table(result.stdout) == dict.fromkeys(READ_TOOLS, "read")


def test_tools_read_only_lists_only_the_read_tools(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "tools", "--sandbox", "--read-only", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert tool_table(result.stdout) == dict.fromkeys(READ_TOOLS, "read")


def test_call_get_store_prints_the_sandbox_store_as_compact_json(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "call", "get_store", "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    note, body = result.stdout.rstrip("\n").split("\n")
    assert note == "[sandbox store]"
    store = json.loads(body)
    assert store["id"] == "str_sandbox"
    assert body == json.dumps(store, separators=(",", ":"), ensure_ascii=False)  # compact, Arabic kept readable


def test_call_with_key_value_arguments_parses_numbers(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "call", "list_orders", "status=pending", "limit=2", "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    listing = json.loads(result.stdout.splitlines()[-1])
    assert len(listing["orders"]) == 2
    assert {order["status"] for order in listing["orders"]} == {"pending"}


def test_call_with_a_json_object_passes_it_as_arguments(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "call", "list_orders", "--json", '{"limit": 2}', "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert len(json.loads(result.stdout.splitlines()[-1])["orders"]) == 2


def test_call_that_the_tool_rejects_exits_1_and_names_the_argument_on_stderr(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "call", "get_order", "order_id=prod_x", "--sandbox", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "order_id" in result.stderr
    assert "Traceback" not in result.stderr


def test_call_with_malformed_json_exits_2_with_one_line(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "call", "list_orders", "--json", "{limit: 2", "--sandbox", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("hajatek-mcp: --json is not valid JSON")


def test_sandbox_changes_persist_in_the_data_dir_between_runs(
    script: Path, env: dict[str, str], tmp_path: Path
) -> None:
    listing = hajatek_mcp(script, "call", "list_orders", "status=pending", "limit=1", "--sandbox", env=env)
    order_id = json.loads(listing.stdout.splitlines()[-1])["orders"][0]["id"]
    moved = hajatek_mcp(
        script, "call", "update_order_status", f"order_id={order_id}", "status=processing", "--sandbox", env=env
    )
    assert (moved.returncode, moved.stderr) == (0, "")

    again = hajatek_mcp(script, "call", "get_order", f"order_id={order_id}", "--sandbox", env=env)
    assert json.loads(again.stdout.splitlines()[-1])["status"] == "processing"
    assert (tmp_path / "sandbox.db").is_file()
    elsewhere = server_env(tmp_path / "other")
    fresh = hajatek_mcp(script, "call", "get_order", f"order_id={order_id}", "--sandbox", env=elsewhere)
    assert json.loads(fresh.stdout.splitlines()[-1])["status"] == "pending"


def test_demo_walks_through_seven_steps_and_exits_0(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "demo", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert "payment.completed" in result.stdout, "the sandbox's webhooks reached the inbox"
    assert "confirmation_required" in result.stdout
    positions = [result.stdout.find(f"[{n}/7] ") for n in range(1, 8)]
    assert -1 not in positions, result.stdout
    assert positions == sorted(positions)
    assert f"{len(ALL_TOOLS)} tools" in result.stdout


def test_doctor_sandbox_reports_the_connection(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "doctor", "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert "Everything needed works." in result.stdout
    assert "str_sandbox" in result.stdout


def test_serving_without_a_key_or_sandbox_exits_2_naming_the_variable_and_the_sandbox(
    script: Path, env: dict[str, str]
) -> None:
    result = hajatek_mcp(script, env=env)
    assert result.returncode == 2
    assert result.stdout == ""  # stdout is the stdio protocol channel: nothing else may go there
    [line] = result.stderr.splitlines()
    assert "HAJATEK_API_KEY" in line
    assert "--sandbox" in line


def test_unknown_toolset_exits_2_naming_the_valid_toolsets(script: Path, env: dict[str, str]) -> None:
    result = hajatek_mcp(script, "--sandbox", "--toolsets", "nope", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "nope" in line
    assert all(name in line for name in TOOLSETS)


def test_the_sandbox_logs_its_requests_to_stderr_and_keeps_stdout_for_the_banner(
    script: Path, env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    out, err = tmp_path / "sandbox.out", tmp_path / "sandbox.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603  # our own console script, fixed arguments
            [str(script), "sandbox", "--port", str(port)], env=env, stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=stderr,
        )  # fmt: skip
    try:
        wait_until_listening(process, port, err)
        answer = httpx2.get(f"http://127.0.0.1:{port}/v1/stores/str_sandbox",
                            headers={"Authorization": "Bearer sk_sandbox_pro"})  # fmt: skip
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert out.read_text().startswith("Hajatek sandbox: Souq Al-Noor")
    assert "GET /v1/stores/str_sandbox" not in out.read_text()
    assert '"GET /v1/stores/str_sandbox HTTP/1.1" 200' in err.read_text()
