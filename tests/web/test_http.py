"""The web UI's actions over HTTP, against a real node and its UI in this process.

The node runs in the test's trio loop and serves its UI on a loopback port;
requests go through `http.client` in a worker thread, with the session
cookie, the CSRF token and the Origin a browser would send. Its log starts
with a forum and a reply written by another node (so this node is a reader,
not the author) and one reaction of theirs.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import trio

from cliqueclique.eventlog import Action
from cliqueclique.home import Home, LocalNode
from cliqueclique.node import Node, NodeOptions
from cliqueclique.views import BatchSigner, flags, reactions
from cliqueclique.web import parse_web, run_web
from cliqueclique.web.model import REACTIONS
from tests.conftest import make_key


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str


class Client:
    """One browser session: its cookie and CSRF token, requests from our own origin."""

    def __init__(self, url: str) -> None:
        self.port = int(urlsplit(url).port or 0)
        self.cookie = ""
        self.token = ""

    def _request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
                 ) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            sent = {"Cookie": self.cookie, **(headers or {})} if self.cookie else dict(headers or {})
            if body:
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=body.encode() or None, headers=sent)
            response = connection.getresponse()
            got = {k.lower(): v for k, v in response.getheaders()}
            text = response.read().decode()
        finally:
            connection.close()
        if "set-cookie" in got:
            self.cookie = got["set-cookie"].split(";")[0]
        token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', text)
        if token:
            self.token = token[1]
        return Response(response.status, got, text)

    async def get(self, path: str) -> Response:
        return await trio.to_thread.run_sync(self._request, "GET", path)

    async def post(self, path: str, fields: dict[str, str], *, script: bool = False) -> Response:
        """A form post (`script`: as app.js sends it, answered with JSON)."""
        if not self.token:
            await self.get("/")
        headers = {"Origin": f"http://127.0.0.1:{self.port}"}
        if script:
            headers["X-Requested-With"] = "fetch"
        body = urlencode({"csrf": self.token, **fields})
        return await trio.to_thread.run_sync(self._request, "POST", path, body, headers)


@dataclass
class Setup:
    local: LocalNode
    forum: str
    reply: str


def their_forum(tmp_path: Path) -> tuple[Home, Setup]:
    """A home whose node follows a forum someone else started (and reacted 👍 to)."""
    home = Home(tmp_path / "home")
    local = home.create_node("reader")
    store = local.open_store()
    theirs = BatchSigner(make_key(7), store)
    forum = theirs.document("Their forum", "Started by someone else.")
    reply = theirs.document("Re: Their forum", "A reply, also theirs.")
    store.append_many([forum, reply, theirs.link(forum.id, reply.id), theirs.react(forum.id, "👍"),
                       BatchSigner(local.key(), store).subscription(forum.id, Action.SUBSCRIBE)])
    store.close()
    return home, Setup(local, forum.id, reply.id)


@asynccontextmanager
async def serving(home: Home) -> AsyncIterator[Client]:
    options = NodeOptions(i2p=False, poll_interval=0.05, dial_interval=0.05)
    async with Node.open(home, options=options) as node, trio.open_nursery() as nursery:
        url = await nursery.start(run_web, node, parse_web("127.0.0.1:0"))
        try:
            yield Client(url)
        finally:
            nursery.cancel_scope.cancel()


class Buttons(HTMLParser):
    """The reaction buttons of a page: (post, reaction) -> (count, mine)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[tuple[str, str], tuple[int, bool]] = {}
        self._open: tuple[str, str, bool] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        action = a.get("formaction") or ""
        if tag == "button" and action.endswith("/react"):
            self._open = (action.split("/")[2], a.get("value") or "", "mine" in (a.get("class") or "").split())
            self._text = ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._open:
            post, reaction, mine = self._open
            count = self._text[len(reaction):]
            self.found[(post, reaction)] = (int(count) if count else 0, mine)
            self._open = None


def buttons(html: str) -> dict[tuple[str, str], tuple[int, bool]]:
    parser = Buttons()
    parser.feed(html)
    return parser.found


def stored_reactions(local: LocalNode, doc: str) -> dict[str, list[str]]:
    store = local.open_store()
    try:
        return reactions(store, doc)
    finally:
        store.close()


def stored_note(local: LocalNode, doc: str) -> str | None:
    store = local.open_store()
    try:
        return flags(store, local.id, doc).note
    finally:
        store.close()


async def test_a_reader_who_is_not_the_author_reacts_and_takes_it_back(tmp_path: Path) -> None:
    home, s = their_forum(tmp_path)
    async with serving(home) as client:
        page = await client.get(f"/t/{s.forum}")
        shown = buttons(page.text)
        assert "only the author" not in page.text
        for post in (s.forum, s.reply):  # every post has every button, for any reader
            assert [r for p, r in shown if p == post] == list(REACTIONS)
        assert shown[(s.forum, "👍")] == (1, False)

        answer = await client.post(f"/d/{s.forum}/react", {"reaction": "👍", "root": s.forum}, script=True)
        assert answer.status == 200 and json.loads(answer.text) == {"ok": True, "on": True}
        assert stored_reactions(s.local, s.forum)["👍"] == sorted([make_key(7).verify_key.encode().hex(),
                                                                  s.local.id])
        shown = buttons((await client.get(f"/t/{s.forum}")).text)
        assert shown[(s.forum, "👍")] == (2, True)

        plain = await client.post(f"/d/{s.reply}/react", {"reaction": "🎉", "root": s.forum})
        assert plain.status == 303 and plain.headers["location"] == f"/t/{s.forum}#d-{s.reply}"
        fragment = await client.get(f"/t/{s.forum}/p/{s.reply}")  # what a live refresh fetches
        assert buttons(fragment.text)[(s.reply, "🎉")] == (1, True)

        answer = await client.post(f"/d/{s.forum}/react", {"reaction": "👍"}, script=True)
        assert json.loads(answer.text) == {"ok": True, "on": False}
        shown = buttons((await client.get(f"/t/{s.forum}")).text)
        assert shown[(s.forum, "👍")] == (1, False) and shown[(s.reply, "🎉")] == (1, True)
        assert s.local.id not in stored_reactions(s.local, s.forum)["👍"]

        refused = await client.post(f"/d/{s.forum}/react", {"reaction": "💩"}, script=True)
        assert refused.status == 400 and json.loads(refused.text)["error"] == "unknown reaction"


async def test_notes_are_saved_shown_on_the_thread_page_and_cleared(tmp_path: Path) -> None:
    home, s = their_forum(tmp_path)
    async with serving(home) as client:
        page = await client.get(f"/t/{s.forum}")
        assert "Your note:" not in page.text
        assert page.text.count('class="note-edit"') == 2  # one note form per post
        saved = await client.post(f"/d/{s.forum}/note", {"note": "  Ask about <the map>  ", "root": s.forum})
        assert saved.status == 303 and saved.headers["location"] == f"/t/{s.forum}#d-{s.forum}"
        answer = await client.post(f"/d/{s.reply}/note", {"note": "reply later", "root": s.forum}, script=True)
        assert json.loads(answer.text) == {"ok": True}
        assert stored_note(s.local, s.forum) == "Ask about <the map>"

        page = await client.get(f"/t/{s.forum}")
        opening = page.text[page.text.index(f'id="o-{s.forum}"'):page.text.index(f'id="d-{s.reply}"')]
        assert 'Your note:</span> Ask about &lt;the map&gt;</p>' in opening  # escaped, as text
        assert ">Ask about &lt;the map&gt;</textarea>" in opening  # the form edits the note
        rest = page.text[page.text.index(f'id="d-{s.reply}"'):]
        assert 'Your note:</span> reply later</p>' in rest
        fragment = await client.get(f"/t/{s.forum}/p/{s.reply}")
        assert "Your note:</span> reply later" in fragment.text

        cleared = await client.post(f"/d/{s.forum}/note", {"note": "", "root": s.forum})
        assert cleared.status == 303 and stored_note(s.local, s.forum) is None
        page = await client.get(f"/t/{s.forum}")
        assert page.text.count("Your note:") == 1 and "reply later" in page.text
        assert "Ask about" not in unescape(page.text)


async def test_blank_subjects_and_titles_are_refused_as_by_the_cli(tmp_path: Path) -> None:
    home, _ = their_forum(tmp_path)
    async with serving(home) as client:
        for fields in ({"subject": "   ", "body": "text"}, {"body": "no subject at all"}):
            refused = await client.post("/new", fields)
            assert refused.status == 400 and "a subject is required" in refused.text
            scripted = await client.post("/new", fields, script=True)
            assert json.loads(scripted.text) == {"error": "a subject is required"}
        mine = await client.post("/new", {"subject": "Mine", "body": "my forum"}, script=True)
        forum = json.loads(mine.text)["id"]
        refused = await client.post(f"/d/{forum}/edit", {"title": " \n ", "body": "changed"})
        assert refused.status == 400 and "a subject is required" in refused.text
        page = await client.get(f"/t/{forum}")
        assert "my forum" in page.text and "changed" not in page.text


async def test_the_home_page_lists_forums_in_the_order_of_cliqueclique_forums(tmp_path: Path) -> None:
    home, s = their_forum(tmp_path)
    async with serving(home) as client:
        for subject in ("First", "Second"):
            await client.post("/new", {"subject": subject, "body": ""}, script=True)
            await trio.sleep(0.01)  # activity a few milliseconds apart
        await client.post(f"/d/{s.reply}/reply", {"body": "their forum is the busiest now"}, script=True)
        page = await client.get("/")
        titles = re.findall(r'<span class="forum-title">([^<]*)</span>', page.text)
        assert titles == ["Their forum", "Second", "First"]
        assert re.search(r"2 replies</span>\s*</a>\s*<span class=\"badge count\"[^>]*>2 new", page.text)
