"""Per-target write locks: :class:`TargetLocks`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio

__all__ = ["TargetLocks"]


class TargetLocks:
    """One lock per write target (a product or order id), so writes to one target run one at a time.

    The audit log then lists a target's writes in the order the store applied them, and a serial replay of its
    executed writes gives the store's state (a write whose answer was lost may still land later: the log says so). A
    write that changes several targets (a cancel restocks the order's products) holds all
    their locks, taken in sorted order so that two such writes cannot wait for each other. Writes to different
    targets still run in parallel. A lock lives only while someone holds or waits for it, so the table stays as small
    as the number of targets being written right now.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, *targets: str | None) -> AsyncIterator[None]:
        """Hold the locks of ``targets`` for the block; ``None`` (a new product, no id yet) holds nothing."""
        ids = sorted({t for t in targets if t is not None})
        async with AsyncExitStack() as stack:
            for target in ids:
                await stack.enter_async_context(self._one(target))
            yield

    @asynccontextmanager
    async def _one(self, target: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(target, (None, 0))
        lock = lock or anyio.Lock()
        self._locks[target] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[target]
            if users == 1:
                del self._locks[target]
            else:
                self._locks[target] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
