"""HajatekClient: the async Hajatek API client, usable without MCP.

Every endpoint goes through one :meth:`HajatekClient.request`, which owns authentication, the rate governor, retries
and the mapping of failures onto the exception tree in :mod:`hajatek_mcp.api.errors`.

Retry policy (also in the README):

- connection failures, 429 and 5xx are retried for idempotent methods (GET, PUT, DELETE), at most ``max_retries``
  times, with exponential backoff and jitter, within ``max_retry_wait`` seconds in all;
- ``Retry-After`` is honoured (and pauses every caller through the governor);
- a POST is retried only when the request provably did not reach Hajatek: the connection was never made, or the API
  refused it with 429 (the contract says a rate-limited request is not processed). Any other failure of a POST is
  raised with ``outcome_unknown=True``, so a create is never sent twice blindly; the caller checks first.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from hajatek_mcp import __version__
from hajatek_mcp.api.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    LookupLimitError,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
    status_error_class,
)
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
from hajatek_mcp.api.ratelimit import PLAN_LIMITS, PausedError, RateGovernor, RateLimitState

__all__ = ["DEFAULT_BASE_URL", "HajatekClient"]

DEFAULT_BASE_URL = "https://api.hajatek.com/v1"
_NEWEST: Mapping[str, Any] = {"page": 1, "limit": 100, "category": None, "search": None}
#: How many products :meth:`HajatekClient.find_product` remembers the listing page and name of (~270 B each).
LISTED_KEPT = 10_000
#: How many more it remembers only the name of, from order lines (~210 B each), so that reading many orders cannot
#: push out the better hints above.
NAMED_KEPT = 5_000
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
_RETRY_STATUSES = frozenset({500, 502, 503, 504})

logger = logging.getLogger("hajatek_mcp.api")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


def _encode(value: object) -> float:
    # A Decimal with two places round-trips exactly through the shortest float repr ("149.99").
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 else None


class HajatekClient:
    """Async client for the Hajatek API (contract: docs/api.md).

    Use it as an async context manager, or call :meth:`aclose`. One client is meant to be shared: its connection pool
    and rate governor serve every concurrent caller. ``transport`` is handed to ``httpx2.AsyncClient``: pass
    ``httpx2.ASGITransport(app=sandbox_app)`` to talk to the in-process sandbox.
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
        self.governor = RateGovernor(limit, rate_window, clock=clock, sleep=sleep)
        self._key = key
        self._transport = transport
        self._timeout = timeout
        self._http_client: httpx2.AsyncClient | None = None  # built on first use: start-up stays fast
        # Where to look for a product first (see find_product), newest last: product id -> (the listing query that
        # last returned it, its name), and product id -> the name an order line gave it.
        self._listed: OrderedDict[str, tuple[Mapping[str, Any], str]] = OrderedDict()
        self._named: OrderedDict[str, str] = OrderedDict()

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
        for product in result.items:
            self._remember(product.id, params, product.name)
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
        query, name = self._listed.get(product_id, (None, self._named.get(product_id)))
        hints = [query] if query is not None else []
        if name and (query is None or query.get("search") != name):
            hints.append({"page": 1, "limit": 100, "category": None, "search": name[:200]})
        for hint in hints:
            try:
                listing = await self.list_products(**hint)
            except (BadRequestError, UnprocessableEntityError):
                continue  # a hint the API refuses (a name it will not search for): the walk still finds it
            for product in listing.items:
                if product.id == product_id:
                    return product
        page = 0
        while max_pages is None or page < max_pages:
            page += 1
            listing = await self.list_products(page=page, limit=100)
            for product in listing.items:
                if product.id == product_id:
                    return product
            if not listing.has_more or not listing.items:
                self._forget(product_id)
                raise NotFoundError(
                    f"Product {product_id} not found", status_code=404, code="not_found", param="product_id"
                )
        raise LookupLimitError(product_id, scanned=page * 100)

    def _remember_items(self, order: Order) -> None:
        """An order's lines name their products: where to search for a product never listed."""
        for item in order.items:
            name = (item.name or "").strip()
            if item.product_id and name and item.product_id not in self._listed:
                self._named[item.product_id] = name
                self._named.move_to_end(item.product_id)
                if len(self._named) > NAMED_KEPT:
                    self._named.popitem(last=False)

    def _remember(self, product_id: str, query: Mapping[str, Any], name: str) -> None:
        self._named.pop(product_id, None)
        self._listed[product_id] = (query, name)
        self._listed.move_to_end(product_id)
        if len(self._listed) > LISTED_KEPT:
            self._listed.popitem(last=False)

    def _forget(self, product_id: str) -> None:
        self._listed.pop(product_id, None)
        self._named.pop(product_id, None)

    async def create_product(self, product: ProductCreate) -> Product:
        body = product.model_dump(exclude_none=True)
        created = _parse(Product, await self.request("POST", "/products", json=body))
        self._remember(created.id, _NEWEST, created.name)  # listings put the newest first
        return created

    async def update_product(self, product_id: str, changes: ProductUpdate) -> Product:
        body = changes.model_dump(exclude_none=True)
        updated = _parse(Product, await self.request("PUT", f"/products/{quote(product_id, safe='')}", json=body))
        if updated.id in self._listed:  # a rename: search by the new name if the product moves off its page
            self._listed[updated.id] = (self._listed[updated.id][0], updated.name)
        return updated

    async def delete_product(self, product_id: str) -> DeletedProduct:
        data = await self.request("DELETE", f"/products/{quote(product_id, safe='')}")
        self._forget(product_id)
        return _parse(DeletedProduct, data if data is not None else {"id": product_id, "deleted": True})

    async def list_orders(self, *, status: OrderStatus | None = None, page: int = 1, limit: int = 20) -> Page[Order]:
        params = {"status": status, "page": page, "limit": limit}
        result = _page(Order, "orders", await self.request("GET", "/orders", params=params))
        for order in result.items:
            self._remember_items(order)
        return result

    async def get_order(self, order_id: str) -> Order:
        order = _parse(Order, await self.request("GET", f"/orders/{quote(order_id, safe='')}"))
        self._remember_items(order)
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

    async def request(  # noqa: PLR0912, PLR0915  # the whole retry policy in one loop, as the module docstring says
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: Mapping[str, object] | None = None,
    ) -> Any:
        """Send one API request and return its decoded JSON (``None`` for an empty body).

        Raises a :class:`~hajatek_mcp.api.errors.HajatekError` subclass; see the module docstring for retries.
        """
        method = method.upper()
        idempotent = method in _IDEMPOTENT
        writes = method not in {"GET", "HEAD"}
        maybe_applied = False  # did an earlier attempt possibly reach Hajatek?
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        content = None if json is None else _dumps(json)
        headers = {"Content-Type": "application/json"} if content is not None else None
        give_up_at = self._clock() + self.max_retry_wait
        attempt = 0
        while True:
            try:
                await self.governor.acquire(max_pause=max(give_up_at - self._clock(), 0.0))
            except PausedError as exc:
                raise RateLimitError(
                    f"Hajatek asked for a pause of {exc.seconds:.0f} s after too many requests; {method} {path} "
                    "was not sent",
                    status_code=429,
                    code="rate_limited",
                    retry_after=round(exc.seconds),
                ) from None
            started = self._clock()
            failure: APIConnectionError | APIStatusError | APIResponseValidationError
            retry_after: float | None = None
            paused = False
            try:
                response = await self._http.request(method, path, params=query, content=content, headers=headers)
            except httpx2.TransportError as exc:
                not_sent = isinstance(exc, _NOT_SENT)
                # A write that may have reached Hajatek has an unknown outcome, even when repeating it is safe.
                failure = _connection_error(exc, method, path, outcome_unknown=writes and not not_sent)
                may_retry = idempotent or not_sent
                maybe_applied = maybe_applied or not not_sent
            else:
                self._observe_rate_headers(response)
                request_id = response.headers.get("x-request-id")
                logger.debug(
                    "%s %s -> %s in %.0f ms [%s]",
                    method,
                    path,
                    response.status_code,
                    (self._clock() - started) * 1000,
                    request_id,
                )
                if response.is_success:
                    try:
                        return _decode(response, write=writes)
                    except APIResponseValidationError as exc:
                        failure, may_retry, maybe_applied = exc, idempotent, True
                elif response.status_code == 404 and method == "DELETE" and maybe_applied:
                    # An earlier attempt may have deleted it before its answer was lost: gone is what was asked.
                    logger.info("%s %s: 404 after an attempt that may have applied; taking it as done", method, path)
                    return None
                else:
                    failure = _status_error(response)
                    retry_after = failure.retry_after
                    if response.status_code == 429:
                        self.governor.pause(retry_after if retry_after is not None else 1.0)
                        paused = retry_after is not None
                        may_retry = True  # a rate-limited request was not processed, whatever its method
                    else:
                        may_retry = idempotent and response.status_code in _RETRY_STATUSES
                        maybe_applied = maybe_applied or response.status_code >= 500
            finally:
                self.governor.release()  # the slot counts from now: the request has surely arrived by now
            if isinstance(failure, APIStatusError) and writes and maybe_applied:
                failure.outcome_unknown = True  # this attempt or an earlier one may have applied the write
            if not may_retry or attempt >= self.max_retries:
                raise failure
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if self._clock() + delay > give_up_at:
                raise failure
            attempt += 1
            logger.warning(
                "%s %s failed (%s); retry %d of %d in %.1f s", method, path, _brief(failure), attempt,
                self.max_retries, delay,
            )  # fmt: skip
            if not paused:  # a 429's Retry-After is the governor's pause: acquire() holds every caller
                await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        base: float = min(0.5 * 2**attempt, 8.0)
        return base * (0.75 + self._rng.random() / 4)

    def _observe_rate_headers(self, response: httpx2.Response) -> None:
        h = response.headers
        limit, remaining, reset = (_seconds(h.get(name)) for name in ("x-ratelimit-limit", "x-ratelimit-remaining",
                                                                     "x-ratelimit-reset"))  # fmt: skip
        if reset is not None and reset > 1e9:  # a Unix timestamp rather than delta seconds
            reset = max(reset - time.time(), 0.0)
        if limit is None and remaining is None:
            return
        self.governor.observe(
            limit=int(limit) if limit is not None else None,
            remaining=int(remaining) if remaining is not None else None,
            reset_in=reset,
        )


def _dumps(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, default=_encode, ensure_ascii=False, separators=(",", ":")).encode()


def _decode(response: httpx2.Response, *, write: bool) -> Any:
    request_id = response.headers.get("x-request-id")
    if not response.content:
        return None
    content_type = response.headers.get("content-type", "")
    # A write answered 2xx was accepted: saying "try again" could make it happen twice.
    advice = (
        "The change was accepted, so it probably happened: check the current state before repeating it."
        if write
        else "Try again."
    )
    if "json" not in content_type:
        raise APIResponseValidationError(
            f"Hajatek answered {response.status_code} with {content_type or 'no content type'} instead of JSON "
            f"(request {request_id}); a proxy may be in the way. {advice} Check HAJATEK_BASE_URL if it persists.",
            status_code=response.status_code,
            request_id=request_id,
            outcome_unknown=write,
        )
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise APIResponseValidationError(
            f"Hajatek answered {response.status_code} with malformed JSON (request {request_id}). {advice}",
            status_code=response.status_code,
            request_id=request_id,
            outcome_unknown=write,
        ) from None


def _status_error(response: httpx2.Response) -> APIStatusError:
    envelope: dict[str, Any] = {}
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
    reason = response.reason_phrase or "error"
    message = envelope.get("message")
    retry_after = _seconds(response.headers.get("retry-after"))
    cls = status_error_class(response.status_code)
    return cls(
        str(message) if message else f"{response.request.method} {response.request.url.path} failed: {reason}",
        status_code=response.status_code,
        code=str(envelope["code"]) if envelope.get("code") else None,
        param=str(envelope["param"]) if envelope.get("param") else None,
        request_id=envelope.get("request_id") or response.headers.get("x-request-id"),
        retry_after=retry_after,
    )


def _connection_error(
    exc: httpx2.TransportError, method: str, path: str, *, outcome_unknown: bool
) -> APIConnectionError:
    timed_out = isinstance(exc, httpx2.TimeoutException)
    what = "timed out" if timed_out else f"failed ({type(exc).__name__})"
    advice = (
        "The request may have reached Hajatek: check the current state before repeating it."
        if outcome_unknown
        else "Check the network and HAJATEK_BASE_URL, then try again."
    )
    cls = APITimeoutError if timed_out else APIConnectionError
    return cls(f"{method} {path} {what}. {advice}", method=method, path=path, outcome_unknown=outcome_unknown)


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
