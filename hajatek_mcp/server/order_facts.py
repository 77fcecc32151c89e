"""What the server knows about an order beyond the API's answer, for ``get_order`` and a cancel's result.

- the customer's name and city: the order's own ``customer_name`` (assumed), else the customer directory;
- each line's Arabic name: the line's own ``name_ar``, else the product's, found from the locator's hints (one or
  two requests per product, at most :data:`NAME_LOOKUPS` products); a product that is gone, or not where its hints
  say, has none, none is guessed, and the note says how many;
- the status history from three records, each step marked with its source: the API's ``status_history`` (assumed),
  this server's audit log (changes made through it: the tool, how it was confirmed, the note) and the webhook inbox
  (``order.created``, ``order.updated``);
- the payment: ``paid`` from a ``payment.completed`` event in the inbox (the API has no payment field), else
  ``unknown`` and why;
- a cancel: the stock of each line's product read before and after, so the result says what went back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from hajatek_mcp.api import HajatekClient, HajatekError, LookupLimitError, NotFoundError, Order
from hajatek_mcp.server.shop import Shop
from hajatek_mcp.server.views import OrderDetail, Payment, Restocked, StatusStep

__all__ = ["AUDIT_SCAN", "CUSTOMER_PAGES", "EVENT_SCAN", "NAME_LOOKUPS", "enrich", "restocked", "stock_of"]

#: The most products whose Arabic names one order's lines look up (at most two requests each: the page the product
#: was last listed on, a search by its name).
NAME_LOOKUPS = 20
#: Customer listing pages read for a customer the directory does not know (the newest 200 customers).
CUSTOMER_PAGES = 2
#: Requests at once for those look-ups.
LOOKUPS_AT_ONCE = 4
#: The newest inbox events an order's history and payment are looked for in (received since the order was placed).
EVENT_SCAN = 1000
#: The newest audit entries whose times date an order's audited changes.
AUDIT_SCAN = 2000
#: Audited writes shown per order.
AUDIT_STEPS = 20
#: How an audited write was allowed, as the history says it.
_CONFIRMED = {"elicitation": ", the merchant said yes", "token": ", confirmed by token", "host": ", host-approved"}
#: Statuses that, by the lifecycle in docs/api.md (assumed), come after the payment completed.
_PAID_BY_LIFECYCLE = frozenset({"processing", "shipped", "delivered", "refunded"})


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


async def enrich(shop: Shop, order: Order, view: OrderDetail) -> str | None:
    """Fill ``view`` with what the server knows beyond the API's answer; a note when a look-up failed."""
    problems: list[str] = []
    await _customer(shop, order, view, problems)
    await _arabic_names(shop.client, view, problems)
    events = await _order_events(shop, order)
    view.history = (
        sorted(
            [*_api_steps(order), *await _audit_steps(shop, order.id), *_event_steps(events)],
            key=lambda step: (step.at is None, step.at or ""),
        )
        or None
    )
    view.notes = _order_notes(order) or None
    view.payment = await _payment(shop, order, events)
    return f"Not shown: {'; '.join(problems)}." if problems else None


async def _customer(shop: Shop, order: Order, view: OrderDetail, problems: list[str]) -> None:
    city = (order.shipping_address or {}).get("city")
    view.customer_city = city if isinstance(city, str) else None
    if not order.customer_id:
        return
    entry = await shop.directory.get(order.customer_id)
    if entry is None and not order.customer_name:
        coverage = None
        try:  # a new customer: the newest 200 cost two requests
            coverage = await shop.directory.refresh(shop.client, max_pages=CUSTOMER_PAGES)
        except HajatekError as exc:
            problems.append(f"the customer's name (the customer listing did not answer: {type(exc).__name__})")
        entry = await shop.directory.get(order.customer_id)
        if entry is None and coverage is not None and not coverage.complete:
            problems.append("the customer's name (not among the customers read so far: get_customer reads on)")
    if entry is not None:
        view.customer_name = view.customer_name or entry.name or entry.name_ar
        view.customer_city = entry.city or view.customer_city


async def _arabic_names(client: HajatekClient, view: OrderDetail, problems: list[str]) -> None:
    wanted = list(dict.fromkeys(i.product_id for i in view.items if not i.name_ar))
    looked, failed = wanted[:NAME_LOOKUPS], len(problems)
    found = await _find_products(client, looked, problems)
    for item in view.items:
        hit = found.get(item.product_id)
        if item.name_ar is None and hit is not None:
            item.name_ar = hit[0]
    unfound = sum(found.get(pid) is None for pid in looked)
    if unfound and len(problems) == failed:  # else the catalog failed, and the note says so already
        problems.append(
            f"the Arabic name of {_products(unfound)} (gone, or not found by the name on its line: get_product looks "
            "further)"
        )
    if len(wanted) > len(looked):
        more = _products(len(wanted) - len(looked))
        problems.append(f"the Arabic name of {more} more (one order looks up {NAME_LOOKUPS})")


def _products(count: int) -> str:
    return f"{count} product{'s' * (count != 1)}"


async def _find_products(
    client: HajatekClient, product_ids: Iterable[str], problems: list[str] | None = None
) -> dict[str, tuple[str | None, int | None] | None]:
    """``{product_id: (name_ar, stock)}`` by the locator's hints (no walk); None for a product not found."""
    found: dict[str, tuple[str | None, int | None] | None] = {}
    limiter = anyio.CapacityLimiter(LOOKUPS_AT_ONCE)

    async def look(product_id: str) -> None:
        async with limiter:
            try:
                product = await client.find_product(product_id, max_pages=0)
            except (NotFoundError, LookupLimitError):  # gone, or not where its hints said: nothing is guessed
                found[product_id] = None
                return
            except HajatekError as exc:  # the API failed: the order is still shown, and the note says what is missing
                found[product_id] = None
                problem = f"some Arabic names (the catalog did not answer: {type(exc).__name__})"
                if problems is not None and problem not in problems:
                    problems.append(problem)
                return
            found[product_id] = (product.name_ar, product.stock)

    async with anyio.create_task_group() as group:
        for product_id in product_ids:
            group.start_soon(look, product_id)
    return found


async def stock_of(client: HajatekClient, product_ids: Iterable[str]) -> dict[str, int | None]:
    """Each product's stock now (None: not found by its hints, or gone)."""
    found = await _find_products(client, product_ids)
    return {pid: (None if hit is None else hit[1]) for pid, hit in found.items()}


def restocked(order: Order, before: dict[str, int | None], after: dict[str, int | None]) -> list[Restocked]:
    """Each line of a cancelled ``order`` and what its product's stock did across the cancel."""
    quantities: dict[str, int] = {}
    for item in order.items:
        quantities[item.product_id] = quantities.get(item.product_id, 0) + item.quantity
    lines = []
    for product_id, quantity in quantities.items():
        was, now = before.get(product_id), after.get(product_id)
        if was is not None and now is not None and now - was == quantity:
            seen = "returned"
        elif was is not None and now == was:
            seen = "assumed"
        else:
            seen = "unknown"
        lines.append(Restocked(product_id=product_id, quantity=quantity, stock=now, seen=seen))
    return lines


def _api_steps(order: Order) -> list[StatusStep]:
    return [
        StatusStep(source="api", status=step.status, at=_iso(step.at), note=step.note)
        for step in order.status_history or ()
    ]


async def _audit_steps(shop: Shop, order_id: str) -> list[StatusStep]:
    """Status changes made through this server: executed writes of a status to this order, newest first in the log.

    ``history`` gives every entry of the target; the store-wide ``recent`` gives their times, in the same order, for
    as many as its scan reaches (older ones are shown without a time).
    """
    entries = await shop.audit.history(order_id, since=0, limit=AUDIT_STEPS)
    if not entries:
        return []
    times = [e["at"] for e in await shop.audit.recent(AUDIT_SCAN) if e["target"] == order_id]
    steps = []
    for n, entry in enumerate(entries):
        arguments = entry["arguments"]
        status = arguments.get("status") if isinstance(arguments, dict) else None
        if entry["outcome"] != "executed" or not isinstance(status, str):
            continue
        note = arguments.get("note")
        steps.append(
            StatusStep(
                source="audit",
                status=status,
                at=times[n] if n < len(times) else None,
                note=note if isinstance(note, str) else None,
                by=f"{entry['tool']}{_CONFIRMED.get(entry['path'], '')}",
            )
        )
    return steps


async def _order_events(shop: Shop, order: Order) -> list[dict[str, Any]]:
    """The inbox's events about ``order``, received since shortly before it was placed, newest first."""
    since = order.created_at - timedelta(hours=1) if order.created_at else None
    events = await shop.inbox.recent(since=since, limit=EVENT_SCAN)
    return [e for e in events if isinstance(e.get("data"), dict) and e["data"].get("order_id") == order.id]


def _event_steps(events: list[dict[str, Any]]) -> list[StatusStep]:
    steps = []
    for event in events:
        status = event["data"].get("status")
        if event["type"] in ("order.created", "order.updated") and isinstance(status, str):
            steps.append(StatusStep(source="event", status=status, at=event["created_at"], by=event["type"]))
    return steps


def _order_notes(order: Order) -> list[str]:
    """Notes the API keeps on the order itself (read tolerantly: the contract names none), and each step's note."""
    notes: list[str] = []
    for key in ("note", "notes", "customer_note"):
        value = (order.model_extra or {}).get(key)
        values = value if isinstance(value, list) else [value]
        notes += [v for v in values if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(notes))


async def _payment(shop: Shop, order: Order, events: list[dict[str, Any]]) -> Payment:
    paid = [e for e in events if e["type"] == "payment.completed"]
    if paid:
        event = paid[-1]  # the first received (newest first)
        return Payment(state="paid", source="event", at=event["created_at"], event_id=event["id"])
    since = await shop.inbox.receiving_since() if shop.receives_events else None
    if since is None:
        why = (
            "this server receives no webhooks (no HAJATEK_WEBHOOK_SECRET), and the API has no payment field"
            if not shop.hosted
            else "this store was connected without its webhook signing secret, and the API has no payment field"
        )
    elif (_iso(order.created_at) or since) < since:
        why = f"no payment.completed event for it; the inbox has been receiving since {since}, after it was placed"
    else:
        why = f"no payment.completed event for it since the inbox began receiving ({since})"
    if order.status in _PAID_BY_LIFECYCLE:
        why += f"; its status {order.status} comes after payment in the lifecycle (docs/api.md, assumed)"
    return Payment(state="unknown", why=why)
