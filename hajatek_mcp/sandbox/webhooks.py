"""Signed webhook delivery in the background, with retries and exponential backoff.

Every event is first recorded in the ``events`` table (by the store, in the transaction that caused it). When a URL
and a secret are configured, :meth:`WebhookDispatcher.enqueue` starts one asyncio task per event that POSTs the exact
recorded body with ``X-Hajatek-Signature`` (:func:`hajatek_mcp.api.webhooks.sign`) and ``Content-Type:
application/json``. A non-2xx answer or a connection error is retried after ``backoff × 2^(n-1)`` seconds (capped
at 60) up to ``webhook_max_attempts`` attempts; the outcome is written back to the event's ``delivery`` state
(``delivered``/``retrying``/``failed``). The API request that caused the event never waits for any of this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import anyio
import httpx2

from hajatek_mcp.api.webhooks import SIGNATURE_HEADER, sign

from .config import SandboxConfig
from .db import Event

if TYPE_CHECKING:
    from .store import Store

__all__ = ["MAX_BACKOFF", "WebhookDispatcher"]

logger = logging.getLogger(__name__)
MAX_BACKOFF = 60.0
MAX_CONCURRENT_DELIVERIES = 8


class WebhookDispatcher:
    """Delivers recorded events to ``config.webhook_url``; inert when webhooks are not configured."""

    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self._url = config.webhook_url
        self._secret = config.webhook_secret
        self._config = config
        self._store = store
        self._sleep: Callable[[float], Awaitable[None]] = config.sleep or anyio.sleep
        self._tasks: set[asyncio.Task[None]] = set()
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
            task = loop.create_task(self._deliver(event), name=f"webhook {event.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every delivery started so far has succeeded or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

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

    async def _deliver(self, event: Event) -> None:
        url, secret = self._url, self._secret
        if url is None or secret is None:  # enqueue() only starts deliveries when both are set
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, event.body)}
        attempts = self._config.webhook_max_attempts
        for attempt in range(1, attempts + 1):
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
            await self._sleep(self.backoff(attempt))
