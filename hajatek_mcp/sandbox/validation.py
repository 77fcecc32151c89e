"""Strict request parsing: the query string and JSON bodies, as a real API would check them.

Unknown or repeated query parameters and unknown body fields are 400 ``invalid_request`` naming the ``param``; a
known parameter with a bad value is 422 ``validation_error`` whose message states the rule. JSON numbers are parsed
as :class:`~decimal.Decimal` so "at most 2 decimals" is checked exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from .errors import InvalidRequest, SandboxError, ValidationFailed

__all__ = [
    "MAX_BODY_BYTES",
    "PRODUCT_FIELDS",
    "PRODUCT_STATUSES",
    "Parser",
    "choice",
    "limit_param",
    "order_status_body",
    "page_param",
    "parse_query",
    "product_fields",
    "read_json_object",
    "search_param",
    "slug_param",
]

MAX_BODY_BYTES = 1 << 20
MAX_LIMIT = 100
MAX_PRICE = Decimal(1_000_000)
MAX_STOCK = 1_000_000
_SLUG = re.compile(r"[a-z0-9-]{1,64}")
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIGITS = re.compile(r"[0-9]{1,18}")

Parser = Callable[[str, str], Any]
"""Turns the raw value of query parameter ``name`` into a value, or raises :class:`ValidationFailed`."""


def parse_query(items: Sequence[tuple[str, str]], spec: Mapping[str, Parser]) -> dict[str, Any]:
    """Parse ``items`` (the query string, in order) by ``spec``; parameters not given are absent from the result."""
    result: dict[str, Any] = {}
    for name, raw in items:
        if name not in spec:
            allowed = ", ".join(spec) if spec else "none"
            raise InvalidRequest(f"Unknown query parameter '{name}'. Allowed here: {allowed}.", param=name)
        if name in result:
            raise InvalidRequest(f"Query parameter '{name}' is given more than once.", param=name)
        result[name] = spec[name](name, raw)
    return result


def page_param(name: str, raw: str) -> int:
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise ValidationFailed(name, f"{name} must be a whole number >= 1 (pages are 1-based).")
    return int(raw)


def limit_param(name: str, raw: str) -> int:
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationFailed(name, f"{name} must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def slug_param(name: str, raw: str) -> str:
    if not _SLUG.fullmatch(raw):
        raise ValidationFailed(name, f"{name} must be a category slug: 1 to 64 of a-z, 0-9 and '-'.")
    return raw


def search_param(name: str, raw: str) -> str:
    if not raw.strip() or len(raw) > 200:
        raise ValidationFailed(name, f"{name} must be 1 to 200 characters, not blank.")
    return raw


def choice(options: Collection[str]) -> Parser:
    def parse(name: str, raw: str) -> str:
        if raw not in options:
            raise ValidationFailed(name, f"{name} must be one of: {', '.join(options)}.")
        return raw

    return parse


# -- bodies --------------------------------------------------------------------------------------------------------


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequest(f"Field '{key}' appears twice in the JSON body.", param=key)
        result[key] = value
    return result


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 if it is missing, not JSON or not an object; 413 if over 1 MiB."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise InvalidRequest("Send the body as JSON with 'Content-Type: application/json'.")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise SandboxError(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return data


def _check_fields(body: Mapping[str, Any], allowed: Collection[str]) -> None:
    for key in body:
        if key not in allowed:
            raise InvalidRequest(f"Unknown field '{key}'. Allowed fields: {', '.join(allowed)}.", param=key)


def _text(key: str, value: Any, max_len: int, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        rule = f"{key} must be a string of 1 to {max_len} characters, not blank" + (", or null" if nullable else "")
        raise ValidationFailed(key, rule + ".")
    return value


def _price(value: Any) -> int:
    rule = "price must be a number greater than 0 and at most 1000000, with at most 2 decimals."
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValidationFailed("price", rule)
    cents = Decimal(value) * 100
    if not 0 < value <= MAX_PRICE or cents != cents.to_integral_value():
        raise ValidationFailed("price", rule)
    return int(cents)


def _stock(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        raise ValidationFailed("stock", f"stock must be a whole number from 0 to {MAX_STOCK}.")
    return value


def _sku(value: Any) -> str:
    if not isinstance(value, str) or not _SKU.fullmatch(value):
        rule = "sku must be 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit."
        raise ValidationFailed("sku", rule)
    return value


def _category(value: Any) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ValidationFailed("category", "category must be a slug: 1 to 64 of a-z, 0-9 and '-'.")
    return value


def _product_status(value: Any) -> str:
    if value not in PRODUCT_STATUSES:
        raise ValidationFailed("status", f"status must be one of: {', '.join(PRODUCT_STATUSES)}.")
    return str(value)


PRODUCT_STATUSES = ("active", "draft", "archived")
_PRODUCT_VALIDATORS: Mapping[str, Callable[[Any], Any]] = {
    "name": lambda value: _text("name", value, 200, nullable=False),
    "name_ar": lambda value: _text("name_ar", value, 200, nullable=True),
    "description": lambda value: _text("description", value, 5000, nullable=True),
    "sku": _sku,
    "category": _category,
    "price": _price,
    "stock": _stock,
    "status": _product_status,
}
PRODUCT_FIELDS = tuple(_PRODUCT_VALIDATORS)
_NULLABLE = ("name_ar", "description")


def product_fields(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validated product fields (``price`` in halalas). ``partial`` (PUT): nothing is required.

    On create, optional fields sent as ``null`` are treated as absent; on update, only ``name_ar`` and
    ``description`` may be set to ``null`` (to clear them).
    """
    _check_fields(body, PRODUCT_FIELDS)
    if not partial:
        for key in ("name", "price", "category"):
            if body.get(key) is None:
                raise ValidationFailed(key, f"{key} is required.")
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if value is None and not partial:
            continue
        if value is None and key not in _NULLABLE:
            raise ValidationFailed(key, f"{key} cannot be null.")
        fields[key] = _PRODUCT_VALIDATORS[key](value)
    return fields


def order_status_body(body: Mapping[str, Any], statuses: Collection[str]) -> tuple[str, str | None]:
    """The ``status`` and ``note`` (≤ 500 characters, or null) of ``PUT /orders/{id}/status``."""
    _check_fields(body, ("status", "note"))
    status = body.get("status")
    if status is None:
        raise ValidationFailed("status", "status is required.")
    if status not in statuses:
        raise ValidationFailed("status", f"status must be one of: {', '.join(statuses)}.")
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise ValidationFailed("note", "note must be a string of at most 500 characters, or null.")
    return str(status), note
