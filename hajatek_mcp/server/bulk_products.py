"""Planning ``bulk_update_products``: which products, their new values, and the facts the merchant sees first.

The selection is read with a fixed number of requests: a category or search is one listing of at most 100 (a bigger
one is refused, saying how many matched); ids are looked for in the newest :data:`~.guards.LOOKUP_PAGES` listing
pages, and one not there by where the client last saw it (:meth:`HajatekClient.find_product`, no walk). New values
are absolute: a percentage or an amount is applied to the price read now and rounded half-up to the cent; a price
that would not stay above 0 (or would pass 1,000,000 SAR) is skipped, not clamped.

A relative change (a percentage, an amount) repeated by mistake would apply twice: a product whose price is the one
this same change set in the guard window (the audit log says so) is skipped as already changed. Cuts are measured as
the guards measure them (:func:`~.guards.reference`: the highest price and stock of the guard window) and lead the
question and the preview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from mcp.server.mcpserver import Resolve
from mcp.server.mcpserver.exceptions import ToolError

from hajatek_mcp.api import HajatekError, LookupLimitError, NotFoundError, Product
from hajatek_mcp.server.bulk import MAX_ITEMS, Batch, BulkPlan, Item, ItemNote, Values, read_failed, reconcile
from hajatek_mcp.server.confirmations import ConfirmationError
from hajatek_mcp.server.guards import LOOKUP_PAGES, may_write, reference
from hajatek_mcp.server.safety import clean, quote
from hajatek_mcp.server.shop import Shop, current_shop

__all__ = ["TOOL", "ProductChange", "plan_bulk_products"]

TOOL = "bulk_update_products"
CENT = Decimal("0.01")
MAX_PRICE = Decimal(1_000_000)
#: Audit outcomes of writes that may have changed the product.
_MAY_HAVE_APPLIED = frozenset({"executed", "unknown", "cancelled"})


@dataclass(frozen=True)
class ProductChange:
    """What the call asks to change: at most one kind of price change, a stock, a status."""

    percent: Decimal | None = None
    amount: Decimal | None = None
    price: Decimal | None = None
    stock: int | None = None
    status: str | None = None

    def arguments(self) -> dict[str, Any]:
        named = {"price_percent": self.percent, "price_amount": self.amount, "price": self.price}
        values: dict[str, Any] = {k: _plain(v) for k, v in named.items() if v is not None}  # 10 and 10.0 are one call
        return values | {k: v for k, v in (("stock", self.stock), ("status", self.status)) if v is not None}

    def describe(self, count: int) -> str:
        """The change in words: "Raise the price of 12 products by 10%", "Change 3 products: price +5%, stock → 0"."""
        what = f"{count} product{'s' * (count != 1)}"
        relative = self.percent if self.percent is not None else self.amount
        parts = [f"price {self._by(signed=True)}"] if relative is not None else []
        parts += [
            f"{k} → {v}" for k, v in (("price", self._set_price()), ("stock", self.stock), ("status", self.status))
        ]
        parts = [p for p in parts if not p.endswith("→ None")]
        if len(parts) > 1:
            return f"Change {what}: {', '.join(parts)}"
        if relative is not None:
            return f"{'Raise' if relative > 0 else 'Lower'} the price of {what} by {self._by(signed=False)}"
        key, value = parts[0].split(" → ")
        return f"Set the {key} of {what} to {value}"

    def _by(self, *, signed: bool) -> str:
        if self.percent is not None:
            return (
                f"{'+' if signed and self.percent > 0 else ''}{_plain(self.percent if signed else abs(self.percent))}%"
            )
        amount = self.amount or Decimal(0)
        return f"{amount if signed else abs(amount):{'+' if signed else ''},.2f} SAR"

    def _set_price(self) -> str | None:
        return None if self.price is None else f"{self.price:,.2f} SAR"

    def new_values(self, product: Product) -> Values | str:
        """The fields that change and their new values, or why the product is skipped."""
        new = self._price(product.price)
        if isinstance(new, str):
            return new
        wanted = {"price": None if new is None else f"{new:.2f}", "stock": self.stock, "status": self.status}
        now = values_of(product)
        after = {k: v for k, v in wanted.items() if v is not None and v != now[k]}
        return after or "no change: it already has these values"

    def _price(self, old: Decimal) -> Decimal | str | None:
        if self.percent is not None:
            new = (old * (100 + self.percent) / 100).quantize(CENT, ROUND_HALF_UP)
        elif self.amount is not None:
            new = (old + self.amount).quantize(CENT, ROUND_HALF_UP)
        else:
            return self.price
        if new <= 0:
            return f"the price would be {new:,.2f} SAR; a price stays above 0"
        if new > MAX_PRICE:
            return f"the price would be {new:,.2f} SAR, over the API's 1,000,000"
        return new

    @property
    def relative(self) -> bool:
        return self.percent is not None or self.amount is not None


def _plain(number: Decimal) -> str:
    """10 → "10", 12.50 → "12.5": a percentage as people write it."""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def values_of(product: Product) -> Values:
    return {"price": f"{product.price:.2f}", "stock": product.stock or 0, "status": product.status}


# -- reading ----------------------------------------------------------------------------------------------------------


async def read_products(
    shop: Shop, ids: Sequence[str], listing: Mapping[str, str | None] | None
) -> tuple[dict[str, Product], dict[str, str]]:
    """The products of ``ids`` as the API has them now, and why each other one could not be read.

    ``listing`` (a category or search that selected them) is asked first; then the newest listing pages, until all
    are found or :data:`LOOKUP_PAGES` were read; then, for each still missing, where the client last saw it.
    """
    wanted, found = set(ids), {}
    if listing is not None:
        page = await shop.client.list_products(page=1, limit=MAX_ITEMS, **listing)
        found = {p.id: p for p in page.items if p.id in wanted}
    read, more = 0, True
    while more and read < LOOKUP_PAGES and wanted - found.keys():
        read += 1
        page = await shop.client.list_products(page=read, limit=100)
        found |= {p.id: p for p in page.items if p.id in wanted}
        more = page.has_more and bool(page.items)
    reasons: dict[str, str] = {}
    for product_id in [i for i in ids if i not in found]:
        if not more:
            reasons[product_id] = "not found: no product has this id (deleted?)"
            continue
        try:
            found[product_id] = await shop.client.find_product(product_id, max_pages=0)
        except NotFoundError:
            reasons[product_id] = "not found: no product has this id (deleted?)"
        except LookupLimitError:
            reasons[product_id] = (
                f"not among the newest {read * 100:,} products (the API has no lookup by id): find it with "
                "list_products(search=...) first"
            )
    return found, reasons


async def _select(
    shop: Shop, product_ids: list[str] | None, category: str | None, search: str | None
) -> tuple[list[Product], list[ItemNote]]:
    if product_ids is not None:
        found, reasons = await read_products(shop, product_ids, None)
        return [found[i] for i in product_ids if i in found], [ItemNote(id=i, reason=r) for i, r in reasons.items()]
    page = await shop.client.list_products(page=1, limit=MAX_ITEMS, category=category, search=search)
    if page.has_more or (page.total or 0) > MAX_ITEMS:
        what = " and ".join(f"{k}={quote(v, 64)}" for k, v in (("category", category), ("search", search)) if v)
        count = f"{page.total:,}" if page.total else f"More than {MAX_ITEMS}"
        raise ToolError(
            f"{count} products match {what}; a batch takes at most {MAX_ITEMS}, so nothing was changed. Narrow the "
            "selection (category and search together, or a more exact search), or pass product_ids, at most "
            f"{MAX_ITEMS} a call, from list_products({what}, limit=100) page by page."
        )
    return page.items, []


# -- what the merchant is shown ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What the guards would say about one item: its price cut, and whether a cut passes the guard."""

    cut: Decimal | None = None
    price_guard: str | None = None
    zero: bool = False
    stock_guard: str | None = None


async def _item(shop: Shop, product: Product, after: Values) -> tuple[Item, _Facts]:
    before = {k: values_of(product)[k] for k in after}
    share = Decimal(str(shop.options.price_cut_guard))
    ref = await reference(shop, product)
    parts: list[str] = []
    cut: Decimal | None = None
    price_guard = stock_guard = None
    if "price" in after:
        old, new = product.price, Decimal(after["price"])
        change = (new / old - 1) * 100
        parts.append(f"price {old:,.2f} → {new:,.2f} SAR ({change:+.{0 if abs(change) >= 10 else 1}f}%)")
        if new < old:
            cut = -change
            if ref.price > 0 and new < ref.price * (1 - share):
                price_guard = f"{product.id} (-{(1 - new / ref.price) * 100:.0f}% from {ref.price:,.2f} SAR)"
    current = product.stock or 0
    stock = after.get("stock")
    if stock is not None:
        parts.append(f"stock {current} → {stock}")
        if stock < current and stock > 0 and stock < ref.stock * (1 - share):
            stock_guard = f"{product.id} (from {ref.stock})"
    if "status" in after:
        parts.append(f"status {clean(product.status)} → {after['status']}")
    zero = stock == 0 and current > 0
    attention = max(cut or Decimal(0), Decimal(100) if zero or stock_guard else Decimal(0))
    attention += 1000 if price_guard or stock_guard or zero else 0
    line = f"{product.id}: {', '.join(parts)} {quote(product.name, 40)}"
    item = Item(id=product.id, before=before, after=after, name=product.name, line=line, attention=attention)
    return item, _Facts(cut=cut, price_guard=price_guard, zero=zero, stock_guard=stock_guard)


def _warnings(shop: Shop, facts: list[tuple[Item, _Facts]]) -> list[str]:
    share, hours = shop.options.price_cut_guard * 100, shop.options.guard_window / 3600
    cuts = [(f.cut, item) for item, f in facts if f.cut is not None]
    warnings = []
    if cuts:
        cut, item = max(cuts, key=lambda c: c[0])
        old, new = item.before["price"], item.after["price"]
        warnings.append(f"Largest price cut: {item.id} {Decimal(old):,.2f} → {Decimal(new):,.2f} SAR (-{cut:.0f}%).")
    price_guards = [f.price_guard for _, f in facts if f.price_guard]
    if price_guards:
        warnings.append(
            f"{_count(price_guards, 'price cut')} more than {share:.0f}% below the product's highest price in the "
            f"last {hours:g} h: {_some(price_guards)}."
        )
    zero = [item.id for item, f in facts if f.zero]
    if zero:
        warnings.append(f"{_count(zero, 'product')} to 0 in stock, shown as out of stock: {_some(zero)}.")
    stock_guards = [f.stock_guard for _, f in facts if f.stock_guard]
    if stock_guards:
        warnings.append(
            f"{_count(stock_guards, 'stock cut')} more than {share:.0f}% below the highest stock in the last "
            f"{hours:g} h: {_some(stock_guards)}."
        )
    return warnings


def _count(items: list[str], noun: str) -> str:
    """How many go: "1 price cut goes", "3 price cuts go"."""
    return f"{len(items)} {noun} goes" if len(items) == 1 else f"{len(items)} {noun}s go"


def _some(names: list[str], shown: int = 5) -> str:
    more = f", and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _summary(change: ProductChange, plan: BulkPlan) -> str:
    assert plan.batch is not None  # noqa: S101  # a summary is written for a batch
    text = f"{change.describe(len(plan.items))} (batch {plan.batch.id})."
    notes = [
        (len(plan.done), "already applied"),
        (len(plan.failed), "cannot be applied"),
        (len(plan.skipped), "skipped"),
    ]
    return " ".join([text, *(f"{n} {what}." for n, what in notes if n)])


async def _repeat(shop: Shop, product: Product, change: ProductChange) -> str | None:
    """Why a relative change would apply twice to ``product``: this same change set its price in the guard window."""
    if not change.relative:
        return None
    since = shop.options.clock() - shop.options.guard_window
    asked = change.arguments()
    for entry in await shop.audit.history(product.id, since=since):
        done = entry["arguments"]
        if entry["tool"] != TOOL or entry["outcome"] not in _MAY_HAVE_APPLIED or "price" not in done:
            continue
        same = all(_number(done.get(k)) == _number(asked.get(k)) for k in ("price_percent", "price_amount"))
        if same and _number(done["price"]) == product.price:
            return (
                f"already changed by this same change in the last {shop.options.guard_window / 3600:g} h (batch "
                f"{clean(str(done.get('batch')))}): not applied twice; to change it again, set price= or use another "
                "change"
            )
    return None


def _number(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


# -- the plan resolver -----------------------------------------------------------------------------------------------


async def plan_bulk_products(
    shop: Annotated[Shop, Resolve(current_shop)],
    *,
    product_ids: list[str] | None = None,
    category: str | None = None,
    search: str | None = None,
    price_percent: Decimal | None = None,
    price_amount: Decimal | None = None,
    price: Decimal | None = None,
    stock: int | None = None,
    status: str | None = None,
    confirm_token: str | None = None,
) -> BulkPlan:
    change = ProductChange(price_percent, price_amount, price, stock, status)
    selection = {"product_ids": product_ids, "category": category, "search": search}
    arguments = {k: v for k, v in selection.items() if v is not None} | change.arguments()
    plan = BulkPlan(tool=TOOL, arguments=arguments, change=change.arguments(), named=product_ids is None)
    if not may_write():  # refused by the tool before anything is read or asked
        plan.error = "read-only grant"
        return plan
    _check_arguments(product_ids, category, search, change)
    try:
        if confirm_token is None:
            await _preview(shop, plan, change, selection)
        else:
            await _confirming(shop, plan, change, confirm_token, selection)
    except HajatekError as exc:
        plan.error = read_failed(exc, confirm_token)
    return plan


def _check_arguments(
    product_ids: list[str] | None, category: str | None, search: str | None, change: ProductChange
) -> None:
    if (product_ids is None) == (category is None and search is None) or product_ids == []:
        raise ToolError("Select the products with product_ids, or with category and/or search (one way, not both).")
    if product_ids is not None and len(set(product_ids)) != len(product_ids):
        raise ToolError("product_ids lists a product twice: give each once.")
    if product_ids is not None and len(product_ids) > MAX_ITEMS:
        raise ToolError(
            f"{len(product_ids)} product_ids given; a batch takes at most {MAX_ITEMS}: split it into several calls. "
            "Nothing was read or changed."
        )
    if sum(v is not None for v in (change.percent, change.amount, change.price)) > 1:
        raise ToolError("Give one price change: price_percent, price_amount or price.")
    if not change.arguments():
        raise ToolError("Nothing to change: give price_percent, price_amount, price, stock or status.")
    if change.percent == 0 or change.amount == 0:
        raise ToolError("A change of 0 changes nothing: give a percentage or an amount other than 0.")


async def _preview(shop: Shop, plan: BulkPlan, change: ProductChange, selection: dict[str, Any]) -> None:
    products, plan.skipped = await _select(shop, **selection)
    if not products and not plan.skipped:
        plan.summary = "No product matches the selection: nothing to change."
        return
    facts = []
    for product in sorted(products, key=lambda p: p.id):
        after = change.new_values(product)
        repeat = await _repeat(shop, product, change)
        if repeat is not None or isinstance(after, str):
            plan.skipped.append(ItemNote(id=product.id, reason=repeat or str(after)))
            continue
        facts.append(await _item(shop, product, after))
    plan.items = [item for item, _ in facts]
    if not plan.items:
        plan.summary = f"Nothing would change: all {len(plan.skipped)} selected products are skipped (see why)."
        return
    plan.batch = Batch.of(TOOL, plan.arguments, plan.items)
    plan.warnings = _warnings(shop, facts)
    plan.summary = _summary(change, plan)


async def _confirming(shop: Shop, plan: BulkPlan, change: ProductChange, token: str, selection: dict[str, Any]) -> None:
    try:
        plan.batch = Batch.from_payload(await shop.confirmations.payload(token, TOOL, plan.arguments))
    except ConfirmationError as exc:
        plan.error, plan.refused = str(exc), True
        return
    if plan.batch is None:
        plan.error, plan.refused = "This confirm_token is not one of a bulk change: call again without it.", True
        return
    category, search = selection["category"], selection["search"]
    listing = None if category is None and search is None else {"category": category, "search": search}
    found, reasons = await read_products(shop, [i.id for i in plan.batch.items], listing)
    now: dict[str, Values | str] = {pid: values_of(p) for pid, p in found.items()} | reasons
    pending = reconcile(plan, plan.batch, now)
    if plan.error is not None:
        return
    facts = [await _item(shop, found[pid], item.after) for pid, item in pending.items()]
    plan.items = [item for item, _ in facts]
    plan.warnings = _warnings(shop, facts)
    plan.summary = _summary(change, plan)
