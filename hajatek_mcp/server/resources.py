"""Resources (the store, the catalog, orders, analytics) and completions for their template parameters.

Each handler acts on the shop of the request it serves, :func:`~hajatek_mcp.server.shop.request_shop`: mcp 2.3 gives
static resources and completions no ``Context``, so the server's middleware binds the request's shop (see
:mod:`hajatek_mcp.server.shop`). Templates could take a ``Context``; they read the shop the same way, for one code path.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from hajatek_mcp.api import HajatekError, NotFoundError, Product, UnprocessableEntityError
from hajatek_mcp.api.models import ORDER_STATUSES
from hajatek_mcp.server.exports import EXPORT_TTL_HOURS, ExportGone
from hajatek_mcp.server.options import ServerOptions
from hajatek_mcp.server.safety import clean, quote
from hajatek_mcp.server.shop import Shop, request_shop

__all__ = ["LOW_STOCK", "register"]

#: Stock below this is reported as low in the catalog overview.
LOW_STOCK = 5
#: The catalog overview reads at most this many products (the newest first; 20 requests at 100 a page).
CATALOG_SCAN = 2_000
#: ``hajatek://catalog/{category}`` lists at most this many products (2 requests); list_products pages the rest.
#: At most 100, or a multiple of 100: the resource reads whole pages, and its note names the next one.
CATEGORY_LIMIT = 200
#: Category completions reuse the category list this long (seconds): a client may ask on every keystroke.
CATEGORIES_TTL = 300.0
#: After a failed read, completions offer no categories for this long (seconds) before reading again.
CATEGORIES_RETRY = 30.0
#: A read of the categories for completions that takes longer than this (seconds) counts as failed.
CATEGORIES_WAIT = 10.0
_JSON = "application/json"
_PERIODS = ("today", "7d", "30d", "90d")
_PAGE = 100


def _of_total(shown: int, total: int | None) -> str:
    """'1,234' or, when the API gave no total, 'more than <shown>'."""
    return f"{total:,}" if total is not None else f"more than {shown:,}"


async def _catalog(shop: Shop) -> dict[str, Any]:
    """Counts per category and the low- and out-of-stock products, over the newest :data:`CATALOG_SCAN` products."""
    categories: Counter[str] = Counter()
    low: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    total: int | None = None
    scanned, page, more = 0, 0, True
    while more and scanned < CATALOG_SCAN:
        page += 1
        listing = await shop.client.list_products(page=page, limit=_PAGE)
        total = listing.total if listing.total is not None else total
        batch = listing.items[: CATALOG_SCAN - scanned]
        more = (listing.has_more and bool(listing.items)) or len(batch) < len(listing.items)
        for product in batch:
            scanned += 1
            categories[product.category or "(none)"] += 1
            if product.stock is not None and product.stock < LOW_STOCK and product.status != "archived":
                entry = {"id": product.id, "name": product.name, "stock": product.stock}
                (out if product.stock == 0 else low).append(entry)
    overview: dict[str, Any] = {
        "categories": dict(sorted(categories.items())),
        "low_stock_threshold": LOW_STOCK,
        "out_of_stock": out,
        "low_stock": sorted(low, key=lambda e: e["stock"]),
    }
    if total is not None or not more:  # no total from the API and more to read: the note says "more than"
        overview = {"products": max(total or 0, scanned), **overview}
    if more:
        overview["scanned"] = scanned
        overview["note"] = (
            f"A large catalog: the counts and stock lists cover the newest {scanned:,} of "
            f"{_of_total(scanned, total)} products. Use list_products with category or search, page by page, for the "
            "rest."
        )
    return overview


async def _category(shop: Shop, category: str) -> dict[str, Any]:
    """The newest :data:`CATEGORY_LIMIT` products of ``category``, and the exact call that pages on from there."""
    size = min(_PAGE, CATEGORY_LIMIT)
    products: list[dict[str, Any]] = []
    total: int | None = None
    page, more = 0, True
    while more and len(products) < CATEGORY_LIMIT:
        page += 1
        listing = await shop.client.list_products(page=page, limit=size, category=category)
        total = listing.total if listing.total is not None else total
        products += [_product(p) for p in listing.items]
        more = listing.has_more and bool(listing.items)
    data: dict[str, Any] = {"category": category, "products": products}
    if total is not None or not more:
        data["total"] = max(total or 0, len(products))
    if more:
        data["note"] = (
            f"Showing the newest {len(products):,} of {_of_total(len(products), total)} products. For the rest, call "
            f"list_products with category='{category}', limit={size} and page={page + 1} onwards."
        )
    return data


def _product(product: Product) -> dict[str, Any]:
    """A product as the tools show it, with its creation date (UTC, minute precision)."""
    from hajatek_mcp.server.views import ProductView  # noqa: PLC0415  # views load on first use, not at start

    data = ProductView.of(product).model_dump(mode="json")
    if product.created_at is not None:
        data.setdefault("created", product.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"))
    return data


async def category_names(shop: Shop) -> list[str]:
    """Every category slug of the catalog overview, sorted."""
    return sorted((await _catalog(shop))["categories"])


class _KnownCategories:
    """Each store's category slugs for completions, read at most once per :data:`CATEGORIES_TTL` (a failure: once per
    :data:`CATEGORIES_RETRY`), by one caller at a time: keystrokes that arrive together share one read. Kept by store
    id, so one store's slugs are never offered for another's."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, list[str]]] = {}  # store id → (until when, the slugs)
        self._reading: dict[str, anyio.Lock] = {}

    async def __call__(self, shop: Shop) -> list[str]:
        """The slugs; none when the API cannot be read (a completion is a hint, never an error)."""
        store = shop.store_id
        async with self._reading.setdefault(store, anyio.Lock()):
            now = time.monotonic()
            if store not in self._known or now >= self._known[store][0]:
                self._known[store] = (now + CATEGORIES_RETRY, [])  # unless the read below succeeds in time
                # A completion is a hint: never wait long for one, never fail it.
                with anyio.move_on_after(CATEGORIES_WAIT), contextlib.suppress(HajatekError):
                    self._known[store] = (now + CATEGORIES_TTL, await category_names(shop))
            return self._known[store][1]


def register(server: MCPServer[Shop], options: ServerOptions) -> None:
    """Add the resources and the completion handler to ``server``."""

    def sandboxed(data: dict[str, Any]) -> str:
        """The resource's text, through the boundary every outside value crosses (cleaned, masked on request)."""
        from hajatek_mcp.server.views import resource_text  # noqa: PLC0415  # views load on first use, not at start

        return resource_text({"sandbox": True, **data} if options.sandbox else data, redact=options.redact_pii)

    async def read(fetch: Any) -> Any:
        try:
            return await fetch
        except NotFoundError as exc:
            raise ResourceNotFoundError(clean(str(exc))) from exc
        except HajatekError as exc:
            raise ResourceError(clean(str(exc))) from exc

    @server.resource(
        "hajatek://store",
        name="store",
        title="Store",
        mime_type=_JSON,
        description="Store name, currency, timezone and plan.",
    )
    async def store() -> str:
        from hajatek_mcp.server.views import StoreView, resource_text  # noqa: PLC0415  # views load on first use, not at start

        shop = request_shop()
        view = StoreView.of(await read(shop.client.get_store()), sandbox=options.sandbox)
        return resource_text(view.model_dump(mode="json"), redact=options.redact_pii)

    @server.resource(
        "hajatek://catalog",
        name="catalog",
        title="Catalog overview",
        mime_type=_JSON,
        description="Product count per category, low-stock and out-of-stock products.",
    )
    async def catalog() -> str:
        return sandboxed(await read(_catalog(request_shop())))

    @server.resource(
        "hajatek://catalog/{category}",
        name="catalog-category",
        title="Products in a category",
        mime_type=_JSON,
        description="Every product of one category (slug).",
    )
    async def catalog_category(category: str) -> str:
        try:
            data = await _category(request_shop(), category)
        except UnprocessableEntityError as exc:  # the API refuses the slug itself: as good as no such category
            message = f"{quote(category, 64)} is not a category; hajatek://catalog lists them."
            raise ResourceNotFoundError(message) from exc
        except HajatekError as exc:
            raise ResourceError(clean(str(exc))) from exc
        if not data["products"]:
            message = f"No products in category {quote(category, 64)}; hajatek://catalog lists categories."
            raise ResourceNotFoundError(message)
        return sandboxed(data)

    @server.resource(
        "hajatek://orders/{order_id}",
        name="order",
        title="Order",
        mime_type=_JSON,
        description="One order in full (line items, totals, address).",
    )
    async def order(order_id: str) -> str:
        if not order_id.startswith("ord_"):
            raise ResourceNotFoundError(f"{quote(order_id, 64)} is not an order id; order ids start with 'ord_'.")
        from hajatek_mcp.server.views import OrderDetail  # noqa: PLC0415  # views load on first use, not at start

        detail = OrderDetail.of(await read(request_shop().client.get_order(order_id)))
        return sandboxed(detail.model_dump(mode="json"))

    @server.resource(
        "hajatek://analytics",
        name="analytics",
        title="Analytics, last 30 days",
        mime_type=_JSON,
        description="Revenue, orders, average order value and top products over 30 days.",
    )
    async def analytics() -> str:
        from hajatek_mcp.server.views import AnalyticsView  # noqa: PLC0415  # views load on first use, not at start

        summary = await read(request_shop().client.get_analytics_summary("30d"))
        return sandboxed(AnalyticsView.of(summary).model_dump(mode="json"))

    _local_state(server, options, sandboxed)
    known_categories = _KnownCategories()

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]  # the SDK leaves it unannotated
    async def complete(
        reference: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        values: list[str]
        if argument.name == "category":
            values = await known_categories(request_shop())
        elif argument.name == "status":
            values = list(ORDER_STATUSES)
        elif argument.name == "period":
            values = list(_PERIODS)
        else:
            return None
        matches = [v for v in values if v.startswith(argument.value)]
        return Completion(values=matches[:100], total=len(matches), has_more=len(matches) > 100)


def _local_state(server: MCPServer[Shop], options: ServerOptions, sandboxed: Callable[[dict[str, Any]], str]) -> None:
    """The resources of the server's own state: the audit log, the event inbox, the exports."""

    @server.resource(
        "hajatek://audit",
        name="audit",
        title="Audit log",
        mime_type=_JSON,
        description="The latest 50 write attempts: tool, arguments, outcome, confirmation.",
    )
    async def audit() -> str:
        from hajatek_mcp.server.views import resource_text  # noqa: PLC0415  # views load on first use, not at start

        return resource_text({"entries": await request_shop().audit.recent(50)}, redact=options.redact_pii)

    @server.resource(
        "hajatek://events",
        name="events",
        title="Store events",
        mime_type=_JSON,
        description="The latest 50 events Hajatek sent; subscribe to hear of new ones.",
    )
    async def events() -> str:
        inbox = request_shop().inbox
        return sandboxed({"events": await inbox.recent(limit=50), "receiving_since": await inbox.receiving_since()})

    @server.resource(
        "hajatek://events/{event_id}",
        name="event",
        title="Store event",
        mime_type=_JSON,
        description="One event by id (evt_…).",
    )
    async def event(event_id: str) -> str:
        found = await request_shop().inbox.get(event_id)
        if found is None:
            message = f"No event {quote(event_id, 64)} in the inbox; hajatek://events lists recent ones."
            raise ResourceNotFoundError(message)
        return sandboxed(found)

    @server.resource(
        "hajatek://exports/{name}",
        name="export",
        title="Order export (CSV)",
        mime_type="text/csv",
        description=f"A CSV export_orders made; kept {EXPORT_TTL_HOURS} hours.",
    )
    async def export(name: str) -> str:
        try:
            return await request_shop().exports.read(name)
        except ExportGone as exc:
            raise ResourceNotFoundError(str(exc)) from exc
