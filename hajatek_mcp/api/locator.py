"""Finding one product by id, when the Hajatek API has no ``GET /products/{id}``.

:class:`ProductLocator` remembers where the client saw each product: the listing page that last showed it (the agent
usually found the id in a listing, or the product was just created) and its name, or the name an order line gave it.
Two bounded tables, oldest forgotten first, so that reading many orders cannot push out the better hints.
:class:`~hajatek_mcp.api.HajatekClient` owns one and tells it what each response showed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Protocol

from hajatek_mcp.api.errors import BadRequestError, LookupLimitError, NotFoundError, UnprocessableEntityError
from hajatek_mcp.api.models import Order, Page, Product

__all__ = ["ProductLocator"]

#: Listings put the newest first: where a product just created is.
_NEWEST: Mapping[str, Any] = {"page": 1, "limit": 100, "category": None, "search": None}


class ListProducts(Protocol):
    """``HajatekClient.list_products``, which reports every listing back to the locator."""

    def __call__(
        self, *, page: int = ..., limit: int = ..., category: str | None = ..., search: str | None = ...
    ) -> Awaitable[Page[Product]]: ...


class ProductLocator:
    """Where to look for a product first, and the lookup that uses it."""

    def __init__(self, list_products: ListProducts, *, listed_kept: int, named_kept: int) -> None:
        self._list_products = list_products
        self._listed_kept = listed_kept
        self._named_kept = named_kept
        # Newest last: product id -> (the listing query that last returned it, its name), and product id -> the name
        # an order line gave it.
        self._listed: OrderedDict[str, tuple[Mapping[str, Any], str]] = OrderedDict()
        self._named: OrderedDict[str, str] = OrderedDict()

    async def find(self, product_id: str, *, max_pages: int | None = None) -> Product:
        """Ask the page it was last seen on, then search by its name, then walk the listing (at most ``max_pages``).

        See :meth:`HajatekClient.find_product <hajatek_mcp.api.HajatekClient.find_product>`.
        """
        for hint in self._hints(product_id):
            try:
                listing = await self._list_products(**hint)
            except (BadRequestError, UnprocessableEntityError):
                continue  # a hint the API refuses (a name it will not search for): the walk still finds it
            for product in listing.items:
                if product.id == product_id:
                    return product
        return await self._walk(product_id, max_pages)

    def _hints(self, product_id: str) -> list[Mapping[str, Any]]:
        query, name = self._listed.get(product_id, (None, self._named.get(product_id)))
        hints = [query] if query is not None else []
        if name and (query is None or query.get("search") != name):
            hints.append({"page": 1, "limit": 100, "category": None, "search": name[:200]})
        return hints

    async def _walk(self, product_id: str, max_pages: int | None) -> Product:
        page = 0
        while max_pages is None or page < max_pages:
            page += 1
            listing = await self._list_products(page=page, limit=100)
            for product in listing.items:
                if product.id == product_id:
                    return product
            if not listing.has_more or not listing.items:
                self.forget(product_id)
                raise NotFoundError(
                    f"Product {product_id} not found", status_code=404, code="not_found", param="product_id"
                )
        raise LookupLimitError(product_id, scanned=page * 100)

    def saw_listing(self, query: Mapping[str, Any], products: Iterable[Product]) -> None:
        """A listing ``query`` returned ``products``: ask it again first."""
        for product in products:
            self._remember(product.id, query, product.name)

    def saw_created(self, product: Product) -> None:
        self._remember(product.id, _NEWEST, product.name)

    def saw_updated(self, product: Product) -> None:
        """A rename: search by the new name if the product moves off its page."""
        if product.id in self._listed:
            self._listed[product.id] = (self._listed[product.id][0], product.name)

    def saw_order(self, order: Order) -> None:
        """An order's lines name their products: where to search for a product never listed."""
        for item in order.items:
            name = (item.name or "").strip()
            if item.product_id and name and item.product_id not in self._listed:
                self._named[item.product_id] = name
                self._named.move_to_end(item.product_id)
                if len(self._named) > self._named_kept:
                    self._named.popitem(last=False)

    def forget(self, product_id: str) -> None:
        self._listed.pop(product_id, None)
        self._named.pop(product_id, None)

    def _remember(self, product_id: str, query: Mapping[str, Any], name: str) -> None:
        self._named.pop(product_id, None)
        self._listed[product_id] = (query, name)
        self._listed.move_to_end(product_id)
        if len(self._listed) > self._listed_kept:
            self._listed.popitem(last=False)
