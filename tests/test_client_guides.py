"""The JSON configurations in docs/clients.md start a working server, exactly as a host would run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "clients.md").read_text(encoding="utf-8")
SCRIPT = Path(sys.executable).parent / "hajatek-mcp"


def configured_servers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in re.findall(r"```json\n(.+?)\n```", GUIDE, flags=re.DOTALL):
        config = json.loads(block)
        for key in ("mcpServers", "servers"):
            for name, server in config.get(key, {}).items():
                found.append((f"{key}.{name}.{len(found)}", server))
    return found


SERVERS = configured_servers()


def test_the_guide_has_the_host_configurations() -> None:
    assert len(SERVERS) >= 3  # Claude Desktop, Cursor, VS Code


@pytest.mark.parametrize(("name", "server"), SERVERS, ids=[name for name, _ in SERVERS])
async def test_a_configuration_from_the_guide_starts_and_answers(
    name: str, server: dict[str, Any], tmp_path: Path
) -> None:
    command = server["command"]
    if command == "hajatek-mcp":  # as if on PATH: the console script of this environment
        command = str(SCRIPT if SCRIPT.exists() else shutil.which("hajatek-mcp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAJATEK_")}
    env.update(server.get("env", {}))
    env["HAJATEK_DATA_DIR"] = str(tmp_path)
    params = StdioServerParameters(command=command, args=server.get("args", []), env=env)
    async with Client(params, mode="legacy") as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        store = await client.call_tool("get_store", {})
    assert "get_store" in tools
    assert not store.is_error
    if "--read-only" in server.get("args", []):
        assert "update_order_status" not in tools
