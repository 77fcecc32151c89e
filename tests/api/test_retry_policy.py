"""The retry policy as a table: what happened to one attempt -> retry or raise, how long to wait, and whether a write
may have been applied. The client-level tests beside this one check that the client follows it."""

from __future__ import annotations

import pytest

from hajatek_mcp.api.retry import Decision, Failure, backoff, could_have_applied, decide, deleted_already

NOT_SENT = Failure("not_sent")
LOST = Failure("lost")
BAD_BODY = Failure("bad_body")


def status(code: int, retry_after: float | None = None) -> Failure:
    return Failure("status", code, retry_after)


def half() -> float:
    return 0.5  # backoff(attempt) = 0.5 * 2**attempt * 0.875, capped at 8 * 0.875


def retry(wait: float, *, sleep: bool = True, unknown: bool = False) -> Decision:
    return Decision(retry=True, wait=wait, sleep=sleep, outcome_unknown=unknown)


def give_up(*, unknown: bool = False) -> Decision:
    return Decision(retry=False, outcome_unknown=unknown)


# method, failure, attempt, may_have_applied (this attempt or an earlier one), budget_left -> decision
TABLE = [
    # reads: connection failures, 429 and the retryable 5xx are retried with growing backoff
    ("GET", NOT_SENT, 0, False, 60.0, retry(0.4375)),
    ("GET", LOST, 1, True, 60.0, retry(0.875)),
    ("GET", BAD_BODY, 2, True, 60.0, retry(1.75)),
    ("GET", status(504), 2, True, 60.0, retry(1.75)),
    ("HEAD", status(500), 0, True, 60.0, retry(0.4375)),
    ("GET", status(502, retry_after=3), 0, True, 60.0, retry(3.0)),
    ("GET", status(429), 0, False, 60.0, retry(0.4375)),
    ("GET", status(429, retry_after=7), 0, False, 60.0, retry(7.0, sleep=False)),
    # ... but not a 5xx that will not pass, nor a 4xx
    ("GET", status(501), 0, True, 60.0, give_up()),
    ("GET", status(404), 0, False, 60.0, give_up()),
    ("GET", status(401), 0, False, 60.0, give_up()),
    # max_retries (3 here) and the wait budget end the retries
    ("GET", status(503), 3, True, 60.0, give_up()),
    ("GET", status(503), 0, True, 0.4, give_up()),
    ("GET", status(429, retry_after=120), 0, False, 30.0, give_up()),
    ("GET", status(429, retry_after=30), 0, False, 30.0, retry(30.0, sleep=False)),
    # idempotent writes are retried like reads; their outcome is unknown once an attempt may have applied them
    ("PUT", LOST, 0, True, 60.0, retry(0.4375, unknown=True)),
    ("PUT", status(503), 0, True, 60.0, retry(0.4375, unknown=True)),
    ("DELETE", BAD_BODY, 0, True, 60.0, retry(0.4375, unknown=True)),
    ("PUT", NOT_SENT, 0, False, 60.0, retry(0.4375)),
    ("PUT", status(409), 1, True, 60.0, give_up(unknown=True)),
    ("PUT", status(409), 0, False, 60.0, give_up()),
    ("DELETE", status(503), 3, True, 60.0, give_up(unknown=True)),
    ("PUT", LOST, 3, True, 60.0, give_up(unknown=True)),
    # an attempt that never connected leaves the outcome known, whatever an earlier attempt did (as always)
    ("PUT", NOT_SENT, 3, True, 60.0, give_up()),
    # a POST is retried only when it provably did nothing: never connected, or refused with 429
    ("POST", NOT_SENT, 0, False, 60.0, retry(0.4375)),
    ("POST", status(429, retry_after=1), 1, False, 60.0, retry(1.0, sleep=False)),
    ("POST", status(429), 0, False, 60.0, retry(0.4375)),
    ("POST", LOST, 0, True, 60.0, give_up(unknown=True)),
    ("POST", status(500), 0, True, 60.0, give_up(unknown=True)),
    ("POST", BAD_BODY, 0, True, 60.0, give_up(unknown=True)),
    ("POST", status(422), 0, False, 60.0, give_up()),
    ("POST", NOT_SENT, 3, False, 60.0, give_up()),
    ("PATCH", LOST, 0, True, 60.0, give_up(unknown=True)),
    # a failed read is never an unknown outcome
    ("GET", LOST, 3, True, 60.0, give_up()),
]


@pytest.mark.parametrize(
    ("method", "failure", "attempt", "may_have_applied", "budget_left", "expected"),
    TABLE,
    ids=[f"{m}-{f.status or f.kind}-retry_after={f.retry_after}-attempt={a}-budget={b}" for m, f, a, _, b, _ in TABLE],
)
def test_decide(
    method: str, failure: Failure, attempt: int, may_have_applied: bool, budget_left: float, expected: Decision
) -> None:
    decision = decide(
        method,
        failure,
        attempt=attempt,
        max_retries=3,
        may_have_applied=may_have_applied,
        budget_left=budget_left,
        jitter=half,
    )
    assert decision == expected


@pytest.mark.parametrize(
    ("failure", "applied"),
    [
        (NOT_SENT, False),
        (LOST, True),
        (BAD_BODY, True),
        (status(429), False),
        (status(409), False),
        (status(500), True),
        (status(503), True),
    ],
)
def test_which_failures_may_have_applied_the_request(failure: Failure, applied: bool) -> None:
    assert could_have_applied(failure) is applied


@pytest.mark.parametrize(
    ("method", "failure", "may_have_applied", "done"),
    [
        ("DELETE", status(404), True, True),
        ("DELETE", status(404), False, False),
        ("PUT", status(404), True, False),
        ("DELETE", status(410), True, False),
        ("DELETE", LOST, True, False),
    ],
)
def test_a_delete_answered_404_after_an_attempt_that_may_have_applied_is_done(
    method: str, failure: Failure, may_have_applied: bool, done: bool
) -> None:
    assert deleted_already(method, failure, may_have_applied=may_have_applied) is done


def test_backoff_doubles_to_8_s_less_up_to_a_quarter_of_jitter() -> None:
    assert [backoff(n, lambda: 0.0) for n in range(6)] == [0.375, 0.75, 1.5, 3.0, 6.0, 6.0]
    assert backoff(2, lambda: 0.999_999) == pytest.approx(2.0)


def test_jitter_is_drawn_only_for_a_retry_that_waits_by_backoff() -> None:
    draws: list[float] = []

    def jitter() -> float:
        draws.append(0.5)
        return 0.5

    for failure, attempt in [(status(404), 0), (status(503), 3), (status(429, retry_after=2), 0), (LOST, 0)]:
        decide("GET", failure, attempt=attempt, max_retries=3, may_have_applied=False, budget_left=60, jitter=jitter)
    assert len(draws) == 1, "a seeded random source gives the same waits it always did"
