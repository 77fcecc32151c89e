"""SQLite files written before the PostgreSQL backend open and keep working: the event inbox's arrival order (the
implicit rowid, now the ``seq`` column) survives its migration, and a confirmation token issued before its table was
renamed (``tokens`` → ``confirm_tokens``, apart from the OAuth grants' ``tokens`` on PostgreSQL) is still redeemed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hajatek_mcp.api import WebhookEvent
from hajatek_mcp.server import confirmations, events
from hajatek_mcp.server.confirmations import ConfirmationError, ConfirmationStore, fingerprint
from hajatek_mcp.server.events import EventInbox
from hajatek_mcp.storage import Database, Schema
from tests.support import FakeClock

ARGS = {"product_id": "prod_1"}


def previous(schema: Schema) -> Schema:
    """``schema`` as the release before the PostgreSQL backend wrote it (every migration but the last)."""
    return Schema(schema.what, schema.migrations[:-1])


async def test_an_inbox_of_the_previous_schema_keeps_its_arrival_order(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "events.db"
    old = EventInbox(Database(path, previous(events.SCHEMA)), store_id="str_a", clock=clock)
    for name in ("evt_c", "evt_a", "evt_b"):  # one instant: only the arrival order tells them apart
        created = datetime.fromtimestamp(clock.now, UTC)
        assert await old.add(WebhookEvent(id=name, type="order.created", created_at=created, data={}))
    old.close()

    inbox = EventInbox(path, store_id="str_a", clock=clock)
    try:
        assert [e["id"] for e in await inbox.recent()] == ["evt_b", "evt_a", "evt_c"]
        created = datetime.fromtimestamp(clock.now, UTC)
        assert await inbox.add(WebhookEvent(id="evt_0", type="order.created", created_at=created, data={}))
        assert not await inbox.add(WebhookEvent(id="evt_a", type="order.created", created_at=created, data={}))
        assert [e["id"] for e in await inbox.recent()] == ["evt_0", "evt_b", "evt_a", "evt_c"]
    finally:
        inbox.close()


async def test_a_token_issued_before_the_rename_is_redeemed_once(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "confirmations.db"
    token = "cfm_issued_by_the_previous_release"
    old = Database(path, previous(confirmations.SCHEMA))
    await old.execute(
        "INSERT INTO tokens (digest, store_id, tool, arguments, state, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        (hashlib.sha256(token.encode()).hexdigest(), "str_a", "delete_product", fingerprint(ARGS), "s", 1300.0),
    )
    old.close()

    store = ConfirmationStore(path, store_id="str_a", clock=clock)
    try:
        await store.redeem(token, "delete_product", ARGS, "s")
        with pytest.raises(ConfirmationError, match="already used"):
            await store.redeem(token, "delete_product", ARGS, "s")
    finally:
        store.close()
