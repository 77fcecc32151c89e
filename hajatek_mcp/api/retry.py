"""The retry policy of :meth:`HajatekClient.request`, as pure functions of what happened (also in the README).

- connection failures, 429 and 5xx are retried for idempotent methods (GET, PUT, DELETE), at most ``max_retries``
  times, with exponential backoff and jitter, within ``max_retry_wait`` seconds in all;
- ``Retry-After`` is honoured (and, on a 429, pauses every caller through the governor);
- a POST is retried only when the request provably did not reach Hajatek: the connection was never made, or the API
  refused it with 429 (the contract says a rate-limited request is not processed). Any other failure of a POST is
  raised with ``outcome_unknown=True``, so a create is never sent twice blindly; the caller checks first.

Nothing here sends, sleeps or reads a clock: the client describes one failed attempt as a :class:`Failure` and asks
:func:`decide`; ``tests/api/test_retry_policy.py`` walks every branch as a table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

__all__ = [
    "Decision",
    "Failure",
    "backoff",
    "could_have_applied",
    "decide",
    "deleted_already",
    "is_write",
    "retryable",
]

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
READS = frozenset({"GET", "HEAD"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class Failure(NamedTuple):
    """How one attempt failed, as far as the policy cares."""

    kind: Literal["not_sent", "lost", "status", "bad_body"]
    """``not_sent``: the connection was never made (connect error or timeout, no free pooled connection), so the
    request provably did not reach Hajatek. ``lost``: the connection failed after the request went out (a read or
    write error, a read timeout), so it may have arrived. ``status``: an error status. ``bad_body``: a 2xx whose body
    is not the JSON the contract promises."""
    status: int | None = None
    """The HTTP status, for ``status``."""
    retry_after: float | None = None
    """Seconds from the answer's ``Retry-After`` header, when it had one."""


class Decision(NamedTuple):
    """What :meth:`HajatekClient.request` does after a failed attempt."""

    retry: bool
    """Send the request again (otherwise raise the attempt's error)."""
    wait: float = 0.0
    """Seconds before the next attempt: logged, and counted against the wait budget."""
    sleep: bool = False
    """Whether the client sleeps ``wait`` itself; not after a 429 with ``Retry-After``, whose pause the rate governor
    already holds for every caller."""
    outcome_unknown: bool = False
    """Set on the error when it is raised: a write that may have been applied, so check before repeating it."""


def is_write(method: str) -> bool:
    """Every method but GET and HEAD may change something at Hajatek."""
    return method not in READS


def could_have_applied(failure: Failure) -> bool:
    """Whether the failed attempt may have changed something at Hajatek.

    A 2xx was accepted, whatever its body; a 5xx may come after the change was made; a lost answer may follow an
    applied request. A 4xx, 429 included, was refused, and a request never sent did nothing.
    """
    if failure.kind == "status":
        return failure.status is not None and failure.status >= 500
    return failure.kind != "not_sent"


def retryable(method: str, failure: Failure) -> bool:
    """Whether sending the request again is safe and may help.

    Any method may be repeated when the first one provably did nothing: it was never sent, or refused with 429. An
    idempotent method may also be repeated after a lost answer, a bad body or a 5xx that is likely to pass.
    """
    if failure.kind == "not_sent" or failure.status == 429:
        return True
    if method not in IDEMPOTENT:
        return False
    return failure.kind != "status" or failure.status in RETRY_STATUSES


def deleted_already(method: str, failure: Failure, *, may_have_applied: bool) -> bool:
    """A DELETE answered 404 after an earlier attempt that may have deleted it before its answer was lost.

    Gone is what was asked: the client returns as if this attempt had deleted it.
    """
    return method == "DELETE" and failure.kind == "status" and failure.status == 404 and may_have_applied


def backoff(attempt: int, jitter: Callable[[], float]) -> float:
    """Seconds before retry ``attempt + 1``: 0.5, 1, 2, 4, 8, 8 ... less up to a quarter (``jitter()`` in [0, 1))."""
    base: float = min(0.5 * 2**attempt, 8.0)
    return base * (0.75 + jitter() / 4)


def decide(
    method: str,
    failure: Failure,
    *,
    attempt: int,
    max_retries: int,
    may_have_applied: bool,
    budget_left: float,
    jitter: Callable[[], float],
) -> Decision:
    """Retry or raise, after attempt number ``attempt`` (0 for the first) of ``method`` failed with ``failure``.

    ``may_have_applied`` is whether this attempt or an earlier one may have changed something at Hajatek (see
    :func:`could_have_applied`); ``budget_left`` is the seconds left of ``max_retry_wait``. ``jitter`` is called only
    when the wait is a backoff, so a seeded random source gives the same waits as before this function existed.

    The outcome of a write is unknown when this attempt reached Hajatek and this or an earlier attempt may have
    applied it. An attempt that never connected leaves it known, as the client always did (its message says to check
    the network and try again, which is safe: only an idempotent write can get there after an applied attempt).
    """
    unknown = is_write(method) and failure.kind != "not_sent" and may_have_applied
    if not retryable(method, failure) or attempt >= max_retries:
        return Decision(retry=False, outcome_unknown=unknown)
    wait = failure.retry_after if failure.retry_after is not None else backoff(attempt, jitter)
    if wait > budget_left:
        return Decision(retry=False, outcome_unknown=unknown)
    governor_holds = failure.status == 429 and failure.retry_after is not None
    return Decision(retry=True, wait=wait, sleep=not governor_holds, outcome_unknown=unknown)
