"""The world of the agent task benchmark: a fresh sandbox store per task, our server on it, and a counting agent.

Each task runs against its own sandbox (seed 42, its clock pinned to :data:`NOW`, a Friday afternoon in Riyadh), so a
task that changes the store cannot disturb another, and the ground truth is read straight from that sandbox's own
database. The sandbox's signed webhooks loop back into the server's inbox, as with ``serve --sandbox``. The agent is a
real MCP client (in memory, the current protocol era) whose host supports elicitation and whose merchant answers
yes; :class:`Agent` counts the tool calls and the bytes of tool output the model reads (the text content).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx2
from mcp import Client, types
from mcp.client.context import ClientRequestContext
from pydantic import SecretStr
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.sandbox.core import Sandbox
from hajatek_mcp.server import ServerOptions, build_server
from hajatek_mcp.server.events import WEBHOOK_PATH

__all__ = ["NOW", "RIYADH", "Agent", "Call", "TaskError", "World", "halalas", "local_midnight", "world"]

#: The sandbox's clock: Friday 27 November 2026, 15:00 in Riyadh.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RIYADH = timezone(timedelta(hours=3))
SANDBOX_KEY = "sk_sandbox_business"


class TaskError(Exception):
    """A tool answered with an error the reference solution did not expect."""


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: dict[str, Any]
    bytes: int


@dataclass
class Agent:
    """Calls tools as an agent would and counts what it reads."""

    client: Client
    calls: list[Call] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    """The embedded resources (an export's CSV) of the latest result."""

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """Call ``tool``; its structured content (what the text says, as data). Tool errors raise TaskError."""
        result = await self.client.call_tool(tool, arguments)
        text = "".join(
            block.text if isinstance(block, types.TextContent) else _embedded(block) for block in result.content
        )
        self.calls.append(Call(tool, arguments, len(text.encode())))
        self.attachments = [_embedded(block) for block in result.content if not isinstance(block, types.TextContent)]
        if result.is_error:
            raise TaskError(f"{tool}: {text}")
        return result.structured_content or {}

    @property
    def bytes_read(self) -> int:
        return sum(c.bytes for c in self.calls)


def _embedded(block: Any) -> str:
    """The text of an embedded resource the host shows the model (an export's CSV), else nothing."""
    resource = getattr(block, "resource", None)
    return getattr(resource, "text", "") or ""


@dataclass
class World:
    """One task's store: the agent, the sandbox (its database is the ground truth) and the clock."""

    agent: Agent
    sandbox: Sandbox
    facts: dict[str, Any] = field(default_factory=dict)
    """What the task's request names (a customer, an order), picked from the seeded store."""

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        return list(self.sandbox.store.db.query(sql, params))

    async def settle(self) -> None:
        """Wait until every webhook the sandbox sent so far reached the server's inbox."""
        await self.sandbox.webhooks.drain()


async def _yes(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    """The merchant, asked by the host to confirm a change, says yes."""
    return types.ElicitResult(action="accept", content={"confirm": True})


@asynccontextmanager
async def world() -> AsyncIterator[World]:
    """A fresh sandbox store, our server on it (webhooks looping back), and an agent connected to it."""
    secret = secrets.token_urlsafe(32)
    receiver: list[Starlette] = []
    app: list[Starlette] = []

    def connect() -> HajatekClient:
        transport = httpx2.ASGITransport(app=app[0])
        return HajatekClient(
            SANDBOX_KEY,
            store_id="str_sandbox",
            base_url="http://sandbox.local/v1",
            plan="business",
            transport=transport,
        )

    started = time.time()

    def clock() -> float:  # the server's time runs on from the sandbox's, so its webhooks are fresh, not replays
        return NOW.timestamp() + time.time() - started

    options = ServerOptions(sandbox=True, webhook_secret=SecretStr(secret), clock=clock)
    server = build_server(options, connect)
    receiver.append(Starlette(routes=server.webhook_routes))
    config = SandboxConfig(
        now=NOW,
        seed=42,
        enable_admin=True,
        webhook_url=f"http://hajatek-mcp.local{WEBHOOK_PATH}",
        webhook_secret=secret,
        webhook_transport=httpx2.ASGITransport(app=receiver[0]),
    )
    app.append(create_app(config))
    sandbox: Sandbox = app[0].state.sandbox
    try:
        async with Client(server, elicitation_callback=_yes) as client:
            yield World(Agent(client), sandbox)
            await sandbox.webhooks.drain()
    finally:
        await sandbox.aclose()


def halalas(value: Any) -> int:
    """A SAR amount from a tool result (number or string) in halalas, exactly."""
    return int((Decimal(str(value)) * 100).to_integral_value())


def local_midnight(day: str) -> datetime:
    """Midnight in Riyadh of ``day`` (YYYY-MM-DD), as an aware UTC datetime."""
    return datetime.fromisoformat(day).replace(tzinfo=RIYADH).astimezone(UTC)


def iso(moment: datetime) -> str:
    """The sandbox's way of writing a time: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
