"""What a process tells its operator over HTTP, unauthenticated: is it up, is it ready, and its access log.

- ``GET /healthz``: 200 while the process serves (a liveness probe: restart it when this fails).
- ``GET /readyz``: 200 when every readiness check passes (the shared PostgreSQL answers and this process's schemas
  are migrated; Redis answers), else 503 with each check's one-line reason (a load balancer's readiness probe: send
  no traffic to this replica meanwhile). Reasons never carry a password.
- uvicorn's access log (on at ``--log-level INFO``) logs request lines without their query strings, which may carry a
  credential (:func:`hide_queries_in_access_log`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["HEALTH_PATH", "READY_PATH", "Check", "hide_queries_in_access_log", "probe_routes"]

HEALTH_PATH: Final = "/healthz"
READY_PATH: Final = "/readyz"
#: Seconds a readiness check may take before it counts as failed.
READY_TIMEOUT: Final = 5.0

#: A readiness check: returns when ready, raises an exception whose message says why not (and names the fix).
Check = Callable[[], Awaitable[None]]


def probe_routes(readiness: Mapping[str, Check]) -> list[Route]:
    """``/healthz`` and ``/readyz`` (running ``readiness``' checks, by name, one after the other)."""
    return [Route(HEALTH_PATH, _health, methods=["GET"]), Route(READY_PATH, _ready(readiness), methods=["GET"])]


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _ready(checks: Mapping[str, Check]) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def ready(request: Request) -> JSONResponse:
        found: dict[str, str] = {}
        for name, check in checks.items():
            try:
                with anyio.fail_after(READY_TIMEOUT):
                    await check()
                found[name] = "ok"
            except TimeoutError:
                found[name] = f"no answer within {READY_TIMEOUT:g} s"
            except Exception as exc:  # our checks' errors name the fix, never a password
                found[name] = str(exc)
        ok = all(value == "ok" for value in found.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": found}, status_code=200 if ok else 503)

    return ready


class _NoQueryInAccessLog(logging.Filter):
    """Cuts the query string off the request line of every ``uvicorn.access`` record: it may carry a credential."""

    _QUERY: Final = re.compile(r"\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            # uvicorn logs '%s - "%s %s HTTP/%s" %d' with the path and query as one argument; its own "?" is encoded
            record.args = tuple(arg.partition("?")[0] if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = self._QUERY.sub("", record.msg)
        return True


def hide_queries_in_access_log() -> None:
    """Install (once) the filter that logs uvicorn's access lines without their query strings."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, _NoQueryInAccessLog) for existing in access.filters):
        access.addFilter(_NoQueryInAccessLog())
