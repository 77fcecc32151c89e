"""Docs that cannot drift: the README's commands are the ones CI runs; versions agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import hajatek_mcp

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_the_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    install_and_run, install_and_test = commands
    assert install_and_run.startswith("python -m pip install . && hajatek-mcp ")
    assert "pytest" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_versions_agree() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == hajatek_mcp.__version__


async def test_readme_table_manifest_and_tools_list_name_the_same_tools() -> None:
    import json

    from mcp import Client

    from hajatek_mcp.api import HajatekClient
    from hajatek_mcp.server import ServerOptions, build_server

    table = README.split("## Tools", 1)[1].split("\n## ", 1)[0]
    in_readme = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    in_manifest = [t["name"] for t in manifest["tools"]]
    server = build_server(ServerOptions(), lambda: HajatekClient("unused", store_id="str_unused"))
    async with Client(server) as client:
        listed = [t.name for t in (await client.list_tools()).tools]
        prompts = [p.name for p in (await client.list_prompts()).prompts]
    assert in_readme == in_manifest == listed
    assert [p["name"] for p in manifest["prompts"]] == prompts
    assert manifest["version"] == hajatek_mcp.__version__
