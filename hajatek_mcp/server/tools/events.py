"""Event tools: what Hajatek reported through its signed webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Resolve
from mcp.types import CallToolResult
from pydantic import Field

from hajatek_mcp.server.errors import upstream
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.tools.base import ToolSpec
from hajatek_mcp.server.views import View

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


@upstream
async def list_events(
    shop: Annotated[Shop, Resolve(current_shop)],
    type: EventType | None = None,
    since: Annotated[datetime | None, Field(description="received at or after; ISO 8601, UTC if no offset")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> Annotated[CallToolResult, EventList]:
    """Store events Hajatek sent (new orders, status changes, payments, new products, low stock), newest first."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    events = [EventView(**e) for e in await shop.inbox.recent(type=type, since=since, limit=limit)]
    view = EventList(events=events, receiving=shop.options.webhook_secret is not None)
    note = None if view.receiving else "No webhook secret is configured, so no events can arrive."
    return shop.result(view, note)


TOOLS = (
    ToolSpec(
        list_events,
        "events",
        "List store events",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,  # reads the server's own inbox, not the store
    ),
)
