"""Where the server's stores keep their state: SQLite files in the data dir, or one shared PostgreSQL database.

The embedded default is a file per store in ``HAJATEK_DATA_DIR`` (or memory when there is none). With
``HAJATEK_DATABASE_URL`` every store of every replica uses one PostgreSQL database instead (its tables carry the store
id, as in the files), so a token minted on one replica is known to the others and an audit entry written on one is
read on all. A :class:`StateBackend` belongs to a server: it opens the database once, hands each store its
:class:`~hajatek_mcp.storage.Database`, and closes the pool when the server stops.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from pydantic import SecretStr

from hajatek_mcp.storage import Database, Schema

__all__ = ["StateBackend"]


class StateBackend:
    """The state files in ``state_dir`` (None: in memory), or the PostgreSQL database at ``database_url``."""

    def __init__(self, state_dir: Path | None, database_url: SecretStr | None = None) -> None:
        self.state_dir = state_dir
        self._postgres = None
        if database_url is not None:
            from hajatek_mcp.storage.postgres import Postgres  # noqa: PLC0415  # optional: hajatek-mcp[hosted]

            self._postgres = Postgres(database_url.get_secret_value())

    @property
    def shared(self) -> bool:
        """Whether the state is in a database every replica shares."""
        return self._postgres is not None

    @property
    def where(self) -> str:
        """Where the state is, for messages (a URL never shows its password)."""
        if self._postgres is not None:
            return self._postgres.where
        return str(self.state_dir) if self.state_dir is not None else "memory"

    def open(self, name: str, schema: Schema) -> Database | Path | None:
        """What a store of ``schema`` opens: its file ``name`` in the data dir, or its tables in the database."""
        if self._postgres is not None:
            return Database.on(self._postgres.bind(schema), concurrency=self._postgres.max_connections)
        if self.state_dir is None:
            return None
        self.state_dir.mkdir(parents=True, exist_ok=True)  # when a store opens: the CLI checked the directory first
        return self.state_dir / name

    async def check(self) -> None:
        """Raise unless the database answers and this process's schemas are migrated (files: nothing to check)."""
        if self._postgres is not None:
            await anyio.to_thread.run_sync(self._postgres.check)

    def close(self) -> None:
        """Close the database's pool (files are closed by their stores)."""
        if self._postgres is not None:
            self._postgres.close()
