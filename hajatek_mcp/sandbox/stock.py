"""Stock and SKU rules, over an open :class:`~hajatek_mcp.sandbox.db.Transaction`.

SKUs are unique per store (case-insensitively, as the schema's ``COLLATE NOCASE`` enforces too); a product created
without one gets ``CAT-0042`` from its category and number. Stock going from at least the low-stock threshold to
below it fires ``inventory.low``; an order takes stock when placed and gives it back when cancelled. Both
:mod:`~hajatek_mcp.sandbox.store` (products) and :mod:`~hajatek_mcp.sandbox.orders` use these, so neither needs
the other.
"""

from __future__ import annotations

from hajatek_mcp.storage.sqlite import Record

from .db import Transaction
from .errors import Conflict
from .values import iso

__all__ = ["check_low_stock", "check_sku", "free_sku", "restock_order", "take_stock"]


def check_sku(tx: Transaction, sku: str, product_id: str) -> None:
    """409 when another product than ``product_id`` already has ``sku``."""
    clash = tx.sql.one("SELECT id FROM products WHERE sku = ? AND id != ?", (sku, product_id))
    if clash is not None:
        raise Conflict(f"SKU {sku} is already used by product {clash[0]}; SKUs are unique per store.", param="sku")


def free_sku(tx: Transaction, category: str, number: int) -> str:
    """A SKU no product has yet, from the category and the product number: ``DAT-0042``, else ``DAT-0042-2``..."""
    base = f"{category[:3].upper()}-{number:04d}"
    sku, suffix = base, 1
    while tx.sql.one("SELECT 1 FROM products WHERE sku = ?", (sku,)) is not None:
        suffix += 1
        sku = f"{base}-{suffix}"
    return sku


def check_low_stock(tx: Transaction, product_id: str, before: int, after: int, threshold: int) -> None:
    """Fire ``inventory.low`` when stock falls from at least ``threshold`` to below it."""
    if before >= threshold > after:
        found = tx.sql.one("SELECT name FROM products WHERE id = ?", (product_id,))
        assert found is not None  # noqa: S101 -- its stock was just changed, in this transaction
        name = found[0]
        tx.emit(
            "inventory.low",
            {"product_id": product_id, "store_id": tx.store_id, "name": name, "stock": after, "threshold": threshold},
        )


def take_stock(tx: Transaction, product: Record, quantity: int, threshold: int) -> None:
    """Take ``quantity`` of ``product`` (a ``products`` row read in this transaction) for an order."""
    after = product["stock"] - quantity
    tx.sql.execute("UPDATE products SET stock = ?, updated_at = ? WHERE id = ?", (after, iso(tx.now), product["id"]))
    check_low_stock(tx, product["id"], product["stock"], after, threshold)


def restock_order(tx: Transaction, order_id: str) -> None:
    """Put the stock of every line of ``order_id`` back (a cancelled order). Products since deleted are skipped."""
    stamp = iso(tx.now)
    items = tx.sql.all("SELECT product_id, quantity FROM order_items WHERE order_id = ?", (order_id,))
    for product_id, quantity in items:
        tx.sql.execute(
            "UPDATE products SET stock = stock + ?, updated_at = ? WHERE id = ?", (quantity, stamp, product_id)
        )
