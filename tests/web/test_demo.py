"""`cliqueclique demo`: three nodes, one forum, a conversation; their web UIs answer."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
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


def demo_lines(proc: subprocess.Popen[str]) -> tuple[queue.Queue[str | None], threading.Thread]:
    """The demo's output lines, read by a thread (None at the end), so waits can have a deadline."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return lines, thread


def until_ready(lines: queue.Queue[str | None]) -> tuple[dict[str, str], str]:
    """The URLs and the forum id the demo prints, once it says it is ready."""
    urls: dict[str, str] = {}
    forum, seen = "", list[str]()
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("the demo did not get ready in time:\n" + "".join(seen)) from None
        assert line is not None, "the demo exited:\n" + "".join(seen)
        seen.append(line)
        words = line.split()
        if len(words) == 2 and words[1].startswith("http://"):
            urls[words[0]] = words[1]
        elif words[:1] == ["forum"]:
            forum = words[1]
        elif line.startswith("ready"):
            return urls, forum


def test_demo_starts_three_nodes_that_talk_and_serves_their_web_uis(browser: Browser) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "cliqueclique", "demo"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, reader = demo_lines(proc)
    try:
        urls, forum = until_ready(lines)
        assert set(urls) == {"alice", "bob", "carol"} and forum
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
        reader.join(timeout=10)  # the pipe is at its end once the demo is gone
        if proc.stdout:
            proc.stdout.close()
