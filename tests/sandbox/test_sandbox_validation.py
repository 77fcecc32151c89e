"""Strictness like a real API: 400 for unknown or malformed input, 422 naming the param and the rule, 404, 409."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

VALID_PRODUCT = {"name": "Oud Gift Set", "price": 349.5, "category": "perfumes-oud"}


def error_of(response: httpx2.Response, status: int, code: str, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"]
    return error


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/stores/str_sandbox"),
        ("GET", "/products"),
        ("POST", "/products"),
        ("PUT", "/products/prod_0001"),
        ("DELETE", "/products/prod_0001"),
        ("GET", "/orders"),
        ("GET", "/orders/ord_000001"),
        ("PUT", "/orders/ord_000001/status"),
        ("GET", "/customers"),
        ("GET", "/analytics/summary"),
    ],
)
async def test_an_unknown_query_parameter_is_400_naming_it(client: httpx2.AsyncClient, method, path) -> None:
    response = await client.request(method, path, params={"sort": "price"}, json={})

    error_of(response, 400, "invalid_request", "sort")


@pytest.mark.parametrize("path", ["/products?status=active", "/customers?search=noura", "/orders?category=beauty"])
async def test_parameters_of_other_listings_are_unknown_here(client: httpx2.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == path.split("?")[1].split("=", maxsplit=1)[0]


async def test_a_repeated_query_parameter_is_400(client: httpx2.AsyncClient) -> None:
    response = await client.get("/products?page=1&page=2")

    error_of(response, 400, "invalid_request", "page")


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("limit=-5", "limit"),
        ("limit=", "limit"),
        ("page=0", "page"),
        ("page=1.5", "page"),
        ("page=", "page"),
        ("category=Electronics", "category"),
        ("category=home%20kitchen", "category"),
        ("search=", "search"),
        ("search=%20%20", "search"),
    ],
)
async def test_a_bad_product_listing_parameter_is_422_stating_the_rule(client, query: str, param: str) -> None:
    response = await client.get(f"/products?{query}")

    error_of(response, 422, "validation_error", param)


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/orders?status=paid", "status"),
        ("/orders?status=PENDING", "status"),
        ("/orders?limit=1000", "limit"),
        ("/customers?limit=101", "limit"),
        ("/customers?page=-1", "page"),
        ("/analytics/summary?period=1y", "period"),
        ("/analytics/summary?period=", "period"),
    ],
)
async def test_bad_values_elsewhere_are_422(client: httpx2.AsyncClient, path: str, param: str) -> None:
    error_of(await client.get(path), 422, "validation_error", param)


async def test_the_limit_rule_is_in_the_message(client: httpx2.AsyncClient) -> None:
    error = error_of(await client.get("/products?limit=500"), 422, "validation_error", "limit")

    assert "1 to 100" in error["message"]


@pytest.mark.parametrize(
    ("body", "param", "rule"),
    [
        ({**VALID_PRODUCT, "name": ""}, "name", "1 to 200"),
        ({**VALID_PRODUCT, "name": "   "}, "name", "not blank"),
        ({**VALID_PRODUCT, "name": "x" * 201}, "name", "1 to 200"),
        ({**VALID_PRODUCT, "name": 42}, "name", "string"),
        ({**VALID_PRODUCT, "name_ar": "ع" * 201}, "name_ar", "1 to 200"),
        ({**VALID_PRODUCT, "description": "d" * 5001}, "description", "5000"),
        ({**VALID_PRODUCT, "price": 0}, "price", "greater than 0"),
        ({**VALID_PRODUCT, "price": -10}, "price", "greater than 0"),
        ({**VALID_PRODUCT, "price": 1_000_000.01}, "price", "1000000"),
        ({**VALID_PRODUCT, "price": 9.999}, "price", "2 decimals"),
        ({**VALID_PRODUCT, "price": "149.99"}, "price", "number"),
        ({**VALID_PRODUCT, "price": True}, "price", "number"),
        ({**VALID_PRODUCT, "category": "Perfumes"}, "category", "a-z"),
        ({**VALID_PRODUCT, "category": "oud/perfume"}, "category", "a-z"),
        ({**VALID_PRODUCT, "stock": -1}, "stock", "0 to"),
        ({**VALID_PRODUCT, "stock": 2.5}, "stock", "whole number"),
        ({**VALID_PRODUCT, "stock": "5"}, "stock", "whole number"),
        ({**VALID_PRODUCT, "stock": 10**12}, "stock", "0 to"),
        ({**VALID_PRODUCT, "status": "published"}, "status", "active, draft, archived"),
        ({**VALID_PRODUCT, "sku": "has space"}, "sku", "1 to 64"),
        ({**VALID_PRODUCT, "sku": ""}, "sku", "1 to 64"),
        ({"price": 10, "category": "beauty"}, "name", "required"),
        ({"name": "Kohl", "category": "beauty"}, "price", "required"),
        ({"name": "Kohl", "price": 10}, "category", "required"),
        ({**VALID_PRODUCT, "name": None}, "name", "required"),
    ],
)
async def test_creating_a_product_with_a_bad_value_is_422(client, body: dict[str, Any], param: str, rule: str) -> None:
    error = error_of(await client.post("/products", json=body), 422, "validation_error", param)

    assert rule in error["message"]
    listing = await client.get("/products", params={"search": "Oud Gift Set"})
    assert listing.json()["total"] == 0


@pytest.mark.parametrize("field", ["id", "currency", "created_at", "price_sar", "Name"])
async def test_an_unknown_body_field_is_400_naming_it(client: httpx2.AsyncClient, field: str) -> None:
    created = await client.post("/products", json={**VALID_PRODUCT, field: "x"})
    updated = await client.put("/products/prod_0001", json={field: "x"})

    error_of(created, 400, "invalid_request", field)
    error_of(updated, 400, "invalid_request", field)


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"name": "x",', {"Content-Type": "application/json"}),
        (b"[1, 2]", {"Content-Type": "application/json"}),
        (b'"just a string"', {"Content-Type": "application/json"}),
        (b"", {"Content-Type": "application/json"}),
        (b'{"name": "a", "name": "b", "price": 1, "category": "beauty"}', {"Content-Type": "application/json"}),
        (b'{"name": "a", "price": NaN, "category": "beauty"}', {"Content-Type": "application/json"}),
        (b"\xff\xfe", {"Content-Type": "application/json"}),
        (b"name=a&price=1", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b'{"name": "a", "price": 1, "category": "beauty"}', {}),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(client: httpx2.AsyncClient, content, headers) -> None:
    response = await client.post("/products", content=content, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


async def test_a_body_over_one_mebibyte_is_413(client: httpx2.AsyncClient) -> None:
    response = await client.post("/products", json={**VALID_PRODUCT, "description": "x" * (1 << 20)})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("field", ["name", "price", "category", "stock", "status", "sku"])
async def test_updating_a_required_field_to_null_is_422(client: httpx2.AsyncClient, field: str) -> None:
    error_of(await client.put("/products/prod_0001", json={field: None}), 422, "validation_error", field)


async def test_a_duplicate_sku_is_409_conflict(client: httpx2.AsyncClient) -> None:
    taken = (await client.get("/products", params={"limit": 2})).json()["products"]

    created = await client.post("/products", json={**VALID_PRODUCT, "sku": taken[0]["sku"].lower()})
    updated = await client.put(f"/products/{taken[1]['id']}", json={"sku": taken[0]["sku"]})

    error_of(created, 409, "conflict", "sku")
    error_of(updated, 409, "conflict", "sku")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/products/prod_9999", {"stock": 1}),
        ("DELETE", "/products/prod_9999", None),
        ("PUT", "/products/prod_9999", {"bogus": 1}),
        ("GET", "/orders/ord_999999", None),
        ("PUT", "/orders/ord_999999/status", {"status": "shipped"}),
    ],
)
async def test_unknown_ids_are_404(client: httpx2.AsyncClient, method: str, path: str, body) -> None:
    response = await client.request(method, path, json=body)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({}, 422, "status"),
        ({"status": "paid"}, 422, "status"),
        ({"status": None}, 422, "status"),
        ({"status": "shipped", "note": "n" * 501}, 422, "note"),
        ({"status": "shipped", "note": 5}, 422, "note"),
        ({"status": "shipped", "reason": "x"}, 400, "reason"),
    ],
)
async def test_a_bad_status_body_is_rejected(
    client, first_order, body: dict[str, Any], status: int, param: str
) -> None:
    order = await first_order(client, "processing")

    response = await client.put(f"/orders/{order['id']}/status", json=body)

    assert response.status_code == status
    assert response.json()["error"]["param"] == param
    assert (await client.get(f"/orders/{order['id']}")).json()["status"] == "processing"
