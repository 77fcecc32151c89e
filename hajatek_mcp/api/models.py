"""Wire models of the Hajatek API (docs/api.md).

Response models read tolerantly: unknown fields are kept (``extra="allow"``) and fields the contract only assumes are
optional, so a richer real API never breaks a user. Input models are strict (``extra="forbid"``) so a typo fails here,
with the field's name, before anything is sent. Money is :class:`~decimal.Decimal`; the client parses JSON numbers
straight into decimals, so no binary float ever touches a price.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ORDER_STATUSES",
    "ORDER_TRANSITIONS",
    "AnalyticsPeriod",
    "AnalyticsSummary",
    "Customer",
    "DeletedProduct",
    "EventType",
    "Money",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Page",
    "Plan",
    "Product",
    "ProductCreate",
    "ProductStatus",
    "ProductUpdate",
    "StatusChange",
    "Store",
    "TopProduct",
    "WebhookEvent",
]

Plan = Literal["starter", "pro", "business"]
OrderStatus = Literal["pending", "processing", "shipped", "delivered", "cancelled", "refunded"]
ProductStatus = Literal["active", "draft", "archived"]
AnalyticsPeriod = Literal["today", "7d", "30d", "90d"]
EventType = Literal["order.created", "order.updated", "payment.completed", "product.created", "inventory.low"]

ORDER_STATUSES: tuple[OrderStatus, ...] = ("pending", "processing", "shipped", "delivered", "cancelled", "refunded")
#: The order lifecycle (docs/api.md): which statuses each status may move to.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"processing", "cancelled"}),
    "processing": frozenset({"shipped", "cancelled", "refunded"}),
    "shipped": frozenset({"delivered", "refunded"}),
    "delivered": frozenset({"refunded"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}

#: An amount in SAR with at most two decimals.
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]


class _Wire(BaseModel):
    """A response object: unknown fields are kept, never rejected."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class _Input(BaseModel):
    """A request body: unknown fields are a mistake of the caller."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Store(_Wire):
    id: str
    name: str
    name_ar: str | None = None
    currency: str = "SAR"
    country: str | None = None
    timezone: str | None = None
    plan: str | None = None
    email: str | None = None
    domain: str | None = None
    created_at: datetime | None = None


class Product(_Wire):
    id: str
    name: str
    name_ar: str | None = None
    description: str | None = None
    sku: str | None = None
    category: str | None = None
    price: Decimal
    currency: str = "SAR"
    stock: int | None = None
    status: str | None = Field(default=None, description="active, draft or archived")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ProductCreate(_Input):
    name: str = Field(min_length=1, max_length=200)
    price: Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=2)]
    category: str = Field(pattern=r"^[a-z0-9-]+$", max_length=64)
    stock: int = Field(default=0, ge=0)
    name_ar: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    sku: str | None = Field(default=None, max_length=64)
    status: ProductStatus | None = None


class ProductUpdate(_Input):
    """A partial update: only the fields that are set are sent."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    price: Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=2)] | None = None
    category: str | None = Field(default=None, pattern=r"^[a-z0-9-]+$", max_length=64)
    stock: int | None = Field(default=None, ge=0)
    name_ar: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    sku: str | None = Field(default=None, max_length=64)
    status: ProductStatus | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ProductUpdate:
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one field to change (name, price, category, stock, ...)")
        return self


class DeletedProduct(_Wire):
    id: str
    deleted: bool = True


class OrderItem(_Wire):
    product_id: str
    name: str | None = None
    quantity: int
    price: Decimal


class StatusChange(_Wire):
    """One step of an order's history: the status it moved to, when, and the note given with the change."""

    status: str
    at: datetime | None = None
    note: str | None = None


class Order(_Wire):
    id: str
    store_id: str | None = None
    customer_id: str | None = None
    customer_name: str | None = Field(default=None, description="assumed: the customer's name at order time")
    status: str = Field(description="pending, processing, shipped, delivered, cancelled or refunded")
    currency: str = "SAR"
    items: list[OrderItem] = Field(default_factory=list)
    subtotal: Decimal | None = None
    shipping: Decimal | None = None
    vat: Decimal | None = None
    total: Decimal
    shipping_address: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status_history: list[StatusChange] | None = Field(
        default=None, description="assumed: each status change, oldest first, with its note"
    )


class Customer(_Wire):
    id: str
    name: str | None = None
    name_ar: str | None = None
    email: str | None = None
    phone: str | None = None
    city: str | None = None
    orders_count: int | None = None
    total_spent: Decimal | None = None
    created_at: datetime | None = None


class TopProduct(_Wire):
    product_id: str
    name: str | None = None
    quantity: int
    revenue: Decimal


class AnalyticsSummary(_Wire):
    period: str
    start: datetime | None = None
    end: datetime | None = None
    currency: str = "SAR"
    revenue: Decimal
    orders_count: int
    paid_orders_count: int | None = None
    average_order_value: Decimal | None = None
    orders_by_status: dict[str, int] = Field(default_factory=dict)
    top_products: list[TopProduct] = Field(default_factory=list)
    new_customers: int | None = None


T = TypeVar("T", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    """One page of a listing. ``items`` is the array the API keys by resource name (``products``, ``orders``, ...)."""

    items: list[T]
    page: int
    limit: int
    total: int | None = None
    has_more: bool

    @property
    def next_page(self) -> int | None:
        """The page to ask for next, or None at the end."""
        return self.page + 1 if self.has_more else None


class WebhookEvent(_Wire):
    """A webhook delivery, exactly as the reference shows: ``{"id", "type", "created_at", "data"}``."""

    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]+$")
    type: str = Field(description="order.created, order.updated, payment.completed, product.created or inventory.low")
    created_at: datetime
    data: dict[str, Any]
