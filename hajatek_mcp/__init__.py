"""hajatek-mcp: an MCP server for Hajatek stores, with its API client and a local sandbox."""

__version__ = "0.1.0"

__all__ = ["__version__"]
