"""Look-ups by id the API does not have: one product, one customer with their recent orders.

The Hajatek API has no ``GET /products/{id}`` and no ``GET /customers/{id}`` (docs/api.md). A product is found by
the client's locator (the page it was last seen on, a search by its name, then a bounded walk); a customer by the
customer directory, which remembers where the listing showed them, so one page is read for fresh totals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from mcp.server.mcpserver import Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from hajatek_mcp.api import Customer, LookupLimitError, Order
from hajatek_mcp.server.directory import PAGE, Entry
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.guards import LOOKUP_PAGES
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.customers import CustomerId, coverage_note, entry_view
from hajatek_mcp.server.tools.params import ProductId
from hajatek_mcp.server.views import CustomerDetail, CustomerView, OrderRow, ProductView
from hajatek_mcp.server.walks import orders_in_window

__all__ = ["ORDER_PAGES", "RECENT", "get_customer", "get_product"]

#: Orders get_customer shows, newest first.
RECENT = 10
#: Listing pages (100 orders each) get_customer reads looking for them: 2,000 orders.
ORDER_PAGES = 20


@upstream
async def get_product(
    shop: Annotated[Shop, Resolve(current_shop)], product_id: ProductId
) -> Annotated[CallToolResult, ProductView]:
    """One product: names (Arabic too), SKU, category, price, stock, status."""
    try:
        product = await shop.client.find_product(product_id, max_pages=LOOKUP_PAGES)
    except LookupLimitError as exc:
        raise ToolError(f"{exc} Find it with list_products (search by its name or SKU).") from None
    return shop.result(ProductView.of(product))


@upstream
async def get_customer(
    shop: Annotated[Shop, Resolve(current_shop)], customer_id: CustomerId
) -> Annotated[CallToolResult, CustomerDetail]:
    """One customer: contacts, order count, total spent and latest orders."""
    entry = await shop.directory.get(customer_id)
    if entry is None:
        coverage = await shop.directory.refresh(shop.client)
        entry = await shop.directory.get(customer_id)
        if entry is None and coverage.complete:
            raise ToolError(f"No customer {customer_id}: list_customers(search=...) finds one by name, email or phone.")
        if entry is None:
            raise ToolError(f"Customer {customer_id} not found. {coverage_note(coverage, 'read')}")
    customer = await _fresh(shop, entry)
    base = CustomerView.of(customer) if customer is not None else entry_view(entry)
    orders, complete, note = await _recent_orders(shop, customer_id, customer, entry)
    if customer is None:
        note = " ".join(
            filter(None, ("Totals not shown: the customer listing no longer shows them where it did.", note))
        )
    view = CustomerDetail(
        **base.model_dump(), recent_orders=[OrderRow.of(o) for o in orders], complete=complete, note=note
    )
    return shop.result(view)


async def _fresh(shop: Shop, entry: Entry) -> Customer | None:
    """The customer as the listing shows them now: the page the directory expects them on, corrected once by the
    listing's current total, then its neighbours (at most three requests)."""
    total = (await shop.directory.coverage()).total
    tried: set[int] = set()
    number = entry.page_now(total)
    candidates = [] if number is None else [number]
    while candidates and len(tried) < 3:
        number = candidates.pop(0)
        if number in tried or number < 1:
            continue
        tried.add(number)
        page = await shop.client.list_customers(page=number, limit=PAGE)
        await shop.directory.saw(page.items, first=(number - 1) * PAGE, total=page.total)
        for customer in page.items:
            if customer.id == entry.id:
                return customer
        corrected = entry.page_now(page.total)
        candidates += [n for n in (corrected, number + 1, number - 1) if n is not None and n not in tried]
    return None


async def _recent_orders(
    shop: Shop, customer_id: str, customer: Customer | None, entry: Entry
) -> tuple[list[Order], bool, str | None]:
    """The customer's newest orders (up to :data:`RECENT`), by a bounded walk of the order listing.

    It stops once it has them all: as many as the API's ``orders_count``, or :data:`RECENT`. Without a count, it
    stops at the customer's sign-up (no order is older).
    """
    count = customer.orders_count if customer is not None else None
    if count == 0:
        return [], True, None
    wanted = min(RECENT, count) if count is not None else RECENT
    found: list[Order] = []

    def keep(order: Order) -> bool:
        if order.customer_id != customer_id:
            return False
        found.append(order)
        if len(found) >= wanted:
            raise _Enough
        return True

    signed_up = _signed_up(customer, entry)
    try:
        window = await orders_in_window(
            shop.client, since=None if count is not None else signed_up, keep=keep, max_requests=ORDER_PAGES
        )
    except _Enough:
        return found, True, None
    if window.complete:
        return found, True, None
    back = window.resume_until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if window.resume_until else "?"
    shown = window.orders  # without the oldest second's orders, which resuming with until=back reads whole
    of_theirs = f"{len(shown)} of their {count} orders" if count is not None else f"{len(shown)} of their orders"
    note = (
        f"Read the store's newest {window.scanned:,} orders, back to {back}: {of_theirs} found. Older: "
        f"list_orders(customer_id={customer_id}, until={back})."
    )
    return shown, False, note


class _Enough(Exception):  # not an error: the walk found every order it was asked for
    """Ends a walk early: every order wanted was found."""


def _signed_up(customer: Customer | None, entry: Entry) -> datetime | None:
    """When the customer signed up, a little before (no order of theirs is older)."""
    created = customer.created_at if customer is not None else None
    if created is None and entry.created_at:
        created = datetime.fromisoformat(entry.created_at)
    return created - timedelta(days=1) if created is not None else None
