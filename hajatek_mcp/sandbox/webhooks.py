"""Signed webhook delivery in the background, with retries and exponential backoff.

Every event is first recorded in the ``events`` table (by the store, in the transaction that caused it). When a URL
and a secret are configured, :meth:`WebhookDispatcher.enqueue` starts one asyncio task per event that POSTs the exact
recorded body with ``X-Hajatek-Signature`` (:func:`hajatek_mcp.api.webhooks.sign`) and ``Content-Type:
application/json``. A non-2xx answer or a connection error is retried after ``backoff × 2^(n-1)`` seconds (capped
at 60) up to ``webhook_max_attempts`` attempts; the outcome is written back to the event's ``delivery`` state
(``delivered``/``retrying``/``failed``). The API request that caused the event never waits for any of this.

Deliveries a run leaves unfinished (the process ended during them) stay ``pending`` or ``retrying``; the next run that
opens the file resumes those of the last :data:`RESUME_WITHIN` (:meth:`WebhookDispatcher.resume`), as Hajatek keeps
retrying while a receiver is down. A receiver in the same process (``hajatek-mcp --sandbox``) reaches the sandbox
through :class:`InProcessTransport` (to a single or a multi-store app), whose answers wait for the first delivery
attempt of the events they caused: a process that ends right after its call (``hajatek-mcp call --sandbox``) has its
events in the inbox first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import httpx2

from hajatek_mcp.api.webhooks import SIGNATURE_HEADER, sign

from .config import SandboxConfig
from .db import Event

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .store import Store

__all__ = ["MAX_BACKOFF", "RESUME_WITHIN", "InProcessTransport", "WebhookDispatcher"]

logger = logging.getLogger(__name__)
MAX_BACKOFF = 60.0
MAX_CONCURRENT_DELIVERIES = 8
#: How old an unfinished delivery a later run still resumes (the default replay window of hajatek-mcp's receiver).
RESUME_WITHIN = timedelta(hours=24)


class WebhookDispatcher:
    """Delivers recorded events to ``config.webhook_url``; inert when webhooks are not configured."""

    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self._url = config.webhook_url
        self._secret = config.webhook_secret
        self._config = config
        self._store = store
        self._sleep: Callable[[float], Awaitable[None]] = config.sleep or anyio.sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self._tried: dict[asyncio.Task[None], asyncio.Event] = {}  # set once a delivery made its first attempt
        self._started: set[str] | None = set()  # events this run started delivering before resume() (then None)
        self._client: httpx2.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def enabled(self) -> bool:
        return self._url is not None and self._secret is not None

    @property
    def in_flight(self) -> int:
        """Events still being delivered (including ones waiting for a retry)."""
        return len(self._tasks)

    def enqueue(self, events: Sequence[Event]) -> None:
        """Start delivering ``events`` in the background. Called by the store after each commit."""
        if not self.enabled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            logger.warning("no running event loop: %d webhook event(s) stay pending", len(events))
            return
        for event in events:
            self._start(loop, event, 0)

    def resume(self, now: datetime) -> int:
        """Deliver again the events an earlier run left ``pending`` or ``retrying`` (not this run's own), if created
        since ``now`` minus :data:`RESUME_WITHIN` (older ones become ``failed``); their attempts count on. Needs a
        running event loop. Returns how many were resumed."""
        if not self.enabled:
            return 0
        loop = asyncio.get_running_loop()
        resumed = 0
        for event, attempts, created_at in self._store.undelivered():
            if self._started is not None and event.id in self._started:
                continue
            if created_at < now - RESUME_WITHIN:
                error = f"not delivered when the sandbox stopped, and older than {RESUME_WITHIN}: not resumed"
                self._store.mark_delivery(event, "failed", attempts, error)
                continue
            self._start(loop, event, attempts)
            resumed += 1
        self._started = None
        if resumed:
            logger.info("resuming %d webhook delivery(ies) an earlier run left unfinished", resumed)
        return resumed

    def _start(self, loop: asyncio.AbstractEventLoop, event: Event, attempted: int) -> None:
        if self._started is not None:
            self._started.add(event.id)
        tried = asyncio.Event()
        task = loop.create_task(self._deliver(event, tried, attempted), name=f"webhook {event.id}")
        self._tasks.add(task)
        self._tried[task] = tried
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._tried.pop(task, None)

    async def drain(self) -> None:
        """Wait until every delivery started so far has succeeded or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settle(self) -> None:
        """Wait until every delivery started so far has made its first attempt (delivered, or waiting to retry)."""
        for tried in list(self._tried.values()):
            await tried.wait()

    async def aclose(self) -> None:
        """Cancel pending deliveries (their events stay ``pending``/``retrying``) and close the HTTP client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            # trust_env=False: deliveries go straight to the configured URL, not through an environment proxy.
            self._client = httpx2.AsyncClient(
                transport=self._config.webhook_transport, timeout=self._config.webhook_timeout, trust_env=False
            )
        return self._client

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(MAX_BACKOFF, self._config.webhook_backoff * 2.0 ** (attempt - 1))

    async def _deliver(self, event: Event, tried: asyncio.Event, attempted: int) -> None:
        """Up to ``webhook_max_attempts`` attempts, numbered on from ``attempted``; ``tried`` is set after the first
        (or when the delivery ends without one)."""
        try:
            await self._attempts(event, tried, attempted)
        finally:
            tried.set()

    async def _attempts(self, event: Event, tried: asyncio.Event, attempted: int) -> None:
        url, secret = self._url, self._secret
        if url is None or secret is None:  # deliveries only start when both are set
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, event.body)}
        attempts = attempted + self._config.webhook_max_attempts
        for attempt in range(attempted + 1, attempts + 1):
            async with self._semaphore:
                try:
                    response = await self._http().post(url, content=event.body, headers=headers)
                except httpx2.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                else:
                    if response.is_success:
                        self._store.mark_delivery(event, "delivered", attempt, None)
                        return
                    error = f"HTTP {response.status_code}"
            final = attempt == attempts
            self._store.mark_delivery(event, "failed" if final else "retrying", attempt, error)
            if final:
                logger.warning("webhook %s (%s) failed after %d attempts: %s", event.id, event.type, attempt, error)
                return
            logger.info("webhook %s (%s) attempt %d failed: %s; retrying", event.id, event.type, attempt, error)
            tried.set()
            await self._sleep(self.backoff(attempt - attempted))


class InProcessTransport(httpx2.AsyncBaseTransport):
    """``httpx2.ASGITransport`` to a sandbox app in this process, whose answers come back once the webhooks their
    request caused have had their first delivery attempt (see the module docstring). Retries stay in the background.
    """

    def __init__(self, app: Starlette) -> None:
        self._asgi = httpx2.ASGITransport(app=app)
        # app.state.sandbox: the Sandbox of create_app, or the SandboxGroup of create_multi_app (every store's).
        self._settle: Callable[[], Awaitable[None]] = app.state.sandbox.settle

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._asgi.handle_async_request(request)
        await self._settle()
        return response

    async def aclose(self) -> None:
        await self._asgi.aclose()
