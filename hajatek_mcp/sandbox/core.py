"""The :class:`Sandbox`: one running sandbox's state, reachable as ``app.state.sandbox``.

It owns the database and store, the fault injector, the rate limiter, the webhook dispatcher and the activity
simulator. Constructing it opens the database and seeds it if empty; entering it (``async with sandbox``, done by
the app's lifespan under uvicorn) resumes the webhook deliveries an earlier run left unfinished and starts live
activity; :meth:`aclose` stops everything and closes the database. In process through ``httpx2.ASGITransport`` the
lifespan does not run: use ``async with app.state.sandbox:`` when you need activity, and ``await
app.state.sandbox.aclose()`` when done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

import anyio

from .activity import ActivitySimulator
from .config import SandboxConfig
from .db import Database
from .faults import FaultInjector
from .ratelimit import RateLimiter
from .seed import SeedData, Storefront, generate
from .store import Store
from .webhooks import WebhookDispatcher

__all__ = ["Sandbox"]

logger = logging.getLogger(__name__)


class Sandbox:
    """State and background services of one sandbox (see the module docstring)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.now = config.time_source()
        sleep: Callable[[float], Awaitable[None]] = config.sleep or anyio.sleep
        db = Database(config.db_path, store_id=config.store_id, id_tag=config.id_tag)
        self.store = Store(db, now=self.now, low_stock_threshold=config.low_stock_threshold)
        self.webhooks = WebhookDispatcher(config, self.store)
        db.delivery_state = "pending" if self.webhooks.enabled else "disabled"
        db.listener = self.webhooks.enqueue
        if self.store.is_empty():
            self.store.load(self._seed_data(config.seed))
        else:
            self._check_file_store()
            logger.info("sandbox: using the existing data in %s", config.db_path)
        self.faults = FaultInjector()
        self.limiter = RateLimiter(config.rate_window, config.clock)
        self.activity = ActivitySimulator(self.store, seed=config.seed, rate=config.activity, sleep=sleep)
        self._activity_task: asyncio.Task[int] | None = None
        self._resumed = False
        self._closed = False

    def _seed_data(self, seed: int) -> SeedData:
        config = self.config
        front = Storefront(config.store_id, config.id_tag, config.store_name, config.store_name_ar)
        return generate(seed, config.seed_reference_time(), front)

    def _check_file_store(self) -> None:
        """A file written for another store is refused: its ids and events would be that store's."""
        row = self.store.db.query_one("SELECT id FROM store")
        found = None if row is None else row["id"]
        if found != self.config.store_id:
            self.store.close()
            raise ValueError(
                f"{self.config.db_path} holds the sandbox store {found}, not {self.config.store_id}: "
                "give each store its own database file"
            )

    def reset(self, seed: int | None = None) -> None:
        """Back to a freshly seeded store (``seed`` or the configured one); clears faults, rate limits, events."""
        self.store.load(self._seed_data(self.config.seed if seed is None else seed))
        self.faults.clear()
        self.limiter.reset()

    def start(self) -> None:
        """Resume the webhook deliveries an earlier run left unfinished, and start live activity if configured (needs
        a running event loop). Idempotent."""
        if not self._resumed:
            self._resumed = True
            self.webhooks.resume(self.now())
        if self.config.activity > 0 and self._activity_task is None:
            task = asyncio.get_running_loop().create_task(self.activity.run(), name="sandbox activity")
            task.add_done_callback(_log_crash)
            self._activity_task = task

    async def settle(self) -> None:
        """Wait until every webhook delivery started so far has made its first attempt (see
        :class:`~hajatek_mcp.sandbox.webhooks.InProcessTransport`)."""
        await self.webhooks.settle()

    async def aclose(self) -> None:
        """Stop activity, cancel pending webhook deliveries, close the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._activity_task is not None:
            self._activity_task.cancel()
            await asyncio.gather(self._activity_task, return_exceptions=True)
            self._activity_task = None
        await self.webhooks.aclose()
        self.store.close()

    async def __aenter__(self) -> Sandbox:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _log_crash(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("sandbox: live activity stopped", exc_info=task.exception())
