"""(being written)"""

from __future__ import annotations

from hajatek_mcp.server.tools.base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
