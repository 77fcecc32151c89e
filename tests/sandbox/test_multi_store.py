"""One sandbox serving several stores: the key picks the store, and nothing of one store reaches another."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from hajatek_mcp.api.webhooks import InvalidSignatureError, verify_signature
from hajatek_mcp.sandbox import (
    InProcessTransport,
    SandboxConfig,
    banner,
    create_app,
    create_multi_app,
    multi_store_configs,
)
from tests.support import FakeClock, walk

STORES = ("str_sandbox", "str_sandbox2", "str_sandbox3")
PRO = {"str_sandbox": "sk_sandbox_pro", "str_sandbox2": "sk_sandbox2_pro", "str_sandbox3": "sk_sandbox3_pro"}
TAGS = {"str_sandbox": "", "str_sandbox2": "s2_", "str_sandbox3": "s3_"}
BASE_SECRET = "whsec_multi_base"
SECRET_2 = "whsec_multi_two"

MakeMulti = Callable[..., Starlette]


@pytest.fixture
def base(now: datetime, clock: FakeClock) -> SandboxConfig:
    return SandboxConfig(now=now, clock=clock, seed=42, enable_admin=True)


@pytest.fixture
async def make_multi(base: SandboxConfig) -> AsyncIterator[MakeMulti]:
    """``make_multi(count=3, webhook_secrets=None, **base_overrides)``: a multi-store app, closed at teardown."""
    apps: list[Starlette] = []

    def make(count: int = 3, webhook_secrets: dict[str, str] | None = None, **overrides: Any) -> Starlette:
        config = dataclasses.replace(base, **overrides)
        app = create_multi_app(multi_store_configs(count, config, webhook_secrets=webhook_secrets))
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.state.sandbox.aclose()


@pytest.fixture
def multi(make_multi: MakeMulti) -> Starlette:
    return make_multi()


async def test_each_key_reads_its_own_store_and_is_refused_the_others(multi, make_app, make_client) -> None:
    single = make_client(make_app())
    unknown = await single.get("/stores/str_nope")

    for own in STORES:
        http = make_client(multi, PRO[own])
        mine = await http.get(f"/stores/{own}")
        assert mine.status_code == 200
        assert (mine.json()["id"], mine.json()["plan"]) == (own, "pro")
        for other in set(STORES) - {own}:
            refused = await http.get(f"/stores/{other}")
            assert refused.status_code == unknown.status_code == 404
            assert refused.json()["error"]["code"] == unknown.json()["error"]["code"]
            assert refused.json()["error"]["param"] == "store_id"
            assert PRO[other] not in refused.text


async def test_the_stores_ids_are_disjoint_tagged_and_their_data_differs(multi, make_client) -> None:
    seen: dict[str, dict[str, set[str]]] = {}
    names: dict[str, set[str]] = {}
    totals: dict[str, list[float]] = {}
    for store in STORES:
        http = make_client(multi, PRO[store])
        seen[store] = {}
        for path, key, prefix in (("/products", "products", "prod"), ("/customers", "customers", "cus")):
            items, _ = await walk(http, path, key)
            seen[store][key] = {item["id"] for item in items}
            assert all(item["id"].startswith(f"{prefix}_{TAGS[store]}") for item in items)
        orders = (await http.get("/orders", params={"limit": 100})).json()["orders"]
        seen[store]["orders"] = {order["id"] for order in orders}
        assert all(order["id"].startswith(f"ord_{TAGS[store]}") and order["store_id"] == store for order in orders)
        names[store] = {
            item["name"] for item in (await http.get("/customers", params={"limit": 100})).json()["customers"]
        }
        totals[store] = [order["total"] for order in orders]
        info = (await http.get(f"/stores/{store}")).json()
        names[store].add(info["name"])

    assert seen["str_sandbox2"]["products"] & {"prod_s2_0001", "prod_s2_0224"} == {"prod_s2_0001", "prod_s2_0224"}
    for kind in ("products", "customers", "orders"):
        for first, second in (
            ("str_sandbox", "str_sandbox2"),
            ("str_sandbox", "str_sandbox3"),
            ("str_sandbox2", "str_sandbox3"),
        ):
            assert not seen[first][kind] & seen[second][kind], kind
    assert "Souq Al-Noor" in names["str_sandbox"]
    assert "Dar Al-Oud" in names["str_sandbox2"]
    assert "Bayt Al-Bukhoor" in names["str_sandbox3"]
    assert names["str_sandbox2"] != names["str_sandbox3"]
    assert totals["str_sandbox2"] != totals["str_sandbox3"] != totals["str_sandbox"]


async def test_a_product_created_with_store_2s_key_is_invisible_to_store_3(multi, make_client) -> None:
    two, three = make_client(multi, PRO["str_sandbox2"]), make_client(multi, PRO["str_sandbox3"])
    created = await two.post(
        "/products", json={"name": "Isolation Probe Box", "price": 120, "category": "perfumes-oud"}
    )
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]

    assert product_id == "prod_s2_0225"
    found_in_two = await two.get("/products", params={"search": "Isolation Probe Box"})
    found_in_three = await three.get("/products", params={"search": "Isolation Probe Box"})
    assert [p["id"] for p in found_in_two.json()["products"]] == [product_id]
    assert found_in_three.json()["products"] == []
    assert (await three.put(f"/products/{product_id}", json={"price": 1})).status_code == 404
    assert (await three.delete(f"/products/{product_id}")).status_code == 404
    assert (await three.get("/products", params={"limit": 1})).json()["total"] == 224


async def test_rate_limits_count_per_store(make_multi, make_client) -> None:
    app = make_multi(plan_limits={"starter": 2})
    two = make_client(app, "sk_sandbox2_starter")
    for _ in range(2):
        assert (await two.get("/products", params={"limit": 1})).status_code == 200
    limited = await two.get("/products", params={"limit": 1})

    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    for key in ("sk_sandbox3_starter", "sk_sandbox_starter"):
        answer = await make_client(app, key).get("/products", params={"limit": 1})
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Remaining"] == "1"


async def test_missing_and_unknown_keys_get_the_gateways_401_naming_no_key(multi, make_client, make_app) -> None:
    single = await make_client(make_app(), "sk_nope").get("/products")
    for key in (None, "sk_nope", "sk_sandbox4_pro"):
        refused = await make_client(multi, key).get("/products")
        assert refused.status_code == 401
        assert set(refused.json()) == set(single.json())
        assert set(refused.json()["error"]) == set(single.json()["error"])
        assert refused.json()["error"]["code"] == single.json()["error"]["code"]
        assert refused.json()["error"]["request_id"] == refused.headers["X-Request-Id"]
        assert "sk_sandbox" not in refused.text


async def test_webhooks_of_store_2_carry_its_id_and_are_signed_with_its_secret(make_multi, fake_sleep) -> None:
    received: list[httpx2.Request] = []

    def receiver(request: httpx2.Request) -> httpx2.Response:
        received.append(request)
        return httpx2.Response(200)

    app = make_multi(
        webhook_url="https://receiver.example/hooks/{store_id}",
        webhook_secret=BASE_SECRET,
        webhook_secrets={"str_sandbox2": SECRET_2},
        webhook_transport=httpx2.MockTransport(receiver),
        sleep=fake_sleep,
    )
    async with (
        app.state.sandbox,
        httpx2.AsyncClient(transport=InProcessTransport(app), base_url="http://sandbox/v1") as http,
    ):
        for store in ("str_sandbox2", "str_sandbox3"):
            headers = {"Authorization": f"Bearer {PRO[store]}"}
            body = {"name": f"Gift box {store}", "price": 80, "category": "dates-coffee"}
            assert (await http.post("/products", json=body, headers=headers)).status_code == 201
        # InProcessTransport waited for each first delivery attempt: both arrived
        assert [request.url.path for request in received] == ["/hooks/str_sandbox2", "/hooks/str_sandbox3"]

    two, three = received
    assert json.loads(two.content)["data"]["store_id"] == "str_sandbox2"
    assert json.loads(two.content)["data"]["product_id"] == "prod_s2_0225"
    assert json.loads(three.content)["data"]["store_id"] == "str_sandbox3"
    verify_signature(SECRET_2, two.content, two.headers["X-Hajatek-Signature"])
    verify_signature(BASE_SECRET, three.content, three.headers["X-Hajatek-Signature"])
    with pytest.raises(InvalidSignatureError):
        verify_signature(BASE_SECRET, two.content, two.headers["X-Hajatek-Signature"])


async def test_the_admin_api_of_each_store_is_under_its_prefix(multi, make_client) -> None:
    admin = make_client(multi, None)
    listing = await make_client(multi, PRO["str_sandbox2"]).get("/products", params={"limit": 100})
    product = next(p for p in listing.json()["products"] if p["status"] == "active" and p["stock"] > 0)
    placed = await admin.post(
        "http://sandbox/_sandbox/stores/str_sandbox2/orders",
        json={"customer_id": "cus_s2_0042", "items": [{"product_id": product["id"], "quantity": 1}]},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    assert order_id == "ord_s2_001201"

    events_two = (await admin.get("http://sandbox/_sandbox/stores/str_sandbox2/events")).json()["events"]
    events_one = (await admin.get("http://sandbox/_sandbox/events")).json()["events"]
    assert [event["data"]["order_id"] for event in events_two if event["type"] == "order.created"] == [order_id]
    assert events_one == []
    assert (await make_client(multi, PRO["str_sandbox2"]).get(f"/orders/{order_id}")).status_code == 200
    assert (await make_client(multi, PRO["str_sandbox"]).get(f"/orders/{order_id}")).status_code == 404

    unknown = await admin.get("http://sandbox/_sandbox/stores/str_sandbox9/events")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert "str_sandbox9" in unknown.json()["error"]["message"]


async def test_store_1_answers_byte_for_byte_as_a_single_sandbox(multi, make_app, make_client) -> None:
    single = make_client(make_app(enable_admin=True))  # the same config as base
    first = make_client(multi, "sk_sandbox_pro")
    for path, params in (
        ("/stores/str_sandbox", {}),
        ("/products", {"limit": 50, "page": 2}),
        ("/orders", {"limit": 50}),
        ("/customers", {"limit": 50}),
        ("/analytics/summary", {"period": "7d"}),
    ):
        ours, theirs = await first.get(path, params=params), await single.get(path, params=params)
        assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), path


def test_store_ids_keys_and_files_must_be_unique(base: SandboxConfig, tmp_path: Path) -> None:
    two = multi_store_configs(2, base)
    with pytest.raises(ValueError, match="store id str_sandbox2 is given twice"):
        create_multi_app([*two, two[1]])
    clash = SandboxConfig(store_id="str_other", api_keys={"sk_sandbox2_pro": "pro"})
    with pytest.raises(ValueError, match="store str_other \\(pro\\) is also one of store str_sandbox2") as caught:
        create_multi_app([*two, clash])
    assert "sk_sandbox2_pro" not in str(caught.value)
    shared = str(tmp_path / "shared.db")
    with pytest.raises(ValueError, match="share the file"):
        create_multi_app(
            [SandboxConfig(db_path=shared), SandboxConfig(db_path=shared, store_id="str_b", api_keys={"k": "pro"})]
        )


def test_the_configs_derive_from_the_base(base: SandboxConfig, tmp_path: Path) -> None:
    file_base = SandboxConfig(
        db_path=str(tmp_path / "sandbox.db"),
        seed=7,
        webhook_url="http://127.0.0.1:8000/webhooks/hajatek/{store_id}",
        webhook_secret=BASE_SECRET,
    )
    configs = multi_store_configs(11, file_base, webhook_secrets={"str_sandbox3": SECRET_2})

    assert configs[0].store_id == "str_sandbox"
    assert configs[0].api_keys == file_base.api_keys
    assert configs[0].webhook_url == "http://127.0.0.1:8000/webhooks/hajatek/str_sandbox"
    third = configs[2]
    assert (third.store_id, third.id_tag, third.seed) == ("str_sandbox3", "s3_", 9)
    assert dict(third.api_keys) == {
        "sk_sandbox3_starter": "starter",
        "sk_sandbox3_pro": "pro",
        "sk_sandbox3_business": "business",
    }
    assert third.db_path == str(tmp_path / "sandbox-3.db")
    assert third.webhook_url == "http://127.0.0.1:8000/webhooks/hajatek/str_sandbox3"
    assert (third.webhook_secret, configs[1].webhook_secret) == (SECRET_2, BASE_SECRET)
    assert configs[9].store_name == "Dar Al-Oud 2"  # store 10: the names come round again, numbered
    assert len({config.store_name for config in configs}) == 11
    assert multi_store_configs(1, base) == [base]
    assert [config.db_path for config in multi_store_configs(2, base)] == [":memory:", ":memory:"]
    for count in (0, 51):
        with pytest.raises(ValueError, match="1 to 50 stores"):
            multi_store_configs(count, base)
    with pytest.raises(ValueError, match="str_sandbox7"):
        multi_store_configs(2, base, webhook_secrets={"str_sandbox7": SECRET_2})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"store_id": "sandbox2"}, "store_id must look like str_"),
        ({"api_keys": {}}, "at least one API key"),
        ({"api_keys": {"sk_x": "gold"}}, "unknown plan 'gold'"),
        ({"api_keys": {"sk x": "pro"}}, "empty or holds whitespace"),
        ({"id_tag": "S2-"}, "id_tag must be"),
        ({"store_name": " "}, "store_name"),
    ],
)
def test_a_store_config_with_a_bad_identity_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        SandboxConfig(**fields)
    assert "sk_x" not in str(caught.value)


def test_the_banner_lists_every_store_and_no_secret(base: SandboxConfig) -> None:
    configs = multi_store_configs(
        3,
        SandboxConfig(
            webhook_url="http://127.0.0.1:8000/hooks/{store_id}", webhook_secret=BASE_SECRET, enable_admin=True
        ),
        webhook_secrets={"str_sandbox2": SECRET_2},
    )
    text = banner(configs, "127.0.0.1", 8787)

    for config in configs:
        assert f"({config.store_id})" in text
        assert str(config.store_name or "Souq Al-Noor") in text
        for key in config.api_keys:
            assert key in text
        assert f"http://127.0.0.1:8000/hooks/{config.store_id}" in text
    assert 'curl -H "Authorization: Bearer sk_sandbox2_pro" "http://127.0.0.1:8787/v1/stores/str_sandbox2"' in text
    assert "/_sandbox/stores/{store_id}/" in text
    assert BASE_SECRET not in text
    assert SECRET_2 not in text
    assert banner([base]) == banner(base)


async def test_a_file_of_another_store_is_refused(now, clock, tmp_path: Path) -> None:
    path = str(tmp_path / "one.db")
    await create_app(SandboxConfig(db_path=path, now=now, clock=clock)).state.sandbox.aclose()
    with pytest.raises(ValueError, match="holds the sandbox store str_sandbox, not str_sandbox2"):
        create_app(SandboxConfig(db_path=path, now=now, clock=clock, store_id="str_sandbox2", api_keys={"k": "pro"}))


async def test_over_http_the_key_picks_the_store_and_the_lifespan_closes_every_store(
    make_multi, serve_loopback
) -> None:
    app = make_multi()
    async with serve_loopback(app) as origin, httpx2.AsyncClient(trust_env=False) as http:
        response = await http.get(
            f"{origin}/v1/stores/str_sandbox3", headers={"Authorization": "Bearer sk_sandbox3_business"}
        )

    assert response.status_code == 200
    assert response.json()["name"] == "Bayt Al-Bukhoor"
    for store in app.state.stores.values():  # uvicorn ran the lifespan: on shutdown every store closed its database
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            store.state.sandbox.store.db.query("SELECT 1")
