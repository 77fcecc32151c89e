"""Order rules: the lifecycle table, placing an order (stock out), status changes (stock back on cancel), events.

Functions over an open :class:`~hajatek_mcp.sandbox.db.Transaction`, or the :class:`~hajatek_mcp.sandbox.db.Database`
for reads; :class:`~hajatek_mcp.sandbox.store.Store` wraps them in transactions. The lifecycle is the one table of
:mod:`hajatek_mcp.api.models`, shared with the client; stock moves through :mod:`~hajatek_mcp.sandbox.stock`.
Totals follow docs/api.md: ``subtotal = Σ quantity × price``, ``vat`` = 15 % of ``subtotal + shipping`` rounded
half-up, ``total = subtotal + shipping + vat``. An order also shows (docs/api.md, assumed) its customer's name
(``customer_name``: the sandbox cannot rename a customer, so their name now is their name at order time) and its
``status_history`` (:mod:`~hajatek_mcp.sandbox.history`), the note of each change in its step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hajatek_mcp.api.models import ORDER_TRANSITIONS
from hajatek_mcp.storage.sqlite import Record

from . import history, stock
from .db import Database, Transaction
from .errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from .history import Query
from .values import CURRENCY, amount, iso, shipping_for, vat_for

__all__ = ["attach_items", "get_order", "place", "row_dict", "set_status"]

MAX_LINES = 20
MAX_QUANTITY = 100


def row_dict(row: Record) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118 -- a Record iterates its values, not its keys


def _order_json(
    store_id: str,
    row: Mapping[str, Any],
    items: list[dict[str, Any]],
    customer_name: str | None,
    steps: list[history.Step],
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "store_id": store_id,
        "customer_id": row["customer_id"],
        "customer_name": customer_name,
        "status": row["status"],
        "currency": CURRENCY,
        "items": items,
        "subtotal": amount(row["subtotal"]),
        "shipping": amount(row["shipping"]),
        "vat": amount(row["vat"]),
        "total": amount(row["total"]),
        "shipping_address": {"city": row["city"], "country": "SA"},
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "status_history": steps,
    }


def _items_by_order(query: Query, order_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    marks = ", ".join("?" * len(order_ids))
    sql = f"SELECT * FROM order_items WHERE order_id IN ({marks}) ORDER BY order_id, position"  # noqa: S608
    rows = query(sql, order_ids)
    grouped: dict[str, list[dict[str, Any]]] = {order_id: [] for order_id in order_ids}
    for item in rows:
        grouped[item["order_id"]].append(
            {
                "product_id": item["product_id"],
                "name": item["name"],
                "quantity": item["quantity"],
                "price": amount(item["price"]),
            }
        )
    return grouped


def _customer_names(query: Query, customer_ids: Sequence[str]) -> dict[str, str]:
    unique = list(dict.fromkeys(customer_ids))
    marks = ", ".join("?" * len(unique))
    rows = query(f"SELECT id, name FROM customers WHERE id IN ({marks})", unique)  # noqa: S608 -- marks only
    return {row["id"]: row["name"] for row in rows}


def attach_items(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order rows of one page → order objects with their line items, customer names and histories (three queries
    for the page)."""
    if not rows:
        return []
    items = _items_by_order(db.query, [row["id"] for row in rows])
    names = _customer_names(db.query, [row["customer_id"] for row in rows])
    steps = history.histories(db.query, rows)
    return [
        _order_json(db.store_id, row, items[row["id"]], names.get(row["customer_id"]), steps[row["id"]]) for row in rows
    ]


def get_order(db: Database, order_id: str) -> dict[str, Any]:
    row = db.query_one("SELECT * FROM orders WHERE id = ?", (order_id,))
    if row is None:
        raise NotFound(f"Order {order_id} not found.", param="id")
    return attach_items(db, [row_dict(row)])[0]


def _emit_order_event(tx: Transaction, type_: str, order_id: str) -> None:
    row = tx.sql.record("SELECT * FROM orders WHERE id = ?", (order_id,))
    assert row is not None  # noqa: S101 -- written in this transaction
    items = _items_by_order(tx.sql.records, [order_id])[order_id]
    data = {
        "order_id": order_id,
        "store_id": tx.store_id,
        "total": amount(row["total"]),
        "currency": CURRENCY,
        "status": row["status"],
        "items": items,
    }
    tx.emit(type_, data)


def place(
    tx: Transaction, customer_id: str, lines: Sequence[tuple[str, int]], city: str | None, *, low_stock_threshold: int
) -> str:
    """Insert an order for ``lines`` of ``(product_id, quantity)``; returns its id. Fires ``order.created``, then
    ``inventory.low`` for each product it takes below ``low_stock_threshold``."""
    customer = tx.sql.record("SELECT * FROM customers WHERE id = ?", (customer_id,))
    if customer is None:
        raise NotFound(f"Customer {customer_id} not found.", param="customer_id")
    if not 1 <= len(lines) <= MAX_LINES:
        raise ValidationFailed("items", f"An order has 1 to {MAX_LINES} line items.")
    if len({product_id for product_id, _ in lines}) != len(lines):
        raise ValidationFailed("items", "Each product may appear once per order; add up the quantities instead.")
    priced = []
    for product_id, quantity in lines:
        product = tx.sql.record("SELECT * FROM products WHERE id = ?", (product_id,))
        if product is None:
            raise NotFound(f"Product {product_id} not found.", param="items")
        if product["status"] != "active":
            raise Conflict(f"Product {product_id} is {product['status']}; only active products can be ordered.")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise ValidationFailed("items", f"Quantities are integers from 1 to {MAX_QUANTITY}.")
        if product["stock"] < quantity:
            raise Conflict(f"Product {product_id} has {product['stock']} in stock, {quantity} ordered.", param="items")
        priced.append((product, quantity))
    order_id, _ = tx.new_id("order", "ord")
    subtotal = sum(product["price"] * quantity for product, quantity in priced)
    shipping = shipping_for(subtotal)
    vat = vat_for(subtotal + shipping)
    stamp = iso(tx.now)
    tx.sql.execute(
        "INSERT INTO orders VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
        (
            order_id,
            customer_id,
            subtotal,
            shipping,
            vat,
            subtotal + shipping + vat,
            city or customer["city"],
            stamp,
            stamp,
        ),
    )
    tx.sql.executemany(
        "INSERT INTO order_items VALUES (?, ?, ?, ?, ?, ?)",
        [(order_id, n, p["id"], p["name"], q, p["price"]) for n, (p, q) in enumerate(priced)],
    )
    history.record_placed(tx, order_id)
    _emit_order_event(tx, "order.created", order_id)
    for product, quantity in priced:
        stock.take_stock(tx, product, quantity, low_stock_threshold)
    return order_id


def set_status(tx: Transaction, order_id: str, status: str, note: str | None = None) -> None:
    """Move an order to ``status``, keeping ``note`` in the history's new step. The same status is a no-op (its note
    is not kept); cancelling restocks. Fires the events."""
    row = tx.sql.record("SELECT id, status, created_at, updated_at FROM orders WHERE id = ?", (order_id,))
    if row is None:
        raise NotFound(f"Order {order_id} not found.", param="id")
    current: str = row["status"]
    if current == status:
        return
    allowed = ORDER_TRANSITIONS[current]
    if status not in allowed:
        if not allowed:
            raise InvalidTransition(f"Order {order_id} is {current}, a final status; it cannot change to {status}.")
        options = " or ".join(sorted(allowed))
        raise InvalidTransition(f"Order {order_id} is {current}; it can move to {options}, not {status}.")
    if status == "cancelled":
        stock.restock_order(tx, order_id)
    history.record_change(tx, row_dict(row), status, note)
    tx.sql.execute("UPDATE orders SET status = ?, updated_at = ? WHERE id = ?", (status, iso(tx.now), order_id))
    _emit_order_event(tx, "order.updated", order_id)
    if current == "pending" and status == "processing":
        _emit_order_event(tx, "payment.completed", order_id)
