"""The adversarial suite: each test plays an attacker (a supplier, a shopper, an app, the agent) against a real server.

It uses the server package's fixtures: a real MCP client in both protocol eras, on the in-process sandbox.
"""

from tests.server.conftest import connect, make_server, mode, sandbox_app

__all__ = ["connect", "make_server", "mode", "sandbox_app"]
