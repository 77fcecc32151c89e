"""Catalog tools: list, create, update and delete products."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.api import ProductCreate, ProductUpdate
from hajatek_mcp.server.state import Shop, current_shop
from hajatek_mcp.server.tools.base import ToolSpec, upstream
from hajatek_mcp.server.tools.params import Category, Limit, PageNumber, Price, ProductId, ProductStatus, Stock
from hajatek_mcp.server.views import DeletedView, ProductPage, ProductView

Name = Annotated[str, Field(min_length=1, max_length=200)]
NameAr = Annotated[str, Field(min_length=1, max_length=200, description="Arabic name")]
Description = Annotated[str, Field(max_length=5000)]
Sku = Annotated[str, Field(min_length=1, max_length=64)]


@upstream
async def list_products(
    shop: Annotated[Shop, Resolve(current_shop)],
    category: Category | None = None,
    search: Annotated[str | None, Field(max_length=100, description="in Arabic or English name, or SKU")] = None,
    page: PageNumber = 1,
    limit: Limit = 20,
) -> Annotated[CallToolResult, ProductPage]:
    """Products with price (SAR) and stock, newest first. Filter by category or search text; follow next_page."""
    result = await shop.client.list_products(page=page, limit=limit, category=category, search=search)
    view = ProductPage(
        products=[ProductView.of(p) for p in result.items], page=result.page, total=result.total,
        has_more=result.has_more, next_page=result.next_page,
    )  # fmt: skip
    return shop.result(view, _more(result.has_more, result.next_page))


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
    """Add a product to the catalog. Not idempotent: if a call fails with an unknown outcome, search for it first."""
    product = await shop.client.create_product(
        ProductCreate(
            name=name,
            price=price,
            category=category,
            stock=stock,
            name_ar=name_ar,
            description=description,
            sku=sku,
            status=status,
        )
    )
    return shop.result(ProductView.of(product))


@upstream
async def update_product(
    shop: Annotated[Shop, Resolve(current_shop)],
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
) -> Annotated[CallToolResult, ProductView]:
    """Change a product's fields; only the fields you pass change. Returns the updated product."""
    fields = {
        "name": name, "price": price, "category": category, "stock": stock, "name_ar": name_ar,
        "description": description, "sku": sku, "status": status,
    }  # fmt: skip
    changes = {k: v for k, v in fields.items() if v is not None}
    if not changes:
        raise ToolError("Nothing to change: pass at least one field (name, price, category, stock, status, ...).")
    product = await shop.client.update_product(product_id, ProductUpdate.model_validate(changes))
    return shop.result(ProductView.of(product))


@upstream
async def delete_product(
    shop: Annotated[Shop, Resolve(current_shop)], product_id: ProductId
) -> Annotated[CallToolResult, DeletedView]:
    """Delete a product from the catalog (past orders keep their lines). Needs the merchant's confirmation."""
    raise ToolError(
        f"Deleting {product_id} needs the merchant's confirmation, which this server version cannot ask for yet. "
        "Nothing was deleted. Ask the merchant to delete it in the Hajatek dashboard, or set its status to "
        "'archived' with update_product to hide it."
    )


def _more(has_more: bool, next_page: int | None) -> str | None:
    return f"More results: call again with page={next_page}." if has_more else None


TOOLS = (
    ToolSpec(list_products, "catalog", "List products", read_only=True, destructive=False, idempotent=True),
    ToolSpec(create_product, "catalog", "Create product", read_only=False, destructive=False, idempotent=False),
    ToolSpec(update_product, "catalog", "Update product", read_only=False, destructive=True, idempotent=True),
    ToolSpec(delete_product, "catalog", "Delete product", read_only=False, destructive=True, idempotent=True),
)
