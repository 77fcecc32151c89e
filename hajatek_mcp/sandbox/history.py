"""An order's ``status_history`` (docs/api.md, assumed): each status change, oldest first, with its note.

The ``order_history`` table records what the sandbox saw happen: placing an order writes its ``pending`` step, each
status change appends a step with the change's note. An order with no recorded step (a seeded order, one from a file
written before the table existed, or one written straight into the database) has the history :func:`derived` from
its status and times, with no note: the path through the lifecycle its status implies, the first step at
``created_at`` and the last at ``updated_at``. Its first status change records that derived history before its own
step, so what was shown stays the same and the new step follows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from hajatek_mcp.storage.sqlite import Record

from .db import Transaction
from .values import iso, parse_iso

__all__ = ["Step", "derived", "histories", "record_change", "record_placed"]

#: One step as the API shows it: ``{"status", "at", "note"}``.
Step = dict[str, Any]
#: How rows are read: ``Database.query`` outside a transaction, ``Transaction.sql.records`` inside one.
Query = Callable[[str, Sequence[Any]], list[Record]]

#: The way each status is reached from ``pending`` when nothing was recorded.
_PATHS: Mapping[str, tuple[str, ...]] = {
    "pending": ("pending",),
    "processing": ("pending", "processing"),
    "shipped": ("pending", "processing", "shipped"),
    "delivered": ("pending", "processing", "shipped", "delivered"),
    "refunded": ("pending", "processing", "shipped", "delivered", "refunded"),
}
#: The payment (``processing``) comes at most this long after the order was placed.
_PAID_WITHIN = timedelta(hours=1)
#: A cancellation this long or longer after the order was placed came after the payment.
_CANCELLED_AFTER_PAYMENT = timedelta(hours=6)


def _path(status: str, span: timedelta) -> tuple[str, ...]:
    if status == "cancelled":
        paid_first = span >= _CANCELLED_AFTER_PAYMENT
        return ("pending", "processing", "cancelled") if paid_first else ("pending", "cancelled")
    return _PATHS.get(status, ("pending", status))


def derived(status: str, created_at: str, updated_at: str) -> list[Step]:
    """The history an order in ``status`` placed at ``created_at`` and last changed at ``updated_at`` went through.

    Deterministic, from these three values alone: the first step at ``created_at``, the last at ``updated_at``; the
    payment (``processing``) within an hour of placing, and the steps after it evenly spread up to the last.
    """
    created, updated = parse_iso(created_at), parse_iso(updated_at)
    span = max(updated - created, timedelta(0))
    path = _path(status, span)
    times, start, later = [created], created, path[1:]
    if len(later) > 1 and later[0] == "processing":
        start = created + min(_PAID_WITHIN, span / len(later))
        times.append(start)
        later = later[1:]
    end = created + span
    times += [start + (end - start) * n / len(later) for n in range(1, len(later) + 1)]
    return [{"status": s, "at": iso(at), "note": None} for s, at in zip(path, times, strict=True)]


def histories(query: Query, orders: Sequence[Mapping[str, Any]]) -> dict[str, list[Step]]:
    """The history of each order row of ``orders`` (``id``, ``status``, ``created_at``, ``updated_at``), one query."""
    if not orders:
        return {}
    marks = ", ".join("?" * len(orders))
    rows = query(
        f"SELECT order_id, status, at, note FROM order_history WHERE order_id IN ({marks})"  # noqa: S608 -- marks
        " ORDER BY order_id, position",
        [order["id"] for order in orders],
    )
    recorded: dict[str, list[Step]] = {}
    for row in rows:
        recorded.setdefault(row["order_id"], []).append({"status": row["status"], "at": row["at"], "note": row["note"]})
    return {
        order["id"]: recorded.get(order["id"]) or derived(order["status"], order["created_at"], order["updated_at"])
        for order in orders
    }


def record_placed(tx: Transaction, order_id: str) -> None:
    """The first step of an order placed now."""
    tx.sql.execute("INSERT INTO order_history VALUES (?, 0, 'pending', ?, NULL)", (order_id, iso(tx.now)))


def record_change(tx: Transaction, order: Mapping[str, Any], status: str, note: str | None) -> None:
    """Append the move of ``order`` (its row before the change) to ``status`` now, with ``note``."""
    found = tx.sql.one("SELECT COUNT(*) FROM order_history WHERE order_id = ?", (order["id"],))
    position = int(found[0]) if found is not None else 0
    if position == 0:  # nothing recorded yet: keep the history it was shown with
        steps = derived(order["status"], order["created_at"], order["updated_at"])
        tx.sql.executemany(
            "INSERT INTO order_history VALUES (?, ?, ?, ?, ?)",
            [(order["id"], n, step["status"], step["at"], step["note"]) for n, step in enumerate(steps)],
        )
        position = len(steps)
    tx.sql.execute(
        "INSERT INTO order_history VALUES (?, ?, ?, ?, ?)", (order["id"], position, status, iso(tx.now), note)
    )
