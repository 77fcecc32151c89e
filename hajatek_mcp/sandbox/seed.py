"""The deterministic demo store: 224 products, 320 customers, 1,200 orders over the last 90 days.

:func:`generate` is a pure function of ``(seed, now)``: one ``random.Random(seed)`` drives every choice and every
timestamp is an offset from ``now``, so two sandboxes with the same seed and ``now`` hold identical data. Ids follow
creation time (``prod_0001`` is the oldest product); a store of a sandbox serving several (:mod:`.multi`) gives its
id, names and an id tag (``prod_s2_0001``), none of which changes a draw. Stock is the stock *today* (history
already taken out of it).
Nothing else is drawn: a customer's Arabic name follows from their name (:func:`arabic_name`), an order's status
history from its status and times (:func:`hajatek_mcp.sandbox.history.derived`), so adding them changed no draw.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .config import STORE_ID
from .db import Database
from .seed_data import CATEGORIES, CITIES, FAMILY_NAMES, FEMALE_NAMES, MALE_NAMES, NAMES_AR, STORE
from .values import entity_id, iso, shipping_for, vat_for

__all__ = ["SeedData", "Storefront", "arabic_name", "generate", "load"]

PRODUCTS_PER_CATEGORY = 28
CUSTOMERS = 320
ORDERS = 1200

# Status odds by order age in days: (max_age, ((status, weight), ...)); older orders have settled.
_STATUS_BY_AGE: tuple[tuple[float, tuple[tuple[str, int], ...]], ...] = (
    (1, (("pending", 40), ("processing", 35), ("shipped", 15), ("cancelled", 10))),
    (3, (("pending", 5), ("processing", 30), ("shipped", 45), ("delivered", 10), ("cancelled", 10))),
    (10, (("shipped", 25), ("delivered", 60), ("cancelled", 8), ("refunded", 7))),
    (float("inf"), (("delivered", 82), ("cancelled", 9), ("refunded", 9))),
)
# How long after creation an order in each status was last updated: (min, max) hours.
_UPDATE_DELAY_HOURS = {
    "pending": (0.0, 0.0),
    "processing": (0.2, 6.0),
    "shipped": (6.0, 72.0),
    "delivered": (24.0, 168.0),
    "cancelled": (0.1, 48.0),
    "refunded": (48.0, 336.0),
}


@dataclass(frozen=True)
class SeedData:
    """Rows ready for ``INSERT`` (column order of the schema in :mod:`hajatek_mcp.sandbox.db`)."""

    store: tuple[Any, ...]
    products: list[tuple[Any, ...]]
    customers: list[tuple[Any, ...]]
    orders: list[tuple[Any, ...]]
    order_items: list[tuple[Any, ...]]
    counters: list[tuple[str, int]]


@dataclass(frozen=True)
class Storefront:
    """Who the seeded store is: its id, the tag in its ids, its names. The defaults are the demo store's."""

    store_id: str = STORE_ID
    id_tag: str = ""
    name: str | None = None
    """``None``: the demo store's name and contact details; else a store of that name at ``<name>.example.sa``."""
    name_ar: str | None = None
    """``None``: the demo store's Arabic name when ``name`` is ``None``, else ``name``."""

    def details(self) -> dict[str, str]:
        """The ``store`` row's descriptive fields: names, currency, country, timezone, email, domain."""
        if self.name is None:
            return dict(STORE) | ({"name_ar": self.name_ar} if self.name_ar else {})
        domain = re.sub(r"[^a-z0-9]+", "-", self.name.casefold()).strip("-") or "store"
        details = dict(STORE, name=self.name, name_ar=self.name_ar or self.name)
        details.update(domain=f"{domain}.example.sa", email=f"owner@{domain}.example.sa")
        return details


def _price(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high) * 100 - rng.choice((0, 1, 1, 5, 50))


def _products(rng: random.Random, now: datetime, tag: str, store_name: str) -> list[tuple[Any, ...]]:
    drafts: list[tuple[datetime, str, str, str, str, int, int, str, datetime]] = []
    for category in CATEGORIES:
        combos = [(item, variant) for item in category.items for variant in category.variants]
        rng.shuffle(combos)
        for item, (variant, variant_ar) in combos[:PRODUCTS_PER_CATEGORY]:
            name = f"{item.name} - {variant}"
            name_ar = f"{item.name_ar} - {variant_ar}"
            roll = rng.random()
            stock = 0 if roll < 0.07 else rng.randint(1, 4) if roll < 0.17 else rng.randint(5, 240)
            roll = rng.random()
            status = "draft" if roll < 0.05 else "archived" if roll < 0.09 else "active"
            age_days = rng.uniform(95, 540) if rng.random() < 0.9 else rng.uniform(1, 88)
            created = now - timedelta(days=age_days, seconds=rng.randrange(3600))
            updated = created + (now - created) * rng.random() * 0.5
            price = _price(rng, item.min_price, item.max_price)
            drafts.append((created, name, name_ar, category.slug, category.sku_prefix, price, stock, status, updated))
    drafts.sort(key=lambda d: d[0])
    titles = {category.slug: category.title for category in CATEGORIES}
    rows = []
    for n, (created, name, name_ar, slug, prefix, price, stock, status, updated) in enumerate(drafts, start=1):
        description = f"{name}, from the {titles[slug]} range of {store_name}. Ships within 1-3 days."
        rows.append(
            (
                entity_id("prod", tag, n),
                name,
                name_ar,
                description,
                f"{prefix}-{n:04d}",
                slug,
                price,
                stock,
                status,
                iso(created),
                iso(updated),
            )
        )
    return rows


def _customers(rng: random.Random, now: datetime, tag: str) -> list[tuple[Any, ...]]:
    cities = [c for c, _ in CITIES]
    weights = [w for _, w in CITIES]
    drafts = []
    for _ in range(CUSTOMERS):
        first = rng.choice(MALE_NAMES if rng.random() < 0.5 else FEMALE_NAMES)
        family = rng.choice(FAMILY_NAMES)
        age_days = rng.uniform(92, 720) if rng.random() < 0.85 else rng.uniform(0.5, 89)
        created = now - timedelta(days=age_days)
        phone = f"+9665{rng.randrange(10**8):08d}"
        drafts.append((created, first, family, phone, rng.choices(cities, weights)[0]))
    drafts.sort(key=lambda d: d[0])
    rows = []
    for n, (created, first, family, phone, city) in enumerate(drafts, start=1):
        email = f"{first.lower()}.{family.lower().replace('-', '')}{n}@example.sa"
        rows.append((entity_id("cus", tag, n), f"{first} {family}", email, phone, city, iso(created)))
    return rows


def arabic_name(name: str) -> str | None:
    """The Arabic spelling of a customer's name made of the seed's first and family names (``Noura Al-Qahtani`` →
    ``نورة القحطاني``); None for any other name."""
    first, _, family = name.partition(" ")
    if first in NAMES_AR and family in NAMES_AR:
        return f"{NAMES_AR[first]} {NAMES_AR[family]}"
    return None


def _status_for(rng: random.Random, age_days: float) -> str:
    for max_age, odds in _STATUS_BY_AGE:
        if age_days < max_age:
            return rng.choices([s for s, _ in odds], [w for _, w in odds])[0]
    raise AssertionError("the last age bracket is unbounded")


def _orders(
    rng: random.Random, now: datetime, products: list[tuple[Any, ...]], customers: list[tuple[Any, ...]], tag: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    window_start = now.replace(hour=0, minute=0, second=0) - timedelta(days=89)
    span = (now - window_start).total_seconds() - 600
    times = sorted(window_start + timedelta(seconds=rng.uniform(0, span)) for _ in range(ORDERS))
    sellable = [p for p in products if p[8] != "draft"]  # products table: status is column 8
    sellable_since = [p[9] for p in sellable]
    customer_since = [c[5] for c in customers]
    statuses = [_status_for(rng, (now - t).total_seconds() / 86400) for t in times]
    _cover_every_status(statuses)
    orders, items = [], []
    for n, (created, status) in enumerate(zip(times, statuses, strict=True), start=1):
        order_id = entity_id("ord", tag, n)
        stamp = iso(created)
        customer = customers[rng.randrange(max(1, bisect.bisect_left(customer_since, stamp)))]
        pool = sellable[: max(4, bisect.bisect_left(sellable_since, stamp))]
        lines = rng.sample(pool, rng.choices((1, 2, 3, 4), (45, 30, 17, 8))[0])
        subtotal = 0
        for position, product in enumerate(lines):
            quantity = rng.choices((1, 2, 3), (70, 20, 10))[0]
            subtotal += quantity * product[6]
            items.append((order_id, position, product[0], product[1], quantity, product[6]))
        shipping = shipping_for(subtotal)
        vat = vat_for(subtotal + shipping)
        low, high = _UPDATE_DELAY_HOURS[status]
        updated = min(now, created + timedelta(hours=rng.uniform(low, high)))
        city = customer[4] if rng.random() < 0.9 else rng.choice(CITIES)[0]
        orders.append(
            (
                order_id,
                customer[0],
                status,
                subtotal,
                shipping,
                vat,
                subtotal + shipping + vat,
                city,
                stamp,
                iso(updated),
            )
        )
    return orders, items


def _cover_every_status(statuses: list[str]) -> None:
    """Make sure every status occurs (the odds nearly always do it; this pins it for every seed)."""
    present = set(statuses)
    if "pending" not in present:
        statuses[-1] = "pending"
    if "processing" not in present:
        statuses[-2] = "processing"
    if "shipped" not in present:
        statuses[-3] = "shipped"
    for status, index in (("delivered", 0), ("cancelled", 1), ("refunded", 2)):
        if status not in present:
            statuses[index] = status


def generate(seed: int, now: datetime, front: Storefront | None = None) -> SeedData:
    """The demo store for ``seed`` as of ``now`` (timezone-aware), as ``front`` (default: Souq Al-Noor)."""
    front = front or Storefront()
    details = front.details()
    rng = random.Random(seed)  # noqa: S311 -- demo data, not security
    products = _products(rng, now, front.id_tag, details["name"])
    customers = _customers(rng, now, front.id_tag)
    orders, items = _orders(rng, now, products, customers, front.id_tag)
    opened = (now - timedelta(days=800)).replace(hour=9, minute=0, second=0)
    fields = ("name", "name_ar", "currency", "country", "timezone", "email", "domain")
    store = (front.store_id, *(details[key] for key in fields), iso(opened), seed)
    counters = [("product", len(products)), ("customer", len(customers)), ("order", len(orders))]
    return SeedData(store, products, customers, orders, items, counters)


def load(db: Database, data: SeedData) -> None:
    """Write ``data`` into an empty database in one transaction."""
    with db.bulk():
        db.bulk_insert("store", [data.store])
        db.bulk_insert("products", data.products)
        db.bulk_insert("customers", data.customers)
        db.bulk_insert("orders", data.orders)
        db.bulk_insert("order_items", data.order_items)
        db.bulk_insert("counters", list(data.counters))
