"""The store's state and business rules, on SQLite: store, products, customers, events.

Orders live in :mod:`hajatek_mcp.sandbox.orders`, stock and SKU rules in :mod:`hajatek_mcp.sandbox.stock` and
analytics in :mod:`hajatek_mcp.sandbox.analytics`, none of which imports this module; this class is the one object
callers hold (``app.state.sandbox.store``) and delegates to them. Methods take validated values (money in halalas),
raise :class:`~hajatek_mcp.sandbox.errors.SandboxError` for broken rules, and return JSON-ready dicts in the shapes
of docs/api.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, NamedTuple

from hajatek_mcp.storage.sqlite import Record

from . import analytics, orders, stock
from .db import Database, Event, Transaction
from .errors import NotFound
from .seed import SeedData, arabic_name, load
from .values import CURRENCY, amount, iso, parse_iso

__all__ = ["Page", "Store"]

_PRODUCT_COLUMNS = ("name", "name_ar", "description", "sku", "category", "price", "stock", "status")


class Page(NamedTuple):
    """One page of a listing: the items and the total number of matching items."""

    items: list[dict[str, Any]]
    total: int


def product_json(row: Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "name_ar": row["name_ar"],
        "description": row["description"],
        "sku": row["sku"],
        "category": row["category"],
        "price": amount(row["price"]),
        "currency": CURRENCY,
        "stock": row["stock"],
        "status": row["status"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class Store:
    """The sandbox store. ``now`` is sandbox time; ``low_stock_threshold`` drives ``inventory.low``."""

    def __init__(self, db: Database, *, now: Callable[[], datetime], low_stock_threshold: int) -> None:
        self.db = db
        self.now = now
        self.low_stock_threshold = low_stock_threshold

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.db.query_one("SELECT id FROM store") is None

    def load(self, data: SeedData) -> None:
        """Replace all state (events included) with ``data``."""
        self.db.wipe()
        load(self.db, data)

    def close(self) -> None:
        self.db.close()

    def write(self) -> AbstractContextManager[Transaction]:
        """A write transaction at the current sandbox time (see :meth:`Database.write`)."""
        return self.db.write(self.now())

    # -- store -----------------------------------------------------------------------------------------------------

    def store_info(self, store_id: str, plan: str) -> dict[str, Any]:
        """``GET /stores/{id}``; ``plan`` is the plan of the calling key. Other store ids are 404."""
        row = self.db.query_one("SELECT * FROM store WHERE id = ?", (store_id,))
        if row is None:
            raise NotFound(
                f"Store {store_id} not found; this key belongs to store {self.db.store_id}.", param="store_id"
            )
        fields = ("id", "name", "name_ar", "currency", "country", "timezone")
        info: dict[str, Any] = {key: row[key] for key in fields}
        info.update(plan=plan, email=row["email"], domain=row["domain"], created_at=row["created_at"])
        return info

    # -- products --------------------------------------------------------------------------------------------------

    def list_products(self, *, page: int, limit: int, category: str | None, search: str | None) -> Page:
        where, params = [], []
        if category is not None:
            where.append("category = ?")
            params.append(category)
        if search is not None:
            needle = search.casefold()
            where.append(
                "(instr(casefold(name), ?) > 0 OR instr(casefold(coalesce(name_ar, '')), ?) > 0"
                " OR instr(casefold(sku), ?) > 0)"
            )
            params += [needle, needle, needle]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self._page("products", clause=clause, params=params, page=page, limit=limit, render=product_json)

    def get_product(self, product_id: str) -> dict[str, Any]:
        row = self.db.query_one("SELECT * FROM products WHERE id = ?", (product_id,))
        if row is None:
            raise NotFound(f"Product {product_id} not found.", param="id")
        return product_json(row)

    def create_product(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /products`` with validated ``fields`` (``price`` in halalas). Fires ``product.created``."""
        with self.write() as tx:
            product_id, number = tx.new_id("product", "prod")
            sku = fields.get("sku") or stock.free_sku(tx, fields["category"], number)
            stock.check_sku(tx, sku, product_id)
            stamp = iso(tx.now)
            row = (
                product_id,
                fields["name"],
                fields.get("name_ar"),
                fields.get("description"),
                sku,
                fields["category"],
                fields["price"],
                fields.get("stock", 0),
                fields.get("status", "active"),
                stamp,
                stamp,
            )
            tx.sql.execute("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            created = tx.sql.record("SELECT * FROM products WHERE id = ?", (product_id,))
            assert created is not None  # noqa: S101 -- inserted just above
            product = product_json(created)
            tx.emit(
                "product.created",
                {
                    "product_id": product_id,
                    "store_id": tx.store_id,
                    "name": product["name"],
                    "price": product["price"],
                    "currency": CURRENCY,
                    "stock": product["stock"],
                    "category": product["category"],
                },
            )
        return product

    def update_product(self, product_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /products/{id}``: a partial update. Unchanged values leave ``updated_at`` alone (idempotent)."""
        with self.write() as tx:
            row = tx.sql.record("SELECT * FROM products WHERE id = ?", (product_id,))
            if row is None:
                raise NotFound(f"Product {product_id} not found.", param="id")
            unknown = set(fields) - set(_PRODUCT_COLUMNS)
            if unknown:
                raise ValueError(f"not product fields: {sorted(unknown)}")
            changes = {key: value for key, value in fields.items() if row[key] != value}
            if "sku" in changes:
                stock.check_sku(tx, changes["sku"], product_id)
            if changes:
                assignments = ", ".join(f"{key} = ?" for key in changes)
                tx.sql.execute(
                    f"UPDATE products SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608 -- whitelisted
                    [*changes.values(), iso(tx.now), product_id],
                )
            if "stock" in changes:
                stock.check_low_stock(tx, product_id, row["stock"], changes["stock"], self.low_stock_threshold)
            updated = tx.sql.record("SELECT * FROM products WHERE id = ?", (product_id,))
        assert updated is not None  # noqa: S101 -- found above, in the same transaction
        return product_json(updated)

    def delete_product(self, product_id: str) -> dict[str, Any]:
        """``DELETE /products/{id}``. Orders keep their line items (name and price were copied)."""
        with self.write() as tx:
            deleted = tx.sql.execute("DELETE FROM products WHERE id = ?", (product_id,))
        if not deleted:
            raise NotFound(f"Product {product_id} not found.", param="id")
        return {"id": product_id, "deleted": True}

    # -- orders, customers, analytics ------------------------------------------------------------------------------

    def list_orders(self, *, page: int, limit: int, status: str | None) -> Page:
        clause, params = ("WHERE status = ?", [status]) if status is not None else ("", [])
        rows = self._page("orders", clause=clause, params=params, page=page, limit=limit, render=orders.row_dict)
        return Page(orders.attach_items(self.db, rows.items), rows.total)

    def get_order(self, order_id: str) -> dict[str, Any]:
        return orders.get_order(self.db, order_id)

    def set_order_status(self, order_id: str, status: str, note: str | None = None) -> dict[str, Any]:
        """``PUT /orders/{id}/status``: moves along the lifecycle (``note`` kept in the history), or 409
        ``invalid_transition``."""
        with self.write() as tx:
            orders.set_status(tx, order_id, status, note)
        return orders.get_order(self.db, order_id)

    def place_order(
        self, customer_id: str, items: Sequence[tuple[str, int]], city: str | None = None
    ) -> dict[str, Any]:
        """A customer places an order (activity, admin API): takes stock, fires ``order.created``."""
        with self.write() as tx:
            order_id = orders.place(tx, customer_id, items, city, low_stock_threshold=self.low_stock_threshold)
        return orders.get_order(self.db, order_id)

    def list_customers(self, *, page: int, limit: int) -> Page:
        columns = (
            "c.*, (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id) AS orders_count,"
            " (SELECT coalesce(SUM(CASE WHEN status IN ('cancelled', 'refunded') THEN 0 ELSE total END), 0)"
            " FROM orders o WHERE o.customer_id = c.id) AS spent"
        )

        def customer(row: Record) -> dict[str, Any]:
            data: dict[str, Any] = {"id": row["id"], "name": row["name"], "name_ar": arabic_name(row["name"])}
            data.update({key: row[key] for key in ("email", "phone", "city", "orders_count")})
            data.update(total_spent=amount(row["spent"]), created_at=row["created_at"])
            return data

        return self._page("customers c", clause="", params=[], page=page, limit=limit, render=customer, columns=columns)

    def analytics_summary(self, period: str) -> dict[str, Any]:
        return analytics.summary(self.db, self.now(), period)

    # -- events ----------------------------------------------------------------------------------------------------

    def list_events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """Recorded webhook events, oldest first, each with its delivery state."""
        if type_ is None:
            rows = self.db.query("SELECT * FROM events ORDER BY seq")
        else:
            rows = self.db.query("SELECT * FROM events WHERE type = ? ORDER BY seq", (type_,))
        result = []
        for row in rows:
            event: dict[str, Any] = json.loads(row["body"])
            delivery = {"status": row["delivery"], "attempts": row["attempts"], "last_error": row["last_error"]}
            event["delivery"] = delivery
            result.append(event)
        return result

    def undelivered(self) -> list[tuple[Event, int, datetime]]:
        """Events whose delivery an earlier run left ``pending`` or ``retrying``, oldest first: each with its attempts
        so far and its creation time."""
        rows = self.db.query(
            "SELECT id, type, body, attempts, created_at FROM events WHERE delivery IN ('pending', 'retrying')"
            " ORDER BY seq"
        )
        return [
            (Event(row["id"], row["type"], row["body"].encode("utf-8")), row["attempts"], parse_iso(row["created_at"]))
            for row in rows
        ]

    def mark_delivery(self, event: Event, status: str, attempts: int, error: str | None) -> None:
        self.db.execute(
            "UPDATE events SET delivery = ?, attempts = ?, last_error = ? WHERE id = ?",
            (status, attempts, error, event.id),
        )

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _page(
        self,
        table: str,
        *,
        clause: str,
        params: list[Any],
        page: int,
        limit: int,
        render: Callable[[Record], dict[str, Any]],
        columns: str = "*",
    ) -> Page:
        count = self.db.query_one(f"SELECT COUNT(*) FROM {table} {clause}", params)  # noqa: S608 -- fixed SQL parts
        total = int(count[0]) if count is not None else 0
        offset = (page - 1) * limit
        if offset >= total:
            return Page([], total)
        prefix = table.rsplit(maxsplit=1)[-1] + "." if " " in table else ""
        rows = self.db.query(
            f"SELECT {columns} FROM {table} {clause} "  # noqa: S608 -- fixed SQL parts, values are bound
            f"ORDER BY {prefix}created_at DESC, {prefix}id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return Page([render(row) for row in rows], total)
