"""HajatekClient: the async Hajatek API client, usable without MCP.

Every endpoint goes through one :meth:`HajatekClient.request`, which owns authentication, the rate governor, retries
and the mapping of failures onto the exception tree in :mod:`hajatek_mcp.api.errors`. It is a loop of three layers,
each one concern: the governor grants a slot, :func:`~hajatek_mcp.api.attempt.send_once` sends the request once and
maps the answer, and :func:`~hajatek_mcp.api.retry.decide` (the retry policy, written out in its module) says whether
to try again and when. Finding a product by id, which the API cannot do, is :mod:`hajatek_mcp.api.locator`'s.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from hajatek_mcp import __version__
from hajatek_mcp.api.attempt import Failed, send_once
from hajatek_mcp.api.errors import APIResponseValidationError, RateLimitError
from hajatek_mcp.api.locator import ProductLocator
from hajatek_mcp.api.models import (
    AnalyticsPeriod,
    AnalyticsSummary,
    Customer,
    DeletedProduct,
    Order,
    OrderStatus,
    Page,
    Plan,
    Product,
    ProductCreate,
    ProductUpdate,
    Store,
)
from hajatek_mcp.api.ratelimit import PLAN_LIMITS, Governor, PausedError, RateGovernor, RateLimitState
from hajatek_mcp.api.retry import could_have_applied, decide, deleted_already

__all__ = ["DEFAULT_BASE_URL", "HajatekClient"]

DEFAULT_BASE_URL = "https://api.hajatek.com/v1"
#: How many products :meth:`HajatekClient.find_product` remembers the listing page and name of (~270 B each).
LISTED_KEPT = 10_000
#: How many more it remembers only the name of, from order lines (~210 B each), so that reading many orders cannot
#: push out the better hints above.
NAMED_KEPT = 5_000

logger = logging.getLogger("hajatek_mcp.api")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


def _encode(value: object) -> float:
    # A Decimal with two places round-trips exactly through the shortest float repr ("149.99").
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


class HajatekClient:
    """Async client for the Hajatek API (contract: docs/api.md).

    Use it as an async context manager, or call :meth:`aclose`. One client is meant to be shared: its connection pool
    and rate governor serve every concurrent caller. ``transport`` is handed to ``httpx2.AsyncClient``: pass
    ``httpx2.ASGITransport(app=sandbox_app)`` to talk to the in-process sandbox. ``governor`` replaces the budget this
    process keeps for the key by one shared with other processes (replicas sharing one key's budget in Redis).
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        store_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        plan: Plan = "starter",
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: random.Random | None = None,
        governor: Governor | None = None,
    ) -> None:
        key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not key.get_secret_value().strip():
            raise ValueError("the API key is empty; set HAJATEK_API_KEY to the key from the Hajatek dashboard")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.store_id = store_id
        self.base_url = base_url.rstrip("/")
        self.plan = plan
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311  # jitter, not cryptography
        limit = rate_limit if rate_limit is not None else PLAN_LIMITS[plan]
        self.governor: Governor = governor or RateGovernor(limit, rate_window, clock=clock, sleep=sleep)
        self._key = key
        self._transport = transport
        self._timeout = timeout
        self._http_client: httpx2.AsyncClient | None = None  # built on first use: start-up stays fast
        # Read at construction, so a test can shrink the module constants first.
        self._locator = ProductLocator(self.list_products, listed_kept=LISTED_KEPT, named_kept=NAMED_KEPT)

    @property
    def _http(self) -> httpx2.AsyncClient:
        if self._http_client is None:
            self._http_client = httpx2.AsyncClient(
                base_url=self.base_url,
                transport=self._transport,
                timeout=httpx2.Timeout(self._timeout, connect=min(self._timeout, 10.0)),
                limits=httpx2.Limits(max_connections=20, max_keepalive_connections=10),
                headers={
                    "Authorization": f"Bearer {self._key.get_secret_value()}",
                    "Accept": "application/json",
                    "User-Agent": f"hajatek-mcp/{__version__} (+https://github.com/hajatek/hajatek-mcp)",
                },
                follow_redirects=False,
            )
        return self._http_client

    def __repr__(self) -> str:
        return f"HajatekClient(base_url={self.base_url!r}, store_id={self.store_id!r}, plan={self.plan!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()
        await self.governor.aclose()

    def rate_limit_state(self) -> RateLimitState:
        """The governor's current budget (remaining requests, seconds to the next free slot)."""
        return self.governor.state()

    # -- endpoints ---------------------------------------------------------------------------------------------------

    async def get_store(self, store_id: str | None = None) -> Store:
        """``GET /stores/{store_id}``; defaults to the client's ``store_id``."""
        sid = store_id or self.store_id
        if not sid:
            raise ValueError("no store id: pass store_id or set HAJATEK_STORE_ID (it starts with 'str_')")
        return _parse(Store, await self.request("GET", f"/stores/{quote(sid, safe='')}"))

    async def list_products(
        self, *, page: int = 1, limit: int = 20, category: str | None = None, search: str | None = None
    ) -> Page[Product]:
        params = {"page": page, "limit": limit, "category": category, "search": search}
        result = _page(Product, "products", await self.request("GET", "/products", params=params))
        self._locator.saw_listing(params, result.items)
        return result

    async def find_product(self, product_id: str, *, max_pages: int | None = None) -> Product:
        """One product by id, as the API has it now.

        The API has no ``GET /products/{id}``, so the client remembers where it saw each product: the listing page
        that last showed it (the agent usually found the id in a listing, or the product was just created) and its
        name, or the name an order line gave it. It asks that page again, then searches by the name (the product
        may have moved to another page), one request each; a product never seen, or renamed since, is found by
        walking the listing (100 per request), at most ``max_pages`` pages.

        Raises :class:`~hajatek_mcp.api.errors.NotFoundError` when no product has that id, and
        :class:`~hajatek_mcp.api.errors.LookupLimitError` when ``max_pages`` were read and more remain.
        """
        return await self._locator.find(product_id, max_pages=max_pages)

    async def create_product(self, product: ProductCreate) -> Product:
        body = product.model_dump(exclude_none=True)
        created = _parse(Product, await self.request("POST", "/products", json=body))
        self._locator.saw_created(created)
        return created

    async def update_product(self, product_id: str, changes: ProductUpdate) -> Product:
        body = changes.model_dump(exclude_none=True)
        updated = _parse(Product, await self.request("PUT", f"/products/{quote(product_id, safe='')}", json=body))
        self._locator.saw_updated(updated)
        return updated

    async def delete_product(self, product_id: str) -> DeletedProduct:
        data = await self.request("DELETE", f"/products/{quote(product_id, safe='')}")
        self._locator.forget(product_id)
        return _parse(DeletedProduct, data if data is not None else {"id": product_id, "deleted": True})

    async def list_orders(self, *, status: OrderStatus | None = None, page: int = 1, limit: int = 20) -> Page[Order]:
        params = {"status": status, "page": page, "limit": limit}
        result = _page(Order, "orders", await self.request("GET", "/orders", params=params))
        for order in result.items:
            self._locator.saw_order(order)
        return result

    async def get_order(self, order_id: str) -> Order:
        order = _parse(Order, await self.request("GET", f"/orders/{quote(order_id, safe='')}"))
        self._locator.saw_order(order)
        return order

    async def update_order_status(self, order_id: str, status: OrderStatus, *, note: str | None = None) -> Order:
        body: dict[str, Any] = {"status": status}
        if note:
            body["note"] = note
        path = f"/orders/{quote(order_id, safe='')}/status"
        return _parse(Order, await self.request("PUT", path, json=body))

    async def list_customers(self, *, page: int = 1, limit: int = 20) -> Page[Customer]:
        params = {"page": page, "limit": limit}
        return _page(Customer, "customers", await self.request("GET", "/customers", params=params))

    async def get_analytics_summary(self, period: AnalyticsPeriod | None = None) -> AnalyticsSummary:
        """``GET /analytics/summary``; ``period`` is today, 7d, 30d (the API's default) or 90d."""
        params = {"period": period}
        return _parse(AnalyticsSummary, await self.request("GET", "/analytics/summary", params=params))

    async def iterate(self, fetch: Callable[..., Awaitable[Page[T]]], /, **params: Any) -> AsyncIterator[T]:
        """Yield every item of a listing, page after page: ``async for p in client.iterate(client.list_products)``.

        ``params`` go to ``fetch`` unchanged (filters, and ``limit``, which defaults to 100 here).
        """
        params.setdefault("limit", 100)
        page = 1
        while True:
            result = await fetch(page=page, **params)
            for item in result.items:
                yield item
            if not result.has_more or not result.items:
                return
            page += 1

    # -- the one request loop ----------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: Mapping[str, object] | None = None,
    ) -> Any:
        """Send one API request and return its decoded JSON (``None`` for an empty body).

        Raises a :class:`~hajatek_mcp.api.errors.HajatekError` subclass; see :mod:`hajatek_mcp.api.retry` for retries.
        """
        method = method.upper()
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        content = None if json is None else _dumps(json)
        headers = {"Content-Type": "application/json"} if content is not None else None
        give_up_at = self._clock() + self.max_retry_wait
        applied = False  # did an attempt possibly reach Hajatek and change something?
        attempt = 0
        while True:
            await self._acquire(method, path, max_pause=max(give_up_at - self._clock(), 0.0))
            try:
                answer = await send_once(
                    self._http, self.governor, self._clock, method, path, query=query, content=content, headers=headers
                )
            finally:
                self.governor.release()  # the slot counts from now: the request has surely arrived by now
            if not isinstance(answer, Failed):
                return answer
            if deleted_already(method, answer.failure, may_have_applied=applied):
                logger.info("%s %s: 404 after an attempt that may have applied; taking it as done", method, path)
                return None
            applied = applied or could_have_applied(answer.failure)
            await self._raise_or_wait(method, path, answer, attempt=attempt, applied=applied, give_up_at=give_up_at)
            attempt += 1

    async def _raise_or_wait(
        self, method: str, path: str, failed: Failed, *, attempt: int, applied: bool, give_up_at: float
    ) -> None:
        """Raise the failed attempt's error, or wait for the next attempt, as the retry policy decides."""
        decision = decide(
            method,
            failed.failure,
            attempt=attempt,
            max_retries=self.max_retries,
            may_have_applied=applied,
            budget_left=give_up_at - self._clock(),
            jitter=self._rng.random,
        )
        if not decision.retry:
            failed.error.outcome_unknown = decision.outcome_unknown
            raise failed.error
        logger.warning(
            "%s %s failed (%s); retry %d of %d in %.1f s",
            method,
            path,
            _brief(failed.error),
            attempt + 1,
            self.max_retries,
            decision.wait,
        )
        if decision.sleep:  # after a 429 with Retry-After, the governor's pause holds every caller instead
            await self._sleep(decision.wait)

    async def _acquire(self, method: str, path: str, *, max_pause: float) -> None:
        """A slot of the rate governor, or a :class:`RateLimitError` if the server's pause outlasts ``max_pause``."""
        try:
            await self.governor.acquire(max_pause=max_pause)
        except PausedError as exc:
            raise RateLimitError(
                f"Hajatek asked for a pause of {exc.seconds:.0f} s after too many requests; {method} {path} "
                "was not sent",
                status_code=429,
                code="rate_limited",
                retry_after=round(exc.seconds),
            ) from None


def _dumps(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, default=_encode, ensure_ascii=False, separators=(",", ":")).encode()


def _brief(error: Exception) -> str:
    status = getattr(error, "status_code", None)
    return f"status {status}" if status is not None else type(error).__name__


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(body)" for e in exc.errors())
        raise APIResponseValidationError(
            f"Hajatek's response does not match the expected {model.__name__} shape (fields: {fields}).",
            status_code=200,
            request_id=None,
        ) from None


def _page(model: type[T], key: str, data: Any) -> Page[T]:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise APIResponseValidationError(f"Hajatek's listing has no '{key}' array.", status_code=200, request_id=None)
    return _parse(Page[model], {**data, "items": data[key]})  # type: ignore[valid-type]  # runtime generic
