"""Finding 4: no character the text policy forbids reaches the model, through any tool, resource, prompt or the audit.

Arbitrary Unicode (plus the known smuggling characters: tag characters, bidi controls, the soft hyphen, invisible
operators, fillers, variation selectors, interlinear annotations) is written into every text field the upstream
returns, and into the fields a write sends. Every string that comes back is checked against the policy, character by
character. Arabic text with diacritics, ZWNJ and ZWJ comes back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult, TextContent, TextResourceContents
from starlette.applications import Starlette

from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server.safety import clean, forbidden
from tests.adversarial.hostile import Hostile, hostile_client
from tests.support import NOW

SMUGGLED = (
    "\U000e0001\U000e0072\U000e0065\U000e0066\U000e0075\U000e006e\U000e0064\U000e007f",  # tags: "refund", hidden
    "\u202eevil\u202c", "\u2066x\u2069", "soft\u00adhyphen", "a\u2061b\u2062c\u2063d\u2064", "\u3164\u115f\u1160",
    "\ufe0f\ufe00\U000e0100", "\ufff9annotated\ufffaruby\ufffb", "\u200b\u2060\ufeff\u180e", "\x00\x07\x1b[31m",
    "line\nbreak\r\ntab\tend\u2028\u2029", "\ue000private", "\U0010fffe\ufdd0",
)  # fmt: skip
ARABIC = "عُودٌ مَلَكِيّ\u200cفاخر\u200d — مِسك الطهارة"

POLICY = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip


def offending(value: Any, where: str = "") -> list[str]:
    """Every place in ``value`` (JSON-like) holding a character the policy forbids."""
    if isinstance(value, str):
        return [f"{where}: U+{ord(c):04X}" for c in value if forbidden(c)]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in offending(k, where) + offending(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in offending(v, f"{where}[{i}]")]
    return []


def _texts(result: CallToolResult) -> list[Any]:
    found: list[Any] = [result.structured_content]
    for block in result.content:
        if isinstance(block, TextContent):
            found.append(block.text)
            body = block.text.split("\n", 1)[-1]  # a note may stand before the JSON
            if body.startswith("{"):
                found.append(json.loads(body))
    return found


@pytest.fixture
def sandbox() -> Iterator[Starlette]:
    app = create_app(SandboxConfig(now=NOW, seed=42, enable_admin=True))
    yield app
    app.state.sandbox.store.close()


async def _everything(client: Client, injected: str) -> list[tuple[str, Any]]:
    """Call every read tool, every resource and every prompt, plus one write that quotes ``injected``."""
    seen: list[tuple[str, Any]] = []
    order = (await client.call_tool("list_orders", {"limit": 1})).structured_content
    assert order is not None
    order_id = order["orders"][0]["id"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_store", {}), ("list_products", {"limit": 5}), ("list_orders", {"limit": 5}),
        ("get_order", {"order_id": order_id}), ("list_customers", {"limit": 5}), ("get_analytics", {"period": "30d"}),
        ("list_events", {}), ("export_orders", {"status": "pending"}),
        ("create_product", {"name": "P" + injected[:150], "price": 5, "category": "perfumes-oud",
                            "description": injected[:4000], "name_ar": "ع" + injected[:150]}),
        ("update_product", {"product_id": "prod_0001", "name": "N" + injected[:150]}),
        ("update_product", {"product_id": "prod_0002", "price": 0.01}),  # guarded: a preview that names the product
    ]  # fmt: skip
    for name, arguments in calls:
        result = await client.call_tool(name, arguments)
        seen += [(name, t) for t in _texts(result)]
    for uri in ("hajatek://store", "hajatek://catalog", "hajatek://catalog/perfumes-oud", f"hajatek://orders/{order_id}",
                "hajatek://analytics", "hajatek://audit", "hajatek://events"):  # fmt: skip
        for content in (await client.read_resource(uri)).contents:
            assert isinstance(content, TextResourceContents)
            seen.append((uri, json.loads(content.text)))
    for prompt in (await client.list_prompts()).prompts:
        got = await client.get_prompt(prompt.name, {})
        seen += [(prompt.name, m.content.text) for m in got.messages if isinstance(m.content, TextContent)]
    return seen


def test_no_forbidden_character_reaches_the_model(sandbox: Starlette, mode: str) -> None:
    hostile = Hostile(httpx2.ASGITransport(app=sandbox))
    server = build_server(ServerOptions(sandbox=True, confirm="token"), lambda: hostile_client(hostile))

    @POLICY
    @given(
        st.text(min_size=1, max_size=60) | st.sampled_from(SMUGGLED) | st.lists(st.sampled_from(SMUGGLED)).map("".join)
    )
    @example("".join(SMUGGLED))
    def check(injected: str) -> None:
        hostile.text = injected
        seen = anyio.from_thread.run(_everything, client, injected)
        hits = [f"{where} {hit}" for where, value in seen for hit in offending(value)]
        assert not hits, hits[:5]

    async def main() -> None:
        nonlocal client
        async with Client(server, mode=mode) as opened:  # type: ignore[arg-type]
            client = opened
            await anyio.to_thread.run_sync(check)

    client: Client
    anyio.run(main)


async def test_arabic_text_with_diacritics_and_joiners_is_unchanged(sandbox: Starlette, mode: str) -> None:
    server = build_server(
        ServerOptions(sandbox=True), lambda: hostile_client(Hostile(httpx2.ASGITransport(app=sandbox)))
    )
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        fields = {"name": ARABIC, "name_ar": ARABIC, "price": 10, "category": "perfumes-oud", "description": ARABIC}
        created = await client.call_tool("create_product", fields)
        assert created.structured_content is not None
        listed = await client.call_tool("list_products", {"search": "مَلَكِيّ"})
    assert created.structured_content["name"] == ARABIC
    assert created.structured_content["name_ar"] == ARABIC
    assert listed.structured_content is not None
    assert listed.structured_content["products"][0]["name"] == ARABIC
    assert clean(ARABIC) == ARABIC


def test_the_policy_by_category() -> None:
    for char in "\u00ad\u2061\u2064\u3164\ufe0f\U000e0041\U000e007f\ufff9\u202e\u2066\u200b\U000e0100\x00\x7f":
        assert forbidden(char), f"U+{ord(char):04X}"
    for char in "\u200c\u200d\u064b\u0651اa1 ،؟😀":
        assert not forbidden(char), f"U+{ord(char):04X}"
    assert clean("a\n\n\tb\u2028c") == "a b c"
