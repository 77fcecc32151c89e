"""The sandbox as a Starlette app: the Hajatek API of docs/api.md under ``/v1``, plus the ``/_sandbox/`` admin API.

``create_app(config)`` builds everything (opening and seeding the database) and returns the app; the state lives at
``app.state.sandbox`` (:class:`~hajatek_mcp.sandbox.core.Sandbox`). Routes are thin: parse strictly
(:mod:`~hajatek_mcp.sandbox.validation`), call the store, render JSON. Request ids, faults, auth and rate limits
happen before them in :class:`~hajatek_mcp.sandbox.gateway.Gateway`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hajatek_mcp.api.models import ORDER_STATUSES

from .admin import admin_routes
from .analytics import PERIODS
from .config import SandboxConfig
from .core import Sandbox
from .errors import SandboxError, code_for_status, envelope
from .gateway import PLAN_KEY, REQUEST_ID_KEY, Gateway, json_bytes
from .store import Page
from .validation import (
    choice,
    limit_param,
    order_status_body,
    page_param,
    parse_query,
    product_fields,
    read_json_object,
    search_param,
    slug_param,
)

__all__ = ["create_app", "json_response"]

Endpoint = Callable[[Request], Awaitable[Response]]
PAGING = {"page": page_param, "limit": limit_param}
DEFAULT_LIMIT = 20


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json_bytes(data), status_code=status, media_type="application/json")


def _query(request: Request, **spec: Any) -> dict[str, Any]:
    return parse_query(request.query_params.multi_items(), spec)


def _listing(key: str, page: Page, query: dict[str, Any]) -> Response:
    number, limit = query.get("page", 1), query.get("limit", DEFAULT_LIMIT)
    has_more = number * limit < page.total
    return json_response({key: page.items, "page": number, "limit": limit, "total": page.total, "has_more": has_more})


def methods(**handlers: Endpoint) -> Endpoint:
    """One endpoint per path, dispatching on the method, so 405 responses list every allowed method."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint


#: The assumed fields of each resource, left out with ``SandboxConfig(assumed_fields=False)``.
_ASSUMED = {"orders": ("customer_name", "status_history"), "customers": ("name_ar",)}


class Api:
    """Handlers of the ``/v1`` routes."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.store = sandbox.store
        self.assumed_fields = sandbox.config.assumed_fields

    def _shown(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` as served: without the assumed fields when they are switched off."""
        if self.assumed_fields:
            return item
        return {key: value for key, value in item.items() if key not in _ASSUMED[kind]}

    def _page(self, kind: str, page: Page) -> Page:
        return Page([self._shown(kind, item) for item in page.items], page.total)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/stores/{store_id}", methods(GET=self.get_store), methods=["GET"]),
            Route(
                "/v1/products",
                methods(GET=self.list_products, POST=self.create_product),
                methods=["GET", "POST"],
            ),
            Route(
                "/v1/products/{product_id}",
                methods(PUT=self.update_product, DELETE=self.delete_product),
                methods=["PUT", "DELETE"],
            ),
            Route("/v1/orders", methods(GET=self.list_orders), methods=["GET"]),
            Route("/v1/orders/{order_id}", methods(GET=self.get_order), methods=["GET"]),
            Route("/v1/orders/{order_id}/status", methods(PUT=self.set_order_status), methods=["PUT"]),
            Route("/v1/customers", methods(GET=self.list_customers), methods=["GET"]),
            Route("/v1/analytics/summary", methods(GET=self.analytics_summary), methods=["GET"]),
        ]

    async def get_store(self, request: Request) -> Response:
        _query(request)
        return json_response(self.store.store_info(request.path_params["store_id"], request.scope[PLAN_KEY]))

    async def list_products(self, request: Request) -> Response:
        query = _query(request, **PAGING, category=slug_param, search=search_param)
        page = self.store.list_products(
            page=query.get("page", 1),
            limit=query.get("limit", DEFAULT_LIMIT),
            category=query.get("category"),
            search=query.get("search"),
        )
        return _listing("products", page, query)

    async def create_product(self, request: Request) -> Response:
        _query(request)
        fields = product_fields(await read_json_object(request), partial=False)
        return json_response(self.store.create_product(fields), status=201)

    async def update_product(self, request: Request) -> Response:
        _query(request)
        product_id = request.path_params["product_id"]
        self.store.get_product(product_id)  # an unknown product is 404 before its body is judged
        fields = product_fields(await read_json_object(request), partial=True)
        return json_response(self.store.update_product(product_id, fields))

    async def delete_product(self, request: Request) -> Response:
        _query(request)
        return json_response(self.store.delete_product(request.path_params["product_id"]))

    async def list_orders(self, request: Request) -> Response:
        query = _query(request, **PAGING, status=choice(ORDER_STATUSES))
        page = self.store.list_orders(
            page=query.get("page", 1), limit=query.get("limit", DEFAULT_LIMIT), status=query.get("status")
        )
        return _listing("orders", self._page("orders", page), query)

    async def get_order(self, request: Request) -> Response:
        _query(request)
        return json_response(self._shown("orders", self.store.get_order(request.path_params["order_id"])))

    async def set_order_status(self, request: Request) -> Response:
        _query(request)
        order_id = request.path_params["order_id"]
        self.store.get_order(order_id)  # an unknown order is 404 before its body is judged
        status, note = order_status_body(await read_json_object(request), ORDER_STATUSES)
        return json_response(self._shown("orders", self.store.set_order_status(order_id, status, note)))

    async def list_customers(self, request: Request) -> Response:
        query = _query(request, **PAGING)
        page = self.store.list_customers(page=query.get("page", 1), limit=query.get("limit", DEFAULT_LIMIT))
        return _listing("customers", self._page("customers", page), query)

    async def analytics_summary(self, request: Request) -> Response:
        query = _query(request, period=choice(tuple(PERIODS)))
        return json_response(self.store.analytics_summary(query.get("period", "30d")))


def _error_response(request: Request, status: int, message: str, param: str | None = None, **kw: Any) -> Response:
    body = envelope(kw.get("code") or code_for_status(status), message, param, request.scope[REQUEST_ID_KEY])
    return Response(json_bytes(body), status_code=status, media_type="application/json", headers=kw.get("headers"))


async def _sandbox_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SandboxError)  # noqa: S101 -- registered for SandboxError only
    return _error_response(request, exc.status, exc.message, exc.param, code=exc.code, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 -- registered for HTTPException only
    target = f"{request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = ", ".join(sorted(m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()))
        message = f"Method {request.method} is not allowed on {request.url.path}; allowed: {allowed}."
        return _error_response(request, 405, message, headers={"Allow": allowed})
    if exc.status_code == 404:
        return _error_response(request, 404, f"No route {target}.")
    return _error_response(request, exc.status_code, str(exc.detail), headers=exc.headers)


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """Build a sandbox app: opens (and if empty, seeds) the database. The state is ``app.state.sandbox``."""
    sandbox = Sandbox(config or SandboxConfig())

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with sandbox:
            yield

    app = Starlette(
        routes=[*Api(sandbox).routes(), *admin_routes(sandbox)],
        middleware=[Middleware(Gateway, sandbox=sandbox)],
        exception_handlers={SandboxError: _sandbox_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # a real API answers /v1/products/ with 404, not a redirect
    app.state.sandbox = sandbox
    return app
