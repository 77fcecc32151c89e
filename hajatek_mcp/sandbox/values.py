"""Wire values: money in halalas, VAT, timestamps, ids.

Money is stored and computed as integer halalas (1/100 SAR) and only becomes a JSON number at the edge, through
:func:`amount`: a 2-decimal value converted to ``float`` prints back exactly (``json.dumps(299.99) == "299.99"``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "CURRENCY",
    "VAT_PERCENT",
    "amount",
    "average",
    "entity_id",
    "event_id",
    "iso",
    "parse_iso",
    "request_id",
    "shipping_for",
    "vat_for",
]

CURRENCY = "SAR"
VAT_PERCENT = 15
SHIPPING = 25_00  # halalas: the sandbox's flat shipping fee...
FREE_SHIPPING_FROM = 500_00  # ...waived from this subtotal
_CENT = Decimal("0.01")


def amount(halalas: int) -> float:
    """Halalas as the JSON number of docs/api.md (at most 2 decimals)."""
    return float(Decimal(halalas) / 100)


def vat_for(taxable_halalas: int) -> int:
    """Saudi VAT (15 %) of a non-negative amount in halalas, rounded half-up to the halala."""
    return (taxable_halalas * VAT_PERCENT + 50) // 100


def shipping_for(subtotal: int) -> int:
    """Shipping in halalas for a subtotal in halalas: 25 SAR, free from 500 SAR."""
    return 0 if subtotal >= FREE_SHIPPING_FROM else SHIPPING


def average(total_halalas: int, count: int) -> float:
    """``total / count`` in SAR rounded half-up to 2 decimals; 0 when ``count`` is 0."""
    if count == 0:
        return 0.0
    value = (Decimal(total_halalas) / 100 / count).quantize(_CENT, rounding=ROUND_HALF_UP)
    return float(value)


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, whole seconds: ``2026-03-15T12:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def request_id() -> str:
    """A fresh ``X-Request-Id``: ``req_`` and 24 random hex digits."""
    return "req_" + secrets.token_hex(12)


def event_id() -> str:
    """A fresh webhook event id: ``evt_`` and 24 random hex digits."""
    return "evt_" + secrets.token_hex(12)


#: Digits of the number in each kind of id: ``prod_0001``, ``cus_0001``, ``ord_000001``.
_ID_DIGITS = {"prod": 4, "cus": 4, "ord": 6}


def entity_id(prefix: str, tag: str, number: int) -> str:
    """A product, customer or order id: ``prod_0042``, or with a store's id tag ``prod_s2_0042``."""
    return f"{prefix}_{tag}{number:0{_ID_DIGITS[prefix]}d}"
