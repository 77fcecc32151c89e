"""The confirmation card's side of a guarded change: a click on Approve or Decline, which the model cannot make.

When the client negotiated MCP Apps (and ``--confirm`` is ``auto``), a guarded change is not asked by elicitation nor
offered to the model as a token: the tool answers "awaiting the merchant's decision", and the single-use token, bound
to the call and the target's state as ever, travels only in the result's ``_meta`` (``hajatek/approval``), which the
host hands to the view and not to the model. The card (``confirm.html``) shows the preview's facts; Approve calls
:func:`approve_change`, which runs the previewed call with the token (audit path ``app``), Decline uses the token up.

What this relies on, and says in docs/security.md: that the host hides app-only tools (``visibility: ["app"]``) from
the model and keeps a result's ``_meta`` out of the model's context. Without the token a call of ``approve_change``
changes nothing, whoever makes it; and a client that did not negotiate the extension cannot call it at all.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations

from hajatek_mcp.server.confirmations import ConfirmationError
from hajatek_mcp.server.guards import APPROVING
from hajatek_mcp.server.shop import Shop, current_shop
from hajatek_mcp.server.writes import Guarded

__all__ = ["ANNOTATIONS", "approve_change"]

_TARGETS = ("product_id", "order_id")

ANNOTATIONS = ToolAnnotations(
    title="Approve or decline a change (the confirmation card)",
    read_only_hint=False,
    destructive_hint=True,
    idempotent_hint=False,
    open_world_hint=True,
)


async def approve_change(
    ctx: Context[Shop],
    shop: Annotated[Shop, Resolve(current_shop)],
    *,
    tool: Literal[
        "update_product", "delete_product", "update_order_status", "bulk_update_products", "bulk_update_order_status"
    ],
    arguments: dict[str, Any],
    confirm_token: str,
    decision: Literal["approve", "decline"],
) -> CallToolResult:
    """Apply or decline the change a confirmation card shows, when the merchant clicks (called by the card only)."""
    if not client_supports_apps(ctx):
        raise ToolError(
            "approve_change is the confirmation card's button, for hosts that show MCP Apps: nothing was changed. "
            "Confirm a change with the merchant as the tool's preview says."
        )
    if "confirm_token" in arguments:
        raise ToolError("arguments are the previewed call's own, without confirm_token: nothing was changed.")
    if decision == "approve":
        approving = APPROVING.set(True)
        try:
            done = await ctx.mcp_server.call_tool(tool, {**arguments, "confirm_token": confirm_token}, ctx)
        finally:
            APPROVING.reset(approving)
        if isinstance(done, InputRequiredResult):  # a passed token is never asked about: this cannot happen
            raise ToolError(f"{tool} asked for more input instead of running: nothing was changed.")
        return done
    target = next((str(arguments[key]) for key in _TARGETS if key in arguments), None)
    try:
        await shop.confirmations.decline(confirm_token, tool, arguments)
    except ConfirmationError as exc:
        await shop.audit.record(tool, arguments, "refused", "app", target=target, detail=str(exc))
        raise ToolError(f"{exc} Nothing was changed.") from None
    await shop.audit.record(tool, arguments, "declined", "app", target=target)
    step = "The merchant declined in the confirmation card: nothing was changed."
    return shop.result(Guarded[Any](outcome="declined", next_step=step))
