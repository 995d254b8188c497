"""Fuzzing the web UI's actions: hostile form posts to every POST route of a real node.

The node runs in a trio loop (as under `serve`), its web app is the one
`run_web` builds (Guard included), and each generated request goes through
the ASGI interface straight into it, with a valid session cookie, CSRF token
and Origin (most of the time: sometimes they are missing or wrong, then the
request must be refused). A 500 is a crash; so is a refused request (status
>= 400) after which the node's log or its ban list changed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import trio
from hypothesis import strategies as st

from cliqueclique.eventlog import Action
from cliqueclique.home import Home
from cliqueclique.node import Node, NodeOptions
from cliqueclique.views import BatchSigner
from cliqueclique.web.app import Web, build_app
from cliqueclique.web.options import parse_web
from cliqueclique.web.reads import Reader
from cliqueclique.web.security import Guard, csrf_token
from cliqueclique.web.switcher import Switcher
from tests.fuzz.targets import HOSTILE, Target, hex_ids

PORT = 47999  # never bound: requests go through ASGI, the port only names our origin
SESSION = "s" * 43
WEB_STATE_BOUND = 4 * 1024 * 1024  # the gossip machine after any number of form posts

ROUTES = ["/new", "/join", "/t/{doc}/read", "/d/{doc}/reply", "/d/{doc}/edit", "/d/{doc}/delete",
          "/d/{doc}/react", "/d/{doc}/note", "/d/{doc}/mark", "/dirs", "/dirs/{doc}/add",
          "/peers", "/peers/{peer}/ban", "/peers/{peer}/unban"]
FIELDS = ["subject", "body", "invite", "root", "next", "reaction", "emoji", "note", "action",
          "mark", "title", "address", "peer", "doc", "child", "text", "csrf"]
NASTY = ["", " ", "\x00", "\u202e", "<script>alert(1)</script>", "../../etc/passwd", "//evil.example/",
         "javascript:alert(1)", "subscribe", "unsubscribe", "bookmark", "read", "👍", "tcp:127.0.0.1:1",
         "tcp:[::1]:0", "i2p:" + "a" * 60, "cq1:" + "0" * 64, "x" * 70_000, "9" * 400, "%00", "\r\n\r\n"]


def _text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY), st.text(max_size=60),
                     st.text(alphabet="0123456789abcdef", min_size=60, max_size=70))


class WebVictim:
    """A node with a forum (someone else's) and its guarded web app, in a trio loop."""

    def __init__(self, home_dir: Path) -> None:
        self.home = Home(home_dir)
        self.local = self.home.create_node("victim")
        store = self.local.open_store()
        theirs = BatchSigner(HOSTILE, store)
        forum = theirs.document("Their forum", "hello")
        reply = theirs.document("Re: Their forum", "a reply")
        store.append_many([forum, reply, theirs.link(forum.id, reply.id),
                           BatchSigner(self.local.key(), store).subscription(forum.id, Action.SUBSCRIBE)])
        store.close()
        self.docs = [forum.id, reply.id]
        self.secret = secrets.token_bytes(32)
        self.token = csrf_token(self.secret, SESSION)
        self.app: Any = None
        self.node: Node | None = None

    def ids(self) -> list[str]:
        return [*self.docs, self.local.id]

    async def request(self, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.1"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", PORT), "extensions": {}}
        sent: list[bytes] = [body]
        status = 0

        async def receive() -> dict[str, Any]:
            if sent:
                return {"type": "http.request", "body": sent.pop(), "more_body": False}
            await trio.sleep_forever()
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status

    count: Callable[[], int]
    bans: Callable[[], str]


def _request(v: WebVictim) -> st.SearchStrategy[tuple[str, bytes, list[tuple[bytes, bytes]]]]:
    ids = st.one_of(st.sampled_from(v.ids()), hex_ids, _text().map(lambda t: t.replace("/", "")[:80] or "x"))
    route = st.tuples(st.sampled_from(ROUTES), ids).map(
        lambda t: t[0].replace("{doc}", t[1]).replace("{peer}", t[1]))
    fields = st.dictionaries(st.sampled_from(FIELDS), st.one_of(_text(), ids), max_size=5)
    csrf = st.sampled_from(["ok", "ok", "ok", "ok", "missing", "wrong"])
    origin = st.sampled_from(["ok", "ok", "ok", "ok", "none", "foreign", "null"])

    def build(path: str, form: dict[str, str], token: str, org: str, multipart: bool
              ) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
        if token == "ok":
            form = {**form, "csrf": v.token}
        elif token == "wrong":
            form = {**form, "csrf": "0" * 64}
        headers = [(b"host", f"127.0.0.1:{PORT}".encode()),
                   (b"cookie", f"cq_session_{PORT}={SESSION}".encode())]
        if org != "none":
            value = {"ok": f"http://127.0.0.1:{PORT}", "foreign": "http://evil.example", "null": "null"}[org]
            headers.append((b"origin", value.encode()))
        if multipart:
            boundary = "fuzzboundary"
            parts = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{val}\r\n'
                            for k, val in form.items())
            body = (parts + f"--{boundary}--\r\n").encode("utf-8", "surrogatepass")
            headers.append((b"content-type", f"multipart/form-data; boundary={boundary}".encode()))
        else:
            body = urlencode(form).encode("utf-8", "surrogatepass")
            headers.append((b"content-type", b"application/x-www-form-urlencoded"))
        headers.append((b"content-length", str(len(body)).encode()))
        return path, body, headers

    return st.builds(build, route, fields, csrf, origin, st.booleans())


@contextmanager
def web_target(home_dir: Path) -> Iterator[tuple[Target, Callable[[Callable[[], None]], None]]]:
    """(target, run_in_loop): call `run_in_loop(fn)` to run `fn` (the Hypothesis run) while
    the node serves; `fn` runs in a worker thread and each check enters the loop."""
    victim = WebVictim(home_dir)
    options = parse_web(f"127.0.0.1:{PORT}")
    url = f"http://127.0.0.1:{PORT}/"

    def check(data: tuple[str, bytes, list[tuple[bytes, bytes]]]) -> int | None:
        path, body, headers = data

        async def once() -> tuple[int, int, int, object, object, int]:
            assert victim.node is not None
            before = victim.count()
            bans_before = victim.bans()
            status = await victim.request(path, body, headers)
            held = victim.node.gossip.state_bytes()  # what the requests made the machine hold
            return status, before, victim.count(), bans_before, victim.bans(), held

        status, before, after, bans_before, bans_after, held = trio.from_thread.run(once)
        assert status != 500, f"500 for POST {path}"
        assert status != 0, f"no response for POST {path}"
        if status >= 400:
            assert after == before, f"refused ({status}) but the log grew: POST {path}"
            assert bans_after == bans_before, f"refused ({status}) but the bans changed: POST {path}"
        return held

    def run_in_loop(fn: Callable[[], None]) -> None:
        async def main() -> None:
            node_options = NodeOptions(i2p=False, poll_interval=0.05, dial_interval=0.05)
            async with Node.open(victim.home, options=node_options) as node:
                victim.node = node
                reader = Reader(node.local)
                web = Web(node, reader, options, url, Switcher(victim.home, node.id, url))
                victim.app = Guard(build_app(web), options, PORT, victim.secret)
                log = victim.local.open_store()
                victim.count = lambda: log.count()  # type: ignore[method-assign]
                victim.bans = lambda: repr(_bans(node))  # type: ignore[method-assign]
                try:
                    await trio.to_thread.run_sync(fn)
                finally:
                    reader.close()
                    log.close()

        trio.run(main)

    check.victim = victim  # type: ignore[attr-defined]
    yield (_request(victim), check, WEB_STATE_BOUND), run_in_loop


def _bans(node: Node) -> object:
    """Every peer record (a refused request must not add, ban or unban one)."""
    return sorted(repr(peer) for peer in node.state.peers())
