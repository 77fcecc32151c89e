"""Entry point of the MCP Bundle: Claude Desktop runs this file with its Python (see docs/clients.md).

The bundle carries the package and its dependencies next to this file (``hajatek_mcp/`` and ``lib/``); put them
first on the path, then run the same command line as ``hajatek-mcp``. Settings arrive as HAJATEK_* variables from
the bundle's user configuration.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "lib"), HERE]

from hajatek_mcp.cli import main  # noqa: E402  # the path must be set first

if __name__ == "__main__":
    raise SystemExit(main())
