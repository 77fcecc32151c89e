"""Real database servers for the tests, from Debian's packages, in temporary directories on 127.0.0.1.

:func:`postgres_server` runs a throwaway PostgreSQL cluster (``initdb`` + ``postgres``, as the ``postgres`` user when
the tests run as root: PostgreSQL refuses to run as root) and yields its URL; it stops by itself at the end.
:func:`redis_server` does the same for a Redis (``redis-server``, nothing saved to disk). Without the package, a local
run skips with the install command; under ``CI=true`` it fails instead (CI must provide it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support import free_port, stop

__all__ = ["postgres_bin", "postgres_server", "redis_server", "require_haproxy", "require_postgres", "require_redis"]

INSTALL_POSTGRES = "apt-get install postgresql"
INSTALL_REDIS = "apt-get install redis-server"
INSTALL_HAPROXY = "apt-get install haproxy"


def postgres_bin() -> Path | None:
    """The directory of Debian's PostgreSQL server binaries (the newest installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _missing(reason: str, what: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide {what}: {reason}", pytrace=False)
    pytest.skip(reason)


def require_haproxy() -> str:
    """The ``haproxy`` binary, else skip (locally) or fail (under CI) naming the install command."""
    found = shutil.which("haproxy")
    if found is None:
        _missing(f"needs HAProxy from Debian's packages ({INSTALL_HAPROXY})", "HAProxy")
    return found


def require_redis() -> str:
    """The ``redis-server`` binary, else skip (locally) or fail (under CI) naming the install command."""
    found = shutil.which("redis-server")
    if found is None:
        _missing(f"needs a Redis server from Debian's packages ({INSTALL_REDIS})", "Redis")
    return found


@contextmanager
def redis_server() -> Iterator[str]:
    """A fresh Redis on 127.0.0.1 (a free port, in a temporary directory, nothing persisted); yields its URL."""
    binary = require_redis()
    root = Path(tempfile.mkdtemp(prefix="hajatek-redis-"))
    port = free_port()
    with (root / "server.log").open("wb") as output:
        server = subprocess.Popen(  # noqa: S603  # Debian's redis-server, fixed arguments
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root), "--save", "", "--appendonly",
             "no", "--protected-mode", "yes", "--daemonize", "no"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Redis did not start: {(root / 'server.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(server, grace=10)
        shutil.rmtree(root, ignore_errors=True)


def require_postgres() -> Path:
    """The PostgreSQL binaries, else skip (locally) or fail (under CI) naming the install command."""
    found = postgres_bin()
    if found is None:
        _missing(f"needs a PostgreSQL server from Debian's packages ({INSTALL_POSTGRES})", "PostgreSQL")
    return found


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL on 127.0.0.1 (a free port, trust auth, database ``hajatek``); yields its URL."""
    bindir = require_postgres()
    root = Path(tempfile.mkdtemp(prefix="hajatek-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    subprocess.run(  # noqa: S603  # Debian's initdb, fixed arguments
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(  # noqa: S603  # Debian's postgres, fixed arguments
            _as_postgres([
                str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(root),
                "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
            ]),
            stdout=subprocess.DEVNULL,
            stderr=output,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(  # noqa: S603
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True, check=False
        ).returncode:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        subprocess.run(  # noqa: S603
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "hajatek"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/hajatek"
    finally:
        stop(server, grace=20)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """An empty database for one test on the server of ``url``: a new schema, first on the search path of the URL
    returned (a schema costs a millisecond where ``CREATE DATABASE`` costs up to a second)."""
    import psycopg

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"{name!r}: use lower-case letters, digits and underscores")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{url}?options=-csearch_path%3D{name}"
