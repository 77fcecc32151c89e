"""The storage seam: where the server's and the sandbox's state files are opened, checked and migrated.

``files`` checks the data directory and names a damaged file in one line; ``sqlite`` opens a file the one house way
and gives stores an async interface. Stores own only their SQL. This package imports nothing else of hajatek_mcp, so
every layer may use it.
"""

from hajatek_mcp.storage.files import DataDirError, StateFileError
from hajatek_mcp.storage.sqlite import Database, Migration, Schema, SQLite, Transaction

__all__ = ["DataDirError", "Database", "Migration", "SQLite", "Schema", "StateFileError", "Transaction"]
