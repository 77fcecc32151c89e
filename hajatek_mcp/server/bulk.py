"""Bulk changes with one preview: up to 100 items, previewed, confirmed once, applied one by one.

How a batch goes (both tools of :mod:`hajatek_mcp.server.tools.bulk`; what each one reads and computes is in
:mod:`.bulk_products` and :mod:`.bulk_orders`, running the tool body in :mod:`.bulk_run`):

1. **Preview.** The first call (no ``confirm_token``) changes nothing, in every ``--confirm`` mode. It reads every
   item and computes its new values as absolute values (a 10 % raise is the price it leads to, rounded half-up to the
   cent), listing items that would not change, or cannot, as skipped with the reason. It answers with one preview and
   a single-use ``confirm_token`` bound to the tool, the exact arguments and the batch: every item's id, its values
   at preview time and its new values, kept with the token (:meth:`ConfirmationStore.payload`).
2. **One confirmation.** The call with the token re-reads every item. An item at its new values is already applied
   and is not sent again; an item gone since the preview is reported failed; if any other item changed, nothing is
   applied and a new preview is asked for: the yes covered the batch as previewed. The yes itself: with ``--confirm
   auto`` and a client that can elicit, the merchant is asked once for the whole batch (both protocol eras, through
   ``Resolve``); otherwise the token is the yes (``token``, or a client that cannot elicit); with ``none`` the host's
   approval of the call is trusted, and only the question is left out.
3. **Applying**, in the batch's order (by id), one item at a time under its target's lock, each audited with its
   values before (:func:`~hajatek_mcp.server.writes.unguarded_write`, so the guards' reference sees them), with a
   progress notification after each. An item the API refuses does not stop the rest (a rate limit does: the next
   item would meet the same pause). The answer lists each item (applied, already applied, failed with the reason)
   and, when some failed for a passing reason, a new token for just those: calling with it sends only what is not
   applied yet. A cancelled call keeps what was applied, audited; a new preview leaves those items out (at their
   new value already, or, for a relative change, recognised in the audit log: see :mod:`.bulk_products`).

The question and the preview lead with the server's facts (the count, the change, the largest cut, the guard
warnings); store text follows only as :func:`~hajatek_mcp.server.safety.quote` excerpts, one item to a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from mcp.server.mcpserver import Context, Elicit
from pydantic import Field

from hajatek_mcp.api import HajatekError
from hajatek_mcp.server.confirmations import fingerprint
from hajatek_mcp.server.guards import APPROVING, Confirm, Decision, can_ask_form
from hajatek_mcp.server.safety import clean
from hajatek_mcp.server.shop import Shop
from hajatek_mcp.server.views import Money, View

__all__ = [
    "MAX_ITEMS",
    "Batch",
    "BulkPlan",
    "BulkResult",
    "Item",
    "ItemChange",
    "ItemNote",
    "Outcome",
    "Reason",
    "Values",
    "ask_bulk",
    "read_failed",
    "reconcile",
]

#: The most items one batch takes; a bigger selection is refused before anything is changed.
MAX_ITEMS = 100
#: How many items the question lists one by one (those needing most attention first); the preview lists them all.
QUESTION_ITEMS = 10
#: The longest name an item of the preview shows (store text, cut with "…").
NAME_CAP = 24

Values = dict[str, Any]
"""The fields a batch changes, as JSON values: ``{"price": "149.99", "stock": 5, "status": "active"}``."""


@dataclass(frozen=True)
class Item:
    """One item of a batch: its values before and after. The rest is for the merchant's eyes, not bound."""

    id: str
    before: Values
    after: Values
    name: str | None = None
    line: str = ""
    """Its line in the question: the server's facts first, then a quoted excerpt of the name."""
    attention: Decimal = Decimal(0)
    """How much the item needs the merchant's eye (a cut's size): the question lists the largest first."""
    related: tuple[str, ...] = ()
    """Other ids its write changes (a cancel restocks products): their writes wait for it."""


@dataclass(frozen=True)
class Batch:
    """What a confirm_token confirms: each item's id, its values at preview time and its new values."""

    id: str
    items: tuple[Item, ...]

    @classmethod
    def of(cls, tool: str, arguments: Mapping[str, Any], items: Iterable[Item]) -> Batch:
        bound = tuple(sorted(items, key=lambda i: i.id))
        digest = fingerprint([tool, dict(arguments), [[i.id, i.before, i.after] for i in bound]])
        return cls(id="b_" + digest[:10], items=bound)

    def payload(self) -> dict[str, Any]:
        return {"batch": self.id, "items": [[i.id, i.before, i.after] for i in self.items]}

    @property
    def digest(self) -> str:
        return fingerprint(self.payload())

    @classmethod
    def from_payload(cls, data: Any) -> Batch | None:
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            return None
        return cls(id=str(data["batch"]), items=tuple(Item(id=i, before=b, after=a) for i, b, a in data["items"]))


class ItemChange(View):
    id: str
    name: str | None = Field(default=None, description="given for a category or search")
    price: tuple[Money, Money] | None = Field(default=None, description="[old, new] SAR")
    stock: tuple[int, int] | None = None
    status: tuple[str, str] | None = None

    @classmethod
    def of(cls, item: Item, *, named: bool) -> ItemChange:
        def pair(key: str) -> Any:
            return (item.before[key], item.after[key]) if key in item.after else None

        name = clean(item.name) if named else None
        if name is not None and len(name) > NAME_CAP:
            name = name[: NAME_CAP - 1].rstrip() + "…"
        return cls(id=item.id, name=name, price=pair("price"), stock=pair("stock"), status=pair("status"))


@dataclass(frozen=True)
class ItemNote:
    """Why one item is skipped, or failed."""

    id: str
    reason: str


class Reason(View):
    reason: str
    ids: list[str]

    @staticmethod
    def grouped(notes: Iterable[ItemNote]) -> list[Reason] | None:
        """Items sharing a reason, listed once with it (a reason is often the same for many items)."""
        by_reason: dict[str, list[str]] = {}
        for note in notes:
            by_reason.setdefault(note.reason, []).append(note.id)
        return [Reason(reason=r, ids=ids) for r, ids in by_reason.items()] or None


Outcome = Literal[
    "confirmation_required", "awaiting_approval", "no_changes", "done", "partial", "declined", "cancelled"
]


class BulkResult(View):
    """A bulk change: its preview, or what applying it did to each item."""

    outcome: Outcome
    batch: str | None = None
    preview: str = Field(description="the change, in the server's words")
    warnings: list[str] | None = None
    changes: list[ItemChange] | None = Field(default=None, description="each item that would change")
    skipped: list[Reason] | None = None
    applied: list[str] | None = None
    already_applied: list[str] | None = None
    failed: list[Reason] | None = None
    confirm_token: str | None = None
    expires_in: int | None = Field(default=None, description="seconds")
    next_step: str | None = None


@dataclass
class BulkPlan:
    """What a bulk call would do, read just before it runs: a preview, or a batch to apply now."""

    tool: str
    arguments: dict[str, Any]
    """The call's arguments but the token: what a token is bound to."""
    change: dict[str, Any] = field(default_factory=dict)
    """The arguments that say what changes (not which items): each item's audit entry carries them."""
    summary: str = ""
    warnings: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    """Preview: every item that would change. With a token: those still to apply."""
    skipped: list[ItemNote] = field(default_factory=list)
    batch: Batch | None = None
    done: list[str] = field(default_factory=list)
    """With a token: the items already at their new values."""
    failed: list[ItemNote] = field(default_factory=list)
    """With a token: the items that cannot be applied any more (gone since the preview)."""
    named: bool = False
    """The preview shows names: the items were selected by a category or search, so the agent has not seen them (a
    selection by ids came from a listing it read); 100 names are half the preview's bytes."""
    error: str | None = None
    refused: bool = False
    """The error refuses the token or a changed batch (audited as refused, not failed)."""


def question(plan: BulkPlan) -> str:
    """The elicitation's text: the facts, then one line per item (most attention first), then the question."""
    shown = sorted(plan.items, key=lambda i: -i.attention)[:QUESTION_ITEMS]
    lines = [plan.summary, *plan.warnings, *(i.line for i in shown)]
    if len(plan.items) > len(shown):
        lines.append(f"…and {len(plan.items) - len(shown)} more, as in the preview.")
    return "\n".join([*lines, "Do you want to go ahead?"])


def ask_bulk(ctx: Context[Shop], plan: BulkPlan, confirm_token: str | None) -> Decision | Elicit[Confirm]:
    """The yes for a batch: asked of the merchant only on the call that carries the token, and only in ``auto``."""
    options = ctx.request_context.lifespan_context.options
    if plan.error is not None or confirm_token is None or not plan.items:
        return Decision(path="token")
    if APPROVING.get():  # the confirmation card's Approve (hajatek_mcp.server.ui.approve): the click is the yes
        return Decision(path="app")
    if options.confirm == "none":
        return Decision(path="host")
    if options.confirm == "token" or not can_ask_form(ctx):
        return Decision(path="token")
    return Elicit(question(plan), Confirm)


def read_failed(exc: HajatekError, confirm_token: str | None) -> str:
    """A plan's error when reading the batch failed: the cause and, on the confirming call, that the token is unspent
    (nothing was sent, so the same yes still covers the batch)."""
    error = f"Reading the batch failed: {clean(str(exc)) or type(exc).__name__}"
    if confirm_token is not None:
        error += " The confirm_token still works: call again with it."
    return error


def reconcile(plan: BulkPlan, batch: Batch, now: Mapping[str, Values | str]) -> dict[str, Item]:
    """Compare the batch with each item's values ``now`` (or why it could not be read): fill in the plan's done and
    failed items, or its error when some changed; return the items to apply, by id, in the batch's order."""
    pending: dict[str, Item] = {}
    changed: dict[str, list[str]] = {}  # item id -> what differs
    for item in batch.items:
        current = now.get(item.id, "not found")
        if isinstance(current, str):
            plan.failed.append(ItemNote(id=item.id, reason=f"{current}; nothing was sent"))
        elif _same(current, item.after):
            plan.done.append(item.id)
        elif _same(current, item.before):
            pending[item.id] = item
        else:
            differ = [k for k in item.before if not _same({k: current.get(k)}, {k: item.before[k]})]
            changed[item.id] = [f"{k} now {clean(str(current.get(k)))}, previewed {item.before[k]}" for k in differ]
    if changed:
        listed = "; ".join(f"{i} {', '.join(d)}" for i, d in list(changed.items())[:5])
        more = f"; and {len(changed) - 5} more" if len(changed) > 5 else ""
        plan.error = (
            f"{len(changed)} of the batch's items changed since the preview ({listed}{more}), so the merchant's yes "
            "does not cover them. Call again without confirm_token for a new preview and confirm that one."
        )
        plan.refused = True
    return pending


def _same(values: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    def norm(key: str, value: Any) -> Any:
        return Decimal(str(value)) if key == "price" and value is not None else value

    return all(norm(k, values.get(k)) == norm(k, v) for k, v in wanted.items())
