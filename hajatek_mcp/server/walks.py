"""Bounded walks over listings the API cannot filter: orders in a time window, the catalog, one page at a time.

The Hajatek API filters orders by status only and products by category and search only (docs/api.md), and lists
newest first (``created_at`` descending, then id). What it cannot filter, the server reads page by page, within a
fixed number of requests, and says when that bound stopped it and how to go on:

- :func:`orders_in_window` finds the first page that reaches back to ``until`` by bisection over the page numbers
  (about log₂ of the pages: 11 requests for 200,000 orders), then reads forward and stops at the first order older
  than ``since``. New orders arriving meanwhile push the listing down a page, so an order may be read twice (it is
  kept once) and none is missed; orders are never deleted.
- :func:`orders_in_spans` reads a period and the one it is compared with, sharing one bound.
- :func:`page_reaching` is that bisection alone, for a walk that pages on by itself (``export_orders``).
- :func:`products_upto` reads the catalog, as far as its bound.

A walk cut short (by ``max_requests`` or ``max_items``) ends on a whole second: every order of the oldest second it
returns is returned, so calling again with ``until`` set to :attr:`OrderWindow.resume_until` (inclusive) goes on
with nothing skipped and nothing repeated.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hajatek_mcp.api import HajatekClient, Order, Page, Product
from hajatek_mcp.api.models import OrderStatus

__all__ = [
    "PAGE",
    "Coverage",
    "OrderWindow",
    "ProductWalk",
    "Span",
    "orders_in_spans",
    "orders_in_window",
    "page_reaching",
    "products_upto",
]

#: Orders or products per request: the API's maximum page size.
PAGE = 100


@dataclass
class OrderWindow:
    """What a walk read: the matching orders, newest first, and whether the whole window was covered."""

    orders: list[Order] = field(default_factory=list)
    complete: bool = True
    """False when the request bound or ``max_items`` stopped the walk before ``since`` (or the end)."""
    resume_until: datetime | None = None
    """When not complete: call again with ``until`` = this (inclusive) to go on from where the walk stopped."""
    scanned: int = 0
    """Orders read in the window (matching or not)."""
    requests: int = 0


@dataclass
class ProductWalk:
    products: list[Product]
    complete: bool
    """False when the request bound stopped the walk before the end of the catalog."""
    total: int | None
    requests: int


def _created(order: Order) -> datetime | None:
    return order.created_at


async def orders_in_window(
    client: HajatekClient,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    status: OrderStatus | None = None,
    keep: Callable[[Order], bool] | None = None,
    max_items: int | None = None,
    max_requests: int = 30,
) -> OrderWindow:
    """Orders created in ``[since, until]`` (both inclusive, aware datetimes; None: unbounded), newest first.

    ``status`` is passed to the API; ``keep`` filters further on the server. It reads at most ``max_requests`` pages
    of the window (finding where the window starts costs about log₂ of the pages more) and keeps at most
    ``max_items`` orders; when either stops the walk, :attr:`OrderWindow.complete` is False.
    """
    window = OrderWindow()
    pages: dict[int, Page[Order]] = {}

    async def read(number: int) -> Page[Order]:
        if number not in pages:
            pages[number] = await client.list_orders(status=status, page=number, limit=PAGE)
            window.requests += 1
        return pages[number]

    start = await _first_page_reaching(read, lambda page: _reaches(page, until))
    seen: set[str] = set()
    number = start
    kept: list[Order] = []
    oldest: datetime | None = None  # the creation time of the oldest order read so far
    stopped = False
    while True:
        if number - start >= max_requests:
            stopped = True
            break
        page = await read(number)
        for order in page.items:
            created = _created(order)
            if order.id in seen or (until is not None and created is not None and created > until):
                continue
            if since is not None and created is not None and created < since:
                return _finish(window, kept, oldest, complete=True)
            seen.add(order.id)
            window.scanned += 1
            oldest = created or oldest
            if keep is None or keep(order):
                kept.append(order)
                if max_items is not None and len(kept) > max_items:
                    return _finish(window, kept, oldest, complete=False)
        if not page.has_more:
            return _finish(window, kept, oldest, complete=True)
        number += 1
    return _finish(window, kept, oldest, complete=not stopped)


async def page_reaching(
    client: HajatekClient, until: datetime, *, status: OrderStatus | None = None
) -> tuple[int, Page[Order], int]:
    """Where a walk back from ``until`` starts: the first listing page (of :data:`PAGE`, newest first) holding an
    order created at or before ``until``, that page, and the requests spent finding it (about log₂ of the pages)."""
    pages: dict[int, Page[Order]] = {}

    async def read(number: int) -> Page[Order]:
        if number not in pages:
            pages[number] = await client.list_orders(status=status, page=number, limit=PAGE)
        return pages[number]

    number = await _first_page_reaching(read, lambda page: _reaches(page, until))
    page = await read(number)
    return number, page, len(pages)


def _reaches(page: Page[Order], until: datetime | None) -> bool:
    """The page holds an order at or before ``until`` (an empty page: the end, nothing further to skip)."""
    oldest = _created(page.items[-1]) if page.items else None
    return until is None or oldest is None or oldest <= until


async def _first_page_reaching(
    read: Callable[[int], Awaitable[Page[Order]]], reaches: Callable[[Page[Order]], bool]
) -> int:
    """The first page number that ``reaches`` back to ``until``: by bisection, every page before it being newer."""
    first = await read(1)
    if reaches(first) or not first.has_more:
        return 1
    low, high = 2, math.ceil(first.total / PAGE) if first.total else None
    if high is None:  # no total given: gallop until a page reaches it
        high = 2
        while not reaches(await read(high)):
            low, high = high + 1, high * 2
    while low < high:
        middle = (low + high) // 2
        if reaches(await read(middle)):
            high = middle
        else:
            low = middle + 1
    return low


def _finish(window: OrderWindow, kept: list[Order], oldest: datetime | None, *, complete: bool) -> OrderWindow:
    window.orders = kept
    if complete or oldest is None:
        window.complete = complete
        return window
    # Cut on a whole second: leave out the orders of the oldest second read (more of them may follow on the next
    # page, or past max_items), so resuming with until = that second, inclusive, repeats and skips nothing.
    window.complete = False
    window.resume_until = oldest
    whole = [order for order in kept if _created(order) != oldest]
    if whole or len(kept) <= 1:
        window.orders = whole
    # else: every kept order shares one second (more than max_items of them): keep them; resuming repeats them
    return window


async def products_upto(
    client: HajatekClient, *, category: str | None = None, search: str | None = None, max_requests: int = 20
) -> ProductWalk:
    """The catalog (filtered by the API's own ``category``/``search``), newest first, within ``max_requests``."""
    products: list[Product] = []
    seen: set[str] = set()
    total: int | None = None
    for number in range(1, max_requests + 1):
        page = await client.list_products(category=category, search=search, page=number, limit=PAGE)
        total = page.total if total is None else total
        products.extend(p for p in page.items if p.id not in seen)
        seen.update(p.id for p in page.items)
        if not page.has_more:
            return ProductWalk(products, complete=True, total=total, requests=number)
    return ProductWalk(products, complete=False, total=total, requests=max_requests)


@dataclass(frozen=True)
class Span:
    """A period: aware datetimes, both ends inclusive."""

    since: datetime
    until: datetime

    def holds(self, moment: datetime) -> bool:
        return self.since <= moment <= self.until


@dataclass
class Coverage:
    """The orders of one span that a walk read; when not complete, only those created after ``resume_until``."""

    orders: list[Order]
    complete: bool
    resume_until: datetime | None = None


async def orders_in_spans(
    client: HajatekClient, current: Span, previous: Span | None, max_pages: int
) -> tuple[Coverage, Coverage | None]:
    """The orders of ``current`` and then ``previous``, within ``max_pages`` listing pages in all.

    Spans that touch or overlap are read in one walk; otherwise the previous one gets the requests left over, and
    none when the current span alone was cut short.
    """
    if previous is not None and previous.until >= current.since - timedelta(seconds=1):
        walk = await orders_in_window(client, since=previous.since, until=current.until, max_requests=max_pages)
        return _covered(walk, current), _covered(walk, previous)
    walk = await orders_in_window(client, since=current.since, until=current.until, max_requests=max_pages)
    now = _covered(walk, current)
    if previous is None or not now.complete:
        return now, None
    left = max_pages - walk.requests
    if left < 1:
        return now, Coverage([], complete=False, resume_until=previous.until)
    before = await orders_in_window(client, since=previous.since, until=previous.until, max_requests=left)
    return now, _covered(before, previous)


def _covered(walk: OrderWindow, span: Span) -> Coverage:
    orders = [o for o in walk.orders if o.created_at is not None and span.holds(o.created_at)]
    cut = walk.resume_until
    if walk.complete or (cut is not None and cut < span.since):
        return Coverage(orders, complete=True)
    return Coverage(orders, complete=False, resume_until=span.until if cut is None else min(cut, span.until))
