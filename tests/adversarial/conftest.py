"""Adversarial fixtures. The MCP servers on the sandbox (``connect``, ``make_server``, ``mode``) come from
tests/conftest.py; helpers the tests import are in :mod:`tests.adversarial.support` and :mod:`tests.support`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adversarial.support import OAuthServer, serve_oauth


@pytest.fixture
def oauth_server(tmp_path: Path) -> Iterator[OAuthServer]:
    """The server's OAuth endpoints (its ASGI app) with its state in ``tmp_path``, on a fake clock at 03:00 UTC."""
    with serve_oauth(tmp_path) as server:
        yield server
