"""The audit log: every write attempt and its outcome, appended durably to SQLite (``audit.db`` in the data dir).

Nothing else opens this file. Arguments are stored with credentials redacted; a confirmation token is stored only as
a short fingerprint, never whole. Every string is stored under the text policy of :mod:`hajatek_mcp.server.safety`
and capped (:data:`TEXT_CAP` characters, a visible ellipsis when cut), so no outside text can fill the log, add a
line to it, or hide words in it. Besides the write, an entry can keep the target's values ``before`` it: the guards
measure cuts against the highest recent value (see :mod:`hajatek_mcp.server.guards`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from hajatek_mcp.server.safety import clean, present
from hajatek_mcp.storage import Database, Schema, Transaction

__all__ = ["SCHEMA", "AuditLog", "ConfirmPath", "Outcome"]

Outcome = Literal["preview", "executed", "declined", "cancelled", "refused", "failed", "unknown"]
#: How a write was allowed: no guard applies, the user said yes (elicitation), a confirmation token, or the host
#: approved it (``--confirm none``).
ConfirmPath = Literal["not_guarded", "elicitation", "token", "host"]

_SECRET_KEYS = ("token", "secret", "password", "api_key", "authorization")
#: The longest string an entry keeps (an argument, the detail).
TEXT_CAP = 300
#: Which entries :meth:`AuditLog.recent` lists: the store's write attempts, or the OAuth server's (``oauth.*``).
_KIND = {False: "tool NOT LIKE 'oauth.%'", True: "tool LIKE 'oauth.%'"}


def _add_before(tx: Transaction) -> None:
    if "before" not in tx.columns("audit"):  # a log of 0.1 lacks it; one written during 0.2's making has it
        tx.execute("ALTER TABLE audit ADD COLUMN before TEXT")


#: Oldest first; released migrations are never edited (see :class:`hajatek_mcp.storage.Schema`).
SCHEMA = Schema(
    "the audit log",
    (
        """CREATE TABLE IF NOT EXISTS audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            tool TEXT NOT NULL,
            target TEXT,
            arguments TEXT NOT NULL,
            outcome TEXT NOT NULL,
            path TEXT NOT NULL,
            detail TEXT
        )""",
        _add_before,
        # Every entry belongs to one store. Entries of 0.1 carry none ('') and are shown to no store: they may be
        # the sandbox's, and a real store must never see those (issue #21).
        """ALTER TABLE audit ADD COLUMN store_id TEXT NOT NULL DEFAULT '';
        CREATE INDEX IF NOT EXISTS audit_store ON audit (store_id, seq);
        CREATE INDEX IF NOT EXISTS audit_store_target ON audit (store_id, target, seq)""",
    ),
)


def redact(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``arguments`` safe to store: credential-like values are replaced by a short fingerprint."""
    safe: dict[str, Any] = {}
    for key, value in arguments.items():
        if value is not None and any(word in key.lower() for word in _SECRET_KEYS):
            safe[key] = f"…{str(value)[-4:]}" if key == "confirm_token" else "[redacted]"
        else:
            safe[key] = value
    stored: dict[str, Any] = _capped(present(json.loads(json.dumps(safe, default=str))))
    return stored


def _cap(text: str) -> str:
    return text if len(text) <= TEXT_CAP else text[: TEXT_CAP - 1] + "…"


def _capped(data: Any) -> Any:
    if isinstance(data, str):
        return _cap(data)
    if isinstance(data, dict):
        return {_cap(k): _capped(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_capped(v) for v in data]
    return data


class AuditLog:
    """Append-only log of one store's write attempts. ``database``: a file, None (in memory), or an open
    :class:`~hajatek_mcp.storage.Database` shared with other stores' logs.

    Every call runs off the event loop; :meth:`record` is shielded, so an entry is written even when the caller is
    cancelled (the guards rely on it). ``store_id`` scopes every read and write: a store never sees another's entries.
    """

    def __init__(
        self, database: Path | Database | None, *, store_id: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.store_id = store_id
        self._clock = clock
        self._db = database if isinstance(database, Database) else Database(database, SCHEMA)

    async def record(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        outcome: Outcome,
        path: ConfirmPath,
        *,
        target: str | None = None,
        detail: str | None = None,
        before: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry; it is committed before this returns. ``before``: the target's values before the write."""
        row = (
            self.store_id,
            self._clock(),
            _cap(clean(tool) or ""),
            _cap(clean(target) or "") if target else None,
            json.dumps(redact(arguments), ensure_ascii=False),
            outcome,
            path,
            _cap(clean(detail) or "") if detail else None,
            json.dumps(_capped(present(json.loads(json.dumps(before, default=str))))) if before else None,
        )
        await self._db.execute(
            "INSERT INTO audit (store_id, at, tool, target, arguments, outcome, path, detail, before) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )

    async def history(self, target: str, *, since: float, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` entries for ``target`` recorded at or after ``since`` (epoch seconds), newest first,
        with ``before``."""
        rows = await self._db.all(
            "SELECT tool, arguments, outcome, path, before FROM audit WHERE store_id = ? AND target = ? AND at >= ? "
            "ORDER BY seq DESC LIMIT ?",
            (self.store_id, target, since, limit),
        )
        return [
            {
                "tool": tool,
                "arguments": json.loads(arguments),
                "outcome": outcome,
                "path": path,
                "before": json.loads(before) if before else {},
            }
            for tool, arguments, outcome, path, before in rows
        ]

    async def recent(self, limit: int = 50, *, oauth: bool = False) -> list[dict[str, Any]]:
        """The newest ``limit`` store write attempts, newest first; ``oauth=True``: the OAuth server's entries."""
        query = (
            "SELECT seq, at, tool, target, arguments, outcome, path, detail FROM audit WHERE store_id = ? AND {} "
            "ORDER BY seq DESC LIMIT ?"
        )
        rows = await self._db.all(query.format(_KIND[oauth]), (self.store_id, limit))
        return [
            {
                "seq": seq,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
                "tool": tool,
                "target": target,
                "arguments": json.loads(arguments),
                "outcome": outcome,
                "path": path,
                "detail": detail,
            }
            for seq, at, tool, target, arguments, outcome, path, detail in rows
        ]

    def close(self) -> None:
        self._db.close()
