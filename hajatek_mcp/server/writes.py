"""Running a write: the yes (elicitation, token, or the host's), the per-target locks, and the audit entry.

:mod:`hajatek_mcp.server.guards` says which writes need a yes and reads the target (the plan); this module carries a
write out once the yes is in: :func:`guarded` for the guarded tools, :func:`unguarded_write` for every write. Each
attempt and outcome is audited, in the order the store applied them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Literal, TypeVar

from mcp.server.mcpserver import AcceptedElicitation, CancelledElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from hajatek_mcp.api import HajatekError
from hajatek_mcp.server.audit import ConfirmPath, Outcome
from hajatek_mcp.server.confirmations import ConfirmationError
from hajatek_mcp.server.guards import Confirm, Decision, WritePlan, may_write
from hajatek_mcp.server.shop import Shop
from hajatek_mcp.server.views import View

__all__ = ["APPROVAL_META", "Guarded", "guarded", "require_write_scope", "unguarded_write"]

T = TypeVar("T", bound=BaseModel)


class Guarded(View, Generic[T]):
    """The result of a guarded tool: done, waiting for confirmation, or declined."""

    outcome: Literal["done", "confirmation_required", "awaiting_approval", "declined", "cancelled"]
    result: T | None = None
    preview: str | None = Field(default=None, description="what the change would do")
    confirm_token: str | None = Field(default=None, description="pass in the same call once the merchant agrees")
    expires_in: int | None = Field(default=None, description="seconds the token stays valid")
    next_step: str | None = None


async def require_write_scope(shop: Shop, tool: str, arguments: Mapping[str, Any]) -> None:
    """Refuse (and audit) a write on a connection granted read-only access."""
    if not may_write():
        await shop.audit.record(tool, arguments, "refused", "not_guarded", detail="read-only OAuth grant")
        raise ToolError(
            f"{tool} changes the store, but this connection was granted read-only access (store.read). Nothing was "
            "changed. Ask the merchant to reconnect the app and choose 'Read and change' on the consent page."
        )


async def guarded(
    shop: Shop,
    tool: str,
    arguments: Mapping[str, Any],
    *,
    plan: WritePlan,
    answer: ElicitationResult[Any],
    confirm_token: str | None,
    execute: Callable[[], Awaitable[T]],
) -> CallToolResult:
    """Run a guarded write after the yes ``answer`` carries, or return a preview and token, or say it was declined."""
    audit, args = shop.audit, dict(arguments)
    await require_write_scope(shop, tool, args)
    if plan.error is not None:
        await audit.record(tool, args, "failed", "not_guarded", target=plan.target, detail=plan.error)
        raise ToolError(f"{plan.error} Nothing was changed.")
    if isinstance(answer, DeclinedElicitation | CancelledElicitation):
        declined = isinstance(answer, DeclinedElicitation)
        outcome: Literal["declined", "cancelled"] = "declined" if declined else "cancelled"
        await audit.record(tool, args, outcome, "elicitation", target=plan.target)
        text = f"The merchant {outcome} the request: nothing was changed. {plan.preview}"
        return shop.result(Guarded[Any](outcome=outcome, preview=plan.preview, next_step=text))
    assert isinstance(answer, AcceptedElicitation)  # noqa: S101  # the SDK's union has exactly three members
    if isinstance(answer.data, Confirm):
        if not answer.data.confirm:
            await audit.record(tool, args, "declined", "elicitation", target=plan.target, detail="answered no")
            return shop.result(
                Guarded[Any](
                    outcome="declined", preview=plan.preview, next_step="The merchant answered no: nothing was changed."
                )
            )
        path: ConfirmPath = "elicitation"
    else:
        path = Decision.model_validate(answer.data).path
    if path in ("token", "app"):
        if confirm_token is None:
            token = await shop.confirmations.issue(tool, args, plan.state)
            await audit.record(tool, args, "preview", path, target=plan.target)
            if path == "app":
                return _awaiting_approval(shop, tool, args, plan.preview, token)
            step = (
                f"Nothing was changed yet. Show the merchant the preview; if they agree, call {tool} again with the "
                f"same arguments and confirm_token. The token works once and expires in {shop.confirmations.ttl:.0f} s."
            )
            view = Guarded[Any](
                outcome="confirmation_required",
                preview=plan.preview,
                confirm_token=token,
                expires_in=int(shop.confirmations.ttl),
                next_step=step,
            )
            return shop.result(view)
        try:
            await shop.confirmations.redeem(confirm_token, tool, args, plan.state)
        except ConfirmationError as exc:
            await audit.record(
                tool, {**args, "confirm_token": confirm_token}, "refused", path, target=plan.target, detail=str(exc)
            )
            raise ToolError(f"{exc} Nothing was changed.") from None
    done = await unguarded_write(
        shop, tool, args, execute, path=path, target=plan.target, related=plan.related, before=plan.before
    )
    return shop.result(Guarded[Any](outcome="done", result=done))


#: The key of a guarded result's ``_meta`` that carries the pending change to the confirmation card, and only to it:
#: hosts hand a result's ``_meta`` to the view, not to the model, so the model never holds the token.
APPROVAL_META = "hajatek/approval"


def _awaiting_approval(shop: Shop, tool: str, args: dict[str, Any], preview: str, token: str) -> CallToolResult:
    """The change waits for the merchant's click in the confirmation card; the model learns that, and no token."""
    step = (
        "Nothing was changed yet. The merchant sees this change in a confirmation card with Approve and Decline; "
        "their click applies it or not. Do not call again: tell them it waits for their decision."
    )
    view = Guarded[Any](
        outcome="awaiting_approval", preview=preview, expires_in=int(shop.confirmations.ttl), next_step=step
    )
    result = shop.result(view)
    result.meta = {**(result.meta or {}), APPROVAL_META: {"tool": tool, "arguments": args, "confirm_token": token}}
    return result


async def unguarded_write(
    shop: Shop,
    tool: str,
    arguments: Mapping[str, Any],
    execute: Callable[[], Awaitable[T]],
    *,
    path: ConfirmPath = "not_guarded",
    target: str | None = None,
    related: tuple[str, ...] = (),
    before: Mapping[str, Any] | None = None,
) -> T:
    """Run a write and audit its outcome (an API failure is recorded, then raised as the tool's error).

    Writes to one target (and to the ``related`` ids the write also changes) run one at a time, each recorded before
    the next starts: for writes whose outcome is known, the log's order for a target is the order the store applied
    them in, so replaying the log's executed writes gives the store's state. A write whose answer was lost is
    recorded as ``unknown`` (or ``cancelled``): it may be applied later, and the agent is told to check.
    """
    await require_write_scope(shop, tool, arguments)
    sent = False
    try:
        async with shop.hold(target, *related):
            sent = True
            try:
                result = await execute()
            except HajatekError as exc:
                outcome: Outcome = "unknown" if exc.outcome_unknown else "failed"
                await shop.audit.record(tool, arguments, outcome, path, target=target, detail=str(exc), before=before)
                raise
            except BaseException:
                # Cancelled (or the client left) while the request was out: the store may have applied it. The
                # record is shielded, so it is written even inside a cancelled scope.
                detail = "cancelled in flight; it may have been applied: check the current state"
                await shop.audit.record(tool, arguments, "cancelled", path, target=target, detail=detail, before=before)
                raise
            await shop.audit.record(
                tool, arguments, "executed", path, target=target or getattr(result, "id", None), before=before
            )
            return result
    except BaseException:
        if not sent:  # cancelled while an earlier write to the same target ran
            detail = "cancelled while waiting for an earlier write to the same target; nothing was sent"
            await shop.audit.record(tool, arguments, "cancelled", path, target=target, detail=detail)
        raise
