"""The OAuth grants (``oauth.db``) through the store's async interface: clients, consents, codes, tokens, revocation.

Every behaviour runs on a file, in memory and on PostgreSQL (one server for the session, a fresh database per test).
Time is the test's fake clock; nothing sleeps. State is read back only through :class:`OAuthStore`; the looks at the
file and at the tables themselves check that no plain token is in them, and the upgrade tests write an old file with
raw sqlite3.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from hajatek_mcp.server.oauth.store import SCHEMA, UNAUTHORIZED_CLIENT_TTL, Grant, OAuthStore, digest, new_secret
from hajatek_mcp.storage import Database
from hajatek_mcp.storage.postgres import Postgres
from tests.servers import fresh_database
from tests.support import FakeClock

HOUR = 3600.0
APP = {"client_id": "app_1", "client_name": "Claude", "redirect_uris": ["https://claude.ai/callback"]}


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Postgres]:
    """A fresh, empty database on that server, closed at the end."""
    database = Postgres(fresh_database(postgres_url, f"oauth_{secrets.token_hex(6)}"))
    yield database
    database.close()


@pytest.fixture(params=["file", "memory", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[OAuthStore]:
    if request.param == "postgresql":
        postgres: Postgres = request.getfixturevalue("postgres")
        opened = OAuthStore(Database.on(postgres.bind(SCHEMA), concurrency=4), clock=clock)
    else:
        opened = OAuthStore(tmp_path / "oauth.db" if request.param == "file" else None, clock=clock)
    yield opened
    opened.close()


def grant(
    kind: str, grant_id: str, client_id: str = "app_1", *, expires_at: float, scopes: str = "store.read"
) -> Grant:
    return Grant(kind, grant_id, client_id, scopes.split(), "https://mcp.example/mcp", "merchant", expires_at)


async def issue(store: OAuthStore, grant_id: str, client_id: str = "app_1", *, scopes: str = "store.read") -> str:
    """An access and a refresh token for one grant, as the provider issues them; returns the access token."""
    access = new_secret("hjk_at_")
    await store.add_token(access, grant("access", grant_id, client_id, expires_at=store.clock() + HOUR, scopes=scopes))
    await store.add_token(new_secret("hjk_rt_"), grant("refresh", grant_id, client_id, expires_at=store.clock() + HOUR,
                                                       scopes=scopes))  # fmt: skip
    return access


# Clients


async def test_a_registered_client_is_read_back_and_listed(store: OAuthStore, clock: FakeClock) -> None:
    assert await store.add_client("app_1", APP)

    assert await store.client("app_1") == APP
    assert await store.client("app_unknown") is None
    assert await store.clients() == [
        {"client_id": "app_1", "client_name": "Claude", "registered": clock.now, "scopes": "", "last_issued": None,
         "live_grants": 0}
    ]  # fmt: skip


async def test_the_list_shows_each_clients_scopes_and_live_grants(store: OAuthStore, clock: FakeClock) -> None:
    await store.add_client("app_1", APP)
    await store.add_client("app_2", {"client_id": "app_2"})
    await issue(store, "grt_a", scopes="store.read store.write")
    clock.now += 60
    await issue(store, "grt_b")

    first, second = await store.clients()

    assert (first["client_id"], first["live_grants"], first["last_issued"]) == ("app_1", 2, clock.now)
    assert set(first["scopes"].split(",")) == {"store.read store.write", "store.read"}
    assert (second["client_id"], second["client_name"], second["live_grants"]) == ("app_2", None, 0)
    clock.now += 2 * HOUR
    assert (await store.clients())[0]["live_grants"] == 0, "expired tokens are no live grant"


async def test_a_registration_never_authorized_is_forgotten_after_a_day(store: OAuthStore, clock: FakeClock) -> None:
    await store.add_client("app_unused", {"client_id": "app_unused"})
    await store.add_client("app_1", APP)
    await store.mark_authorized("app_1")
    clock.now += UNAUTHORIZED_CLIENT_TTL + 1

    assert await store.add_client("app_new", {"client_id": "app_new"})

    assert [c["client_id"] for c in await store.clients()] == ["app_1", "app_new"]


# Pending consents


async def test_a_pending_consent_keeps_its_request_and_counts_wrong_attempts(store: OAuthStore) -> None:
    params = {"redirect_uri": "https://claude.ai/callback", "scopes": ["store.read"], "state": "xyz"}
    request_id, csrf = await store.add_pending("app_1", params, ttl=600)

    assert await store.pending(request_id) == ("app_1", params, csrf, 0)
    await store.count_attempt(request_id)
    await store.count_attempt(request_id)
    assert await store.pending(request_id) == ("app_1", params, csrf, 2)
    assert request_id.startswith("req_")
    assert csrf != request_id


async def test_a_pending_consent_is_answered_once(store: OAuthStore) -> None:
    request_id, _ = await store.add_pending("app_1", {"redirect_uri": "https://claude.ai/callback"}, ttl=600)

    assert await store.drop_pending(request_id)
    assert not await store.drop_pending(request_id)
    assert await store.pending(request_id) is None


async def test_a_pending_consent_expires(store: OAuthStore, clock: FakeClock) -> None:
    request_id, _ = await store.add_pending("app_1", {"redirect_uri": "https://claude.ai/callback"}, ttl=600)
    clock.now += 601

    assert await store.pending(request_id) is None


# Codes


async def test_a_code_is_bound_to_its_client_and_carries_its_expiry(store: OAuthStore, clock: FakeClock) -> None:
    data = {"scopes": ["store.read"], "code_challenge": "abc", "subject": "merchant"}
    await store.add_code("hjk_code_1", "app_1", data, ttl=300)

    found = await store.code("hjk_code_1", "app_1")

    assert found is not None
    grant_id, stored, expires_at = found
    assert (grant_id[:4], stored, expires_at) == ("grt_", data, clock.now + 300)
    assert await store.code("hjk_code_1", "app_2") is None, "another client cannot load it"
    assert await store.code("hjk_code_2", "app_1") is None


async def test_a_code_is_used_once_even_by_concurrent_exchanges(store: OAuthStore) -> None:
    await store.add_code("hjk_code_1", "app_1", {"scopes": ["store.read"]}, ttl=300)
    used: list[bool] = []

    async def exchange() -> None:
        used.append(await store.use_code("hjk_code_1"))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(exchange)

    assert sorted(used) == [False] * 19 + [True]
    assert await store.code("hjk_code_1", "app_1") is None


# Tokens


async def test_a_token_is_read_back_by_its_value_and_kind(store: OAuthStore, clock: FakeClock) -> None:
    access = await issue(store, "grt_a", scopes="store.read store.write")

    assert await store.token(access, "access") == Grant(
        "access", "grt_a", "app_1", ["store.read", "store.write"], "https://mcp.example/mcp", "merchant",
        clock.now + HOUR,
    )  # fmt: skip
    assert await store.token(access, "refresh") is None
    assert await store.token(digest(access), "access") is None, "what the file keeps is no token"


def file_bytes(directory: Path) -> bytes:
    """Everything SQLite wrote for ``oauth.db`` (the file, its WAL)."""
    return b"".join(path.read_bytes() for path in sorted(directory.glob("oauth.db*")))


async def test_no_plain_token_or_code_is_in_the_file(tmp_path: Path, clock: FakeClock) -> None:
    store = OAuthStore(tmp_path / "oauth.db", clock=clock)
    try:
        access = await issue(store, "grt_a")
        await store.add_code("hjk_code_secret", "app_1", {"scopes": ["store.read"]}, ttl=300)
        assert await store.token(access, "access") is not None
    finally:
        store.close()

    written = file_bytes(tmp_path)
    assert access.encode() not in written
    assert b"hjk_code_secret" not in written
    assert digest(access).encode() in written, "the digest is what is kept"


async def test_no_plain_token_or_code_is_in_the_postgresql_tables(postgres: Postgres, clock: FakeClock) -> None:
    store = OAuthStore(Database.on(postgres.bind(SCHEMA), concurrency=4), clock=clock)
    access = await issue(store, "grt_a")
    await store.add_code("hjk_code_secret", "app_1", {"scopes": ["store.read"]}, ttl=300)

    with postgres.connection() as conn:  # every column of every row, as PostgreSQL spells it
        rows = [row for query in ("SELECT t::text FROM tokens t", "SELECT c::text FROM codes c")
                for (row,) in conn.execute(query)]  # fmt: skip

    assert any(digest(access) in row for row in rows), "the digest is what is kept"
    assert not any(access in row or "hjk_code_secret" in row for row in rows)


async def test_revoking_a_grant_removes_its_tokens_and_no_other(store: OAuthStore) -> None:
    first = await issue(store, "grt_a")
    second = await issue(store, "grt_b")

    assert await store.revoke_grant("grt_a") == 2, "its access and refresh tokens"

    assert await store.token(first, "access") is None
    assert await store.token(second, "access") is not None
    assert await store.revoke_grant("grt_a") == 0


async def test_revoking_a_client_removes_it_with_its_tokens_and_codes(store: OAuthStore) -> None:
    await store.add_client("app_1", APP)
    await store.add_client("app_2", {"client_id": "app_2"})
    mine = [await issue(store, "grt_a"), await issue(store, "grt_b")]
    theirs = await issue(store, "grt_c", "app_2")
    await store.add_code("hjk_code_1", "app_1", {"scopes": ["store.read"]}, ttl=300)

    assert await store.revoke_client("app_1") == 4

    assert await store.client("app_1") is None
    assert [await store.token(token, "access") for token in mine] == [None, None]
    assert await store.code("hjk_code_1", "app_1") is None
    assert await store.token(theirs, "access") is not None
    assert [c["client_id"] for c in await store.clients()] == ["app_2"]


async def test_grants_of_a_subject_are_listed_once_each_oldest_first(store: OAuthStore, clock: FakeClock) -> None:
    await store.add_client("app_1", APP)
    await issue(store, "grt_b", scopes="store.read store.write")  # access and refresh: one grant
    clock.now += 60
    await issue(store, "grt_a", "app_2")  # a client that never registered here shows without a name
    await store.add_token(new_secret("hjk_at_"), Grant("access", "grt_other", "app_1", ["store.read"], None, "other",
                                                       clock.now + HOUR))  # fmt: skip

    assert await store.grants_of("merchant") == [
        {"client_id": "app_1", "client_name": "Claude", "scopes": "store.read store.write", "issued": clock.now - 60,
         "expires": clock.now - 60 + HOUR},
        {"client_id": "app_2", "client_name": None, "scopes": "store.read", "issued": clock.now,
         "expires": clock.now + HOUR},
    ]  # fmt: skip
    clock.now += 2 * HOUR
    assert await store.grants_of("merchant") == [], "expired grants are not live"


async def test_revoking_a_subject_removes_its_tokens_and_codes_and_no_other(store: OAuthStore) -> None:
    await store.add_client("app_1", APP)
    mine = await issue(store, "grt_a")  # subject "merchant"
    theirs = new_secret("hjk_at_")
    await store.add_token(
        theirs, Grant("access", "grt_b", "app_1", ["store.read"], None, "str_b", store.clock() + HOUR)
    )
    await store.add_code("hjk_code_mine", "app_1", {"scopes": ["store.read"], "subject": "merchant"}, ttl=300)
    await store.add_code("hjk_code_theirs", "app_1", {"scopes": ["store.read"], "subject": "str_b"}, ttl=300)

    assert await store.revoke_subject("merchant") == 2

    assert await store.token(mine, "access") is None
    assert await store.code("hjk_code_mine", "app_1") is None
    assert await store.token(theirs, "access") is not None
    assert await store.code("hjk_code_theirs", "app_1") is not None
    assert await store.client("app_1") == APP, "the client stays registered"


# Files written before the storage seam

_CLIENT_COLUMNS = "client_id TEXT PRIMARY KEY, info TEXT NOT NULL, created_at REAL NOT NULL"
#: The tables as the first release wrote them (no ``authorized_at``), and as the release before the seam did.
_PREVIOUS = {
    "first-release": _CLIENT_COLUMNS,
    "before-the-seam": _CLIENT_COLUMNS + ", authorized_at REAL",
}


def write_previous_file(path: Path, clients_columns: str, now: float) -> None:
    """An ``oauth.db`` as an earlier hajatek-mcp left it: an app with a grant and a registration never used."""
    with closing(sqlite3.connect(path)) as old:
        old.executescript(f"""
            CREATE TABLE IF NOT EXISTS clients ({clients_columns});
            CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, client_id TEXT NOT NULL, params TEXT NOT NULL,
                csrf TEXT NOT NULL, expires_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS codes (digest TEXT PRIMARY KEY, grant_id TEXT NOT NULL, client_id TEXT NOT NULL,
                data TEXT NOT NULL, expires_at REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, kind TEXT NOT NULL, grant_id TEXT NOT NULL,
                client_id TEXT NOT NULL, scopes TEXT NOT NULL, resource TEXT, subject TEXT, expires_at REAL NOT NULL,
                issued_at REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS tokens_grant ON tokens (grant_id);
        """)  # fmt: skip
        old.execute("INSERT INTO clients (client_id, info, created_at) VALUES "
                    """('app_1', '{"client_id": "app_1", "client_name": "Claude"}', ?), """
                    """('app_unused', '{"client_id": "app_unused"}', ?)""", (now, now))  # fmt: skip
        old.execute("INSERT INTO tokens VALUES (?, 'access', 'grt_old', 'app_1', 'store.read', NULL, 'merchant', ?, ?)",
                    (digest("hjk_at_old"), now + HOUR, now))  # fmt: skip
        if "authorized_at" in clients_columns:
            old.execute("UPDATE clients SET authorized_at = ? WHERE client_id = 'app_1'", (now,))
        old.commit()


@pytest.mark.parametrize("clients_columns", list(_PREVIOUS.values()), ids=list(_PREVIOUS))
async def test_a_file_of_an_earlier_release_opens_and_keeps_its_clients_and_grants(
    tmp_path: Path, clock: FakeClock, clients_columns: str
) -> None:
    path = tmp_path / "oauth.db"
    write_previous_file(path, clients_columns, clock.now)

    for _ in range(2):  # upgraded once, then opened as it is
        store = OAuthStore(path, clock=clock)
        try:
            assert [c["client_id"] for c in await store.clients()] == ["app_1", "app_unused"]
            assert await store.client("app_1") == {"client_id": "app_1", "client_name": "Claude"}
            old_grant = await store.token("hjk_at_old", "access")
            assert old_grant is not None
            assert old_grant.grant_id == "grt_old"
        finally:
            store.close()

    store = OAuthStore(path, clock=clock)
    try:  # the app that got a grant counts as authorized: a day later only the unused registration is forgotten
        clock.now += UNAUTHORIZED_CLIENT_TTL + 1
        assert await store.add_client("app_new", {"client_id": "app_new"})
        assert [c["client_id"] for c in await store.clients()] == ["app_1", "app_new"]
    finally:
        store.close()
