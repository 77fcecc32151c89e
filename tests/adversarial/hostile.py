"""A hostile upstream: the sandbox, with chosen text written into every text field of every answer.

A real store's text is written by suppliers and shoppers; this wrapper stands for all of them at once. Each JSON
answer of the sandbox has :attr:`Hostile.text` appended to every value under a text key (names, descriptions, SKUs,
cities, emails, phones, notes), at any depth, so every tool and resource reads it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from hajatek_mcp.api import HajatekClient

TEXT_KEYS = frozenset({"name", "name_ar", "description", "sku", "city", "email", "phone", "note", "notes", "category"})


class Hostile(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.text = ""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if not self.text or "json" not in response.headers.get("content-type", ""):
            return response
        body = json.loads(await response.aread())
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx2.Response(response.status_code, headers=headers, json=self._spoil(body, ""))

    def _spoil(self, data: Any, key: str) -> Any:
        if isinstance(data, str):
            return data + self.text if key in TEXT_KEYS else data
        if isinstance(data, dict):
            return {k: self._spoil(v, k) for k, v in data.items()}
        if isinstance(data, list):
            return [self._spoil(v, key) for v in data]
        return data


def hostile_client(transport: Hostile) -> HajatekClient:
    return HajatekClient(
        "sk_sandbox_business", store_id="str_sandbox", base_url="http://sandbox.local/v1", plan="business",
        max_retries=0, transport=transport,
    )  # fmt: skip
