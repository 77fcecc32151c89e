"""The MCP face of hajatek-mcp: ``build_server`` and the options it takes."""

from hajatek_mcp.server.app import HajatekServer, build_server, selected_tools
from hajatek_mcp.server.state import TOOLSETS, ServerOptions, Shop

__all__ = ["TOOLSETS", "HajatekServer", "ServerOptions", "Shop", "build_server", "selected_tools"]
