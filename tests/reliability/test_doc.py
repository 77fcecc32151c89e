"""Every row of docs/reliability.md is backed by a test: each command it gives selects at least one test.

The doc names tests as ``.venv/bin/pytest tests/reliability/<file> -k <expression>`` (in the tables) and as
``<file> -k <expression>`` (in the findings). A renamed or deleted test would leave a row that reproduces nothing;
this test fails first.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
#: `.venv/bin/pytest tests/x/test_y.py -k "expr"`, or `test_y.py -k expr` (a file in tests/reliability).
COMMAND = re.compile(
    r"""`(?:\.venv/bin/pytest )?((?:tests/[\w/]+/)?test_\w+\.py)(?: -k (?:"([^"]+)"|'([^']+)'|([\w-]+)))?`"""
)
WORD = re.compile(r"[\w-]+")


def references() -> list[tuple[str, str | None]]:
    found = []
    for match in COMMAND.finditer(DOC.read_text(encoding="utf-8")):
        path = match[1] if match[1].startswith("tests/") else f"tests/reliability/{match[1]}"
        found.append((path, match[2] or match[3] or match[4]))
    return sorted(set(found), key=lambda ref: (ref[0], ref[1] or ""))


@cache
def collected() -> tuple[str, ...]:
    """The node ids of every test file the doc names, collected once."""
    paths = sorted({path for path, _ in references() if (ROOT / path).is_file()})
    out = subprocess.run(  # noqa: S603  # our own interpreter and test paths
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return tuple(line for line in out.stdout.splitlines() if "::" in line)


def selects(expression: str, node_id: str) -> bool:
    """pytest's ``-k``: case-insensitive substring match of each word, combined with and / or / not."""

    def word(match: re.Match[str]) -> str:
        token = match[0]
        if token in {"and", "or", "not"}:
            return token
        return str(token.lower() in node_id.lower())

    return bool(eval(WORD.sub(word, expression), {"__builtins__": {}}))  # noqa: S307  # only True/False/and/or/not


def test_the_doc_names_tests() -> None:
    assert len(references()) >= 30, references()


def test_a_word_no_test_has_selects_nothing() -> None:
    node = "tests/reliability/test_fuzz.py::test_any_json_arguments[list_orders-legacy]"
    assert selects("any_json_arguments", node)
    assert selects("ANY_JSON or nothing_like_it", node)
    assert not selects("list_orders and not legacy", node)
    assert not selects("nothing_like_it", node)


@pytest.mark.parametrize(("path", "expression"), references(), ids=str)
def test_every_command_in_the_doc_selects_a_test(path: str, expression: str | None) -> None:
    assert (ROOT / path).is_file(), f"docs/reliability.md names {path}, which does not exist"
    tests = [t for t in collected() if t.startswith(f"{path}::")]
    chosen = [t for t in tests if expression is None or selects(expression, t)]
    assert chosen, f"`pytest {path} -k {expression!r}` in docs/reliability.md selects no test"
