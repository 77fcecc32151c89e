"""The PostgreSQL core of the storage seam, on a real PostgreSQL (Debian's package) on 127.0.0.1.

What the stores rely on: ``?`` placeholders (a ``%`` or ``?`` inside a quoted literal left alone), rows by position
and by name, a write committed whole or not at all, a nested transaction as a savepoint, migrations applied once
even when replicas start at the same moment, a newer schema refused, and a URL whose password never shows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import count

import anyio
import pytest

from hajatek_mcp.storage import Database, Schema
from hajatek_mcp.storage.postgres import Postgres, PostgresError
from tests.servers import fresh_database

SCHEMA = Schema(
    "the test table",
    (),
    postgres=(
        "CREATE TABLE notes (id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, body BYTEA)",
        "ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT 'none'",
    ),
)
_names = count()


@pytest.fixture
def server(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def url(server: str) -> str:
    return fresh_database(server, f"core_{next(_names)}_{id(server) % 10_000}")


@pytest.fixture
def pg(url: str) -> Iterator[Postgres]:
    database = Postgres(url)
    yield database
    database.close()


async def test_placeholders_rows_and_literals(pg: Postgres) -> None:
    db = Database.on(pg.bind(SCHEMA), concurrency=4)
    assert await db.execute("INSERT INTO notes (id, at, body) VALUES (?, ?, ?)", ("n?1", 1_700_000_000.25, b"\0\1"))
    rows = await db.all("SELECT id, at, body, tag FROM notes WHERE id LIKE 'n?%' AND at > ?", (1,))
    assert rows == [("n?1", 1_700_000_000.25, b"\0\1", "none")]  # seconds survive: DOUBLE PRECISION
    record = await db.read(lambda tx: tx.record("SELECT id, tag FROM notes"))
    assert record is not None
    assert (record["id"], record[1], record.keys()) == ("n?1", "none", ["id", "tag"])
    added = "INSERT INTO notes (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING"
    assert await db.execute(added, ("n?1", 2)) == 0
    assert await db.write(lambda tx: tx.executemany(added, [("a", 1), ("b", 2)])) == 2


async def test_a_write_is_all_or_nothing_and_nesting_is_a_savepoint(pg: Postgres) -> None:
    file = pg.bind(SCHEMA)
    db = Database.on(file, concurrency=4)

    def fails(tx: object) -> None:
        with file.transaction() as inner:
            inner.execute("INSERT INTO notes (id, at) VALUES (?, ?)", ("kept", 1))
        try:
            with file.transaction() as inner:
                inner.execute("INSERT INTO notes (id, at) VALUES (?, ?)", ("undone", 1))
                raise ValueError("the inner block fails")
        except ValueError:
            pass

    await db.write(fails)
    assert await db.all("SELECT id FROM notes") == [("kept",)]

    def broken(tx: object) -> None:
        file_tx = tx
        assert hasattr(file_tx, "execute")
        file_tx.execute("INSERT INTO notes (id, at) VALUES (?, ?)", ("lost", 1))  # type: ignore[attr-defined]
        raise RuntimeError("after the first statement")

    with pytest.raises(RuntimeError):
        await db.write(broken)
    assert await db.all("SELECT id FROM notes ORDER BY id") == [("kept",)]


def test_replicas_starting_at_once_migrate_once(url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def start() -> None:
        try:
            barrier.wait()
            replica = Postgres(url, max_connections=2)
            try:
                replica.bind(SCHEMA)
            finally:
                replica.close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    pg = Postgres(url)
    try:
        file = pg.bind(SCHEMA)
        assert file.read(lambda tx: tx.one("SELECT version FROM hajatek_schema WHERE what = ?", (SCHEMA.what,))) == (2,)
        assert "tag" in file.read(lambda tx: tx.columns("notes"))
    finally:
        pg.close()


def test_a_newer_schema_is_refused(pg: Postgres) -> None:
    pg.bind(SCHEMA)
    older = Schema(SCHEMA.what, (), postgres=SCHEMA.postgres[:1])
    with pytest.raises(PostgresError, match=r"written by a newer hajatek-mcp .* upgrade hajatek-mcp"):
        pg.bind(older)


def test_a_store_without_a_postgres_schema_says_so(pg: Postgres) -> None:
    with pytest.raises(PostgresError, match="the files only has no PostgreSQL schema"):
        pg.bind(Schema("the files only", ("CREATE TABLE x (a)",)))


def test_an_unreachable_database_is_one_sentence_without_the_password(server: str) -> None:
    port = server.rsplit(":", 1)[1].split("/", maxsplit=1)[0]  # the server's URL has no options
    wrong = f"postgresql://postgres:s3cret-canary@127.0.0.1:{port}/no_such_database"
    with pytest.raises(PostgresError) as caught:
        Postgres(wrong, timeout=3)
    message = str(caught.value)
    assert "s3cret-canary" not in message
    assert "postgresql://postgres:***@127.0.0.1" in message
    assert "HAJATEK_DATABASE_URL" in message


async def test_calls_run_concurrently_up_to_the_pool(pg: Postgres) -> None:
    db = Database.on(pg.bind(SCHEMA), concurrency=4)

    async def one(n: int) -> None:
        await db.execute("INSERT INTO notes (id, at) VALUES (?, ?)", (f"c{n}", n))

    async with anyio.create_task_group() as group:
        for n in range(40):
            group.start_soon(one, n)
    assert await db.one("SELECT count(*) FROM notes") == (40,)
