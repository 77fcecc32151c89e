"""The MCP face of hajatek-mcp: ``build_server`` and the options it takes."""

from hajatek_mcp.server.app import HajatekServer, build_server, selected_tools
from hajatek_mcp.server.options import TOOLSETS, ExternalIssuer, ServerOptions
from hajatek_mcp.server.shop import Shop

__all__ = [
    "TOOLSETS",
    "ExternalIssuer",
    "HajatekServer",
    "ServerOptions",
    "Shop",
    "build_server",
    "selected_tools",
]
