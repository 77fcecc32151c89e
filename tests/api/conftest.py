"""Fixtures for client tests: a scripted API (:class:`tests.api.support.ScriptedAPI`) and a client factory on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from hajatek_mcp.api import HajatekClient
from tests.api.support import API_KEY, ScriptedAPI
from tests.support import FakeClock


@pytest.fixture
def api() -> ScriptedAPI:
    return ScriptedAPI()


@pytest.fixture
def make_client(api: ScriptedAPI, clock: FakeClock) -> Callable[..., HajatekClient]:
    def factory(**kwargs: Any) -> HajatekClient:
        kwargs.setdefault("store_id", "str_xyz789")
        kwargs.setdefault("transport", httpx2.MockTransport(api.handler))
        return HajatekClient(API_KEY, clock=clock, sleep=clock.sleep, **kwargs)

    return factory
