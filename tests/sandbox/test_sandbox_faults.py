"""Fault injection, explicit only: each mode in process and over real sockets, and the admin API that drives it."""

from __future__ import annotations

import json

import httpx2
import pytest

from hajatek_mcp.sandbox import ConnectionDropped

ADMIN = "http://sandbox/_sandbox"


@pytest.fixture
def faults(app):
    return app.state.sandbox.faults


@pytest.mark.parametrize(("status", "code"), [(503, "unavailable"), (500, "internal_error"), (502, "unavailable"),
                                              (429, "rate_limited"), (403, "forbidden")])  # fmt: skip
async def test_a_status_fault_answers_in_the_envelope_then_stops(client, faults, status: int, code: str) -> None:
    faults.inject("/v1/products", count=2, status=status)

    failed = [await client.get("/products") for _ in range(2)]
    normal = await client.get("/products")

    for response in failed:
        assert response.status_code == status
        error = response.json()["error"]
        assert error["code"] == code
        assert error["request_id"] == response.headers["x-request-id"]
    assert normal.status_code == 200
    assert faults.active == []


async def test_a_status_fault_can_carry_retry_after(client, faults) -> None:
    faults.inject("/v1/orders", status=503, retry_after=7)

    response = await client.get("/orders")

    assert (response.status_code, response.headers["retry-after"]) == (503, "7")


async def test_an_injected_429_always_has_retry_after(client, faults) -> None:
    faults.inject("/v1/orders", status=429)

    assert (await client.get("/orders")).headers["retry-after"] == "1"


async def test_a_faulted_request_is_not_processed(client, faults) -> None:
    faults.inject("/v1/products", method="POST", status=503)

    refused = await client.post("/products", json={"name": "Kohl", "price": 19, "category": "beauty"})
    listing = await client.get("/products", params={"search": "Kohl"})

    assert refused.status_code == 503
    assert all(p["name"] != "Kohl" for p in listing.json()["products"])


async def test_a_drop_fault_fails_the_connection_in_process(client, faults) -> None:
    faults.inject("/v1/customers", mode="drop")

    with pytest.raises(httpx2.TransportError) as caught:
        await client.get("/customers")

    assert isinstance(caught.value, httpx2.RemoteProtocolError)
    assert isinstance(caught.value, ConnectionDropped)
    assert (await client.get("/customers")).status_code == 200


async def test_a_malformed_fault_sends_a_body_that_is_not_json(client, faults) -> None:
    faults.inject("/v1/analytics/summary", mode="malformed")

    response = await client.get("/analytics/summary")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_a_truncated_fault_cuts_the_real_response_in_half(client, faults) -> None:
    whole = await client.get("/orders", params={"limit": 5})
    faults.inject("/v1/orders", mode="truncated")

    cut = await client.get("/orders", params={"limit": 5})

    assert cut.status_code == 200
    assert cut.headers["content-length"] == str(len(cut.content))
    assert 0 < len(cut.content) < len(whole.content)
    assert whole.content.startswith(cut.content)
    with pytest.raises(json.JSONDecodeError):
        cut.json()


async def test_a_truncated_post_was_still_processed(client, faults) -> None:
    faults.inject("/v1/products", method="POST", mode="truncated")

    cut = await client.post("/products", json={"name": "Kohl Pencil", "price": 19, "category": "beauty"})

    assert cut.status_code == 201
    assert (await client.get("/products", params={"search": "Kohl Pencil"})).json()["total"] == 1


@pytest.mark.parametrize("status", [None, 502])
async def test_a_wrong_content_type_fault_sends_an_html_page(client, faults, status) -> None:
    faults.inject("/v1/stores/*", mode="wrong_content_type", status=status)

    response = await client.get("/stores/str_sandbox")

    assert response.status_code == (status or 200)
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>")


async def test_a_delay_fault_answers_normally_after_the_delay(client, faults) -> None:
    faults.inject("/v1/customers", mode="delay", delay=0.001)

    response = await client.get("/customers")

    assert response.status_code == 200
    assert faults.active == []


async def test_faults_match_the_method_and_a_glob(client, faults) -> None:
    faults.inject("/v1/orders/*", method="put", count=None, status=503)

    reads = [await client.get("/orders"), await client.get("/orders/ord_000001")]
    writes = [
        await client.put("/orders/ord_000001/status", json={"status": "refunded"}),
        await client.put("/orders/ord_000002/status", json={"status": "refunded"}),
    ]

    assert [r.status_code for r in reads] == [200, 200]
    assert [r.status_code for r in writes] == [503, 503]
    assert len(faults.active) == 1
    assert faults.clear() == 1
    assert (await client.put("/orders/ord_000001/status", json={"status": "refunded"})).status_code == 200


async def test_faults_apply_before_authentication(app, make_client, faults) -> None:
    faults.inject("/v1/products", status=503)

    response = await make_client(app, key=None).get("/products")

    assert response.status_code == 503


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"path": "v1/products"}, "path"),
        ({"path": "/v1/products", "mode": "explode"}, "mode"),
        ({"path": "/v1/products", "count": 0}, "count"),
        ({"path": "/v1/products", "status": 200}, "status"),
        ({"path": "/v1/products", "mode": "drop", "status": 503}, "status"),
        ({"path": "/v1/products", "mode": "delay"}, "delay"),
        ({"path": "/v1/products", "delay": -1}, "delay"),
        ({"path": "/v1/products", "retry_after": -1}, "retry_after"),
    ],
)
def test_an_impossible_fault_is_refused(faults, kwargs, param: str) -> None:
    path = kwargs.pop("path")
    with pytest.raises(ValueError, match=param) as caught:
        faults.inject(path, **kwargs)

    assert caught.value.param == param


async def test_the_admin_api_injects_lists_and_clears_faults(client) -> None:
    created = await client.post(f"{ADMIN}/faults", json={"path": "/v1/orders", "count": 3, "status": 502})
    listed = await client.get(f"{ADMIN}/faults")
    failing = await client.get("/orders")
    cleared = await client.delete(f"{ADMIN}/faults")
    working = await client.get("/orders")

    assert created.status_code == 201
    fault = created.json()
    assert (fault["path"], fault["mode"], fault["status"], fault["remaining"]) == ("/v1/orders", "status", 502, 3)
    assert listed.json()["faults"] == [fault]
    assert failing.status_code == 502
    assert cleared.json() == {"cleared": 1}
    assert working.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({}, 422, "path"),
        ({"path": "/v1/orders", "mode": "boom"}, 422, "mode"),
        ({"path": "/v1/orders", "count": "two"}, 422, "count"),
        ({"path": "/v1/orders", "method": "FETCH"}, 422, "method"),
        ({"path": "/v1/orders", "delay": "1s"}, 422, "delay"),
        ({"path": "/v1/orders", "status": 700}, 422, "status"),
        ({"path": "/v1/orders", "colour": "red"}, 400, "colour"),
    ],
)
async def test_the_admin_api_validates_faults(client, body, status: int, param: str) -> None:
    response = await client.post(f"{ADMIN}/faults", json=body)

    assert response.status_code == status
    assert response.json()["error"]["param"] == param


async def test_the_admin_api_is_404_unless_enabled(make_app, make_client) -> None:
    http = make_client(make_app())

    responses = [
        await http.post(f"{ADMIN}/faults", json={"path": "/v1/orders"}),
        await http.get(f"{ADMIN}/events"),
        await http.post(f"{ADMIN}/reset"),
    ]

    assert {r.status_code for r in responses} == {404}
    assert {r.json()["error"]["code"] for r in responses} == {"not_found"}
    assert (await http.get("/orders")).status_code == 200


async def test_faults_do_not_touch_the_admin_api(client, faults) -> None:
    faults.inject("/*", count=None, status=503)

    assert (await client.get(f"{ADMIN}/faults")).status_code == 200
    assert (await client.get("/orders")).status_code == 503


async def test_reset_restores_the_seeded_store(client, faults) -> None:
    await client.delete("/products/prod_0001")
    faults.inject("/v1/customers", count=None, status=500)

    response = await client.post(f"{ADMIN}/reset")

    assert response.json() == {"reset": True, "seed": 42}
    assert faults.active == []
    assert (await client.get("/products")).json()["total"] == 224
    assert (await client.get(f"{ADMIN}/events")).json()["events"] == []


async def test_reset_can_switch_the_seed(client) -> None:
    before = (await client.get("/customers", params={"limit": 3})).json()["customers"]

    await client.post(f"{ADMIN}/reset", json={"seed": 7})

    after = (await client.get("/customers", params={"limit": 3})).json()["customers"]
    assert after != before


# -- over real sockets -------------------------------------------------------------------------------------------


async def test_over_http_a_drop_fault_closes_the_connection(app, serve_loopback) -> None:
    app.state.sandbox.faults.inject("/v1/products", mode="drop")
    async with serve_loopback(app) as origin, httpx2.AsyncClient(base_url=f"{origin}/v1", trust_env=False) as http:
        http.headers["Authorization"] = "Bearer sk_sandbox_pro"
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.get("/products")
        after = await http.get("/products", params={"limit": 1})

    assert after.status_code == 200


async def test_over_http_a_delay_longer_than_the_client_timeout_times_out(app, serve_loopback) -> None:
    app.state.sandbox.faults.inject("/v1/orders", mode="delay", delay=0.3)
    headers = {"Authorization": "Bearer sk_sandbox_pro"}
    async with (
        serve_loopback(app) as origin,
        httpx2.AsyncClient(timeout=httpx2.Timeout(5.0, read=0.05), trust_env=False) as http,
    ):
        with pytest.raises(httpx2.ReadTimeout):
            await http.get(f"{origin}/v1/orders", headers=headers)
