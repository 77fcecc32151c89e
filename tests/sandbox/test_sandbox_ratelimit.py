"""Plan rate limits: rolling window per key, 429 with Retry-After, headers on every response of a limited plan."""

from __future__ import annotations

import pytest

from hajatek_mcp.sandbox.ratelimit import RateLimiter

LIMITS = {"starter": 3, "pro": 5, "business": None}


@pytest.fixture
def limited(make_app, make_client):
    """An app with tiny limits (starter 3, pro 5 per 10 s) and a client factory for it."""
    app = make_app(plan_limits=LIMITS, rate_window=10.0)
    return lambda key: make_client(app, key)


@pytest.mark.parametrize(("key", "limit"), [("sk_sandbox_starter", 3), ("sk_sandbox_pro", 5)])
async def test_a_limited_plan_counts_down_then_gets_429(limited, clock, key: str, limit: int) -> None:
    http = limited(key)
    remaining, reset = [], []
    for _ in range(limit):
        response = await http.get("/customers", params={"limit": 1})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == str(limit)
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
        reset.append(int(response.headers["x-ratelimit-reset"]))
        clock.advance(1)

    refused = await http.get("/customers", params={"limit": 1})

    assert remaining == list(range(limit - 1, -1, -1))
    assert reset == list(range(10, 10 - limit, -1))  # seconds until the oldest request leaves the window
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    # the oldest request was `limit` seconds ago, so a slot frees in 10 - limit seconds
    assert refused.headers["retry-after"] == str(10 - limit)
    assert refused.headers["x-ratelimit-reset"] == str(10 - limit)
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-request-id"] == refused.json()["error"]["request_id"]


async def test_the_window_rolls_one_request_at_a_time(limited, clock) -> None:
    http = limited("sk_sandbox_starter")
    for _ in range(3):
        await http.get("/orders", params={"limit": 1})
        clock.advance(2)
    assert (await http.get("/orders")).status_code == 429

    clock.advance(4)  # the first request (10 s ago) leaves the window, the second (8 s ago) not yet
    freed = await http.get("/orders", params={"limit": 1})
    again = await http.get("/orders", params={"limit": 1})

    assert freed.status_code == 200
    assert freed.headers["x-ratelimit-remaining"] == "0"
    assert again.status_code == 429
    assert again.headers["retry-after"] == "2"


async def test_a_refused_request_is_not_processed(limited, clock) -> None:
    http = limited("sk_sandbox_starter")
    for _ in range(3):
        await http.get("/products", params={"limit": 1})

    refused = await http.post("/products", json={"name": "Saffron Tin", "price": 20, "category": "dates-coffee"})
    clock.advance(10)
    listing = await http.get("/products", params={"search": "Saffron Tin"})

    assert refused.status_code == 429
    assert listing.json()["total"] == 0


async def test_errors_count_and_carry_the_headers_too(limited) -> None:
    http = limited("sk_sandbox_starter")

    responses = [await http.get("/orders/ord_missing"), await http.get("/nowhere"), await http.get("/products?x=1")]

    assert [r.status_code for r in responses] == [404, 404, 400]
    assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["2", "1", "0"]


async def test_each_key_has_its_own_window(limited) -> None:
    starter, pro = limited("sk_sandbox_starter"), limited("sk_sandbox_pro")
    for _ in range(3):
        await starter.get("/customers")

    assert (await starter.get("/customers")).status_code == 429
    assert (await pro.get("/customers")).status_code == 200


async def test_the_business_plan_is_unlimited_and_sends_no_rate_headers(limited) -> None:
    http = limited("sk_sandbox_business")

    responses = [await http.get("/customers", params={"limit": 1}) for _ in range(20)]

    assert {r.status_code for r in responses} == {200}
    assert not any(h.startswith("x-ratelimit") for r in responses for h in r.headers)


async def test_the_published_limits_are_the_default(app, make_client) -> None:
    starter = await make_client(app, "sk_sandbox_starter").get("/customers")
    pro = await make_client(app, "sk_sandbox_pro").get("/customers")

    assert (starter.headers["x-ratelimit-limit"], pro.headers["x-ratelimit-limit"]) == ("100", "500")
    assert starter.headers["x-ratelimit-reset"] == "60"


async def test_unauthenticated_requests_are_not_counted(limited, make_client, make_app) -> None:
    http = limited("sk_sandbox_starter")
    anonymous = limited(None)
    for _ in range(5):
        assert (await anonymous.get("/customers")).status_code == 401

    assert (await http.get("/customers")).headers["x-ratelimit-remaining"] == "2"


def test_reset_is_ceiled_to_whole_seconds() -> None:
    now = [100.0]
    limiter = RateLimiter(window=60.0, clock=lambda: now[0])
    limiter.hit("k", 2)
    now[0] = 100.4

    decision = limiter.hit("k", 2)
    now[0] = 159.9
    refused = limiter.hit("k", 2)

    assert decision.headers["X-RateLimit-Reset"] == "60"  # 59.6 s until the first slot frees
    assert (refused.allowed, refused.retry_after) == (False, 1)  # 0.1 s, ceiled
