"""Webhooks out: the reference payload, a signature the client's verifier accepts, retries, never blocking the API."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hajatek_mcp.api.webhooks import SIGNATURE_HEADER, InvalidSignatureError, verify_signature

SECRET = "whsec_sandbox_test"
HOOK_URL = "https://receiver.example/hooks"
FIVE_IN_ORDER = ["product.created", "order.created", "inventory.low", "order.updated", "payment.completed"]
DATA_KEYS = {
    "order.created": {"order_id", "store_id", "total", "currency", "status", "items"},
    "order.updated": {"order_id", "store_id", "total", "currency", "status", "items"},
    "payment.completed": {"order_id", "store_id", "total", "currency", "status", "items"},
    "product.created": {"product_id", "store_id", "name", "price", "currency", "stock", "category"},
    "inventory.low": {"product_id", "store_id", "name", "stock", "threshold"},
}


class Receiver:
    """A webhook receiver behind ``httpx2.MockTransport``: answers from a script of statuses, then 200."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return httpx2.Response(answer, json={"ok": answer < 300})

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


@pytest.fixture
def hooked(make_app, make_client, fake_sleep):
    """``hooked(receiver, **config)`` → (app, client): a sandbox delivering to ``receiver``."""

    def make(receiver: Receiver, **config: Any):
        app = make_app(
            enable_admin=True,
            webhook_url=HOOK_URL,
            webhook_secret=SECRET,
            webhook_transport=httpx2.MockTransport(receiver),
            sleep=fake_sleep,
            **config,
        )
        return app, make_client(app)

    return make


async def fire_all_five(http: httpx2.AsyncClient) -> None:
    """Cause one event of each type: product.created, inventory.low, order.created, order.updated, payment.completed."""
    created = await http.post(
        "/products", json={"name": "Ajwa Box", "price": 80, "category": "dates-coffee", "stock": 6}
    )
    product_id = created.json()["id"]
    order = await http.post(
        "http://sandbox/_sandbox/orders",
        json={"customer_id": "cus_0042", "items": [{"product_id": product_id, "quantity": 2}]},
    )
    await http.put(f"/orders/{order.json()['id']}/status", json={"status": "processing"})


async def test_each_event_type_is_delivered_signed_in_the_reference_shape(hooked) -> None:
    receiver = Receiver()
    app, http = hooked(receiver)

    await fire_all_five(http)
    await app.state.sandbox.webhooks.drain()

    recorded = (await http.get("http://sandbox/_sandbox/events")).json()["events"]
    assert [e["type"] for e in recorded] == FIVE_IN_ORDER
    # deliveries run concurrently, so the receiver may see them in any order (receivers must not rely on it)
    assert sorted(body["id"] for body in receiver.bodies()) == sorted(e["id"] for e in recorded)
    for request, body in zip(receiver.requests, receiver.bodies(), strict=True):
        assert request.method == "POST"
        assert str(request.url) == HOOK_URL
        assert request.headers["content-type"] == "application/json"
        verify_signature(SECRET, request.content, request.headers[SIGNATURE_HEADER])
        assert re.fullmatch(r"sha256=[0-9a-f]{64}", request.headers[SIGNATURE_HEADER])
        assert set(body) == {"id", "type", "created_at", "data"}
        assert re.fullmatch(r"evt_[A-Za-z0-9_]+", body["id"])
        assert body["created_at"] == "2026-03-15T12:00:00Z"
        assert set(body["data"]) == DATA_KEYS[body["type"]]
        assert body["data"]["store_id"] == "str_sandbox"
    [order_event] = [body["data"] for body in receiver.bodies() if body["type"] == "order.created"]
    assert order_event["status"] == "pending"
    assert order_event["items"] == [{"product_id": "prod_0225", "name": "Ajwa Box", "quantity": 2, "price": 80.0}]
    delivered = (await http.get("http://sandbox/_sandbox/events")).json()["events"]
    assert {(e["delivery"]["status"], e["delivery"]["attempts"]) for e in delivered} == {("delivered", 1)}


async def test_a_tampered_body_or_a_wrong_secret_fails_verification(hooked) -> None:
    receiver = Receiver()
    app, http = hooked(receiver)
    await http.post("/products", json={"name": "Musk", "price": 30, "category": "perfumes-oud"})
    await app.state.sandbox.webhooks.drain()
    [request] = receiver.requests
    signature = request.headers[SIGNATURE_HEADER]

    tampered = request.content.replace(b'"price":30', b'"price":3')
    assert tampered != request.content
    with pytest.raises(InvalidSignatureError):
        verify_signature(SECRET, tampered, signature)
    with pytest.raises(InvalidSignatureError):
        verify_signature("another_secret", request.content, signature)


async def test_failed_deliveries_are_retried_with_exponential_backoff(hooked, fake_sleep) -> None:
    receiver = Receiver(500, 503, httpx2.ConnectError("refused"), 200)
    app, http = hooked(receiver, webhook_backoff=0.5)

    await http.post("/products", json={"name": "Musk", "price": 30, "category": "perfumes-oud"})
    await app.state.sandbox.webhooks.drain()

    assert len(receiver.requests) == 4
    assert len({r.content for r in receiver.requests}) == 1, "every attempt resends the same event (same id)"
    assert fake_sleep.calls == [0.5, 1.0, 2.0]
    [event] = (await http.get("http://sandbox/_sandbox/events")).json()["events"]
    assert event["delivery"] == {"status": "delivered", "attempts": 4, "last_error": None}


async def test_delivery_gives_up_after_the_last_attempt(hooked, fake_sleep) -> None:
    receiver = Receiver(*[500] * 10)
    app, http = hooked(receiver, webhook_max_attempts=3)

    await http.post("/products", json={"name": "Musk", "price": 30, "category": "perfumes-oud"})
    await app.state.sandbox.webhooks.drain()

    assert len(receiver.requests) == 3
    assert fake_sleep.calls == [1.0, 2.0]
    [event] = (await http.get("http://sandbox/_sandbox/events")).json()["events"]
    assert event["delivery"] == {"status": "failed", "attempts": 3, "last_error": "HTTP 500"}


def test_backoff_doubles_and_is_capped(make_app) -> None:
    dispatcher = make_app(webhook_url=HOOK_URL, webhook_secret=SECRET, webhook_backoff=1.0).state.sandbox.webhooks

    assert [dispatcher.backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


async def test_the_api_request_never_waits_for_delivery(make_app, make_client) -> None:
    release = asyncio.Event()
    received: list[bytes] = []

    async def slow_receiver(request: httpx2.Request) -> httpx2.Response:
        await release.wait()
        received.append(request.content)
        return httpx2.Response(204)

    app = make_app(
        enable_admin=True,
        webhook_url=HOOK_URL,
        webhook_secret=SECRET,
        webhook_transport=httpx2.MockTransport(slow_receiver),
    )
    http = make_client(app)

    response = await http.post("/products", json={"name": "Musk", "price": 30, "category": "perfumes-oud"})
    await asyncio.sleep(0)  # let the delivery start and block in the receiver

    assert response.status_code == 201
    assert app.state.sandbox.webhooks.in_flight == 1
    [pending] = (await http.get("http://sandbox/_sandbox/events")).json()["events"]
    assert pending["delivery"]["status"] == "pending"
    release.set()
    await app.state.sandbox.webhooks.drain()
    assert len(received) == 1
    assert app.state.sandbox.webhooks.in_flight == 0


async def test_closing_the_sandbox_cancels_deliveries_still_waiting(make_app, make_client) -> None:
    never = asyncio.Event()

    async def stuck_receiver(request: httpx2.Request) -> httpx2.Response:
        await never.wait()
        return httpx2.Response(200)

    app = make_app(webhook_url=HOOK_URL, webhook_secret=SECRET, webhook_transport=httpx2.MockTransport(stuck_receiver))
    await make_client(app).post("/products", json={"name": "Musk", "price": 30, "category": "perfumes-oud"})
    await asyncio.sleep(0)

    await app.state.sandbox.aclose()

    assert app.state.sandbox.webhooks.in_flight == 0


async def test_without_webhooks_events_are_recorded_but_not_sent(client) -> None:
    await client.post("/products", json={"name": "Musk", "price": 30, "category": "perfumes-oud"})

    [event] = (await client.get("http://sandbox/_sandbox/events")).json()["events"]

    assert event["type"] == "product.created"
    assert event["delivery"] == {"status": "disabled", "attempts": 0, "last_error": None}


async def test_events_can_be_listed_by_type(hooked) -> None:
    app, http = hooked(Receiver())
    await fire_all_five(http)

    payments = (await http.get("http://sandbox/_sandbox/events", params={"type": "payment.completed"})).json()
    bad = await http.get("http://sandbox/_sandbox/events", params={"type": "order.deleted"})

    assert [e["type"] for e in payments["events"]] == ["payment.completed"]
    assert bad.status_code == 422
    await app.state.sandbox.webhooks.drain()


async def test_a_real_receiver_on_loopback_gets_verified_deliveries(make_app, make_client, serve_loopback) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify_signature(SECRET, body, request.headers.get(SIGNATURE_HEADER))
        except InvalidSignatureError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        received.append(json.loads(body))
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    async with serve_loopback(receiver) as origin:
        app = make_app(enable_admin=True, webhook_url=f"{origin}/hooks", webhook_secret=SECRET)
        http = make_client(app)
        await fire_all_five(http)
        await app.state.sandbox.webhooks.drain()
        async with httpx2.AsyncClient(trust_env=False) as outsider:
            forged = await outsider.post(
                f"{origin}/hooks",
                content=json.dumps(received[0]).replace("Ajwa", "Fake").encode(),
                headers={SIGNATURE_HEADER: "sha256=" + "0" * 64},
            )

    assert sorted(event["type"] for event in received) == sorted(FIVE_IN_ORDER)
    assert forged.status_code == 401
    events = (await http.get("http://sandbox/_sandbox/events")).json()["events"]
    assert {e["delivery"]["status"] for e in events} == {"delivered"}
