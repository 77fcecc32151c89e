"""``/healthz`` and ``/readyz``: a replica is ready when its shared database and Redis answer, and says which does
not (503), without a password; both answer without a token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import httpx2
import psycopg
from pydantic import SecretStr

from hajatek_mcp.server import HajatekServer
from hajatek_mcp.server.http import HttpSecurity, http_app
from hajatek_mcp.server.probes import Check
from hajatek_mcp.storage.redis_link import RedisLink
from tests.servers import fresh_database
from tests.support import Loopback, free_port

MakeServer = Callable[..., HajatekServer]
TOKEN = "a-bearer-token-for-the-probes-of-32-chars"


@asynccontextmanager
async def served(
    server: HajatekServer, readiness: Mapping[str, Check] | None = None
) -> AsyncIterator[httpx2.AsyncClient]:
    """``server`` served by uvicorn on 127.0.0.1, its services running (as ``hajatek-mcp serve`` runs it)."""
    app = http_app(
        server,
        "streamable-http",
        host="127.0.0.1",
        security=HttpSecurity(auth_token=SecretStr(TOKEN)),
        services=server.services,
        readiness=readiness if readiness is not None else server.readiness,
    )
    async with Loopback(app) as origin, httpx2.AsyncClient(base_url=origin) as http:
        yield http


async def test_a_server_on_files_is_ready_and_alive_without_a_token(make_server: MakeServer) -> None:
    server = make_server()
    async with served(server) as http:
        alive, ready = await http.get("/healthz"), await http.get("/readyz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"database": "ok"}})


async def test_a_replica_whose_database_and_redis_answer_is_ready(
    make_server: MakeServer, postgres_url: str, redis: str
) -> None:
    database = SecretStr(fresh_database(postgres_url, "probes_ready"))
    server = make_server(database_url=database, redis_url=SecretStr(redis))
    try:
        async with served(server) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    finally:
        server.close()


async def test_a_replica_whose_redis_is_down_is_not_ready_and_says_why_without_the_password(
    make_server: MakeServer,
) -> None:
    link = RedisLink(f"redis://:pa55word-of-redis@127.0.0.1:{free_port()}/0")
    server = make_server()
    try:
        async with served(server, {**server.readiness, "redis": link.ping}) as http:
            ready = await http.get("/readyz")
    finally:
        await link.aclose()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("Redis at redis://:***@127.0.0.1:")
    assert "HAJATEK_REDIS_URL" in body["checks"]["redis"]
    assert "pa55word" not in ready.text


async def test_a_replica_whose_database_is_behind_its_code_is_not_ready(
    make_server: MakeServer, postgres_url: str
) -> None:
    url = fresh_database(postgres_url, "probes_behind")
    server = make_server(database_url=SecretStr(url))
    try:
        async with served(server) as http:
            assert (await http.get("/readyz")).status_code == 200
            with psycopg.connect(url, autocommit=True) as conn:  # the database a version behind this replica's code
                conn.execute("UPDATE hajatek_schema SET version = version - 1 WHERE what = 'the audit log'")
            ready = await http.get("/readyz")
    finally:
        server.close()
    assert ready.status_code == 503, ready.text
    assert "not migrated: the audit log" in ready.json()["checks"]["database"]
    assert "db migrate" in ready.json()["checks"]["database"]
