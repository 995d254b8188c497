"""Fixtures for the web UI tests: real `serve` processes and the system Chromium.

Two nodes run as two `cliqueclique serve --web 127.0.0.1:0` processes for the
whole session (tests create their own forums, so they do not interfere), and
one headless Chromium drives them through Playwright. Playwright never
downloads a browser here: it launches Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.node.harness import ROOT, Serve, cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts" / "web"
WAIT_MS = 20_000  # any single browser-side wait; live updates take well under a second
expect.set_options(timeout=WAIT_MS)


@dataclass
class WebNode:
    serve: Serve
    url: str  # http://127.0.0.1:PORT/

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    def page(self, browser: Browser) -> Page:
        """A page in a fresh browser context (its own cookies), like a separate person."""
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.set_default_timeout(WAIT_MS)
        return context.new_page()


def start_web_node(home: Path, name: str, *extra: str) -> WebNode:
    cli(home, "init", "--name", name)
    serve = Serve(home, "--web", "127.0.0.1:0", *extra)
    assert serve.web_url, "serve printed no web UI URL"
    return WebNode(serve, serve.web_url)


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebNode, WebNode]]:
    """Two nodes, each in its own `serve` process with its web UI."""
    started: list[WebNode] = []
    try:
        for name in ("anna", "ben"):
            started.append(start_web_node(tmp_path_factory.mktemp(name), name))
        yield started[0], started[1]
    finally:
        for node in started:
            node.serve.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page as a test artifact (not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def raw_request(node: WebNode, method: str, path: str, headers: dict[str, str],
                body: str = "") -> tuple[int, dict[str, str], str]:
    """One HTTP request with exactly these headers (Host included), as an attacker would send it."""
    connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body:
            connection.putheader("Content-Type", "application/x-www-form-urlencoded")
            connection.putheader("Content-Length", str(len(body.encode())))
        connection.endheaders(body.encode() if body else None)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        connection.close()
