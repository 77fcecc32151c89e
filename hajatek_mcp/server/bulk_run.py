"""Running a bulk tool: the preview and its token, the merchant's answer, and applying the batch item by item.

The batch itself, what it binds and how the yes is decided: :mod:`hajatek_mcp.server.bulk`.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    ElicitationResult,
)
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel

from hajatek_mcp.api import AuthenticationError, HajatekError, PermissionDeniedError, RateLimitError
from hajatek_mcp.server.audit import ConfirmPath
from hajatek_mcp.server.bulk import Batch, BulkPlan, BulkResult, Item, ItemChange, ItemNote, Outcome, Reason
from hajatek_mcp.server.confirmations import ConfirmationError
from hajatek_mcp.server.guards import APPROVING, Confirm, Decision, can_ask_form
from hajatek_mcp.server.safety import clean
from hajatek_mcp.server.shop import Shop
from hajatek_mcp.server.writes import APPROVAL_META, require_write_scope, unguarded_write

__all__ = ["run_bulk"]

#: Why the items after a rate-limited one were not sent.
_PAUSED = "not sent: Hajatek asked for a pause (rate limit) before it; the retry sends it"
#: Why the items after a refused key were not sent: the same key would be refused again.
_REFUSED = "not sent: Hajatek refused the API key for an earlier item; fix the key, then preview again"
#: A request id in a reason (each failure has its own): left out, so items failing alike are listed together.
_REQUEST_ID = re.compile(r"\s*\[request [^\]]*\]")


async def run_bulk(
    shop: Shop,
    ctx: Context[Shop],
    plan: BulkPlan,
    answer: ElicitationResult[Any],
    *,
    confirm_token: str | None,
    send: Callable[[Item], Awaitable[BaseModel]],
) -> CallToolResult:
    """Preview the batch, or (with the token) take the yes the answer carries and apply it with ``send`` per item."""
    await require_write_scope(shop, plan.tool, plan.arguments)
    if plan.error is not None:
        path: ConfirmPath = ("app" if APPROVING.get() else "token") if confirm_token else "not_guarded"
        outcome: Literal["refused", "failed"] = "refused" if plan.refused else "failed"
        await shop.audit.record(plan.tool, _with(plan, confirm_token), outcome, path, detail=plan.error)
        raise ToolError(f"{plan.error} Nothing was changed.")
    if confirm_token is None:
        return await _preview(shop, ctx, plan)
    batch = plan.batch
    assert batch is not None  # noqa: S101  # a plan with a token and no error has its batch
    assert isinstance(answer, AcceptedElicitation | DeclinedElicitation | CancelledElicitation)  # noqa: S101
    said_no = isinstance(answer, AcceptedElicitation) and isinstance(answer.data, Confirm) and not answer.data.confirm
    if said_no or not isinstance(answer, AcceptedElicitation):
        return await _declined(shop, plan, batch, confirm_token, cancelled=isinstance(answer, CancelledElicitation))
    path = "elicitation" if isinstance(answer.data, Confirm) else Decision.model_validate(answer.data).path
    try:
        await shop.confirmations.redeem(confirm_token, plan.tool, plan.arguments, batch.digest)
    except ConfirmationError as exc:
        await shop.audit.record(plan.tool, _with(plan, confirm_token), "refused", path, detail=str(exc))
        raise ToolError(f"{exc} Nothing was changed.") from None
    return await _apply(shop, ctx, plan, batch, path=path, send=send)


def _with(plan: BulkPlan, confirm_token: str | None) -> dict[str, Any]:
    extra = {"batch": plan.batch.id} if plan.batch else {}
    return {**plan.arguments, **extra, **({"confirm_token": confirm_token} if confirm_token else {})}


def _result(shop: Shop, plan: BulkPlan, outcome: Outcome, **fields: Any) -> CallToolResult:
    batch = plan.batch.id if plan.batch else None
    view = BulkResult(outcome=outcome, batch=batch, preview=plan.summary, warnings=plan.warnings or None, **fields)
    return shop.result(view)


async def _preview(shop: Shop, ctx: Context[Shop], plan: BulkPlan) -> CallToolResult:
    skipped = Reason.grouped(plan.skipped)
    if plan.batch is None or not plan.items:
        step = "Nothing to change: every selected item is skipped (see the reasons). Nothing was changed."
        return _result(shop, plan, "no_changes", skipped=skipped, next_step=step)
    batch = plan.batch
    token = await shop.confirmations.issue(plan.tool, plan.arguments, batch.digest, payload=batch.payload())
    changes = [ItemChange.of(i, named=plan.named) for i in plan.items]
    if shop.options.confirm == "auto" and client_supports_apps(
        ctx
    ):  # the confirmation card asks: no token for the model
        await shop.audit.record(plan.tool, _with(plan, None), "preview", "app")
        step = (
            "Nothing was changed yet. The merchant sees this batch in a confirmation card with Approve and Decline; "
            "their click applies it or not. Do not call again: tell them it waits for their decision."
        )
        fields = {"changes": changes, "skipped": skipped, "expires_in": int(shop.confirmations.ttl), "next_step": step}
        result = _result(shop, plan, "awaiting_approval", **fields)
        approval = {"tool": plan.tool, "arguments": plan.arguments, "confirm_token": token}
        result.meta = {**(result.meta or {}), APPROVAL_META: approval}
        return result
    await shop.audit.record(plan.tool, _with(plan, None), "preview", "token")
    asked = shop.options.confirm == "auto" and can_ask_form(ctx)
    step = (
        "Nothing was changed yet. Show the merchant this preview; if they agree, call again with the same arguments "
        f"and confirm_token{' (the merchant is then asked to confirm)' if asked else ''}. The token works once, for "
        f"this batch only, and expires in {shop.confirmations.ttl:.0f} s."
    )
    ttl = int(shop.confirmations.ttl)
    fields = {"changes": changes, "skipped": skipped, "confirm_token": token, "expires_in": ttl, "next_step": step}
    return _result(shop, plan, "confirmation_required", **fields)


async def _declined(shop: Shop, plan: BulkPlan, batch: Batch, token: str, *, cancelled: bool) -> CallToolResult:
    """The merchant said no (the token is spent: a no is final for this batch) or dismissed the question."""
    outcome: Literal["declined", "cancelled"] = "cancelled" if cancelled else "declined"
    if not cancelled:
        with contextlib.suppress(ConfirmationError):  # used meanwhile by another call: its answer says what it did
            await shop.confirmations.redeem(token, plan.tool, plan.arguments, batch.digest)
    await shop.audit.record(plan.tool, _with(plan, token), outcome, "elicitation")
    step = f"The merchant {'dismissed' if cancelled else 'declined'} the batch: nothing was changed."
    if cancelled:
        step += " The same confirm_token asks again while it is valid."
    return _result(shop, plan, outcome, next_step=step)


async def _apply(
    shop: Shop,
    ctx: Context[Shop],
    plan: BulkPlan,
    batch: Batch,
    *,
    path: ConfirmPath,
    send: Callable[[Item], Awaitable[BaseModel]],
) -> CallToolResult:
    applied: list[str] = []
    failed = list(plan.failed)
    again: list[Item] = []  # failed for a passing reason: a retry may work
    for done, item in enumerate(plan.items, start=1):
        arguments = {"batch": batch.id, **plan.change, **item.after}
        ok = False
        try:
            await unguarded_write(
                shop,
                plan.tool,
                arguments,
                functools.partial(send, item),
                path=path,
                target=item.id,
                related=item.related,
                before=item.before,
            )
        except HajatekError as exc:
            failed.append(ItemNote(id=item.id, reason=_failure(exc)))
            if _passing(exc):
                again.append(item)
            if isinstance(exc, RateLimitError):  # the next would meet the same pause: keep the rest for the retry
                rest = plan.items[done:]
                failed += [ItemNote(id=i.id, reason=_PAUSED) for i in rest]
                again += rest
                await ctx.report_progress(len(plan.items), len(plan.items), f"{item.id}: rate limited; stopped")
                break
            if isinstance(exc, AuthenticationError | PermissionDeniedError):  # every next item would be refused too
                failed += [ItemNote(id=i.id, reason=_REFUSED) for i in plan.items[done:]]
                await ctx.report_progress(len(plan.items), len(plan.items), f"{item.id}: key refused; stopped")
                break
        else:
            applied.append(item.id)
            ok = True
        await ctx.report_progress(done, len(plan.items), f"{item.id}: {'applied' if ok else 'failed'}")
    fields: dict[str, Any] = {
        "applied": applied or None,
        "already_applied": plan.done or None,
        "failed": Reason.grouped(failed),
        "skipped": Reason.grouped(plan.skipped),
    }
    step = f"{len(applied)} applied" + (f", {len(plan.done)} were already applied" if plan.done else "") + "."
    if failed:
        step += f" {len(failed)} failed: see each reason."
        if again:
            retry = Batch(id=batch.id, items=tuple(again))
            fields["confirm_token"] = await shop.confirmations.issue(
                plan.tool, plan.arguments, retry.digest, payload=retry.payload()
            )
            fields["expires_in"] = int(shop.confirmations.ttl)
            step += (
                f" To retry the {len(again)} that failed for a passing reason, call again with the same arguments and "
                "this confirm_token: only what is not applied yet is sent."
            )
    return _result(shop, plan, "partial" if failed else "done", next_step=step, **fields)


def _failure(exc: HajatekError) -> str:
    reason = _REQUEST_ID.sub("", clean(str(exc)) or "") or type(exc).__name__
    if exc.outcome_unknown:
        reason += " It may have been applied all the same: a retry checks first."
    return reason


def _passing(exc: HajatekError) -> bool:
    """A failure a retry may not meet again: no answer, a server error, too many requests, or an unknown outcome."""
    status = getattr(exc, "status_code", None)
    return exc.outcome_unknown or status is None or status >= 500 or status == 429
