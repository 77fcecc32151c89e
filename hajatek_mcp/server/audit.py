"""The audit log: every write attempt and its outcome, appended durably to SQLite (``audit.db`` in the data dir).

Nothing else opens this file. Arguments are stored with credentials redacted; a confirmation token is stored only as
a short fingerprint, never whole. Every string is stored under the text policy of :mod:`hajatek_mcp.server.safety`
and capped (:data:`TEXT_CAP` characters, a visible ellipsis when cut), so no outside text can fill the log, add a
line to it, or hide words in it. Besides the write, an entry can keep the target's values ``before`` it: the guards
measure cuts against the highest recent value (see :mod:`hajatek_mcp.server.guards`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from hajatek_mcp.server.safety import clean, present
from hajatek_mcp.server.statefile import opening

__all__ = ["AuditLog", "ConfirmPath", "Outcome"]

Outcome = Literal["preview", "executed", "declined", "cancelled", "refused", "failed", "unknown"]
#: How a write was allowed: no guard applies, the user said yes (elicitation), a confirmation token, or the host
#: approved it (``--confirm none``).
ConfirmPath = Literal["not_guarded", "elicitation", "token", "host"]

_SECRET_KEYS = ("token", "secret", "password", "api_key", "authorization")
#: The longest string an entry keeps (an argument, the detail).
TEXT_CAP = 300
#: Which entries :meth:`AuditLog.recent` lists: the store's write attempts, or the OAuth server's (``oauth.*``).
_KIND = {False: "tool NOT LIKE 'oauth.%'", True: "tool LIKE 'oauth.%'"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    tool TEXT NOT NULL,
    target TEXT,
    arguments TEXT NOT NULL,
    outcome TEXT NOT NULL,
    path TEXT NOT NULL,
    detail TEXT
)
"""
#: Applied once to a log written before the ``before`` column existed.
_MIGRATIONS = (
    "ALTER TABLE audit ADD COLUMN before TEXT",
    "CREATE INDEX IF NOT EXISTS audit_target ON audit (target, seq)",
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
    """Append-only log of write attempts. ``path=None`` keeps it in memory (tests, the demo)."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        target = ":memory:" if path is None else str(path)
        with opening(path, "the audit log"):  # a damaged file is named, and never deleted
            self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(audit)")}
            if "before" not in columns:
                for statement in _MIGRATIONS:
                    self._conn.execute(statement)
        self._lock = threading.Lock()

    def record(
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
            self._clock(), _cap(clean(tool) or ""), _cap(clean(target) or "") if target else None,
            json.dumps(redact(arguments), ensure_ascii=False), outcome, path,
            _cap(clean(detail) or "") if detail else None,
            json.dumps(_capped(present(json.loads(json.dumps(before, default=str))))) if before else None,
        )  # fmt: skip
        with self._lock:
            self._conn.execute(
                "INSERT INTO audit (at, tool, target, arguments, outcome, path, detail, before) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def history(self, target: str, *, since: float, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` entries for ``target`` recorded at or after ``since`` (epoch seconds), newest first,
        with ``before``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT tool, arguments, outcome, path, before FROM audit WHERE target = ? AND at >= ? "
                "ORDER BY seq DESC LIMIT ?",
                (target, since, limit),
            ).fetchall()
        return [
            {"tool": tool, "arguments": json.loads(arguments), "outcome": outcome, "path": path,
             "before": json.loads(before) if before else {}}
            for tool, arguments, outcome, path, before in rows
        ]  # fmt: skip

    def recent(self, limit: int = 50, *, oauth: bool = False) -> list[dict[str, Any]]:
        """The newest ``limit`` store write attempts, newest first; ``oauth=True``: the OAuth server's entries."""
        query = "SELECT seq, at, tool, target, arguments, outcome, path, detail FROM audit WHERE {} ORDER BY seq DESC"
        with self._lock:
            rows = self._conn.execute(
                query.format(_KIND[oauth]) + " LIMIT ?",
                (limit,),
            ).fetchall()
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
        with self._lock:
            self._conn.close()
