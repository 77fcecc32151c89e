"""The sandbox's file on the storage seam: the house pragmas, a versioned schema, files of earlier and later releases,
and the Unicode-aware search the seam's SQL functions keep working."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from hajatek_mcp.sandbox import SandboxConfig, create_app
from hajatek_mcp.sandbox.db import SCHEMA
from hajatek_mcp.storage import StateFileError
from hajatek_mcp.storage.sqlite import BUSY_TIMEOUT_MS

#: The sandbox's tables as the releases before schema versions created them (``executescript``, user_version 0).
TABLES_BEFORE_VERSIONS = """
CREATE TABLE IF NOT EXISTS store (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, name_ar TEXT NOT NULL, currency TEXT NOT NULL, country TEXT NOT NULL,
    timezone TEXT NOT NULL, email TEXT NOT NULL, domain TEXT NOT NULL, created_at TEXT NOT NULL,
    seed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, name_ar TEXT, description TEXT,
    sku TEXT NOT NULL UNIQUE COLLATE NOCASE, category TEXT NOT NULL, price INTEGER NOT NULL, stock INTEGER NOT NULL,
    status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS products_newest ON products (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS products_category ON products (category, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL, city TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS customers_newest ON customers (created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL, subtotal INTEGER NOT NULL,
    shipping INTEGER NOT NULL, vat INTEGER NOT NULL, total INTEGER NOT NULL, city TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_newest ON orders (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id);
CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL, position INTEGER NOT NULL, product_id TEXT NOT NULL, name TEXT NOT NULL,
    quantity INTEGER NOT NULL, price INTEGER NOT NULL, PRIMARY KEY (order_id, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, created_at TEXT NOT NULL,
    body TEXT NOT NULL, delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
);
"""


def write_file_before_versions(path: Path) -> None:
    """A ``sandbox.db`` as a release before schema versions left it: its store, one product, the id counter."""
    with closing(sqlite3.connect(path)) as old:
        old.execute("PRAGMA journal_mode=WAL")
        old.executescript(TABLES_BEFORE_VERSIONS)
        old.execute(
            "INSERT INTO store VALUES ('str_sandbox', 'Old Souq', 'السوق القديم', 'SAR', 'SA', 'Asia/Riyadh', "
            "'owner@old.example', 'old.example', '2025-01-01T09:00:00Z', 7)"
        )
        old.execute(
            "INSERT INTO products VALUES ('prod_0001', 'Khalas Dates 1kg', 'تمر خلاص', NULL, 'DAT-0001', "
            "'dates-coffee', 4500, 12, 'active', '2025-01-02T09:00:00Z', '2025-01-02T09:00:00Z')"
        )
        old.execute("INSERT INTO counters VALUES ('product', 1)")
        old.commit()


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    return int(version)


async def test_the_sandbox_file_is_opened_with_the_house_pragmas_and_a_schema_version(tmp_path, make_app) -> None:
    db = make_app(db_path=str(tmp_path / "sandbox.db")).state.sandbox.store.db

    def pragma(name: str) -> object:
        row = db.query_one(f"PRAGMA {name}")
        assert row is not None
        return row[0]

    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2, "FULL: a commit is on disk before anyone is answered"
    assert pragma("busy_timeout") == BUSY_TIMEOUT_MS
    assert pragma("foreign_keys") == 1
    assert pragma("user_version") == SCHEMA.version >= 1


async def test_a_sandbox_file_from_before_schema_versions_is_adopted_with_its_data(
    tmp_path, now, clock, make_client
) -> None:
    path = tmp_path / "sandbox.db"
    write_file_before_versions(path)

    app = create_app(SandboxConfig(db_path=str(path), now=now, clock=clock))
    try:
        http = make_client(app)
        store = (await http.get("/stores/str_sandbox")).json()
        products = (await http.get("/products")).json()
        created = await http.post("/products", json={"name": "Sukkari Dates", "price": 60, "category": "dates-coffee"})
    finally:
        await app.state.sandbox.aclose()

    assert store["name"] == "Old Souq", "the old store was kept, not reseeded"
    assert [(p["id"], p["name"], p["price"]) for p in products["products"]] == [("prod_0001", "Khalas Dates 1kg", 45)]
    assert created.status_code == 201
    assert created.json()["id"] == "prod_0002", "ids continue the old file's sequence"
    assert user_version(path) == SCHEMA.version


async def test_a_sandbox_file_written_by_a_newer_release_is_refused_and_left_as_it_is(tmp_path, now, clock) -> None:
    path = tmp_path / "sandbox.db"
    write_file_before_versions(path)
    with closing(sqlite3.connect(path)) as newer:
        newer.execute(f"PRAGMA user_version={SCHEMA.version + 1}")

    with pytest.raises(StateFileError) as refused:
        create_app(SandboxConfig(db_path=str(path), now=now, clock=clock))

    assert str(refused.value) == (
        f"{path} was written by a newer hajatek-mcp, with schema {SCHEMA.version + 1} where this one knows up to "
        f"{SCHEMA.version} (the sandbox store): upgrade hajatek-mcp."
    )
    assert user_version(path) == SCHEMA.version + 1
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT name FROM products").fetchall() == [("Khalas Dates 1kg",)]


@pytest.mark.parametrize(
    "search",
    ["CRÈME BRÛLÉE", "crème brûlée", "Brûlée", "ÉCLAT", "بروليه", "كريم بروليه"],
    ids=["accented-upper", "accented-lower", "accented-mixed", "accented-capital-first", "arabic", "arabic-phrase"],
)
async def test_search_folds_case_beyond_ascii_in_a_file_database(tmp_path, make_app, make_client, search: str) -> None:
    http = make_client(make_app(db_path=str(tmp_path / "sandbox.db")))
    body = {"name": "Éclat Crème Brûlée Bakhoor", "name_ar": "عود كريم بروليه", "price": 95, "category": "perfumes-oud"}
    created = (await http.post("/products", json=body)).json()

    found = (await http.get("/products", params={"search": search})).json()

    assert [p["id"] for p in found["products"]] == [created["id"]]
