"""Web UI benchmark: a big thread's page time, and live latency between two nodes.

    python bench/web.py                  # 1,000 replies, 50 page loads, 10 live samples
    python bench/web.py --replies 5000 --requests 100

Everything is real: `cliqueclique serve --web` processes on loopback, plain
HTTP/1.1 requests (keep-alive) for the page, and the system Chromium
(Playwright) for the open page on node B.

Prints one JSON object:
- ``thread_page_ms_p50`` / ``thread_page_ms_p95``: GET of the thread page
  (the whole tree rendered, server side) over ``requests`` loads, after one
  warm-up load, whose time is ``thread_page_ms_cold``;
- ``live_latency_ms``: median time from posting a reply on node A (the
  moment the POST is sent; A accepts and commits it before answering) to the
  reply being in the DOM of node B's open thread page, pushed by server-sent
  events, no reload; ``live_latency_ms_max`` is the worst sample.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._requires import require
from cliqueclique.eventlog import Action
from cliqueclique.home import Home
from cliqueclique.views import BatchSigner

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# In the page: note when each "live-sample-N" reply first shows up in the DOM.
OBSERVER = """() => { window.__seen = {}; new MutationObserver(() => {
    for (const el of document.querySelectorAll('.post-body')) {
      const m = el.textContent.match(/live-sample-(\\d+)/);
      if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = Date.now();
    }}).observe(document.body, {childList: true, subtree: true}); }"""
WORDS = ["node", "network", "reply", "thread", "event", "signed", "gossip", "center", "subscribe",
         "forum", "peer", "replicate", "document", "link", "browser", "markdown", "loopback"]


def make_thread(home: Path, replies: int, seed: int = 7) -> str:
    """A forum of `replies` replies (two thirds direct, the rest nested), appended in one batch."""
    rng = random.Random(seed)
    local = Home(home).create_node("bench-a")
    store = local.open_store()
    signer = BatchSigner(local.key(), store)
    root = signer.document("A big thread", "The root of the benchmark thread.")
    events, ids = [root], [root.id]
    for i in range(replies):
        text = " ".join(rng.choice(WORDS) for _ in range(40))
        body = f"Reply **{i}**: {text}\n\n- point one\n- point `two`\n\n[a link](https://example.org/{i})"
        reply = signer.document(f"Re: reply {i}", body)
        parent = root.id if rng.random() < 0.66 else rng.choice(ids)
        events += [reply, signer.link(parent, reply.id)]
        ids.append(reply.id)
    events.append(signer.subscription(root.id, Action.SUBSCRIBE))  # as if the forum were started here
    store.append_many(events)
    store.close()
    return root.id


class ServeProcess:
    """`cliqueclique serve --web 127.0.0.1:0` and the lines it prints."""

    def __init__(self, home: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cliqueclique", "--home", str(home), "serve", "--no-i2p", "--events",
             "--listen", "127.0.0.1:0", "--web", "127.0.0.1:0", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self.node_id = ""
        while True:
            line = self.lines.get(timeout=60)
            if line.startswith("web ui "):
                self.url = line.split()[-1]
            elif line.startswith("node "):
                self.node_id = line.split()[-1]
            elif line == "ready":
                break

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, event_id: str) -> None:
        while True:
            line = self.lines.get(timeout=120)
            if line.startswith("{") and json.loads(line)["id"] == event_id:
                return

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Client:
    """One keep-alive HTTP connection to a node's web UI, with its session cookie."""

    def __init__(self, url: str) -> None:
        self.port = int(urlsplit(url).port or 80)
        self.host = f"127.0.0.1:{self.port}"
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = {"Host": self.host, "Origin": f"http://{self.host}"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        body = urlencode(form).encode() if form else None
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        found = {k.lower(): v for k, v in response.getheaders()}
        if "set-cookie" in found:
            self.cookie = found["set-cookie"].split(";")[0]
        return response.status, found, data

    def token(self) -> str:
        _, _, page = self.request("GET", "/new")
        match = re.search(rb'name="csrf-token" content="([0-9a-f]+)"', page)
        assert match, "no CSRF token in the page"
        return match.group(1).decode()


def page_times(url: str, root: str, requests: int) -> dict[str, float | int]:
    client = Client(url)
    started = time.perf_counter()
    status, _, page = client.request("GET", f"/t/{root}")
    cold = (time.perf_counter() - started) * 1000
    assert status == 200, status
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        status, _, page = client.request("GET", f"/t/{root}")
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200
    times.sort()
    return {"thread_page_ms_p50": round(statistics.median(times), 1),
            "thread_page_ms_p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
            "thread_page_ms_cold": round(cold, 1), "thread_page_bytes": len(page),
            "thread_posts_on_page": page.count(b'<details class="post')}


def watch_replies(url: str, root: str, samples: int, post: Callable[[int], object]) -> list[float]:
    """Post `samples` replies (`post(i)`) and time each until it is in the open page at `url`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}t/{root}")
        page.wait_for_selector("#livedot:not([hidden])")
        page.evaluate(OBSERVER)
        latencies = []
        for i in range(samples):
            sent = time.time() * 1000
            post(i)
            page.wait_for_function(f"() => window.__seen && ('{i}' in window.__seen)", timeout=30_000)
            latencies.append(page.evaluate(f"window.__seen['{i}']") - sent)
        browser.close()
    return latencies


def live_latency(tmp: Path, samples: int) -> dict[str, float | int]:
    a_home, b_home = tmp / "live-a", tmp / "live-b"
    for home, name in ((a_home, "live-a"), (b_home, "live-b")):
        Home(home).create_node(name)
    a, b = ServeProcess(a_home), ServeProcess(b_home)
    try:
        client = Client(a.url)
        token = client.token()
        _, headers, _ = client.request("POST", "/new", {"csrf": token, "subject": "Live", "body": "go"})
        root = headers["location"].rsplit("/", 1)[1]
        invite = subprocess.run([sys.executable, "-m", "cliqueclique", "--home", str(a_home), "invite", root],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run([sys.executable, "-m", "cliqueclique", "--home", str(b_home), "join", invite],
                       cwd=ROOT, capture_output=True, text=True, check=True)
        b.wait_for(root)

        def post(i: int) -> None:
            status, _, _ = client.request("POST", f"/d/{root}/reply",
                                          {"csrf": token, "root": root, "body": f"live-sample-{i}"})
            assert status == 303, status

        latencies = watch_replies(b.url, root, samples, post)
    finally:
        a.stop()
        b.stop()
    return {"live_latency_ms": round(statistics.median(latencies), 1),
            "live_latency_ms_max": round(max(latencies), 1), "live_samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    require(__file__, "chromium", "playwright")
    with tempfile.TemporaryDirectory(prefix="cq-bench-web-") as name:
        tmp = Path(name)
        root = make_thread(tmp / "big", args.replies)
        node = ServeProcess(tmp / "big")
        try:
            result: dict[str, object] = {"thread_replies": args.replies, "requests": args.requests}
            result.update(page_times(node.url, root, args.requests))
        finally:
            node.stop()
        result.update(live_latency(tmp, args.samples))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
