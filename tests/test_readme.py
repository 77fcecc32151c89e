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
