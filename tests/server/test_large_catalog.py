"""Resources and completions stay bounded on a large catalog: the API has no category or stock endpoints, so each
is read from product listings, and no read may turn into a walk of the whole catalog."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.types import ResourceTemplateReference, TextResourceContents
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server import guards as guards_module
from hajatek_mcp.server import resources as resources_module
from tests.support import SANDBOX_KEY, CountingTransport, oldest, sandbox_http


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeded store has 224 products; bounds scaled down to it stand for 2,000 and 200 on a large store."""
    monkeypatch.setattr(resources_module, "CATALOG_SCAN", 150)
    monkeypatch.setattr(resources_module, "CATEGORY_LIMIT", 10)


def client_on(link: CountingTransport, mode: str) -> Client:
    def connect() -> HajatekClient:
        return HajatekClient(SANDBOX_KEY, store_id="str_sandbox", base_url="http://sandbox.local/v1",
                             plan="business", max_retries=0, transport=link)  # fmt: skip

    return Client(build_server(ServerOptions(sandbox=True), connect), mode=mode)


async def read(client: Client, uri: str) -> dict[str, Any]:
    [content] = (await client.read_resource(uri)).contents
    assert isinstance(content, TextResourceContents)
    data: dict[str, Any] = json.loads(content.text)
    return data


async def test_the_catalog_overview_reads_a_bounded_number_of_products_and_says_so(
    sandbox_app: Starlette, small_bounds: None, mode: str
) -> None:
    link = CountingTransport(sandbox_app)
    async with client_on(link, mode) as client:
        overview = await read(client, "hajatek://catalog")
    assert len(link.sent) == 2, "150 products: two pages of 100"
    assert overview["products"] == 224, "the true total"
    assert overview["scanned"] == 150
    assert sum(overview["categories"].values()) == 150
    assert "newest 150 of 224 products" in str(overview["note"])
    assert "list_products" in str(overview["note"])


async def test_the_catalog_overview_of_a_small_catalog_is_complete(sandbox_app: Starlette, mode: str) -> None:
    link = CountingTransport(sandbox_app)
    async with client_on(link, mode) as client:
        overview = await read(client, "hajatek://catalog")
    assert overview["products"] == 224
    assert sum(overview["categories"].values()) == 224
    assert "note" not in overview
    assert "scanned" not in overview


async def test_a_large_category_lists_its_newest_products_and_says_how_to_page_on(
    sandbox_app: Starlette, small_bounds: None, mode: str
) -> None:
    link = CountingTransport(sandbox_app)
    async with client_on(link, mode) as client:
        listed = await read(client, "hajatek://catalog/perfumes-oud")
        page_two = await client.call_tool("list_products", {"category": "perfumes-oud", "limit": 10, "page": 2})
    assert len(listed["products"]) == 10
    assert listed["total"] == 28
    assert "newest 10 of 28" in str(listed["note"])
    assert "category='perfumes-oud', limit=10 and page=2" in str(listed["note"])
    assert page_two.structured_content is not None
    assert page_two.structured_content["products"][0]["id"] not in {p["id"] for p in listed["products"]}


async def test_category_completions_read_the_catalog_once_not_on_every_keystroke(
    sandbox_app: Starlette, mode: str
) -> None:
    link = CountingTransport(sandbox_app)
    template = ResourceTemplateReference(type="ref/resource", uri="hajatek://catalog/{category}")
    async with client_on(link, mode) as client:
        first = await client.complete(template, {"name": "category", "value": "p"})
        reads = len(link.sent)
        for typed in ("pe", "per", "perf", "h", ""):
            await client.complete(template, {"name": "category", "value": typed})
        again = await client.complete(template, {"name": "category", "value": "p"})
    assert reads >= 1
    assert len(link.sent) == reads, "later keystrokes reuse the category list"
    assert first.completion.values == again.completion.values
    assert "perfumes-oud" in first.completion.values


class NoTotals(CountingTransport):
    """An API whose listings say has_more but give no total (the reference does not promise one)."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await super().handle_async_request(request)
        await response.aread()
        body = json.loads(response.content)
        body.pop("total", None)
        return httpx2.Response(response.status_code, json=body)


async def test_without_totals_the_bounded_resources_say_more_than(
    sandbox_app: Starlette, small_bounds: None, mode: str
) -> None:
    link = NoTotals(sandbox_app)
    async with client_on(link, mode) as client:
        overview = await read(client, "hajatek://catalog")
        listed = await read(client, "hajatek://catalog/perfumes-oud")
    assert overview["scanned"] == 150
    assert "products" not in overview, "no count it cannot vouch for"
    assert "newest 150 of more than 150 products" in overview["note"]
    assert "total" not in listed
    assert "newest 10 of more than 10 products" in listed["note"]


async def test_a_guard_asks_the_agent_to_search_for_a_product_beyond_its_lookup_and_then_finds_it(
    sandbox_app: Starlette, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(guards_module, "LOOKUP_PAGES", 1)  # stands for 20 pages (2,000 products) on a large store
    async with sandbox_http(sandbox_app) as http:
        oldest_product = await oldest(http, "/v1/products", "products")
    link = CountingTransport(sandbox_app)
    cut = {"product_id": oldest_product["id"], "price": 1}
    async with client_on(link, mode) as client:
        refused = await client.call_tool("update_product", cut)
        looked = len(link.sent)
        await client.call_tool("list_products", {"search": oldest_product["sku"]})
        link.sent.clear()
        preview = await client.call_tool("update_product", cut)
        audit = await read(client, "hajatek://audit")
    assert refused.is_error
    message = " ".join(getattr(block, "text", "") for block in refused.content)
    assert f"{oldest_product['id']} is not among the newest 100 products" in message
    assert "Find it with list_products (search by its name or SKU), then repeat this call" in message
    assert "Nothing was changed" in message
    assert looked == 1, "one page of 100: the bound"
    assert not preview.is_error
    assert preview.structured_content is not None
    assert preview.structured_content["outcome"] in {"confirmation_required", "done"}
    assert len(link.sent) == 1, "found through the search's page"
    first = audit["entries"][-1]  # newest first: the refusal is the oldest entry
    assert (first["tool"], first["outcome"], first["target"]) == ("update_product", "failed", oldest_product["id"])


async def test_keystrokes_that_arrive_together_share_one_read_of_the_categories(
    sandbox_app: Starlette, mode: str
) -> None:
    link = CountingTransport(sandbox_app)
    template = ResourceTemplateReference(type="ref/resource", uri="hajatek://catalog/{category}")
    answers: list[list[str]] = []

    async def keystroke(client: Client, typed: str) -> None:
        answers.append((await client.complete(template, {"name": "category", "value": typed})).completion.values)

    async with client_on(link, mode) as client, anyio.create_task_group() as group:
        for typed in ("", "p", "pe", "h", "ho", "e"):
            group.start_soon(keystroke, client, typed)
    assert len(link.sent) == 3, "one read of the catalog (224 products, 3 pages), not six"
    assert len(answers) == 6
    assert "perfumes-oud" in max(answers, key=len)


async def test_a_failed_read_of_the_categories_is_not_repeated_on_every_keystroke(
    sandbox_app: Starlette, mode: str
) -> None:
    sandbox_app.state.sandbox.faults.inject("/v1/products", method="GET", mode="status", status=503, count=None)
    link = CountingTransport(sandbox_app)
    template = ResourceTemplateReference(type="ref/resource", uri="hajatek://catalog/{category}")
    async with client_on(link, mode) as client:
        for typed in ("", "p", "pe", "per"):
            answer = await client.complete(template, {"name": "category", "value": typed})
            assert answer.completion.values == []
    assert len(link.sent) == 1, "the failure is remembered for a while (no retries: max_retries=0)"


def test_the_category_limit_is_whole_pages() -> None:
    limit = resources_module.CATEGORY_LIMIT
    assert limit <= 100 or limit % 100 == 0, "the resource reads whole pages and its note names the next one"
