"""The ``/_sandbox/`` admin API: faults, recorded events, reset, simulated orders, activity ticks.

Served only with ``SandboxConfig(enable_admin=True)`` (``--enable-admin``); otherwise the gateway answers 404 for
every ``/_sandbox/`` path. It needs no API key, so keep the sandbox on loopback (the default) when it is enabled.
Same strictness and error envelope as the API.

| method | path | body / query | answer |
|---|---|---|---|
| POST | /_sandbox/faults | path, method?, count?, mode?, status?, delay?, retry_after? | 201 the fault |
| GET | /_sandbox/faults | | ``{"faults": [...]}`` |
| DELETE | /_sandbox/faults | | ``{"cleared": n}`` |
| GET | /_sandbox/events | type? | ``{"events": [...]}`` oldest first, with delivery state |
| POST | /_sandbox/reset | seed? | ``{"reset": true, "seed": n}`` |
| POST | /_sandbox/orders | customer_id, items [{product_id, quantity}], city? | 201 the order |
| POST | /_sandbox/tick | | ``{"actions": [...]}``: one activity tick |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .errors import InvalidRequest, ValidationFailed
from .faults import FAULT_MODES, Fault, FaultInjector, InvalidFault
from .gateway import json_bytes
from .validation import choice, parse_query, read_json_object

if TYPE_CHECKING:
    from .core import Sandbox

__all__ = ["admin_routes"]

EVENT_TYPES = ("order.created", "order.updated", "payment.completed", "product.created", "inventory.low")
_HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json_bytes(data), status_code=status, media_type="application/json")


def _allow_only(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise InvalidRequest(f"Unknown field '{key}'. Allowed fields: {', '.join(allowed)}.", param=key)


def _int(body: Mapping[str, Any], key: str, *, nullable: bool, low: int = 0) -> int | None:
    value = body[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationFailed(key, f"{key} must be a whole number >= {low}" + (" or null." if nullable else "."))
    return value


async def _optional_body(request: Request) -> dict[str, Any]:
    if not await request.body():
        return {}
    return await read_json_object(request)


def _inject(faults: FaultInjector, body: Mapping[str, Any]) -> Fault:
    """``POST /_sandbox/faults``: the body's fields are the arguments of :meth:`FaultInjector.inject`."""
    _allow_only(body, ("path", "method", "count", "mode", "status", "delay", "retry_after"))
    path = body.get("path")
    if not isinstance(path, str):
        raise ValidationFailed("path", "path is required: a request path such as /v1/products, or a glob.")
    method = body.get("method")
    if method is not None and (not isinstance(method, str) or method.upper() not in _HTTP_METHODS):
        raise ValidationFailed("method", f"method must be one of {', '.join(_HTTP_METHODS)}, or null for any.")
    mode = body.get("mode", "status")
    if mode not in FAULT_MODES:
        raise ValidationFailed("mode", f"mode must be one of: {', '.join(FAULT_MODES)}.")
    delay = body.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | Decimal):
        raise ValidationFailed("delay", "delay must be a number of seconds.")
    try:
        return faults.inject(
            path,
            method=method,
            count=_int(body, "count", nullable=True, low=1) if "count" in body else 1,
            mode=mode,
            status=_int(body, "status", nullable=True) if "status" in body else None,
            delay=float(delay),
            retry_after=_int(body, "retry_after", nullable=True) if "retry_after" in body else None,
        )
    except InvalidFault as exc:
        raise ValidationFailed(exc.param, str(exc)) from None


def admin_routes(sandbox: Sandbox) -> list[BaseRoute]:
    """The admin routes (always registered; the gateway hides them unless the admin API is enabled)."""

    async def faults(request: Request) -> Response:
        parse_query(request.query_params.multi_items(), {})
        if request.method == "DELETE":
            return _json({"cleared": sandbox.faults.clear()})
        if request.method in ("GET", "HEAD"):
            return _json({"faults": [fault.to_json() for fault in sandbox.faults.active]})
        fault = _inject(sandbox.faults, await read_json_object(request))
        return _json(fault.to_json(), status=201)

    async def events(request: Request) -> Response:
        query = parse_query(request.query_params.multi_items(), {"type": choice(EVENT_TYPES)})
        return _json({"events": sandbox.store.list_events(query.get("type"))})

    async def reset(request: Request) -> Response:
        parse_query(request.query_params.multi_items(), {})
        body = await _optional_body(request)
        _allow_only(body, ("seed",))
        seed = _int(body, "seed", nullable=True) if "seed" in body else None
        sandbox.reset(seed)
        return _json({"reset": True, "seed": sandbox.config.seed if seed is None else seed})

    async def place_order(request: Request) -> Response:
        parse_query(request.query_params.multi_items(), {})
        body = await read_json_object(request)
        _allow_only(body, ("customer_id", "items", "city"))
        customer_id = body.get("customer_id")
        if not isinstance(customer_id, str):
            raise ValidationFailed("customer_id", "customer_id is required: a customer id such as cus_0042.")
        items = body.get("items")
        rule = 'items must be a list of {"product_id": str, "quantity": whole number >= 1}.'
        if not isinstance(items, list) or not items:
            raise ValidationFailed("items", rule)
        lines = []
        for item in items:
            if not isinstance(item, dict) or set(item) != {"product_id", "quantity"}:
                raise ValidationFailed("items", rule)
            product_id, quantity = item["product_id"], item["quantity"]
            if not isinstance(product_id, str) or isinstance(quantity, bool) or not isinstance(quantity, int):
                raise ValidationFailed("items", rule)
            lines.append((product_id, quantity))
        city = body.get("city")
        if city is not None and (not isinstance(city, str) or not city.strip() or len(city) > 100):
            raise ValidationFailed("city", "city must be a string of 1 to 100 characters, or null.")
        return _json(sandbox.store.place_order(customer_id, lines, city), status=201)

    async def tick(request: Request) -> Response:
        parse_query(request.query_params.multi_items(), {})
        return _json({"actions": sandbox.activity.step()})

    endpoint = Callable[[Request], Awaitable[Response]]
    table: list[tuple[str, endpoint, list[str]]] = [
        ("/_sandbox/faults", faults, ["GET", "POST", "DELETE"]),
        ("/_sandbox/events", events, ["GET"]),
        ("/_sandbox/reset", reset, ["POST"]),
        ("/_sandbox/orders", place_order, ["POST"]),
        ("/_sandbox/tick", tick, ["POST"]),
    ]
    return [Route(path, handler, methods=allowed) for path, handler, allowed in table]
