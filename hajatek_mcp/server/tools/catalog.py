"""Catalog tools: list, create, update and delete products."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.api import HajatekError, ProductCreate, ProductUpdate
from hajatek_mcp.server import reporting
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.guards import (
    Confirm,
    WritePlan,
    ask_delete_product,
    ask_update_product,
    plan_delete_product,
    plan_update_product,
)
from hajatek_mcp.server.resources import category_names
from hajatek_mcp.server.safety import quote
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.params import (
    Category,
    ConfirmToken,
    Limit,
    PageNumber,
    Price,
    ProductId,
    ProductStatus,
    Stock,
)
from hajatek_mcp.server.views import DeletedView, ProductPage, ProductView
from hajatek_mcp.server.walks import products_upto
from hajatek_mcp.server.writes import Guarded, guarded, unguarded_write

__all__ = ["create_product", "delete_product", "list_products", "update_product"]

Name = Annotated[str, Field(min_length=1, max_length=200)]
NameAr = Annotated[str, Field(min_length=1, max_length=200, description="Arabic name")]
Description = Annotated[str, Field(max_length=5000)]
Sku = Annotated[str, Field(min_length=1, max_length=64)]


class ProductListing(ProductPage):
    complete: bool | None = Field(default=None, description="with stock_below or sort=stock: false if not all read")


@upstream
async def list_products(
    shop: Annotated[Shop, Resolve(current_shop)],
    *,
    category: Category | None = None,
    search: Annotated[str | None, Field(max_length=100, description="in Arabic or English name, or SKU")] = None,
    stock_below: Annotated[int | None, Field(ge=1, le=1_000_000, description="only products with less stock")] = None,
    sort: Annotated[Literal["newest", "stock"], Field(description="stock: lowest first")] = "newest",
    page: PageNumber = 1,
    limit: Limit = 20,
) -> Annotated[CallToolResult, ProductListing]:
    """Products. search: a name (Arabic or English) or a SKU; sort=stock: lowest stock first."""
    if stock_below is not None or sort == "stock":
        # The API filters by category and search only: the server reads the catalog (bounded) and does the rest.
        walk = await products_upto(shop.client, category=category, search=search, max_requests=reporting.CATALOG_PAGES)
        found = [p for p in walk.products if stock_below is None or (p.stock is not None and p.stock < stock_below)]
        if sort == "stock":
            found.sort(key=lambda p: (p.stock is None, p.stock or 0))  # stable: newest first among equals
        first = (page - 1) * limit
        more = first + limit < len(found)
        scan = ProductListing(
            products=[ProductView.of(p) for p in found[first : first + limit]],
            page=page,
            total=len(found),
            has_more=more,
            next_page=page + 1 if more else None,
            complete=walk.complete,
        )
        note = _more(more, scan.next_page)
        if not walk.complete:
            partial = f"Only the newest {len(walk.products):,} products were read: narrow with category or search."
            note = f"{partial} {note}" if note else partial
        return shop.result(scan, note)
    result = await shop.client.list_products(page=page, limit=limit, category=category, search=search)
    view = ProductListing(
        products=[ProductView.of(p) for p in result.items],
        page=result.page,
        total=result.total,
        has_more=result.has_more,
        next_page=result.next_page,
    )
    note = _more(result.has_more, result.next_page)
    if category is not None and not result.items and page == 1:
        note = await _no_such_category(shop, category)
    return shop.result(view, note)


async def _no_such_category(shop: Shop, category: str) -> str:
    """What to say when a category filter matches nothing: the categories that exist (read as the catalog resource
    reads them: at most the newest 2,000 products)."""
    known = await category_names(shop)
    listed = ", ".join(known) if known else "none"
    return f"No products in category {quote(category, 64)}. The catalog's categories: {listed}."


@upstream
async def create_product(
    shop: Annotated[Shop, Resolve(current_shop)],
    *,
    name: Name,
    price: Price,
    category: Category,
    stock: Stock = 0,
    name_ar: NameAr | None = None,
    description: Description | None = None,
    sku: Sku | None = None,
    status: ProductStatus = "active",
) -> Annotated[CallToolResult, ProductView]:
    """Add a product. Not idempotent: after an unknown outcome, search for it before retrying."""
    new = ProductCreate(
        name=name,
        price=price,
        category=category,
        stock=stock,
        name_ar=name_ar,
        description=description,
        sku=sku,
        status=status,
    )
    product = await unguarded_write(
        shop, "create_product", new.model_dump(mode="json", exclude_none=True), lambda: shop.client.create_product(new)
    )
    return shop.result(ProductView.of(product), await _new_category_note(shop, category, product.id))


async def _new_category_note(shop: Shop, category: str, product_id: str) -> str | None:
    """A category is a slug the merchant may coin: say when a new product is its first, so a typo is noticed.

    One listing request; the product exists already, so a failure here only leaves the note out.
    """
    try:
        same = await shop.client.list_products(category=category, limit=2)
    except HajatekError:
        return None
    if all(p.id == product_id for p in same.items):
        return (
            f"New category {quote(category, 64)}: no other product is in it. If that is a typo, move the product "
            "with update_product(category=...); hajatek://catalog lists the categories."
        )
    return None


@upstream
async def update_product(
    shop: Annotated[Shop, Resolve(current_shop)],
    plan: Annotated[WritePlan, Resolve(plan_update_product)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(ask_update_product)],
    *,
    product_id: ProductId,
    name: Name | None = None,
    price: Price | None = None,
    category: Category | None = None,
    stock: Stock | None = None,
    name_ar: NameAr | None = None,
    description: Description | None = None,
    sku: Sku | None = None,
    status: ProductStatus | None = None,
    confirm_token: ConfirmToken | None = None,
) -> Annotated[CallToolResult, Guarded[ProductView]]:
    """Change the fields passed. Guarded for a big price cut or stock 0."""
    fields = {
        "name": name,
        "price": price,
        "category": category,
        "stock": stock,
        "name_ar": name_ar,
        "description": description,
        "sku": sku,
        "status": status,
    }
    changes = {k: v for k, v in fields.items() if v is not None}
    if not changes:
        raise ToolError("Nothing to change: pass at least one field (name, price, category, stock, status, ...).")
    update = ProductUpdate.model_validate(changes)
    arguments = {"product_id": product_id, **update.model_dump(mode="json", exclude_none=True)}

    async def execute() -> ProductView:
        return ProductView.of(await shop.client.update_product(product_id, update))

    return await guarded(
        shop, "update_product", arguments, plan=plan, answer=answer, confirm_token=confirm_token, execute=execute
    )


@upstream
async def delete_product(
    shop: Annotated[Shop, Resolve(current_shop)],
    plan: Annotated[WritePlan, Resolve(plan_delete_product)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(ask_delete_product)],
    *,
    product_id: ProductId,
    confirm_token: ConfirmToken | None = None,
) -> Annotated[CallToolResult, Guarded[DeletedView]]:
    """Delete a product; past orders keep their lines. Guarded."""

    async def execute() -> DeletedView:
        deleted = await shop.client.delete_product(product_id)
        return DeletedView(id=deleted.id, deleted=deleted.deleted)

    arguments = {"product_id": product_id}
    return await guarded(
        shop, "delete_product", arguments, plan=plan, answer=answer, confirm_token=confirm_token, execute=execute
    )


def _more(has_more: bool, next_page: int | None) -> str | None:
    return f"More results: call again with page={next_page}." if has_more else None
