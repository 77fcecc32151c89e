"""A faithful, stateful local Hajatek API for demos and tests (docs/sandbox.md).

``create_app(SandboxConfig(...))`` returns a Starlette app serving the API of docs/api.md under ``/v1``, backed by
SQLite and seeded with a deterministic Saudi demo store. Use it in process through ``httpx2.ASGITransport`` or run
it with :func:`serve`. Several stores on one address, the API key picking the store:
``create_multi_app(multi_store_configs(3, SandboxConfig(...)))`` (:mod:`~hajatek_mcp.sandbox.multi`). Importing this
package does no work: no database, no threads, no uvicorn.
"""

from __future__ import annotations

from .app import create_app
from .config import API_KEYS, STORE_ID, SandboxConfig
from .core import Sandbox
from .faults import ConnectionDropped, Fault, FaultInjector, FaultMode
from .multi import SandboxGroup, create_multi_app, multi_store_configs
from .server import banner, base_url, serve
from .webhooks import InProcessTransport

__all__ = [
    "API_KEYS",
    "STORE_ID",
    "ConnectionDropped",
    "Fault",
    "FaultInjector",
    "FaultMode",
    "InProcessTransport",
    "Sandbox",
    "SandboxConfig",
    "SandboxGroup",
    "banner",
    "base_url",
    "create_app",
    "create_multi_app",
    "multi_store_configs",
    "serve",
]
