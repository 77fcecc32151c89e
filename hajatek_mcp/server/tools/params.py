"""Parameter types shared by the tools, declared once: ids by prefix, paging bounds, money with two decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, WithJsonSchema

from hajatek_mcp.api.models import AnalyticsPeriod, OrderStatus, ProductStatus

__all__ = [
    "AnalyticsPeriod",
    "Category",
    "ConfirmToken",
    "Limit",
    "OrderId",
    "OrderStatus",
    "PageNumber",
    "Price",
    "ProductId",
    "ProductStatus",
    "Stock",
]

ProductId = Annotated[str, Field(pattern=r"^prod_[A-Za-z0-9_]+$", description="prod_…")]
OrderId = Annotated[str, Field(pattern=r"^ord_[A-Za-z0-9_]+$", description="ord_…")]
PageNumber = Annotated[int, Field(ge=1)]
Limit = Annotated[int, Field(ge=1, le=100)]
Category = Annotated[str, Field(pattern=r"^[a-z0-9-]+$", max_length=64, description="slug, e.g. perfumes-oud")]
Price = Annotated[
    Decimal,
    Field(gt=0, le=1_000_000, decimal_places=2),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1000000, "description": "SAR, 2 decimals"}),
]
Stock = Annotated[int, Field(ge=0, le=1_000_000, description="units on hand")]
ConfirmToken = Annotated[
    str, Field(pattern=r"^cfm_[A-Za-z0-9_-]{20,64}$", description="from a preview; omit on the first call")
]
