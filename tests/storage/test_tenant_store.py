"""The connected stores (``tenants.db``) through :class:`TenantStore`: connecting, reconnecting, listing without
secrets, disconnecting, rotating the master key, and concurrent connects; on a file, in memory and on PostgreSQL (one
server for the session, a fresh database per test).

State is read back only through the store. The looks at the file itself check that no credential is in it in clear
(nor base64 of one), and that a disconnected store's ciphertext is overwritten; the look at the PostgreSQL table, that
no column of any row holds a credential in clear.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from hajatek_mcp.server.tenants.keys import MasterKeys, UndecryptableError
from hajatek_mcp.server.tenants.store import SCHEMA, Tenant, TenantCredentials, TenantStore
from hajatek_mcp.storage import Database
from hajatek_mcp.storage.postgres import Postgres
from tests.servers import fresh_database
from tests.support import CANARY_API_KEY, CANARY_WEBHOOK_SECRET, FakeClock

A, B = MasterKeys.generate(), MasterKeys.generate()


class Place:
    """Where the tenants live for one test: a file reopened each time, or one database (in memory, or on PostgreSQL)
    shared by every :class:`TenantStore` opened over it. :meth:`open` closes the previous store."""

    def __init__(self, path: Path | None, clock: FakeClock, shared: Database | None = None) -> None:
        self.path = path
        self.clock = clock
        self._shared = shared if shared or path else Database(None, SCHEMA)
        self._open: TenantStore | None = None

    def open(self, keys: str) -> TenantStore:
        if self._open is not None and self.path is not None:
            self._open.close()
        self._open = TenantStore(self.path or self._shared, MasterKeys.parse(keys), clock=self.clock)
        return self._open

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
        if self._shared is not None:
            self._shared.close()


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Postgres]:
    """A fresh, empty database on that server, closed at the end."""
    database = Postgres(fresh_database(postgres_url, f"tenants_{secrets.token_hex(6)}"))
    yield database
    database.close()


@pytest.fixture(params=["file", "memory", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Place]:
    if request.param == "postgresql":
        postgres: Postgres = request.getfixturevalue("postgres")
        opened = Place(None, clock, Database.on(postgres.bind(SCHEMA), concurrency=4))
    else:
        opened = Place(tmp_path / "tenants.db" if request.param == "file" else None, clock)
    yield opened
    opened.close()


@pytest.fixture
def store(place: Place) -> TenantStore:
    return place.open(A)


async def connect(store: TenantStore, store_id: str, key: str = "sk_1", secret: str | None = "whsec_1") -> bool:  # noqa: S107
    name, plan = f"Shop {store_id}", "growth"
    return await store.connect(store_id, name, plan, SecretStr(key), None if secret is None else SecretStr(secret))


async def secrets_of(store: TenantStore, store_id: str) -> tuple[str, str | None]:
    credentials = await store.credentials(store_id)
    assert credentials is not None
    secret = credentials.webhook_secret
    return credentials.api_key.get_secret_value(), None if secret is None else secret.get_secret_value()


async def test_a_connected_store_reads_back_its_credentials(store: TenantStore, clock: FakeClock) -> None:
    assert await connect(store, "str_a", "sk_a", "whsec_a") is True

    assert await store.credentials("str_a") == TenantCredentials("str_a", "growth", SecretStr("sk_a"),
                                                                 SecretStr("whsec_a"))  # fmt: skip
    assert await store.credentials("str_unknown") is None
    assert await store.tenant("str_a") == Tenant(
        "str_a", "Shop str_a", "growth", clock.now, clock.now, has_webhook_secret=True, key_id=store.keys.primary_id
    )


async def test_a_reconnect_replaces_key_secret_name_and_plan_and_keeps_connected_at(
    store: TenantStore, clock: FakeClock
) -> None:
    await connect(store, "str_a", "sk_old", "whsec_old")
    first = clock.now
    clock.advance(60)

    assert await store.connect("str_a", "Renamed", "scale", SecretStr("sk_new"), None) is False

    assert await secrets_of(store, "str_a") == ("sk_new", None)
    tenant = await store.tenant("str_a")
    assert tenant is not None
    assert (tenant.store_name, tenant.plan, tenant.has_webhook_secret) == ("Renamed", "scale", False)
    assert (tenant.connected_at, tenant.updated_at) == (first, clock.now)


async def test_the_list_is_by_store_id_and_carries_no_secret(store: TenantStore) -> None:
    await connect(store, "str_b", CANARY_API_KEY, None)
    await connect(store, "str_a", CANARY_API_KEY, CANARY_WEBHOOK_SECRET)

    listed = await store.tenants()

    assert [(t.store_id, t.has_webhook_secret) for t in listed] == [("str_a", True), ("str_b", False)]
    assert not hasattr(listed[0], "api_key")
    for canary in (CANARY_API_KEY, CANARY_WEBHOOK_SECRET):
        assert canary not in repr(listed)


async def test_disconnecting_removes_the_store_and_its_credentials(store: TenantStore) -> None:
    await connect(store, "str_a")
    await connect(store, "str_b")

    assert await store.disconnect("str_a") is True

    assert await store.credentials("str_a") is None
    assert await store.tenant("str_a") is None
    assert [t.store_id for t in await store.tenants()] == ["str_b"]
    assert await store.disconnect("str_a") is False


async def test_rotation_re_encrypts_every_row_so_the_old_key_can_be_dropped(place: Place) -> None:
    under_a = place.open(A)
    await connect(under_a, "str_a", "sk_a", "whsec_a")
    await connect(under_a, "str_b", "sk_b", None)
    old_id = under_a.keys.primary_id

    ring = place.open(f"{B},{A}")
    assert [t.key_id for t in await ring.tenants()] == [old_id, old_id]
    assert await secrets_of(ring, "str_a") == ("sk_a", "whsec_a"), "readable during the rotation"
    await connect(ring, "str_c", "sk_c", "whsec_c")  # a store connected mid-rotation is under the new key already

    assert await ring.rotate() == 2
    assert await ring.rotate() == 0, "rows under the first key are left as they are"
    assert {t.key_id for t in await ring.tenants()} == {ring.keys.primary_id}

    only_b = place.open(B)
    assert [await secrets_of(only_b, s) for s in ("str_a", "str_b", "str_c")] == [
        ("sk_a", "whsec_a"), ("sk_b", None), ("sk_c", "whsec_c")
    ]  # fmt: skip


async def test_rotation_with_an_old_key_missing_names_the_store_and_changes_nothing(place: Place) -> None:
    await connect(place.open(A), "str_old", "sk_old", "whsec_old")
    lost_key = MasterKeys.generate()
    await connect(place.open(lost_key), "str_x", "sk_x")  # under a key the ring below lacks
    ring = place.open(f"{B},{A}")
    await connect(ring, "str_new", "sk_new")
    before = await ring.tenants()

    with pytest.raises(UndecryptableError) as refused:
        await ring.rotate()  # str_old is re-encrypted first, then str_x stops it

    message = str(refused.value)
    assert message.startswith("rotation stopped at store str_x and changed nothing: str_x/api_key is encrypted under")
    assert MasterKeys.parse(lost_key).primary_id in message
    assert lost_key not in message
    assert await ring.tenants() == before, "nothing half-done: str_old is still under A"
    assert await secrets_of(ring, "str_old") == ("sk_old", "whsec_old")


async def test_credentials_under_a_missing_key_say_which_key(place: Place) -> None:
    await connect(place.open(A), "str_a")
    only_b = place.open(B)

    with pytest.raises(UndecryptableError, match=r"str_a/api_key is encrypted under a master key that is not in"):
        await only_b.credentials("str_a")
    assert (await only_b.tenants())[0].key_id == MasterKeys.parse(A).primary_id, "listing needs no key"


async def test_concurrent_connects_of_distinct_stores_all_land(store: TenantStore) -> None:
    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(connect, store, f"str_{n:02}", f"sk_{n}", f"whsec_{n}")

    assert [t.store_id for t in await store.tenants()] == [f"str_{n:02}" for n in range(20)]
    assert [await secrets_of(store, f"str_{n:02}") for n in range(20)] == [(f"sk_{n}", f"whsec_{n}") for n in range(20)]


def _written(directory: Path) -> bytes:
    """Everything SQLite wrote for ``tenants.db`` (the file, its WAL)."""
    return b"".join(path.read_bytes() for path in sorted(directory.glob("tenants.db*")))


def _spellings(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), base64.b64encode(raw).rstrip(b"="), raw.hex()
            .encode(), secret.encode("utf-16-le")]  # fmt: skip


async def test_no_credential_is_in_the_file_in_clear(tmp_path: Path, clock: FakeClock) -> None:
    keys = MasterKeys.parse(A)
    store = TenantStore(tmp_path / "tenants.db", keys, clock=clock)
    try:
        await connect(store, "str_a", CANARY_API_KEY, CANARY_WEBHOOK_SECRET)
        await connect(store, "str_a", CANARY_API_KEY + "_2", CANARY_WEBHOOK_SECRET + "_2")
        await store.rotate()
        shown = [repr(await store.tenant("str_a")), repr(await store.credentials("str_a")), repr(store), repr(keys)]
        wal = _written(tmp_path)  # the WAL as it stands while the store is open (closing checkpoints it)
    finally:
        store.close()

    written = _written(tmp_path) + wal
    assert b"str_a" in written, "the look is at the right file"
    for canary in (CANARY_API_KEY, CANARY_WEBHOOK_SECRET):
        for spelling in _spellings(canary):
            assert spelling not in written
        assert not any(canary in text for text in shown)
    assert not any(A in text for text in shown)


async def test_no_column_in_postgresql_holds_a_credential_in_clear(postgres: Postgres, clock: FakeClock) -> None:
    store = TenantStore(Database.on(postgres.bind(SCHEMA), concurrency=4), MasterKeys.parse(A), clock=clock)
    await connect(store, "str_a", CANARY_API_KEY, CANARY_WEBHOOK_SECRET)
    await connect(store, "str_b", CANARY_API_KEY + "_2", CANARY_WEBHOOK_SECRET + "_2")
    await store.rotate()

    with postgres.connection() as conn:  # each column as the driver gives it (bytes, text), and the row as text
        values = [value for row in conn.execute("SELECT *, t::text FROM tenants t") for value in row]
    stored = b"\n".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in values)

    assert b"str_a" in stored, "the look is at the right table"
    assert len(stored) > 4 * 64, "the ciphertexts are in it"
    for canary in (CANARY_API_KEY, CANARY_WEBHOOK_SECRET):
        for spelling in _spellings(canary):
            assert spelling not in stored


async def test_a_disconnected_stores_ciphertext_is_overwritten_in_the_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "tenants.db"
    store = TenantStore(path, MasterKeys.parse(A), clock=clock)
    await connect(store, "str_a", CANARY_API_KEY, CANARY_WEBHOOK_SECRET)
    await connect(store, "str_b")
    store.close()
    with closing(sqlite3.connect(path)) as raw:
        blobs = raw.execute("SELECT api_key, webhook_secret FROM tenants WHERE store_id = 'str_a'").fetchone()

    store = TenantStore(path, MasterKeys.parse(A), clock=clock)
    assert await store.disconnect("str_a")
    store.close()

    written = _written(tmp_path)
    assert all(blob not in written for blob in blobs)
