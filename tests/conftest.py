"""Fixtures shared by every test package: a fake clock whose sleeps advance time instead of waiting."""

from __future__ import annotations

import anyio
import pytest


class FakeClock:
    """A monotonic clock for injection; ``sleep`` moves time forward at once and records the wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
