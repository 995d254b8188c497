"""`cliqueclique demo`: three nodes, one forum, a conversation; their web UIs answer."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from playwright.sync_api import Browser, expect

from tests.node.harness import DEADLINE, ROOT

from .conftest import WebNode, raw_request, screenshot


def look_at_alice(browser: Browser, url: str, forum: str) -> None:
    """Alice is the hub (both joined through her): her picture of the forum holds all three."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{url}d/{forum}/network")
    expect(page.locator("svg.network g.node")).to_have_count(3)
    screenshot(page, "demo-network")
    page.goto(f"{url}t/{forum}")
    page.click(".switcher summary")
    expect(page.locator(".switcher .menu li")).to_have_count(3)
    screenshot(page, "demo-thread-switcher")
    page.close()


def test_demo_starts_three_nodes_that_talk_and_serves_their_web_uis(browser: Browser) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "cliqueclique", "demo"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        urls, forum, lines = {}, "", []
        deadline = time.monotonic() + DEADLINE
        assert proc.stdout is not None
        for line in proc.stdout:  # blocks on the demo's own progress lines, not on a timer
            lines.append(line)
            words = line.split()
            if len(words) == 2 and words[1].startswith("http://"):
                urls[words[0]] = words[1]
            elif words[:1] == ["forum"]:
                forum = words[1]
            elif line.startswith("ready"):
                break
            assert time.monotonic() < deadline, "the demo took too long"
        assert set(urls) == {"alice", "bob", "carol"} and forum, "".join(lines)
        for name, url in urls.items():
            port = urlsplit(url).port
            node = WebNode(None, url)  # type: ignore[arg-type]
            status, _, home = raw_request(node, "GET", "/", {"Host": f"127.0.0.1:{port}"})
            assert status == 200 and "Welcome to cliqueclique" in home, name
            status, _, thread = raw_request(node, "GET", f"/t/{forum}", {"Host": f"127.0.0.1:{port}"})
            assert status == 200
            for text in ("Bob here", "answering Bob", "Welcome, both of you", "Bob and Carol are here"):
                assert text in thread, (name, text)
            for other in set(urls) - {name}:  # the node switcher links to the other two UIs
                assert urls[other] in home
        look_at_alice(browser, urls["alice"], forum)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
