"""Property-based fuzzing: arbitrary JSON arguments for every tool and every resource template, in both eras.

For any JSON object of arguments, valid or not, a tool call:

- returns a result: never a JSON-RPC protocol error (``call_tool`` does not raise ``MCPError``);
- when it fails, fails as ``is_error`` with a message that explains itself, never a bare internal error;
- never shows a traceback, a raw Python exception or a secret (the server holds the canary API key);

and a normal call still works afterwards. A resource read with an arbitrary template parameter either answers or
fails with "invalid params / not found" (-32602) and a clean message; never an internal error (-32603).

Hypothesis drives the examples from a worker thread while one MCP client stays open on the event loop: each example
hops onto the loop with ``anyio.from_thread.run``. ``derandomize=True`` makes the examples the same on every run.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, CallToolResult
from starlette.applications import Starlette

from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.server import HajatekServer
from tests.reliability.support import ClientSpec, server_on
from tests.support import NOW, clean_output, text

EXAMPLES = 60
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOOLS = [
    "get_store", "list_products", "create_product", "update_product", "delete_product", "list_orders", "get_order",
    "update_order_status", "export_orders", "list_customers", "get_analytics", "list_events",
]  # fmt: skip
TEMPLATES = ["hajatek://catalog/{category}", "hajatek://orders/{order_id}", "hajatek://events/{event_id}"]

#: Raw Python failures that must never reach the model as a tool's message.
RAW_FAILURES = re.compile(
    r"\b(KeyError|TypeError|AttributeError|IndexError|AssertionError|RuntimeError|ValueError|NameError|"
    r"UnboundLocalError|ZeroDivisionError|OverflowError|RecursionError|sqlite3)\b|object has no attribute"
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
KNOWN_IDS = {"prod_": ["prod_0001", "prod_0224", "prod_9999"], "ord_": ["ord_000001", "ord_001200", "ord_999999"],
             "cfm_": ["cfm_" + "a" * 30]}  # fmt: skip


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values near what the schema asks for (and at its edges), so the fuzz reaches past argument validation."""
    kind, pattern = schema.get("type"), schema.get("pattern", "")
    ids = next((ids for prefix, ids in KNOWN_IDS.items() if pattern.startswith(f"^{prefix}")), None)
    strategy: st.SearchStrategy[Any] = json_values
    if "enum" in schema:
        strategy = st.sampled_from(schema["enum"]) | st.text(max_size=12)
    elif kind == "integer":
        strategy = st.integers(min_value=-3, max_value=150) | st.sampled_from([0, 1, 100, 101, 10**6, 10**6 + 1, 2**63])
    elif kind == "number":
        cents = st.decimals(min_value=-10, max_value=2_000_000, places=2, allow_nan=False, allow_infinity=False)
        strategy = st.integers(-5, 2_000_000) | cents.map(float) | st.floats(0, 10, allow_nan=False)
    elif kind == "string" and ids is not None:
        strategy = st.sampled_from(ids) | st.from_regex(pattern, fullmatch=True)
    elif kind == "string" and schema.get("format") == "date-time":
        strategy = st.datetimes().map(lambda d: d.isoformat()) | st.sampled_from(["2026-11-01", "2026-13-45", ""])
    elif kind == "string" and pattern:
        strategy = st.from_regex(pattern, fullmatch=True) | st.text(max_size=80)
    elif kind == "string":
        strategy = st.text(max_size=schema.get("maxLength", 300) + 5)
    return strategy


def arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Arbitrary JSON objects; objects shaped like the schema with plausible or arbitrary values; and near-valid
    objects (every required field present, every value plausible), so that writes get past validation too."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    shaped = st.fixed_dictionaries(
        {}, optional={name: plausible(prop) | json_values for name, prop in properties.items()}
    )
    near_valid = st.fixed_dictionaries(
        {name: plausible(prop) for name, prop in properties.items() if name in required},
        optional={name: plausible(prop) for name, prop in properties.items() if name not in required},
    )
    return st.dictionaries(st.text(max_size=10), json_values, max_size=5) | shaped | near_valid


@pytest.fixture
def sandbox_app() -> Iterator[Starlette]:
    app = create_app(SandboxConfig(now=NOW, seed=42))
    yield app
    app.state.sandbox.store.close()


@pytest.fixture
def server(sandbox_app: Starlette) -> HajatekServer:
    return server_on(
        "http://sandbox.local/v1", ClientSpec(max_retries=0), transport=httpx2.ASGITransport(app=sandbox_app)
    )


def check_tool_result(tool: str, result: CallToolResult) -> None:
    message = text(result)
    clean_output(message)
    if result.is_error:
        explanation = message.removeprefix(f"Error executing tool {tool}:").strip()
        assert len(explanation) >= 15, f"an error that does not explain itself: {message!r}"
        assert not RAW_FAILURES.search(message), f"a raw Python failure reached the model: {message!r}"
    else:
        assert result.structured_content is not None, message


@pytest.mark.parametrize("tool", TOOLS)
async def test_any_json_arguments_give_a_result_or_a_clear_tool_error_and_the_server_keeps_serving(
    server: HajatekServer, mode: str, tool: str
) -> None:
    async with Client(server, mode=mode) as client:
        schema = next(t for t in (await client.list_tools()).tools if t.name == tool).input_schema

        @FUZZ
        @given(args=arguments(schema))
        @example(args={})
        @example(args={"page": 0, "limit": 0, "product_id": "prod_", "order_id": "ord_", "status": None})
        @example(args={"price": 1e-9, "stock": -1, "name": "", "category": "Not A Slug", "since": "yesterday"})
        def call(args: dict[str, Any]) -> None:
            try:
                result = anyio.from_thread.run(client.call_tool, tool, args)
            except MCPError as exc:  # pragma: no cover - the property under test
                pytest.fail(f"{tool}({args!r}) raised a protocol error instead of an is_error result: {exc}")
            check_tool_result(tool, result)

        await anyio.to_thread.run_sync(call)
        after = await client.call_tool("get_store", {})
        assert not after.is_error, text(after)


@pytest.mark.parametrize("template", TEMPLATES)
async def test_any_resource_template_parameter_gives_contents_or_a_clean_not_found(
    server: HajatekServer, mode: str, template: str
) -> None:
    async with Client(server, mode=mode) as client:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert template in templates

        @FUZZ
        @given(value=st.text(max_size=40) | st.sampled_from(["ord_000001", "evt_1", "perfumes-oud", "prod_0001"]))
        @example(value="")
        @example(value="NOT-A-SLUG")
        @example(value="../../etc/passwd")
        @example(value="ord_" + string.digits * 10)
        def read(value: str) -> None:
            uri = template.replace(template[template.index("{") : template.index("}") + 1], quote(value, safe="-_.~"))
            error = None
            try:
                result = anyio.from_thread.run(lambda: client.read_resource(uri, cache_mode="bypass"))
            except MCPError as exc:
                error = exc.error
            if error is None:
                assert result.contents, uri
            else:
                assert error.code != INTERNAL_ERROR, f"{uri}: internal error: {error.message}"
                clean_output(error.message)
                assert len(error.message) >= 15, error.message

        await anyio.to_thread.run_sync(read)
        assert not (await client.call_tool("get_store", {})).is_error
