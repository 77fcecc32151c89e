"""Reliability fixtures. The helpers these tests import (the sandbox served on loopback, MCP servers built on it,
the audit log as written) are in :mod:`tests.reliability.support`; ``mode`` and ``script`` come from tests/conftest.py.
"""

from __future__ import annotations

import pytest

from hajatek_mcp.sandbox import SandboxConfig
from tests.support import NOW


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(now=NOW, seed=42, enable_admin=True)
