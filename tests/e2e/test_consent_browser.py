"""The consent page in a real headless Chromium (Debian's chromium + chromedriver), driven over WebDriver.

The merchant opens the authorization link, sees which app asks, types the passphrase and allows read-only access;
the app's token then reads but cannot write. WebDriver is a small REST protocol, spoken here with httpx2.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.support import Browser, browser, require_browser
from tests.e2e.test_oauth import PASSPHRASE, Flow, oauth_server, query
from tests.support import HttpServer

__all__ = ["browser", "oauth_server"]  # fixtures: the browser, and the module-scoped server shared with test_oauth

require_browser()


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
