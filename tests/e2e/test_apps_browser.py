"""MCP Apps views in a real browser, shown by the official host bridge.

A test host page (``tests/apps/host.js``: the official ``AppBridge`` of ``@modelcontextprotocol/ext-apps`` and the
TypeScript MCP client, pinned in ``tests/apps/package.json`` and bundled with esbuild) connects to the server over
streamable HTTP on the in-process sandbox, calls a tool, reads its ``ui://`` view and loads it through a sandbox
proxy on another origin (``localhost`` against the host's ``127.0.0.1``), as a web host must; headless Chromium
(Debian's) shows it. The test then looks inside the view's frame at what a person would see.

Each view's weight and the time from the tool result to its first size report are printed, not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from hajatek_mcp.server import Shop
from hajatek_mcp.server.http import HttpSecurity, http_app
from hajatek_mcp.server.resources import LOW_STOCK
from tests.e2e.support import Browser, browser, require_browser
from tests.support import Loopback

__all__ = ["browser"]  # a fixture

require_browser()

HARNESS = Path(__file__).resolve().parents[1] / "apps"
ESBUILD = HARNESS / "node_modules" / ".bin" / "esbuild"
VIEW_BUDGET = 150_000
HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>test host</title></head>
<body style="margin:0"><script type="module" src="/_host/host.js"></script></body></html>"""


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The test host, bundled for the browser from the pinned packages."""
    if not ESBUILD.exists():
        reason = f"needs the test host's npm packages: npm ci --prefix {HARNESS.relative_to(HARNESS.parents[1])}"
        if os.environ.get("CI"):
            pytest.fail(f"CI must install them: {reason}", pytrace=False)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("host") / "host.js"
    subprocess.run(  # noqa: S603  # the pinned esbuild, fixed arguments
        [str(ESBUILD), str(HARNESS / "host.js"), "--bundle", "--format=esm", "--platform=browser",
         f"--outfile={out}", "--log-level=warning"],
        check=True,
        cwd=HARNESS,
    )  # fmt: skip
    return out.read_bytes()


def host_routes(bundle: bytes) -> list[Route]:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(HOST_PAGE)

    async def script(request: Request) -> Response:
        return Response(bundle, media_type="text/javascript")

    return [Route("/_host", page), Route("/_host/host.js", script)]


def proxy_app() -> Starlette:
    html = (HARNESS / "sandbox.html").read_text(encoding="utf-8")

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    return Starlette(routes=[Route("/sandbox.html", page)])


class Shown:
    """A view the test host showed: the host's state, and a way into the view's frame."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.state: dict[str, Any] = {}

    def wait(self, step: str, seconds: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            self.browser.top()
            self.state = self.browser.script("return window.hostState || {}")
            if self.state.get("step") == step or self.state.get("step") == "failed":
                break
            assert time.monotonic() < deadline, self.state
            time.sleep(0.05)
        assert self.state.get("error") is None, self.state["error"]
        return self.state

    def inside(self, source: str, *args: Any) -> Any:
        """Run ``source`` inside the view's frame (host page → sandbox proxy → view)."""
        self.browser.top()
        self.browser.enter_frame("#view")
        self.browser.enter_frame("#inner")
        return self.browser.script(source, *args)

    def until_inside(self, source: str, seconds: float = 10.0) -> Any:
        deadline = time.monotonic() + seconds
        while not (value := self.inside(source)):
            assert time.monotonic() < deadline, f"never true in the view: {source}"
            time.sleep(0.05)
        return value


@pytest.fixture
def show(
    make_server: Callable[..., MCPServer[Shop]], host_bundle: bytes, browser: Browser
) -> Iterator[Callable[..., Shown]]:
    """``show(tool, arguments, mode=…, theme=…, locale=…)``: the test host showing ``tool``'s view."""
    server = make_server()
    app = http_app(
        server, "streamable-http", host="127.0.0.1", security=HttpSecurity(), routes=host_routes(host_bundle)
    )
    with Loopback(app, timeout_graceful_shutdown=2) as origin, Loopback(proxy_app()) as proxy:
        sandbox = proxy.replace("127.0.0.1", "localhost") + "/sandbox.html"  # another origin than the host's

        def open_view(tool: str, arguments: dict[str, Any], **options: str) -> Shown:
            query = {"mcp": f"{origin}/mcp", "sandbox": sandbox, "tool": tool, "args": json.dumps(arguments), **options}
            browser.open(f"{origin}/_host?{urlencode(query)}")
            shown = Shown(browser)
            shown.wait("shown")
            return shown

        try:
            yield open_view
        finally:
            browser.top()
            browser.open("about:blank")  # the page's streams end before the servers stop


def stock_state(product: dict[str, Any]) -> str:
    stock = product.get("stock")
    if stock is None or product.get("status") == "archived":
        return "ok"
    return "out" if stock == 0 else "low" if stock < LOW_STOCK else "ok"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_catalog_shows_every_product_and_marks_exactly_the_low_and_out_of_stock_ones(
    show: Callable[..., Shown], mode: str, tmp_path: Path
) -> None:
    shown = show("list_products", {"sort": "stock", "limit": 30}, mode=mode)
    products = shown.state["result"]["structuredContent"]["products"]
    expected = {p["id"]: stock_state(p) for p in products}
    assert {"low", "out"} <= set(expected.values()), "the sandbox's lowest stock should include low and out"
    rows = shown.until_inside(
        "const rows = [...document.querySelectorAll('tr[data-id]')];"
        "return rows.length ? rows.map(r => [r.dataset.id, r.dataset.stockState, r.cells[2].textContent,"
        " r.cells[3].textContent, r.cells[4].textContent]) : null"
    )
    assert [row[0] for row in rows] == [p["id"] for p in products]  # every product, in the tool's order
    assert {row[0]: row[1] for row in rows} == expected
    for (_, state, price, stock, badge), product in zip(rows, products, strict=True):
        assert price.replace("\u00a0", " ") == f"SAR {product['price']:,.2f}"
        assert stock == str(product["stock"])
        assert badge == {"ok": "", "low": "Low stock", "out": "Out of stock"}[state]
    summary = shown.inside("return document.getElementById('summary').textContent")
    low, out = list(expected.values()).count("low"), list(expected.values()).count("out")
    assert summary == f"{len(products)} products · {low} low on stock (under {LOW_STOCK}) · {out} out of stock"
    sizes = [s for s in shown.state["sizes"] if s["at"] >= shown.state["resultSentAt"]]
    bytes_ = shown.state["view"]["bytes"]
    assert shown.state["view"]["mimeType"] == "text/html;profile=mcp-app"
    assert bytes_ <= VIEW_BUDGET
    shown_after = f"{sizes[0]['at'] - shown.state['resultSentAt']:.0f} ms" if sizes else "no size report"
    print(f"catalog view ({mode}): {bytes_:,} bytes, shown {shown_after} after the tool result")  # noqa: T201
    shown.browser.top()
    shown.browser.screenshot(tmp_path / f"catalog-{mode}.png")


def test_the_catalog_follows_the_hosts_theme_and_reads_right_to_left_in_arabic(show: Callable[..., Shown]) -> None:
    shown = show("list_products", {"limit": 5}, locale="ar-SA")
    products = shown.state["result"]["structuredContent"]["products"]
    assert shown.until_inside("return document.querySelectorAll('tr[data-id]').length") == len(products)
    assert shown.inside("return [document.documentElement.dir, document.documentElement.dataset.theme]") == [
        "rtl",
        "light",
    ]
    names = shown.inside(
        "return [...document.querySelectorAll('tr[data-id] td:first-child')].map(c => c.firstChild.textContent)"
    )
    assert names == [p["name_ar"] or p["name"] for p in products]  # Arabic names first
    assert shown.inside("return getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    shown.browser.top()
    shown.browser.script("window.setTheme('dark')")
    assert shown.until_inside("return document.documentElement.dataset.theme === 'dark'")
    assert shown.inside("return getComputedStyle(document.body).backgroundColor") == "rgb(28, 28, 30)"


def test_the_view_answers_the_hosts_teardown(show: Callable[..., Shown]) -> None:
    shown = show("list_products", {"limit": 3})
    shown.browser.top()
    shown.browser.script("window.tearDown()")
    deadline = time.monotonic() + 10
    while "teardown" not in (state := shown.browser.script("return window.hostState")):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["teardown"] == {}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_dashboard_shows_the_figures_of_get_analytics_and_the_days_it_asked_sales_report_for(
    show: Callable[..., Shown], mode: str, tmp_path: Path
) -> None:
    shown = show("get_analytics", {"period": "7d"}, mode=mode)
    data = shown.state["result"]["structuredContent"]
    shown.until_inside("return document.querySelectorAll('.tile').length === 4")
    tiles = dict(
        shown.inside(
            "return [...document.querySelectorAll('.tile')].map(t => [t.dataset.key,"
            " t.querySelector('.value').textContent.replace(/\\u00a0/g, ' ')])"
        )
    )
    assert tiles == {
        "revenue": f"SAR {data['revenue']:,.2f}",
        "orders": f"{data['orders_count']:,}",
        "aov": f"SAR {data['average_order_value']:,.2f}",
        "customers": f"{data['new_customers']:,}",
    }
    statuses = shown.inside(
        "const cells = [...document.querySelectorAll('#statuses > *')];"
        "const out = {}; for (let i = 0; i < cells.length; i += 3)"
        " out[cells[i].dataset.status] = cells[i + 2].textContent; return out"
    )
    assert statuses == {status: f"{n:,}" for status, n in data["orders_by_status"].items()}
    top = shown.inside(
        "return [...document.querySelectorAll('#top tbody tr')].map(r => [r.dataset.id,"
        " r.cells[1].textContent, r.cells[2].textContent.replace(/\\u00a0/g, ' ')])"
    )
    assert top == [[p["product_id"], f"{p['quantity']:,}", f"SAR {p['revenue']:,.2f}"] for p in data["top_products"]]
    bars = shown.until_inside(
        "const bars = [...document.querySelectorAll('#daily rect')];"
        "return bars.length ? bars.map(b => [b.dataset.day, Number(b.dataset.revenue)]) : null"
    )
    shown.wait("shown")
    (asked,) = shown.state["viewCalls"]  # the view asked the server for the days, through the host
    assert asked["name"] == "sales_report"
    assert asked["arguments"] == {"since": data["start"][:10], "until": data["end"][:10], "group_by": "day"}
    assert bars == [[g["key"], g["revenue"]] for g in asked["result"]["structuredContent"]["groups"]]
    dots = shown.inside(
        "return [...document.querySelectorAll('#daily circle')].map(c => [c.dataset.day, Number(c.dataset.orders)])"
    )
    assert dots == [[g["key"], g["paid_orders"]] for g in asked["result"]["structuredContent"]["groups"]]
    assert len(bars) >= 7
    shown.browser.top()
    shown.browser.screenshot(tmp_path / f"dashboard-{mode}.png")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_orders_table_has_the_rows_statuses_and_totals_of_list_orders(
    show: Callable[..., Shown], mode: str, tmp_path: Path
) -> None:
    shown = show("list_orders", {"limit": 15}, mode=mode)
    data = shown.state["result"]["structuredContent"]
    rows = shown.until_inside(
        "const rows = [...document.querySelectorAll('#orders tbody tr')];"
        "return rows.length ? rows.map(r => [r.dataset.id, r.cells[1].textContent, r.cells[2].textContent,"
        " r.cells[3].textContent, r.cells[4].textContent.replace(/\\u00a0/g, ' ')]) : null"
    )
    assert rows == [
        [o["id"], o["customer_name"], o["status"], f"{o['units']:,}", f"SAR {o['total']:,.2f}"] for o in data["orders"]
    ]
    total = sum(o["total"] for o in data["orders"])
    summary = shown.inside("return document.getElementById('summary').textContent.replace(/\\u00a0/g, ' ')")
    assert summary.startswith(f"{len(data['orders'])} orders shown, SAR {total:,.2f}")
    assert f"{data['total']:,} in all" in summary
    shown.browser.top()
    shown.browser.screenshot(tmp_path / f"orders-{mode}.png")


def test_one_order_shows_its_items_totals_history_and_next_statuses(show: Callable[..., Shown]) -> None:
    shown = show("get_order", {"order_id": "ord_000150"}, locale="ar-SA")
    order = shown.state["result"]["structuredContent"]
    items = shown.until_inside(
        "const rows = [...document.querySelectorAll('#items tbody tr')];"
        "return rows.length ? rows.map(r => [r.dataset.id, r.cells[0].firstChild.textContent,"
        " r.cells[1].textContent, r.cells[3].textContent.replace(/\\u00a0/g, ' ')]) : null"
    )
    # Arabic locale: Arabic line names first, figures in Arabic-Indic digits as the merchant's locale writes them.
    assert [row[0] for row in items] == [i["product_id"] for i in order["items"]]
    assert [row[1] for row in items] == [i["name_ar"] or i["name"] for i in order["items"]]
    assert shown.inside("return document.documentElement.dir") == "rtl"
    totals = shown.inside(
        "return Object.fromEntries([...document.querySelectorAll('#items tfoot tr')].map(r => [r.dataset.key,"
        " r.cells[3].textContent]))"
    )
    expected = shown.inside(
        "return Object.fromEntries(arguments[0].map(([k, v]) => [k, new Intl.NumberFormat('ar-SA',"
        " {style: 'currency', currency: 'SAR', minimumFractionDigits: 2}).format(v)]))",
        [[key, order[key]] for key in ("subtotal", "shipping", "vat", "total") if order.get(key) is not None],
    )
    assert totals == expected
    history = shown.inside("return [...document.querySelectorAll('#history tr')].map(r => r.cells[0].textContent)")
    assert history == [step["status"] for step in order["history"]]
    summary = shown.inside("return document.getElementById('summary').textContent")
    assert summary == (
        f"May move on to: {', '.join(order['allowed_next'])}"
        if order["allowed_next"]
        else "Final: it moves no further."
    )


#: The gallery of docs/apps.md: (file, tool, arguments, theme, locale).
GALLERY = [
    ("catalog-light", "list_products", {"sort": "stock", "limit": 8}, "light", "en-US"),
    ("catalog-dark-arabic", "list_products", {"sort": "stock", "limit": 8}, "dark", "ar-SA"),
    ("dashboard-light", "get_analytics", {"period": "7d"}, "light", "en-US"),
    ("dashboard-dark", "get_analytics", {"period": "7d"}, "dark", "en-US"),
    ("orders-light", "list_orders", {"limit": 8}, "light", "en-US"),
    ("order-dark-arabic", "get_order", {"order_id": "ord_000150"}, "dark", "ar-SA"),
    ("card-light", "update_product", {"product_id": "prod_0021", "price": 1.0}, "light", "en-US"),
    ("card-dark", "delete_product", {"product_id": "prod_0022"}, "dark", "en-US"),
]


@pytest.mark.parametrize(("name", "tool", "arguments", "theme", "locale"), GALLERY, ids=[g[0] for g in GALLERY])
def test_each_view_renders_in_light_dark_and_arabic_for_the_gallery(
    show: Callable[..., Shown], tmp_path: Path, name: str, tool: str, arguments: dict[str, Any], theme: str, locale: str
) -> None:
    """Each view as a person sees it; with HAJATEK_APPS_GALLERY=DIR the screenshots go there (docs/apps/ is made so)."""
    shown = show(tool, arguments, theme=theme, locale=locale)
    assert shown.until_inside(
        "return document.body.dataset.renderMs !== undefined || document.body.dataset.state === 'awaiting'"
    )
    sizes = [size for size in shown.state["sizes"] if size["at"] >= shown.state["resultSentAt"]]
    after = f"{sizes[0]['at'] - shown.state['resultSentAt']:.0f} ms" if sizes else "no size report"
    print(f"{name}: {shown.state['view']['bytes']:,} bytes, shown {after} after the tool result")  # noqa: T201
    assert shown.inside("return [document.documentElement.dataset.theme, document.documentElement.dir]") == [
        theme,
        "rtl" if locale.startswith("ar") else "ltr",
    ]
    time.sleep(0.3)  # the dashboard's daily bars arrive after a second round trip
    shown.browser.top()
    shown.browser.screenshot(Path(os.environ.get("HAJATEK_APPS_GALLERY") or tmp_path) / f"{name}.png")


def host_call(browser: Browser, source: str) -> Any:
    """Await ``source`` (a promise expression) in the host page: the test host's own client, as a host would use it."""
    browser.top()
    return browser._call(  # WebDriver's async script: the last argument is the callback
        "POST",
        "/execute/async",
        {"script": f"const done = arguments[arguments.length - 1]; ({source}).then(done, e => done(String(e)))",
         "args": []},
    )  # fmt: skip


def price_of(browser: Browser, product: str) -> float:
    return float(host_call(browser, f"window.callTool('get_product', {{product_id: '{product}'}})")
                 ["structuredContent"]["price"])  # fmt: skip


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_approve_in_the_card_applies_the_change_once_and_the_model_never_sees_the_cards_tool(
    show: Callable[..., Shown], mode: str, tmp_path: Path
) -> None:
    product = "prod_0011" if mode == "legacy" else "prod_0012"
    shown = show("update_product", {"product_id": product, "price": 1.0}, mode=mode)
    assert "approve_change" in shown.state["allTools"]
    assert "approve_change" not in shown.state["modelTools"]  # the host keeps the card's tool from the model
    assert shown.state["result"]["structuredContent"]["outcome"] == "awaiting_approval"
    assert shown.state["result"]["structuredContent"].get("confirm_token") is None
    assert shown.until_inside("return document.body.dataset.state === 'awaiting'")
    facts = shown.inside("return document.querySelector('.card-facts').textContent")
    assert facts == shown.state["result"]["structuredContent"]["preview"]
    assert facts.startswith(f"This will cut the price of {product} from ")
    before = price_of(shown.browser, product)
    shown.browser.top()
    shown.browser.screenshot(tmp_path / f"card-{mode}.png")
    shown.inside("document.querySelector('.card-approve').click(); return true")
    assert shown.until_inside("return ['approved', 'failed'].includes(document.body.dataset.state)")
    assert shown.inside("return document.body.dataset.state") == "approved"
    assert shown.inside("return document.querySelector('.card-approve').disabled") is True
    assert price_of(shown.browser, product) == 1.0 != before
    audit = json.loads(host_call(shown.browser, "window.readResource('hajatek://audit')"))["entries"]
    executed = [e for e in audit if e["target"] == product and e["outcome"] == "executed"]
    assert [e["path"] for e in executed] == ["app"]  # applied once, by the click
    (clicked,) = [c for c in shown.wait("shown")["viewCalls"] if c["name"] == "approve_change"]
    assert clicked["arguments"]["decision"] == "approve"


def test_decline_or_closing_the_card_changes_nothing(show: Callable[..., Shown]) -> None:
    declined = show("update_product", {"product_id": "prod_0013", "price": 1.0})
    before = price_of(declined.browser, "prod_0013")
    assert declined.until_inside("return document.body.dataset.state === 'awaiting'")
    declined.inside("document.querySelector('.card-decline').click(); return true")
    assert declined.until_inside("return document.body.dataset.state === 'declined'")
    assert price_of(declined.browser, "prod_0013") == before
    closed = show("delete_product", {"product_id": "prod_0014"})
    assert closed.until_inside("return document.body.dataset.state === 'awaiting'")
    closed.browser.top()
    closed.browser.script("window.tearDown()")
    assert host_call(closed.browser, "window.callTool('get_product', {product_id: 'prod_0014'})")["isError"] is not True


def test_an_orders_next_status_button_moves_it_and_a_guarded_one_asks_in_the_card(show: Callable[..., Shown]) -> None:
    shown = show("list_orders", {"status": "processing", "limit": 2})
    first, second = (o["id"] for o in shown.state["result"]["structuredContent"]["orders"])
    shown = show("get_order", {"order_id": first})
    assert shown.until_inside("return document.querySelectorAll('#next button').length > 0")
    labels = shown.inside("return [...document.querySelectorAll('#next button')].map(b => b.dataset.status)")
    assert labels == shown.state["result"]["structuredContent"]["allowed_next"]
    shown.inside("document.querySelector('#next button[data-status=shipped]').click(); return true")
    assert shown.until_inside("return document.getElementById('moved').textContent === 'Moved to shipped.'")
    assert shown.until_inside("return document.querySelector('[data-key=status]').textContent === 'shipped'")
    order = host_call(shown.browser, f"window.callTool('get_order', {{order_id: '{first}'}})")
    assert order["structuredContent"]["status"] == "shipped"  # unguarded: moved at once, the view shows it
    shown = show("get_order", {"order_id": second})
    assert shown.until_inside("return document.querySelectorAll('#next button').length > 0")
    shown.inside("document.querySelector('#next button[data-status=cancelled]').click(); return true")
    assert shown.until_inside("return document.getElementById('pending').dataset.state === 'awaiting'")
    facts = shown.inside("return document.querySelector('#pending .card-facts').textContent")
    assert second in facts
    assert host_call(shown.browser, f"window.callTool('get_order', {{order_id: '{second}'}})")[
        "structuredContent"]["status"] == "processing"  # fmt: skip
    shown.inside("document.querySelector('#pending .card-approve').click(); return true")
    assert shown.until_inside("return document.getElementById('pending').dataset.state === 'approved'")
    assert shown.until_inside("return document.querySelector('[data-key=status]').textContent === 'cancelled'")
    calls = [c["name"] for c in shown.wait("shown")["viewCalls"]]
    assert calls[:2] == ["update_order_status", "approve_change"]
