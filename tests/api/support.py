"""What the client tests import: a scripted API behind ``httpx2.MockTransport``, and responses as the contract
shapes them. (Fixtures are in conftest.py; helpers shared with other folders in :mod:`tests.support`.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

API_KEY = "sk_live_TOPSECRET_0123456789"


def reply(status: int = 200, body: Any = None, *, headers: dict[str, str] | None = None) -> httpx2.Response:
    """A response as the contract shapes it (JSON body, a request id)."""
    h = {"x-request-id": "req_test1", **(headers or {})}
    return httpx2.Response(status, json=body, headers=h)


def error(status: int, code: str, message: str, *, param: str | None = None, **headers: str) -> httpx2.Response:
    envelope = {"error": {"code": code, "message": message, "param": param, "request_id": "req_err1"}}
    return reply(status, envelope, headers={k.replace("_", "-"): v for k, v in headers.items()})


class ScriptedAPI:
    """Answers requests from a script of responses (or exceptions), and records what was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self._script: list[httpx2.Response | Exception | Callable[[httpx2.Request], httpx2.Response]] = []

    def then(self, *steps: httpx2.Response | Exception | Callable[[httpx2.Request], httpx2.Response]) -> ScriptedAPI:
        self._script.extend(steps)
        return self

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self._script:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(request)
        return step

    def bodies(self) -> Iterator[Any]:
        return (json.loads(r.content) if r.content else None for r in self.requests)
