"""The audit log: every write attempt and its outcome, appended durably to SQLite (``audit.db`` in the data dir).

Nothing else opens this file. Arguments are stored with credentials redacted; a confirmation token is stored only as
a short fingerprint, never whole.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

__all__ = ["AuditLog", "ConfirmPath", "Outcome"]

Outcome = Literal["preview", "executed", "declined", "cancelled", "refused", "failed", "unknown"]
#: How a write was allowed: no guard applies, the user said yes (elicitation), a confirmation token, or the host
#: approved it (``--confirm none``).
ConfirmPath = Literal["not_guarded", "elicitation", "token", "host"]

_SECRET_KEYS = ("token", "secret", "password", "api_key", "authorization")

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


def redact(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``arguments`` safe to store: credential-like values are replaced by a short fingerprint."""
    safe: dict[str, Any] = {}
    for key, value in arguments.items():
        if value is not None and any(word in key.lower() for word in _SECRET_KEYS):
            safe[key] = f"…{str(value)[-4:]}" if key == "confirm_token" else "[redacted]"
        else:
            safe[key] = value
    return safe


class AuditLog:
    """Append-only log of write attempts. ``path=None`` keeps it in memory (tests, the demo)."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        target = ":memory:" if path is None else str(path)
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
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
    ) -> None:
        """Append one entry; it is committed before this returns."""
        row = (self._clock(), tool, target, json.dumps(redact(arguments), default=str, ensure_ascii=False), outcome,
               path, detail)  # fmt: skip
        with self._lock:
            self._conn.execute(
                "INSERT INTO audit (at, tool, target, arguments, outcome, path, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, at, tool, target, arguments, outcome, path, detail FROM audit ORDER BY seq DESC LIMIT ?",
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
