"""Failures map onto the error tree, say what to do, and are retried only when that is safe."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from hajatek_mcp.api import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HajatekClient,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    ProductCreate,
    RateLimitError,
    UnprocessableEntityError,
)
from tests.api.support import ScriptedAPI, error, reply
from tests.support import FakeClock

STORE = {"id": "str_xyz789", "name": "Souq", "currency": "SAR"}
NEW_PRODUCT = ProductCreate.model_validate({"name": "Oud", "price": "120", "category": "perfumes-oud"})


@pytest.mark.parametrize(
    ("status", "code", "cls", "advice"),
    [
        (400, "invalid_request", BadRequestError, "remove or correct"),
        (401, "unauthorized", AuthenticationError, "HAJATEK_API_KEY"),
        (403, "forbidden", PermissionDeniedError, "HAJATEK_STORE_ID"),
        (404, "not_found", NotFoundError, "list tools show valid ids"),
        (409, "invalid_transition", ConflictError, "allowed change"),
        (422, "validation_error", UnprocessableEntityError, "Correct the named parameter"),
        (429, "rate_limited", RateLimitError, "rate limit"),
        (500, "internal_error", InternalServerError, "try again"),
        (503, "unavailable", InternalServerError, "try again"),
        (418, "teapot", APIStatusError, "Check the request"),
    ],
)
async def test_each_error_status_raises_its_class_with_advice_and_request_id(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient], status: int, code: str, cls: type, advice: str
) -> None:
    api.then(*[error(status, code, "Something specific went wrong.", param="status")] * 4)
    async with make_client(max_retries=0) as client:
        with pytest.raises(cls) as caught:
            await client.get_order("ord_1")
    err = caught.value
    assert type(err) is cls
    assert (err.status_code, err.code, err.param, err.request_id) == (status, code, "status", "req_err1")
    text = str(err)
    assert text.startswith(f"Hajatek API error {status} ({code}): Something specific went wrong.")
    assert "Parameter: status." in text
    assert advice in text
    assert "[request req_err1]" in text


async def test_an_error_without_the_envelope_still_maps_by_status(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(httpx2.Response(404, text="<html>Not Found</html>", headers={"x-request-id": "req_html"}))
    async with make_client() as client:
        with pytest.raises(NotFoundError) as caught:
            await client.get_order("ord_1")
    assert caught.value.request_id == "req_html"
    assert "GET /v1/orders/ord_1 failed: Not Found" in str(caught.value)


async def test_429_is_retried_after_retry_after_and_every_caller_pauses(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient], clock: FakeClock
) -> None:
    api.then(error(429, "rate_limited", "Too many requests.", retry_after="7"), reply(200, STORE))
    start = clock.now
    async with make_client() as client:
        store = await client.get_store()
        assert client.rate_limit_state().paused_for == 0
    assert store.id == "str_xyz789"
    assert len(api.requests) == 2
    assert clock.now - start == pytest.approx(7.0)


async def test_503_on_a_read_is_retried_with_growing_backoff(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient], clock: FakeClock
) -> None:
    api.then(error(503, "unavailable", "Down."), error(503, "unavailable", "Down."), reply(200, STORE))
    async with make_client() as client:
        await client.get_store()
    assert len(api.requests) == 3
    assert len(clock.sleeps) == 2
    assert 0.37 <= clock.sleeps[0] <= 0.5
    assert 0.75 <= clock.sleeps[1] <= 1.0


async def test_retries_stop_after_max_retries(api: ScriptedAPI, make_client: Callable[..., HajatekClient]) -> None:
    api.then(*[error(502, "unavailable", "Bad gateway.")] * 3)
    async with make_client(max_retries=2) as client:
        with pytest.raises(InternalServerError):
            await client.get_store()
    assert len(api.requests) == 3


async def test_a_retry_after_beyond_the_wait_budget_is_raised_at_once(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(error(429, "rate_limited", "Slow down.", retry_after="120"))
    async with make_client(max_retry_wait=30) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.get_store()
    assert caught.value.retry_after == 120
    assert "wait 120 s" in str(caught.value)
    assert len(api.requests) == 1


async def test_a_failed_post_is_never_retried_blindly(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(error(500, "internal_error", "Boom."))
    async with make_client() as client:
        with pytest.raises(InternalServerError) as caught:
            await client.create_product(NEW_PRODUCT)
    assert len(api.requests) == 1
    assert caught.value.outcome_unknown, "a 5xx may come after the change was made"
    assert "may have been applied all the same: check the current state before repeating it" in str(caught.value)
    assert "try again" not in str(caught.value)


async def test_a_write_whose_first_answer_was_lost_and_whose_retry_failed_has_an_unknown_outcome(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(httpx2.ReadTimeout("timed out"), error(409, "conflict", "Order ord_1 is delivered, a final status."))
    async with make_client(max_retries=1) as client:
        with pytest.raises(ConflictError) as caught:
            await client.update_order_status("ord_1", "delivered")
    assert len(api.requests) == 2
    assert caught.value.outcome_unknown, "the first attempt may have made the change the retry now refuses"
    assert "check the current state before repeating it" in str(caught.value)


async def test_a_failed_read_is_not_an_unknown_outcome(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(httpx2.ReadTimeout("timed out"), error(503, "unavailable", "Down."))
    async with make_client(max_retries=1) as client:
        with pytest.raises(InternalServerError) as caught:
            await client.list_orders()
    assert not caught.value.outcome_unknown
    assert "try again in a minute" in str(caught.value)


async def test_a_post_whose_response_was_lost_reports_an_unknown_outcome(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(httpx2.ReadError("connection reset"))
    async with make_client() as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.create_product(NEW_PRODUCT)
    assert caught.value.outcome_unknown
    assert "may have reached Hajatek" in str(caught.value)
    assert len(api.requests) == 1


async def test_a_post_that_never_connected_or_was_rate_limited_is_retried(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(
        httpx2.ConnectError("connection refused"),
        error(429, "rate_limited", "Slow down.", retry_after="1"),
        reply(201, {"id": "prod_9", "name": "Oud", "price": 120}),
    )
    async with make_client() as client:
        product = await client.create_product(NEW_PRODUCT)
    assert product.id == "prod_9"
    assert len(api.requests) == 3


async def test_read_timeouts_are_retried_then_raised_as_timeout_errors(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    api.then(*[httpx2.ReadTimeout("timed out")] * 4)
    async with make_client() as client:
        with pytest.raises(APITimeoutError) as caught:
            await client.list_products()
    assert len(api.requests) == 4
    assert not caught.value.outcome_unknown
    assert "timed out" in str(caught.value)


async def test_a_status_update_that_timed_out_is_retried_because_put_is_idempotent(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    order = {"id": "ord_1", "status": "shipped", "total": 10}
    api.then(httpx2.ReadTimeout("timed out"), reply(200, order))
    async with make_client() as client:
        result = await client.update_order_status("ord_1", "shipped")
    assert result.status == "shipped"
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    "bad",
    [
        httpx2.Response(200, content=b'{"id": "str_1", "na', headers={"content-type": "application/json"}),
        httpx2.Response(200, content=b"<html>gateway</html>", headers={"content-type": "text/html"}),
        httpx2.Response(200, json={"unexpected": True}),
    ],
    ids=["truncated-json", "wrong-content-type", "wrong-shape"],
)
async def test_a_bad_success_body_is_a_response_validation_error(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient], bad: httpx2.Response
) -> None:
    api.then(*[bad] * 4)
    async with make_client() as client:
        with pytest.raises(APIResponseValidationError):
            await client.get_store()


async def test_a_malformed_read_is_retried_and_can_succeed(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient]
) -> None:
    truncated = httpx2.Response(200, content=b'{"id": "str', headers={"content-type": "application/json"})
    api.then(truncated, reply(200, STORE))
    async with make_client() as client:
        assert (await client.get_store()).id == "str_xyz789"
