"""The packed MCP Bundle really starts: unpacked, run as its manifest says, it answers tools/list.

CI builds the bundle first (``python bundle/build.py``, see .ci/run); locally the test uses the newest
``dist/*.mcpb`` or ``$HAJATEK_BUNDLE``, and is skipped (outside CI only) when none was built.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent


def built_bundle() -> Path:
    explicit = os.environ.get("HAJATEK_BUNDLE")
    bundles = [Path(explicit)] if explicit else sorted((ROOT / "dist").glob("hajatek-mcp-*.mcpb"), key=os.path.getmtime)
    if not bundles:
        message = "no bundle built: run `python bundle/build.py` first"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return bundles[-1]


def substitute(value: str, dirname: Path, user_config: dict[str, str]) -> str:
    value = value.replace("${__dirname}", str(dirname))
    return re.sub(r"\$\{user_config\.(\w+)\}", lambda m: user_config.get(m.group(1), ""), value)


def test_the_bundle_leaves_out_tests_caches_and_local_data() -> None:
    names = zipfile.ZipFile(built_bundle()).namelist()
    assert "manifest.json" in names
    assert "server/main.py" in names
    assert any(n.startswith("server/hajatek_mcp/server/") for n in names)
    assert any(n.startswith("server/lib/mcp/") for n in names)
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n.split("server/lib/")[0]]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".db", ".db-wal"))]
    assert not [n for n in names if n.startswith((".git", ".venv", ".tools", "build/", "dist/"))]


async def test_the_unpacked_bundle_starts_and_lists_its_tools(tmp_path: Path) -> None:
    bundle = built_bundle()
    root = tmp_path / "unpacked"
    zipfile.ZipFile(bundle).extractall(root)
    manifest = json.loads((root / "manifest.json").read_text())
    config = manifest["server"]["mcp_config"]
    # What Claude Desktop fills in: the defaults, with the demo store switched on.
    user_config = {k: json.dumps(v["default"]) if isinstance(v.get("default"), bool) else str(v.get("default", ""))
                   for k, v in manifest["user_config"].items()}  # fmt: skip
    user_config["sandbox"] = "true"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAJATEK_", "PYTHON"))}
    env.update({k: substitute(v, root, user_config) for k, v in config["env"].items()})
    env["HAJATEK_DATA_DIR"] = str(tmp_path / "data")
    params = StdioServerParameters(
        command=config["command"], args=[substitute(a, root, user_config) for a in config["args"]], env=env,
        cwd=str(tmp_path),
    )  # fmt: skip
    async with Client(params, mode="legacy") as client:
        tools = (await client.list_tools()).tools
        store = await client.call_tool("get_store", {})
    assert [t.name for t in tools] == [t["name"] for t in manifest["tools"]]
    assert not store.is_error
    assert store.structured_content is not None
    assert store.structured_content["sandbox"] is True
