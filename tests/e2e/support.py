"""What the end-to-end tests import besides :mod:`tests.support` (which runs the console script): the tool names
the server lists, by kind and toolset, the ``stdio`` fixture's type, a process on a port (:func:`running_process`),
an OAuth agent's token storage (:class:`TokenMemory`), and a real headless Chromium driven over WebDriver
(:class:`Browser`, the ``browser`` fixture, :func:`open_browser`) for the consent pages."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from tests.support import free_port, server_env, stop, wait_until_listening

ALL_TOOLS = [
    "get_store",
    "list_products",
    "get_product",
    "create_product",
    "update_product",
    "delete_product",
    "bulk_update_products",
    "restock_report",
    "list_orders",
    "get_order",
    "update_order_status",
    "bulk_update_order_status",
    "export_orders",
    "list_customers",
    "get_customer",
    "get_analytics",
    "sales_report",
    "list_events",
]
WRITE_TOOLS = {
    "create_product",
    "update_product",
    "delete_product",
    "bulk_update_products",
    "update_order_status",
    "bulk_update_order_status",
}
READ_TOOLS = [name for name in ALL_TOOLS if name not in WRITE_TOOLS]
TOOLSETS = ("store", "catalog", "orders", "customers", "analytics", "events")

#: What the ``stdio`` fixture gives: ``async with stdio("--read-only") as client``.
StdioConnect = Callable[..., Client]


# --- processes and OAuth agents ------------------------------------------------------------------------------------


@contextmanager
def running_process(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` listening on 127.0.0.1:``port`` (its output in ``log``), stopped (terminate, then kill) on exit."""
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603  # our own console script, fixed arguments
            command, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_listening(process, port, log)
        yield process
    finally:
        stop(process)


class TokenMemory:
    """An agent's TokenStorage for the SDK's OAuth client: its registration and tokens, kept across connections."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


# --- a real browser ------------------------------------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def require_browser() -> None:
    """Skip the calling test module when Debian's chromium and chromedriver are missing, or fail it under CI (which
    must provide them). Call it at module level, before anything else of the module runs."""
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide a browser: {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


class Browser:
    """Just enough WebDriver: open a URL, find by CSS, type, click, read the URL, take a screenshot.

    WebDriver is a small REST protocol, spoken here with httpx2. Every call blocks: from async code, run it in a
    worker thread (``anyio.to_thread.run_sync``).
    """

    def __init__(self, http: httpx2.Client, session: str) -> None:
        self.http, self.session = http, session

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"/session/{self.session}{path}", json=payload)
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def open(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        element = self._call("POST", "/element", {"using": "css selector", "value": css})
        return str(next(iter(element.values())))

    def type(self, css: str, text: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/click", {})

    def text(self) -> str:
        return str(self._call("POST", "/execute/sync", {"script": "return document.body.innerText", "args": []}))

    def script(self, source: str, *args: Any) -> Any:
        """Run ``source`` (a function body: ``return …``) in the current frame; its JSON-able result."""
        return self._call("POST", "/execute/sync", {"script": source, "args": list(args)})

    def enter_frame(self, css: str) -> None:
        """Continue inside the frame ``css`` finds in the current frame (cross-origin frames included)."""
        element = self._call("POST", "/element", {"using": "css selector", "value": css})
        self._call("POST", "/frame", {"id": element})

    def top(self) -> None:
        """Back to the page itself, out of every frame."""
        self._call("POST", "/frame", {"id": None})

    def url(self) -> str:
        return str(self._call("GET", "/url"))

    def wait_for_url(self, prefix: str, seconds: float = 15.0) -> str:
        """The URL once it starts with ``prefix`` (the redirect after a form post may still be under way)."""
        deadline = time.monotonic() + seconds
        while not (url := self.url()).startswith(prefix) and time.monotonic() < deadline:
            time.sleep(0.05)
        return url

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))


@contextmanager
def open_browser(directory: Path) -> Iterator[Browser]:
    """Headless Chromium in a phone-sized window, its profile and chromedriver's log in ``directory``; closed on
    exit. Call :func:`require_browser` first."""
    assert CHROMIUM, "call require_browser() at module level first"
    assert CHROMEDRIVER, "call require_browser() at module level first"
    port = free_port()
    log = directory / "chromedriver.log"
    with log.open("wb") as output:
        driver = subprocess.Popen(  # noqa: S603  # the system's chromedriver, fixed arguments
            [CHROMEDRIVER, f"--port={port}"], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_listening(driver, port, log)
        args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={directory / 'profile'}",
            "--window-size=390,844",
        ]  # a phone-sized window
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            created = http.post("/session", json={"capabilities": {"alwaysMatch": {
                "browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}})  # fmt: skip
            assert created.status_code == 200, created.text
            session = created.json()["value"]["sessionId"]
            try:
                yield Browser(http, session)
            finally:
                http.delete(f"/session/{session}")
    finally:
        driver.terminate()
        driver.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium for one test (see :func:`open_browser`); import it into a module that calls
    :func:`require_browser`."""
    with open_browser(tmp_path) as opened:
        yield opened


def replica_env(
    data_dir: Path, api_port: int, shared: tuple[str, str], *, plan: str, **settings: str
) -> dict[str, str]:
    """The environment of a replica of the sandbox store: its own ``data_dir``, the sandbox on ``api_port`` with the
    ``plan``'s key, the ``shared`` PostgreSQL and Redis (URLs), and ``settings`` (``HAJATEK_`` + the name in capitals)
    that every replica must have alike."""
    database_url, redis_url = shared
    return {
        **server_env(data_dir),  # each its own data dir: nothing shared but PostgreSQL and Redis
        "HAJATEK_API_KEY": f"sk_sandbox_{plan}",
        "HAJATEK_STORE_ID": "str_sandbox",
        "HAJATEK_PLAN": plan,
        "HAJATEK_BASE_URL": f"http://127.0.0.1:{api_port}/v1",
        "HAJATEK_DATABASE_URL": database_url,
        "HAJATEK_REDIS_URL": redis_url,
        **{f"HAJATEK_{name.upper()}": value for name, value in settings.items()},
    }
