"""What every benchmark shares: the run context, result rows, statistics, progress and process handling.

Every process a benchmark starts is registered with the run's :class:`Processes` and stopped when the run ends,
also on failure. Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from mcp import Client, StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable

#: Ours, as a host starts it (``python -m hajatek_mcp`` is the console script's code path, without the wrapper).
OURS = [PYTHON, "-m", "hajatek_mcp"]
#: The baseline server (stdio; add ``http PORT`` for streamable HTTP).
BARE = [PYTHON, str(BENCH_DIR / "bare_server.py")]
#: A server that returns our list_orders result without doing anything (add the saved page's path).
FLOOR = [PYTHON, str(BENCH_DIR / "floor_server.py")]

#: A real-API configuration: enough to start and answer ``initialize``; nothing is sent to the network.
REAL_API_ENV = {"HAJATEK_API_KEY": "sk_x", "HAJATEK_STORE_ID": "str_x"}
SANDBOX_KEY = "sk_sandbox_business"  # unlimited: the benchmarks of latency and load must not meet the rate limit
SANDBOX_STORE = "str_sandbox"

STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0


class BenchmarkFailure(Exception):
    """What a benchmark measures stopped working (errors, 429s, a missing schema): the run exits non-zero."""


# --- results -----------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the published table."""

    what: str
    target: str
    baseline: float | None
    ours: float
    unit: str
    ratio: float | None = None
    ok: bool | None = None
    """True: met; False: missed; None: reported only (no target)."""
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "met", False: "missed", None: "reported"}[self.ok]


@dataclass
class Outcome:
    """What one benchmark hands back: table rows, the numbers behind them, plots, and functional failures."""

    rows: list[Row]
    details: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, str] = field(default_factory=dict)
    """File name → SVG text; written next to docs/benchmarks.md by a full run."""
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        rows = [{**asdict(r), "verdict": r.verdict} for r in self.rows]
        return {"rows": rows, "details": self.details, "failures": self.failures, "plots": sorted(self.plots)}


# --- statistics --------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def summary(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> dict[str, float | int]:
    """n, min, p50, p90, p99, max of ``values`` times ``scale`` (1000 turns seconds into ms)."""
    return {
        "n": len(values),
        "min": round(min(values) * scale, digits),
        "p50": round(percentile(values, 50) * scale, digits),
        "p90": round(percentile(values, 90) * scale, digits),
        "p99": round(percentile(values, 99) * scale, digits),
        "max": round(max(values) * scale, digits),
    }


# --- progress ----------------------------------------------------------------------------------------------------


class Progress:
    """Progress on stderr: one rewritten line on a terminal, a line every few seconds otherwise (CI logs)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.prefix = ""
        self._last = 0.0

    def stage(self, prefix: str) -> None:
        self.prefix = prefix
        self.log("started")

    def log(self, message: str) -> None:
        """A line that stays."""
        self._clear()
        print(f"{self.prefix} {message}".strip(), file=sys.stderr, flush=True)

    def status(self, message: str, done: int | None = None, total: int | None = None) -> None:
        """A transient status; throttled."""
        now = time.monotonic()
        if now - self._last < (0.2 if self.tty else 5.0):
            return
        self._last = now
        count = f" {done}/{total}" if done is not None and total is not None else ""
        text = f"{self.prefix} {message}{count}"
        if self.tty:
            print(f"\r\x1b[2K{text[:150]}", end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def _clear(self) -> None:
        if self.tty:
            print("\r\x1b[2K", end="", file=sys.stderr, flush=True)


# --- processes ---------------------------------------------------------------------------------------------------


class Processes:
    """Every subprocess of the run; :meth:`stop_all` terminates them (then kills) whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._running: list[subprocess.Popen[bytes]] = []
        self._count = 0

    def spawn(self, command: Sequence[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        """Start ``command`` with stdout and stderr in ``logs/<name>-<n>.log`` and stdin closed."""
        self._count += 1
        log = self.logs / f"{name}-{self._count}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
        process.log = log  # type: ignore[attr-defined]  # where to look when it fails
        self._running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in list(self._running):
            self.stop(process)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            pass
        log = getattr(process, "log", None)
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log else ""
            raise BenchmarkFailure(f"process exited with {process.returncode} before listening on {port}:\n{tail}")
        if time.monotonic() > deadline:
            raise BenchmarkFailure(f"nothing listened on 127.0.0.1:{port} within {timeout} s (log: {log})")
        time.sleep(0.05)


# --- the run -----------------------------------------------------------------------------------------------------


@dataclass
class Bench:
    """The context every benchmark's ``run(bench)`` gets."""

    quick: bool
    workdir: Path
    progress: Progress
    processes: Processes
    files: list[IO[str]] = field(default_factory=list)

    def n(self, full: int, quick: int) -> int:
        """A count for this mode."""
        return quick if self.quick else full

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The caller's environment without any HAJATEK_* setting, state in a fresh directory, plus ``extra``.

        Bytecode writing is switched back on: an installed package has its ``.pyc`` files (pip compiles them), and
        without them every start would compile our sources while the SDK's are read precompiled.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAJATEK_") and k != "PYTHONDONTWRITEBYTECODE"}
        data = self.workdir / f"data-{time.monotonic_ns()}"
        data.mkdir()
        env["HAJATEK_DATA_DIR"] = str(data)
        return {**env, **(extra or {})}

    @contextmanager
    def sandbox(self, name: str = "sandbox") -> Iterator[str]:
        """``hajatek-mcp sandbox`` on a free loopback port; yields its base URL (``http://127.0.0.1:P/v1``)."""
        port = free_port()
        process = self.processes.spawn([*OURS, "sandbox", "--port", str(port)], self.env(), name)
        try:
            wait_listening(process, port)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            self.processes.stop(process)

    @contextmanager
    def http_server(self, command: Sequence[str], port: int, env: dict[str, str], name: str) -> Iterator[int]:
        """An HTTP server ``command`` that listens on ``port``; yields its pid."""
        process = self.processes.spawn(command, env, name)
        try:
            wait_listening(process, port)
            yield process.pid
        finally:
            self.processes.stop(process)

    def stdio_client(self, command: Sequence[str], env: dict[str, str], name: str, mode: str = "legacy") -> Client:
        """An MCP client of ``command`` over stdio (legacy: the 2025-11-25 handshake of today's hosts)."""
        params = StdioServerParameters(command=command[0], args=list(command[1:]), env=env, cwd=ROOT)
        errlog = (self.workdir / "logs" / f"{name}-stdio-{time.monotonic_ns()}.log").open("w")
        self.files.append(errlog)
        return Client(stdio_client(params, errlog=errlog), mode=mode, read_timeout_seconds=REQUEST_TIMEOUT)


def ours_on_sandbox_env(bench: Bench, base_url: str) -> dict[str, str]:
    """Ours configured for a standalone sandbox as if it were the real API (business key: no rate limit)."""
    return bench.env({"HAJATEK_BASE_URL": base_url, "HAJATEK_API_KEY": SANDBOX_KEY,
                      "HAJATEK_STORE_ID": SANDBOX_STORE, "HAJATEK_PLAN": "business"})  # fmt: skip


# --- raw stdio JSON-RPC ------------------------------------------------------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "hajatek-benchmarks", "version": "1"},
    },
}


class RawStdio:
    """A server over stdio driven by hand, to time spawn → response and to read the exact bytes on the wire."""

    def __init__(self, command: Sequence[str], env: dict[str, str], stderr: IO[bytes]) -> None:
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=stderr, cwd=ROOT)  # fmt: skip
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def receive(self, request_id: int, timeout: float = STARTUP_TIMEOUT) -> bytes:
        """The raw line of the response to ``request_id`` (notifications before it are skipped)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                if line.strip() and json.loads(line).get("id") == request_id:
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise BenchmarkFailure(f"no response to request {request_id} within {timeout} s")
            chunk = os.read(self.process.stdout.fileno(), 1 << 20)
            if not chunk:
                raise BenchmarkFailure(f"the server closed stdout (exit code {self.process.poll()})")
            self._buffer += chunk

    def close(self) -> None:
        self._selector.close()
        if self.process.stdin is not None:
            self.process.stdin.close()  # a stdio server exits at end of input
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


# --- memory ------------------------------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of ``pid`` in KiB, from /proc."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def children() -> set[int]:
    """The pids of this process's children (take the set before and after a stdio client spawns its server)."""
    me = os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.add(int(entry.name))
    return found


def new_child(before: set[int]) -> int:
    """The one child started since ``before`` was taken."""
    new = children() - before
    if len(new) != 1:
        raise BenchmarkFailure(f"expected one new child process, found {sorted(new)}")
    return new.pop()
