"""``hajatek-mcp call`` of a guarded change from a terminal: the question, y/N, and ``--yes`` for scripts.

The terminal is a real pseudo-terminal (``pty``): the command sees a TTY on stdin, stdout and stderr, as in a shell.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.e2e.test_cli_commands import hajatek_mcp
from tests.support import REQUEST_TIMEOUT

PROMPT = b"[y/N] "


def on_a_terminal(script: Path, *args: str, env: dict[str, str], answer: bytes) -> tuple[int, str]:
    """Run the command on a pseudo-terminal, type ``answer`` when it asks; (exit code, what the screen showed)."""
    master, terminal = pty.openpty()
    process = subprocess.Popen(  # noqa: S603  # our own console script, fixed arguments
        [str(script), *args], env=env, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True
    )
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + REQUEST_TIMEOUT
    try:
        answered = False
        while True:
            ready, _, _ = select.select([master], [], [], max(deadline - time.monotonic(), 0))
            assert ready, f"the command neither asked nor ended:\n{screen.decode(errors='replace')}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if not answered and PROMPT in screen:
                os.write(master, answer)
                answered = True
        return process.wait(timeout=REQUEST_TIMEOUT), screen.decode().replace("\r\n", "\n")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


def newest_product(script: Path, env: dict[str, str]) -> dict[str, str]:
    listing = hajatek_mcp(script, "call", "list_products", "limit=1", "--sandbox", env=env)
    product: dict[str, str] = json.loads(listing.stdout.splitlines()[-1])["products"][0]
    return product


def still_listed(script: Path, env: dict[str, str], product: dict[str, str]) -> bool:
    found = hajatek_mcp(script, "call", "list_products", f"search={product['name']}", "--sandbox", env=env)
    return product["id"] in {row["id"] for row in json.loads(found.stdout.splitlines()[-1])["products"]}


def test_answering_y_on_the_terminal_deletes_the_product(script: Path, env: dict[str, str]) -> None:
    product = newest_product(script, env)
    code, screen = on_a_terminal(script, "call", "delete_product", f"product_id={product['id']}", "--sandbox",
                                 env=env, answer=b"y\n")  # fmt: skip
    assert code == 0, screen
    assert f"Delete product {product['id']}" in screen
    assert "Do you want to go ahead?\n[y/N] y\n" in screen
    assert '"outcome":"done"' in screen
    assert "confirm_token" not in screen
    assert not still_listed(script, env, product)


def test_answering_n_on_the_terminal_changes_nothing(script: Path, env: dict[str, str]) -> None:
    product = newest_product(script, env)
    code, screen = on_a_terminal(script, "call", "delete_product", f"product_id={product['id']}", "--sandbox",
                                 env=env, answer=b"n\n")  # fmt: skip
    assert code == 0, screen
    assert '"outcome":"declined"' in screen
    assert still_listed(script, env, product)


def test_yes_answers_for_a_script_without_a_terminal(script: Path, env: dict[str, str]) -> None:
    product = newest_product(script, env)
    result = hajatek_mcp(script, "call", "delete_product", f"product_id={product['id']}", "--yes", "--sandbox",
                         env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["outcome"] == "done"
    assert "Do you want to go ahead?" in result.stderr, "the question is still shown"
    assert not still_listed(script, env, product)


def test_without_a_terminal_or_yes_the_preview_and_token_come_back_as_before(script: Path, env: dict[str, str]) -> None:
    product = newest_product(script, env)
    result = hajatek_mcp(script, "call", "delete_product", f"product_id={product['id']}", "--sandbox", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["outcome"] == "confirmation_required"
    assert answer["confirm_token"].startswith("cfm_")
    assert still_listed(script, env, product)
