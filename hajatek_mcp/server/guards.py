"""Confirmation guards: the one place that says which writes need a human's yes, and how it is obtained.

Guarded (the policy, :func:`plan_delete_product`, :func:`plan_order_status`, :func:`plan_update_product`):

- ``delete_product``, always;
- ``update_order_status`` to ``cancelled`` or ``refunded`` (goods or money go back);
- ``update_product`` when it sets stock to zero, or cuts the price or the stock by more than ``price_cut_guard``
  (default 50 %) of its *reference*: the highest value the product had in the guard window (``guard_window``,
  default 24 h), taken from the listing the guard reads now and from the values before each write the audit log
  recorded in the window. Many small cuts therefore add up: 184.99 → 0.02 SAR in steps of −49 % is stopped at the
  second step. A change the merchant confirmed becomes the new reference (they agreed to that value).

How a yes is obtained, per request (``--confirm``):

- ``auto``: when the client renders MCP Apps, a confirmation card shows the preview and the merchant's click on
  Approve applies it (:mod:`hajatek_mcp.server.ui.approve`: the token never reaches the model); else when the client
  can elicit, the user is asked (``Resolve(Elicit(...))``, so it works in both protocol eras); otherwise the
  preview-and-token path;
- ``token``: the first call changes nothing and returns a preview and a single-use ``confirm_token`` bound to the
  tool, the exact arguments and the target's state; the second call carrying it executes;
- ``none``: the host's own approval prompt is trusted.

Every attempt and outcome goes to the audit log (running the write: :mod:`hajatek_mcp.server.writes`). Resolvers
here run before the tool body: a plan resolver reads the target's current state, an ask resolver decides whether to
elicit. A connection granted read-only access is refused before anything is read or asked.

The question and the preview lead with the server's own facts (what, which id, old → new, the percentage); store text
(a product's name) follows as a one-line, length-capped excerpt (:func:`hajatek_mcp.server.safety.quote`), so no
name can add a line to the question or push the facts out of view.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server.apps import client_supports_apps
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import (
    Context,
    Elicit,
    Resolve,
)
from pydantic import BaseModel, Field

from hajatek_mcp.api import HajatekError, LookupLimitError, Order, Product
from hajatek_mcp.server.audit import ConfirmPath
from hajatek_mcp.server.confirmations import fingerprint
from hajatek_mcp.server.safety import clean, quote
from hajatek_mcp.server.shop import Shop, current_shop

__all__ = [
    "GUARDED_STATUSES",
    "Confirm",
    "Decision",
    "Reference",
    "WritePlan",
    "ask_delete_product",
    "ask_order_status",
    "ask_update_product",
    "can_ask_form",
    "may_write",
    "plan_delete_product",
    "plan_order_status",
    "plan_update_product",
    "reference",
]

#: The OAuth scope that allows writes (see hajatek_mcp.server.oauth).
WRITE_SCOPE = "store.write"
#: Order statuses whose setting needs confirmation: goods or money go back.
GUARDED_STATUSES = frozenset({"cancelled", "refunded"})
#: How many recent orders the delete preview checks for references to the product.
REFERENCE_SCAN = 500
#: How many listing pages (100 products each) a guard reads to find a product it was never shown (the API has no
#: lookup by id): on a larger catalog the agent is asked to list or search for it first, which takes one request,
#: instead of a walk that would use minutes of a limited plan's budget.
LOOKUP_PAGES = 20

T = TypeVar("T", bound=BaseModel)
V = TypeVar("V", Decimal, int)
P = ParamSpec("P")


@dataclass(frozen=True)
class WritePlan:
    """What a write would do to its target, read just before it runs."""

    target: str
    guarded: bool
    preview: str
    state: str = ""
    """Fingerprint of the target's state; a token is bound to it."""
    related: tuple[str, ...] = ()
    """Other ids the write changes (a cancel restocks the order's products): their writes wait for it too."""
    error: str | None = None
    """Why the target could not be read (it is gone, the API failed): the write is refused and audited."""
    before: dict[str, Any] | None = None
    """The target's values the guard read (price, stock), kept in the audit entry of the write."""


def planning(target_arg: str) -> Callable[[Callable[P, Awaitable[WritePlan]]], Callable[P, Awaitable[WritePlan]]]:
    """Make a plan resolver report an API failure as ``WritePlan.error`` so the tool can audit it before refusing."""

    def decorate(fn: Callable[P, Awaitable[WritePlan]]) -> Callable[P, Awaitable[WritePlan]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> WritePlan:
            if not may_write():  # refused by the tool before anything is read or asked
                return WritePlan(target=str(kwargs.get(target_arg)), guarded=False, preview="", error="read-only grant")
            try:
                return await fn(*args, **kwargs)
            except LookupLimitError as exc:
                advice = "Find it with list_products (search by its name or SKU), then repeat this call."
                return WritePlan(target=str(kwargs.get(target_arg)), guarded=False, preview="", error=f"{exc} {advice}")
            except HajatekError as exc:
                return WritePlan(target=str(kwargs.get(target_arg)), guarded=False, preview="", error=clean(str(exc)))

        return wrapper

    return decorate


class Confirm(BaseModel):
    """The question shown to the user (elicitation)."""

    confirm: bool = Field(description="Yes, do it")


#: Set while the confirmation card's Approve runs a guarded call (:mod:`hajatek_mcp.server.ui.approve`): its token is
#: redeemed as the merchant's click, audited with the path ``app``.
APPROVING: ContextVar[bool] = ContextVar("hajatek_approving", default=False)


class Decision(BaseModel):
    """What an ask resolver returns when it does not ask the user."""

    path: ConfirmPath


# -- the policy: plans ----------------------------------------------------------------------------------------------


def _product_state(product: Product) -> str:
    return fingerprint([product.id, str(product.price), product.stock, product.status, str(product.updated_at)])


def _order_state(order: Order) -> str:
    return fingerprint([order.id, order.status, str(order.updated_at), str(order.total)])


def _named(product: Product) -> str:
    return f"Product name: {quote(product.name)}."


@planning("product_id")
async def plan_delete_product(shop: Annotated[Shop, Resolve(current_shop)], product_id: str) -> WritePlan:
    product = await shop.client.find_product(product_id, max_pages=LOOKUP_PAGES)
    references, scanned = 0, 0
    async for order in shop.client.iterate(shop.client.list_orders):
        scanned += 1
        references += any(item.product_id == product_id for item in order.items)
        if scanned >= REFERENCE_SCAN:
            break
    preview = (
        f"Delete product {product.id}: {product.stock} in stock, in {references} of the latest {scanned} orders. "
        f"Past orders keep their lines. This cannot be undone. {_named(product)}"
    )
    return WritePlan(target=product.id, guarded=True, preview=preview, state=_product_state(product))


@planning("order_id")
async def plan_order_status(shop: Annotated[Shop, Resolve(current_shop)], order_id: str, status: str) -> WritePlan:
    order = await shop.client.get_order(order_id)
    guarded = status in GUARDED_STATUSES and order.status != status
    units = sum(i.quantity for i in order.items)
    what = {
        "cancelled": "Cancel order {id} ({status}, {units} items, {total} SAR, customer {customer}); its items go back "
        "into stock.",
        "refunded": "Refund order {id} ({status}, {units} items, {total} SAR) to customer {customer}. This cannot be "
        "undone.",
    }.get(status, "Set order {id} from {status} to {new}.")
    preview = what.format(
        id=order.id,
        status=clean(order.status),
        units=units,
        total=f"{order.total:,.2f}",
        customer=quote(order.customer_id, 40),
        new=status,
    )
    restocked = tuple(sorted({i.product_id for i in order.items})) if status == "cancelled" else ()
    return WritePlan(target=order.id, guarded=guarded, preview=preview, state=_order_state(order), related=restocked)


@dataclass(frozen=True)
class Reference:
    """The values a cut is measured against: the highest the product had in the guard window."""

    price: Decimal
    stock: int


async def reference(shop: Shop, product: Product) -> Reference:
    """The highest price and stock of ``product`` in the guard window: now (the listing just read), and before each
    write the audit log recorded for it since. Walking back, a value the merchant confirmed ends the walk for that
    field: they agreed to it, so it is the reference from then on.
    """
    since = shop.options.clock() - shop.options.guard_window
    entries = [e for e in await shop.audit.history(product.id, since=since) if e["outcome"] in _MAY_HAVE_APPLIED]
    prices = [product.price, *_seen(entries, "price", _decimal)]
    stocks = [product.stock or 0, *_seen(entries, "stock", _whole)]
    return Reference(price=max(prices), stock=max(stocks))


#: Audit outcomes of writes that may have changed the product: what it had before them counts.
_MAY_HAVE_APPLIED = frozenset({"executed", "unknown", "cancelled"})


def _seen(entries: list[dict[str, Any]], field: str, parse: Callable[[Any], V | None]) -> list[V]:
    """The values of ``field`` the product had, newest write first, back to the newest value the merchant confirmed."""
    values: list[V | None] = []
    for entry in entries:
        if entry["path"] in ("elicitation", "token", "app") and field in entry["arguments"]:
            values.append(parse(entry["arguments"][field]))
            break
        if field in entry["before"]:
            values.append(parse(entry["before"][field]))
    return [v for v in values if v is not None]


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _whole(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


@planning("product_id")
async def plan_update_product(
    shop: Annotated[Shop, Resolve(current_shop)],
    product_id: str,
    price: Decimal | None = None,
    stock: int | None = None,
) -> WritePlan:
    if price is None and stock is None:
        return WritePlan(target=product_id, guarded=False, preview=f"Update {product_id}.")
    product = await shop.client.find_product(product_id, max_pages=LOOKUP_PAGES)
    share = Decimal(str(shop.options.price_cut_guard))
    ref = await reference(shop, product)
    hours = shop.options.guard_window / 3600
    window = f"its highest in the last {hours:g} h"
    reasons: list[str] = []
    if price is not None and price < product.price and ref.price > 0 and price < ref.price * (1 - share):
        cut = (1 - price / product.price) * 100
        fact = f"cut the price of {product.id} from {product.price:,.2f} to {price:,.2f} SAR (-{cut:.0f}%"
        if ref.price > product.price:
            fact += f"; -{(1 - price / ref.price) * 100:.0f}% from {ref.price:,.2f} SAR, {window}"
        reasons.append(fact + ")")
    current = product.stock or 0
    if stock is not None and stock < current and (stock == 0 or stock < ref.stock * (1 - share)):
        fact = f"set the stock of {product.id} from {current} to {stock}"
        if stock == 0:
            fact += " (it shows as out of stock)"
        if ref.stock > current:
            fact += f" (-{(1 - Decimal(stock) / ref.stock) * 100:.0f}% from {ref.stock}, {window})"
        reasons.append(fact)
    preview = f"This will {' and '.join(reasons)}. {_named(product)}" if reasons else f"Update {product.id}."
    before = {"price": str(product.price), "stock": product.stock}
    return WritePlan(
        target=product.id, guarded=bool(reasons), preview=preview, state=_product_state(product), before=before
    )


# -- asking: one resolver per guarded tool, all deciding the same way -------------------------------------------------


def _decide(ctx: Context[Shop], plan: WritePlan, confirm_token: str | None) -> Decision | Elicit[Confirm]:
    options = ctx.request_context.lifespan_context.options
    path: ConfirmPath
    if plan.error is not None:
        path = "not_guarded"  # nothing to ask about: the call is refused
    elif confirm_token is not None:  # a token that is passed is always checked, even if no guard applies now
        path = "app" if APPROVING.get() else "token"
    elif not plan.guarded:
        path = "not_guarded"
    elif options.confirm == "none":
        path = "host"
    elif options.confirm == "auto" and client_supports_apps(ctx):
        path = "app"  # the confirmation card asks (hajatek_mcp.server.ui.approve)
    elif options.confirm == "token" or not can_ask_form(ctx):
        path = "token"
    else:
        return Elicit(f"{plan.preview}\nDo you want to go ahead?", Confirm)
    return Decision(path=path)


def can_ask_form(ctx: Context[Shop]) -> bool:
    """As the SDK decides: form elicitation declared, or elicitation with no mode (the shape before modes existed).

    A client that declares only URL elicitation cannot show a yes/no form: it gets the preview-and-token path.
    """
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def ask_delete_product(
    ctx: Context[Shop], plan: Annotated[WritePlan, Resolve(plan_delete_product)], confirm_token: str | None = None
) -> Decision | Elicit[Confirm]:
    return _decide(ctx, plan, confirm_token)


def ask_order_status(
    ctx: Context[Shop], plan: Annotated[WritePlan, Resolve(plan_order_status)], confirm_token: str | None = None
) -> Decision | Elicit[Confirm]:
    return _decide(ctx, plan, confirm_token)


def ask_update_product(
    ctx: Context[Shop], plan: Annotated[WritePlan, Resolve(plan_update_product)], confirm_token: str | None = None
) -> Decision | Elicit[Confirm]:
    return _decide(ctx, plan, confirm_token)


# -- who may write -------------------------------------------------------------------------------------------------


def may_write() -> bool:
    """Over OAuth, a write needs ``store.write``; stdio and static-token connections carry no OAuth token."""
    token = get_access_token()
    return token is None or WRITE_SCOPE in token.scopes
