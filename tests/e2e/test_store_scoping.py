"""Local state belongs to one store: the demo store's audit entries and events never show for a real store.

The user's path from the issue: a write on ``--sandbox``, then the same data dir for a real store (here the sandbox
served on 127.0.0.1 as the "real" API, under another store id), and back. Both servers are the console script over
stdio, as a host runs them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import TextResourceContents

from hajatek_mcp.sandbox import SandboxConfig, create_app
from tests.support import Loopback

REAL_STORE = "str_myrealshop"


@pytest.fixture
def real_api() -> Iterator[str]:
    """A Hajatek API on 127.0.0.1 for the "real" store (the sandbox app, as a stranger's server would be)."""
    app = create_app(SandboxConfig(seed=7))
    with Loopback(app, timeout_graceful_shutdown=3) as url:
        yield f"{url}/v1"
    app.state.sandbox.store.close()


def _server(script: Path, data_dir: Path, *, sandbox: bool, api: str = "") -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(data_dir.parent), "HAJATEK_DATA_DIR": str(data_dir)}
    if not sandbox:
        env |= {"HAJATEK_API_KEY": "sk_sandbox_pro", "HAJATEK_STORE_ID": REAL_STORE, "HAJATEK_BASE_URL": api,
                "HAJATEK_PLAN": "pro"}  # fmt: skip
    return StdioServerParameters(command=str(script), args=["--sandbox"] if sandbox else [], env=env)


async def _state(client: Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the store's agent sees of local state: the events it was sent and the audit log's entries."""
    events = await client.call_tool("list_events", {"limit": 100})
    assert events.structured_content is not None
    content = (await client.read_resource("hajatek://audit")).contents[0]
    assert isinstance(content, TextResourceContents)
    return list(events.structured_content["events"]), list(json.loads(content.text)["entries"])


async def test_the_sandbox_and_a_real_store_in_one_data_dir_never_see_each_others_state(
    script: Path, tmp_path: Path, real_api: str
) -> None:
    data = tmp_path / "data"
    async with Client(_server(script, data, sandbox=True)) as demo:
        moved = await demo.call_tool("update_order_status", {"order_id": "ord_001200", "status": "processing"})
        assert not moved.is_error
        demo_events, demo_audit = [], []
        for _ in range(100):  # the sandbox's signed webhooks arrive asynchronously, as from the real Hajatek
            demo_events, demo_audit = await _state(demo)
            if demo_events:
                break
    assert demo_events, "the sandbox delivered its events to its own inbox"
    assert [e["target"] for e in demo_audit] == ["ord_001200"]

    async with Client(_server(script, data, sandbox=False, api=real_api)) as real:
        real_events, real_audit = await _state(real)
        assert (real_events, real_audit) == ([], []), "the demo store's events and writes must not show here"
        pending = await real.call_tool("list_orders", {"status": "pending", "limit": 1})
        assert pending.structured_content is not None
        order_id = pending.structured_content["orders"][0]["id"]
        moved = await real.call_tool("update_order_status", {"order_id": order_id, "status": "processing"})
        assert not moved.is_error, moved.content
        _, real_audit = await _state(real)
    assert [e["target"] for e in real_audit] == [order_id]

    async with Client(_server(script, data, sandbox=True)) as demo:
        _, demo_audit = await _state(demo)
    assert [e["target"] for e in demo_audit] == ["ord_001200"], "and the real store's write does not show here"
