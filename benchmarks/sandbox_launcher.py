"""Run the standalone sandbox with a scaled rate-limit window (the CLI does not expose one).

``python benchmarks/sandbox_launcher.py PORT WINDOW STARTER_LIMIT`` serves the demo store on 127.0.0.1:PORT with the
starter plan allowed STARTER_LIMIT requests per rolling WINDOW seconds (pro and business keep their defaults).
"""

from __future__ import annotations

import sys

from hajatek_mcp.sandbox import SandboxConfig, serve


def main(port: int, window: float, starter_limit: int) -> None:
    config = SandboxConfig(rate_window=window, plan_limits={"starter": starter_limit, "pro": 500, "business": None})
    serve(config, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]))
