"""The baseline: a bare one-tool ``MCPServer``, the least any Python MCP server on this SDK can cost.

``python benchmarks/bare_server.py`` serves stdio; ``python benchmarks/bare_server.py http PORT`` serves streamable
HTTP on 127.0.0.1:PORT/mcp with the SDK's defaults (stateful sessions, SSE responses), like ``hajatek-mcp serve``.
The tool is async, as ours are, so neither side pays the worker-thread hop of a sync tool.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

# WARNING, as hajatek-mcp logs by default: at INFO uvicorn would write an access line per request.
mcp = MCPServer("bare", log_level="WARNING")


@mcp.tool()
async def ping(n: int = 0) -> int:
    """Return n."""
    return n


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        mcp.run("stdio")
