"""Event tools: what Hajatek reported through its signed webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Resolve
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.views import View

__all__ = ["list_events"]

EventType = Literal["order.created", "order.updated", "payment.completed", "product.created", "inventory.low"]


class EventView(View):
    id: str
    type: str
    created_at: str
    received_at: str
    data: dict[str, Any]


class EventList(View):
    events: list[EventView]
    receiving: bool = Field(description="false when no webhook secret is configured: nothing can arrive")
    receiving_since: str | None = Field(default=None, description="every event sent since then is here (UTC)")


@upstream
async def list_events(
    shop: Annotated[Shop, Resolve(current_shop)],
    type: EventType | None = None,
    since: Annotated[datetime | None, Field(description="received at or after; ISO 8601, UTC if no offset")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> Annotated[CallToolResult, EventList]:
    """Events Hajatek sent: orders, payments, new products, low stock."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    events = [EventView(**e) for e in await shop.inbox.recent(type=type, since=since, limit=limit)]
    receiving_since = await shop.inbox.receiving_since() if shop.receives_events else None
    view = EventList(events=events, receiving=receiving_since is not None, receiving_since=receiving_since)
    return shop.result(view, _note(view, type, since, shop))


def _note(view: EventList, type: str | None, since: datetime | None, shop: Shop) -> str | None:
    """What the list means when it is empty or reaches back before the inbox was receiving."""
    if view.receiving_since is None:
        if shop.hosted:
            return (
                "This store was connected without its webhook signing secret, so no events can arrive: connect it "
                "again with the secret."
            )
        return "No webhook secret is configured, so no events can arrive."
    start = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None
    covered = start is not None and start >= view.receiving_since
    what = f"{type} events" if type else "events"
    if view.events:  # receiving_since is in the result; worth a sentence only when asked about earlier times
        return None if covered or start is None else f"Complete since {view.receiving_since}; earlier may be missing."
    if covered:
        return f"No {what} received since {start}: the inbox has been receiving since {view.receiving_since}."
    return f"No {what} received since {view.receiving_since} (all the inbox covers); earlier ones are unknown."
