"""The consent page in a real headless Chromium (Debian's chromium + chromedriver), driven over WebDriver.

The merchant opens the authorization link, sees which app asks, types the passphrase and allows read-only access;
the app's token then reads but cannot write. WebDriver is a small REST protocol, spoken here with httpx2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.test_oauth import PASSPHRASE, Flow, oauth_server, query
from tests.support import HttpServer, free_port, wait_until_listening

__all__ = ["oauth_server"]  # the module-scoped server fixture, shared with test_oauth

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    reason = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide a browser: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


class Browser:
    """Just enough WebDriver: open a URL, find by CSS, type, click, read the URL, take a screenshot."""

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

    def url(self) -> str:
        return str(self._call("GET", "/url"))

    def wait_for_url(self, prefix: str, seconds: float = 15.0) -> str:
        """The URL once it starts with ``prefix`` (the redirect after a form post may still be under way)."""
        deadline = time.monotonic() + seconds
        while not (url := self.url()).startswith(prefix) and time.monotonic() < deadline:
            time.sleep(0.05)
        return url

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    port = free_port()
    log = tmp_path / "chromedriver.log"
    with log.open("wb") as output:
        driver = subprocess.Popen(  # noqa: S603  # the system's chromedriver, fixed arguments
            [str(CHROMEDRIVER), f"--port={port}"], stdout=output, stderr=subprocess.STDOUT
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
            f"--user-data-dir={tmp_path / 'profile'}",
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


def test_the_merchant_approves_read_only_in_a_real_browser_and_writes_are_refused(
    oauth_server: HttpServer, browser: Browser, tmp_path: Path
) -> None:
    import anyio

    async def register() -> Flow:
        async with httpx2.AsyncClient() as http:
            flow = Flow(http, oauth_server)
            await flow.register()
            return flow

    flow = anyio.run(register)
    browser.open(flow.authorize_url())
    page = browser.text()
    assert "Allow access to your Hajatek store?" in page
    assert "Negative tester" in page
    browser.screenshot(tmp_path / "consent.png")
    browser.type("input[name=passphrase]", PASSPHRASE)
    browser.click("button[value=approve]")  # read-only is the default choice
    landed = browser.wait_for_url("http://127.0.0.1:9/callback")
    assert landed.startswith("http://127.0.0.1:9/callback?")
    code = query(landed)["code"]

    async def use_token() -> tuple[bool, bool, str]:
        async with httpx2.AsyncClient() as http:
            flow.http = http
            token = (await flow.token(code)).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as authed,
                Client(streamable_http_client(oauth_server.url("/mcp"), http_client=authed), mode="legacy") as c,
            ):
                read = await c.call_tool("get_store", {})
                write = await c.call_tool("update_product", {"product_id": "prod_0001", "name": "Renamed"})
        return read.is_error, write.is_error, str(token["scope"])

    read_failed, write_failed, scope = anyio.run(use_token)
    assert scope == "store.read"
    assert not read_failed
    assert write_failed
