"""``python -m hajatek_mcp``: the same as the ``hajatek-mcp`` command."""

from hajatek_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
