"""Bulk tools: change up to 100 products, or move up to 100 orders, with one preview and one confirmation.

How a batch is previewed, confirmed and applied is :mod:`hajatek_mcp.server.bulk`'s (the tool body:
:mod:`~hajatek_mcp.server.bulk_run`); what each tool reads and computes is in :mod:`~hajatek_mcp.server.bulk_products`
and :mod:`~hajatek_mcp.server.bulk_orders`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field, WithJsonSchema

from hajatek_mcp.api import ProductUpdate
from hajatek_mcp.server.bulk import BulkPlan, BulkResult, Item, ask_bulk
from hajatek_mcp.server.bulk_orders import plan_bulk_orders
from hajatek_mcp.server.bulk_products import plan_bulk_products
from hajatek_mcp.server.bulk_run import run_bulk
from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.guards import Confirm, Decision
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.params import (
    Category,
    ConfirmToken,
    OrderId,
    OrderStatus,
    Price,
    ProductId,
    ProductStatus,
    Stock,
)
from hajatek_mcp.server.views import OrderDetail, ProductView

__all__ = ["bulk_update_order_status", "bulk_update_products"]


def _ids(prefix: str) -> WithJsonSchema:
    # At most 100 is the tool's own check, which says how to split; the schema states it.
    pattern = f"^{prefix}_[A-Za-z0-9_]+$"
    return WithJsonSchema({"type": "array", "items": {"type": "string", "pattern": pattern}, "maxItems": 100})


ProductIds = Annotated[list[ProductId], _ids("prod")]
OrderIds = Annotated[list[OrderId], _ids("ord")]
Search = Annotated[str, Field(min_length=1, max_length=100, description="in names or SKU")]
Percent = Annotated[
    Decimal,
    Field(ge=-90, le=1000, decimal_places=2),
    WithJsonSchema({"type": "number", "minimum": -90, "maximum": 1000, "description": "10: +10%; -15: -15%"}),
]
Amount = Annotated[
    Decimal,
    Field(ge=-1_000_000, le=1_000_000, decimal_places=2),
    WithJsonSchema({"type": "number", "description": "SAR added; negative lowers"}),
]
Note = Annotated[str, Field(max_length=500, description="reason, kept on each order")]


async def ask_bulk_products(
    ctx: Context[Shop], plan: Annotated[BulkPlan, Resolve(plan_bulk_products)], confirm_token: str | None = None
) -> Decision | Elicit[Confirm]:
    return ask_bulk(ctx, plan, confirm_token)


async def ask_bulk_orders(
    ctx: Context[Shop], plan: Annotated[BulkPlan, Resolve(plan_bulk_orders)], confirm_token: str | None = None
) -> Decision | Elicit[Confirm]:
    return ask_bulk(ctx, plan, confirm_token)


@upstream
async def bulk_update_products(
    shop: Annotated[Shop, Resolve(current_shop)],
    plan: Annotated[BulkPlan, Resolve(plan_bulk_products)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(ask_bulk_products)],
    ctx: Context[Shop],
    *,
    product_ids: ProductIds | None = None,
    category: Category | None = None,
    search: Search | None = None,
    price_percent: Percent | None = None,
    price_amount: Amount | None = None,
    price: Price | None = None,
    stock: Stock | None = None,
    status: ProductStatus | None = None,
    confirm_token: ConfirmToken | None = None,
) -> Annotated[CallToolResult, BulkResult]:
    """Change up to 100 products (product_ids, or category/search): set price, stock or status, or move prices by
    price_percent (-15: 15% off) or price_amount. Guarded."""

    async def send(item: Item) -> ProductView:
        return ProductView.of(await shop.client.update_product(item.id, ProductUpdate.model_validate(item.after)))

    return await run_bulk(shop, ctx, plan, answer, confirm_token=confirm_token, send=send)


@upstream
async def bulk_update_order_status(
    shop: Annotated[Shop, Resolve(current_shop)],
    plan: Annotated[BulkPlan, Resolve(plan_bulk_orders)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(ask_bulk_orders)],
    ctx: Context[Shop],
    *,
    order_ids: OrderIds,
    status: OrderStatus,
    note: Note | None = None,
    confirm_token: ConfirmToken | None = None,
) -> Annotated[CallToolResult, BulkResult]:
    """Move orders to one status; moves the lifecycle forbids are skipped. Guarded."""

    async def send(item: Item) -> OrderDetail:
        return OrderDetail.of(await shop.client.update_order_status(item.id, status, note=note))

    return await run_bulk(shop, ctx, plan, answer, confirm_token=confirm_token, send=send)
