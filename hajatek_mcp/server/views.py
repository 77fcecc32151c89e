"""What the agent sees: compact result models for the tools, and the one way they become a tool result.

The wire models in :mod:`hajatek_mcp.api.models` carry everything the API sends; these views keep what an agent
needs to answer and act, so results stay small. Every result goes through :func:`tool_result`: the structured content
(``structuredContent``, validated against the tool's ``outputSchema``) and a compact JSON text for the model, with no
indentation and no nulls. Money is a JSON number with two decimals (exact: it comes from a ``Decimal``).

The views copy outside text as it came: :func:`tool_result` and :func:`resource_text` pass the whole result through
:func:`hajatek_mcp.server.safety.present`, the one boundary where text is cleaned and personal data masked, so a new
view or tool cannot forget it.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from hajatek_mcp.api import models as api
from hajatek_mcp.server.safety import present

__all__ = [
    "AnalyticsView",
    "CustomerDetail",
    "CustomerPage",
    "CustomerView",
    "DeletedView",
    "LineItem",
    "Money",
    "OrderDetail",
    "OrderPage",
    "OrderRow",
    "Payment",
    "ProductPage",
    "ProductView",
    "Restocked",
    "StatusStep",
    "StoreView",
    "compact_json",
    "resource_text",
    "tool_result",
]

Money = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number"}, mode="serialization"),
]


class View(BaseModel):
    # Built on first use (a tool result, an output schema), not at import: the server answers initialize sooner.
    model_config = ConfigDict(extra="forbid", defer_build=True)


def compact_json(data: Any) -> str:
    """JSON with no whitespace and no nulls; Arabic stays readable (no ``\\u`` escapes)."""
    return json.dumps(_drop_none(data), ensure_ascii=False, separators=(",", ":"))


def _drop_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_none(v) for v in data]
    return data


def tool_result(view: BaseModel, *, note: str | None = None, redact: bool = False) -> CallToolResult:
    """The tool result for ``view``: structured content plus the same data as compact text, through the boundary.

    ``note`` (for example "sandbox store" or how to get the next page) is prepended to the text the model reads.
    ``redact`` masks personal data (``--redact-pii``).
    """
    structured = present(view.model_dump(mode="json", exclude_none=True), redact=redact)
    text = compact_json(structured)
    if note:
        text = f"{note}\n{text}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def resource_text(data: Any, *, redact: bool = False) -> str:
    """A resource's JSON text, through the same boundary as tool results."""
    return compact_json(present(data, redact=redact))


def _day(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%MZ") if value else None


def _extra(model: BaseModel, key: str) -> str | None:
    """A string field the API sent beyond the contract (read tolerantly), or None."""
    value = (model.model_extra or {}).get(key)
    return value if isinstance(value, str) and value else None


class StoreView(View):
    id: str
    name: str
    name_ar: str | None = None
    currency: str
    country: str | None = None
    timezone: str | None = None
    plan: str | None = None
    sandbox: bool = Field(description="True when this is the local sandbox store, not a live one")

    @classmethod
    def of(cls, store: api.Store, *, sandbox: bool) -> StoreView:
        return cls(
            id=store.id,
            name=store.name,
            name_ar=store.name_ar,
            currency=store.currency,
            country=store.country,
            timezone=store.timezone,
            plan=store.plan,
            sandbox=sandbox,
        )


class ProductView(View):
    id: str
    name: str
    name_ar: str | None = None
    sku: str | None = None
    category: str | None = None
    price: Money
    stock: int | None = None
    status: str | None = None
    created: str | None = Field(default=None, description="UTC")

    @classmethod
    def of(cls, p: api.Product) -> ProductView:
        return cls(
            id=p.id,
            name=p.name,
            name_ar=p.name_ar,
            sku=p.sku,
            category=p.category,
            price=p.price,
            stock=p.stock,
            status=p.status,
            created=_day(p.created_at),
        )


class DeletedView(View):
    id: str
    deleted: bool


class ProductPage(View):
    products: list[ProductView]
    page: int
    total: int | None = None
    has_more: bool
    next_page: int | None = Field(default=None, description="pass as page= to get the next page")


class OrderRow(View):
    """An order in a listing: enough to triage; get_order has the line items and the address."""

    id: str
    status: str
    total: Money
    units: int = Field(description="items in the order, counting quantities")
    customer_id: str | None = None
    customer_name: str | None = None
    created: str | None = Field(default=None, description="UTC, minute precision")

    @classmethod
    def of(cls, o: api.Order) -> OrderRow:
        return cls(
            id=o.id,
            status=o.status,
            total=o.total,
            units=sum(i.quantity for i in o.items),
            customer_id=o.customer_id,
            customer_name=o.customer_name,
            created=_day(o.created_at),
        )


class OrderPage(View):
    orders: list[OrderRow]
    currency: str = "SAR"
    page: int
    total: int | None = None
    has_more: bool
    next_page: int | None = Field(default=None, description="pass as page= to get the next page")
    complete: bool | None = Field(default=None, description="filtered: false when the walk stopped at its bound")
    resume_until: str | None = Field(default=None, description="filtered: pass as until= to go on")
    note: str | None = None


class LineItem(View):
    product_id: str
    name: str | None = None
    name_ar: str | None = None
    quantity: int
    price: Money


class StatusStep(View):
    """One status change, and which record says so: ``api`` (the order's history), ``audit`` (a change made through
    this server) or ``event`` (a webhook this server received)."""

    source: str
    status: str
    at: str | None = Field(default=None, description="UTC")
    note: str | None = None
    by: str | None = Field(default=None, description="audit: the tool and how it was confirmed")


class Payment(View):
    state: str = Field(description="paid or unknown")
    source: str | None = Field(default=None, description="api, or event: a payment.completed webhook")
    at: str | None = None
    event_id: str | None = None
    why: str | None = None


class Restocked(View):
    """A line of a cancelled order and its product's stock read after the cancel."""

    product_id: str
    quantity: int = Field(description="units the cancel returns")
    stock: int | None = Field(default=None, description="stock now")
    seen: str = Field(description="returned: stock rose by the quantity; assumed: it did not move (yet); unknown")


class OrderDetail(View):
    id: str
    status: str
    allowed_next: list[str] = Field(description="statuses this order may move to")
    customer_id: str | None = None
    currency: str
    items: list[LineItem]
    subtotal: Money | None = None
    shipping: Money | None = None
    vat: Money | None = None
    total: Money
    shipping_address: dict[str, Any] | None = None
    created: str | None = None
    updated: str | None = None
    customer_name: str | None = None
    customer_city: str | None = None
    history: list[StatusStep] | None = Field(default=None, description="oldest first")
    notes: list[str] | None = None
    payment: Payment | None = None
    restocked: list[Restocked] | None = None

    @classmethod
    def of(cls, o: api.Order) -> OrderDetail:
        items = [
            LineItem(
                product_id=i.product_id, name=i.name, name_ar=_extra(i, "name_ar"), quantity=i.quantity, price=i.price
            )
            for i in o.items
        ]
        return cls(
            id=o.id,
            status=o.status,
            allowed_next=sorted(api.ORDER_TRANSITIONS.get(o.status, ())),
            customer_id=o.customer_id,
            customer_name=o.customer_name,
            currency=o.currency,
            items=items,
            subtotal=o.subtotal,
            shipping=o.shipping,
            vat=o.vat,
            total=o.total,
            shipping_address=o.shipping_address,
            created=_day(o.created_at),
            updated=_day(o.updated_at),
        )


class CustomerView(View):
    id: str
    name: str | None = None
    name_ar: str | None = None
    email: str | None = None
    phone: str | None = None
    city: str | None = None
    orders_count: int | None = None
    total_spent: Money | None = None

    @classmethod
    def of(cls, c: api.Customer) -> CustomerView:
        return cls(
            id=c.id,
            name=c.name,
            name_ar=c.name_ar,
            email=c.email,
            phone=c.phone,
            city=c.city,
            orders_count=c.orders_count,
            total_spent=c.total_spent,
        )


class CustomerPage(View):
    customers: list[CustomerView]
    page: int
    total: int | None = None
    has_more: bool
    next_page: int | None = Field(default=None, description="pass as page= to get the next page")
    complete: bool | None = Field(default=None, description="search: false when the directory lacks older customers")
    note: str | None = None


class CustomerDetail(CustomerView):
    recent_orders: list[OrderRow] = Field(description="newest first")
    complete: bool = Field(description="false when the walk stopped before the customer's older orders")
    note: str | None = None


class TopProductView(View):
    product_id: str
    name: str | None = None
    quantity: int
    revenue: Money


class AnalyticsView(View):
    period: str
    start: str | None = None
    end: str | None = None
    currency: str
    revenue: Money
    orders_count: int
    paid_orders_count: int | None = None
    average_order_value: Money | None = None
    orders_by_status: dict[str, int]
    top_products: list[TopProductView]
    new_customers: int | None = None

    @classmethod
    def of(cls, s: api.AnalyticsSummary) -> AnalyticsView:
        return cls(
            period=s.period,
            start=_day(s.start),
            end=_day(s.end),
            currency=s.currency,
            revenue=s.revenue,
            orders_count=s.orders_count,
            paid_orders_count=s.paid_orders_count,
            average_order_value=s.average_order_value,
            orders_by_status=s.orders_by_status,
            top_products=[
                TopProductView(product_id=t.product_id, name=t.name, quantity=t.quantity, revenue=t.revenue)
                for t in s.top_products
            ],
            new_customers=s.new_customers,
        )
