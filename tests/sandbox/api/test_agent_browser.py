"""agent.js in a real browser: imported cross-origin as an ES module, device id persisted."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE = b"<!doctype html><title>signup</title><h1>signup</h1>"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """A page on another origin than the sandbox, as in the product."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def in_browser(scenario: Callable[[Any], None]) -> None:
    """Run `scenario(browser)` with chromium, in its own thread.

    Playwright's sync API refuses to start where an event loop already runs, which is the case
    when another test module keeps a Playwright session open in this thread.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")

    def run() -> None:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                scenario(browser)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()  # re-raises the scenario's assertion errors here


IDENTIFY = """async ([agentUrl, options]) => {
  const agent = await (await import(agentUrl)).start(options);
  return await agent.get({linkedId: "browser-user", tag: {page: "signup"}});
}"""


def test_agent_identifies_from_a_real_browser(server, control, page_origin) -> None:
    agent_url = f"{server.url}/agent.js"
    options = {"apiKey": "sandbox-public-key"}

    def scenario(browser) -> None:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{page_origin}/signup?x=1")
        first = page.evaluate(IDENTIFY, [agent_url, options])
        second = page.evaluate(IDENTIFY, [agent_url, options])
        assert first["visitor_id"] == second["visitor_id"]  # device id kept in localStorage
        assert first["event_id"] != second["event_id"]
        event = control.get_event(first["event_id"])
        assert event["url"] == f"{page_origin}/signup?x=1"
        assert event["ip_address"] == "127.0.0.1"
        assert event["linked_id"] == "browser-user"
        assert event["bot"] == "bad"  # headless automation is what it is...
        human = page.evaluate(IDENTIFY, [agent_url, {**options, "profile": "human"}])
        assert control.get_event(human["event_id"])["bot"] == "not_detected"  # ...unless forced
        with pytest.raises(Exception, match="public"):
            page.evaluate(IDENTIFY, [agent_url, {"apiKey": "wrong"}])
        context.close()

        fresh = browser.new_context()  # new storage: a new device
        other = fresh.new_page()
        other.goto(f"{page_origin}/signup")
        third = other.evaluate(IDENTIFY, [agent_url, options])
        assert third["visitor_id"] != first["visitor_id"]
        fresh.close()

    in_browser(scenario)
