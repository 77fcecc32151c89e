"""The API key never shows up in an error, a repr or a log record."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx2
import pytest

from hajatek_mcp.api import HajatekClient, HajatekError
from tests.api.support import API_KEY, ScriptedAPI, error, reply


async def test_the_api_key_appears_in_no_error_repr_or_log_record(
    api: ScriptedAPI, make_client: Callable[..., HajatekClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.then(
        error(401, "unauthorized", "Invalid API key."),
        error(503, "unavailable", "Down."),
        httpx2.ReadError("reset"),
        httpx2.ConnectError("refused"),
        httpx2.ReadTimeout("slow"),
        reply(200, {"store": "wrong shape"}),
        error(429, "rate_limited", "Slow down.", retry_after="999"),
    )
    errors: list[HajatekError] = []
    async with make_client(max_retries=0) as client:
        for _ in range(7):
            try:
                await client.get_store()
            except HajatekError as exc:
                errors.append(exc)
        texts = [repr(client), str(client.__dict__)]
    assert len(errors) == 7
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    assert caplog.records, "the client should have logged its requests"
    for text in texts:
        assert API_KEY not in text
        assert "TOPSECRET" not in text


def test_an_empty_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="HAJATEK_API_KEY"):
        HajatekClient("   ")
