"""Live activity: a background simulation that makes the demo store feel alive.

At ``rate`` ticks per minute, each tick places one new order (a random customer buying 1-3 active products in stock)
and moves one open order a step along its lifecycle (mostly forward, sometimes cancelled or refunded). Both go
through the store's rules, so stock moves and webhooks fire exactly as for API calls. :meth:`step` is one tick,
synchronous and deterministic for a given seed and state; :meth:`run` loops it with the injectable ``sleep``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

from .errors import SandboxError
from .store import Store

__all__ = ["ActivitySimulator"]

logger = logging.getLogger(__name__)
# Next status of an open order, with odds.
_NEXT: dict[str, tuple[tuple[str, int], ...]] = {
    "pending": (("processing", 85), ("cancelled", 15)),
    "processing": (("shipped", 92), ("cancelled", 8)),
    "shipped": (("delivered", 95), ("refunded", 5)),
}


class ActivitySimulator:
    """Simulated customers and staff acting on ``store`` at ``rate`` ticks (new orders) per minute."""

    def __init__(self, store: Store, *, seed: int, rate: float, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.store = store
        self.rate = rate
        self._sleep = sleep
        self._rng = random.Random(f"activity-{seed}")  # noqa: S311 -- simulation, not security

    def step(self) -> list[str]:
        """One tick: place an order, advance an open one. Returns what happened, for logs and tests."""
        done = []
        placed = self._place_order()
        if placed:
            done.append(placed)
        moved = self._advance_order()
        if moved:
            done.append(moved)
        for line in done:
            logger.info("activity: %s", line)
        return done

    async def run(self, max_steps: int | None = None) -> int:
        """Tick every ``60 / rate`` seconds, forever or ``max_steps`` times; returns the number of ticks."""
        if self.rate <= 0:
            return 0
        interval = 60.0 / self.rate
        steps = 0
        while max_steps is None or steps < max_steps:
            await self._sleep(interval)
            self.step()
            steps += 1
        return steps

    def _place_order(self) -> str | None:
        db = self.store.db
        customers = db.query("SELECT id FROM customers ORDER BY id")
        products = db.query("SELECT id, stock FROM products WHERE status = 'active' AND stock > 0 ORDER BY id")
        if not customers or not products:
            return None
        customer = self._rng.choice(customers)["id"]
        picked = self._rng.sample(products, min(len(products), self._rng.choice((1, 1, 1, 2, 2, 3))))
        lines = [(row["id"], min(row["stock"], self._rng.choice((1, 1, 1, 2)))) for row in picked]
        try:
            order = self.store.place_order(customer, lines)
        except SandboxError as exc:
            logger.debug("activity: could not place an order: %s", exc.message)
            return None
        return f"{customer} placed {order['id']} ({order['total']} SAR)"

    def _advance_order(self) -> str | None:
        open_orders = self.store.db.query(
            "SELECT id, status FROM orders WHERE status IN ('pending', 'processing', 'shipped')"
            " ORDER BY created_at DESC, id DESC LIMIT 50"
        )
        if not open_orders:
            return None
        row = self._rng.choice(open_orders)
        odds = _NEXT[row["status"]]
        target = self._rng.choices([s for s, _ in odds], [w for _, w in odds])[0]
        try:
            self.store.set_order_status(row["id"], target)
        except SandboxError as exc:
            logger.debug("activity: could not move %s: %s", row["id"], exc.message)
            return None
        return f"{row['id']} {row['status']} -> {target}"
