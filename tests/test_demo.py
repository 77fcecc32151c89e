"""``hajatek-mcp demo`` shows the whole tour every time, in a store of its own, with its plurals right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hajatek_mcp.cli import main
from hajatek_mcp.scripting import plural

STEPS = [f"[{n}/7] " for n in range(1, 8)]
#: "<count> <noun>" for every counted noun the tour prints.
COUNTED = re.compile(r"\b(\d+) (items?|pending orders?|paid orders?|orders?|tools?|resources?|prompts?|bytes?)\b")


def counted_nouns(text: str) -> list[tuple[int, str]]:
    return [(int(count), noun) for count, noun in COUNTED.findall(text)]


def test_plural() -> None:
    assert [plural(n, "item") for n in (0, 1, 2)] == ["0 items", "1 item", "2 items"]
    assert plural(1, "pending order") == "1 pending order"
    assert plural(3, "child", "children") == "3 children"


@pytest.mark.parametrize("flags", [["demo"], ["--sandbox", "demo"], ["demo", "--sandbox"]], ids=" ".join)
def test_the_demo_accepts_the_sandbox_flag_before_or_after_it(
    flags: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    assert main(flags) == 0
    out = capsys.readouterr().out
    assert all(step in out for step in STEPS), out


def test_every_demo_run_shows_the_whole_tour_in_a_fresh_store_of_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    tours = []
    for _ in range(8):  # the old demo moved a pending order in the shared store each run: the 7th found none
        assert main(["demo"]) == 0
        tours.append(capsys.readouterr().out)
    for out in tours:
        assert "A fresh demo store for this tour" in out
        positions = [out.find(step) for step in STEPS]
        assert -1 not in positions, out
        assert positions == sorted(positions)
        assert "confirmation_required" in out, "the last step ran"
        nouns = counted_nouns(out)
        assert any(noun == "pending orders" for _, noun in nouns), out
        for count, noun in nouns:
            assert (count == 1) == (not noun.endswith("s")), f"{count} {noun}"
        assert (1, "item") in nouns, "the newest pending orders include a one-item order"
    assert not (tmp_path / "sandbox.db").exists(), "the user's --sandbox store is not touched"
