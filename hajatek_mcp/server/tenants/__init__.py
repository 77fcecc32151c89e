"""Multi-tenant hosting: the connected stores, their keys at rest, and the shops a server opens for them.

- :mod:`.keys`: the master keys that encrypt API keys and webhook secrets at rest (AES-GCM, rotation).
- :mod:`.store`: :class:`TenantStore`, the connected stores and their encrypted credentials (``tenants.db``).
- :mod:`.registry`: :class:`Tenants`, the shops open right now (one API client per store, bounded, closed when
  idle) over the server's shared state files, and the connector the consent page uses.
"""

from hajatek_mcp.server.tenants.keys import MasterKeys, UndecryptableError
from hajatek_mcp.server.tenants.registry import SharedTransport, TenantConnector, Tenants
from hajatek_mcp.server.tenants.store import Tenant, TenantCredentials, TenantStore

__all__ = [
    "MasterKeys",
    "SharedTransport",
    "Tenant",
    "TenantConnector",
    "TenantCredentials",
    "TenantStore",
    "Tenants",
    "UndecryptableError",
]
