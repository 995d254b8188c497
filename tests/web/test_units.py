"""The web UI's pure parts: rendering, address and origin rules, layout, thread nesting."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from cliqueclique.eventlog import Action
from cliqueclique.home import Home, LocalNode
from cliqueclique.views import BatchSigner, create_directory
from cliqueclique.views import forums as view_forums
from cliqueclique.web.errors import BadWebAddress, CrossSiteRequest, CsrfTokenMissing
from cliqueclique.web.model import LIST_LIMIT, MAX_NEST, REACTIONS, forums, notes, thread_page
from cliqueclique.web.netpicture import RADIUS, NetEdge, NetNode, NetPicture, layout
from cliqueclique.web.options import parse_web
from cliqueclique.web.reads import Reader
from cliqueclique.web.render import markdown, when
from cliqueclique.web.security import check_csrf, check_origin, csrf_token
from tests.conftest import make_key


class Tags(HTMLParser):
    """The tags and attributes a browser would build from some HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_markdown_keeps_formatting_and_drops_everything_active() -> None:
    html = str(markdown("**bold** `code` [ok](https://example.org)\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html and "<table>" in html
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer nofollow"' in html
    hostile = markdown('<script>x()</script><b onclick="x()">b</b> [j](javascript:x()) '
                       '[d](data:text/html,x) <a href="javascript:x()">a</a> <https://ok.example>\n\n'
                       '<div><img src=x onerror=x()></div>')
    tags = Tags()
    tags.feed(str(hostile))
    assert {t for t, _ in tags.found} <= {"p", "a"}, tags.found  # the markup shows as text
    assert [a for _, attrs in tags.found for a in attrs if a[0].startswith("on")] == []
    assert [v for _, attrs in tags.found for k, v in attrs if k == "href"] == ["https://ok.example"]
    image = str(markdown("![alt text](http://tracker.example/p.png)"))
    assert "<img" not in image and 'class="image-link"' in image and "[image: alt text]" in image


def test_relative_times() -> None:
    now = 1_700_000_000.0
    assert when(int(now * 1000), now) == "just now"
    assert when(int((now - 600) * 1000), now) == "10 min ago"
    assert when(int((now - 7200) * 1000), now) == "2 h ago"
    assert when(int((now - 90 * 86400) * 1000), now) == "16 Aug 2023"


def test_web_addresses() -> None:
    assert parse_web("127.0.0.1:8470").port == 8470
    assert parse_web("[::1]:0").host == "::1"
    assert parse_web("localhost:1").loopback
    for bad in ("8470", "127.0.0.1:", "127.0.0.1:99999", ":80"):
        with pytest.raises(BadWebAddress):
            parse_web(bad)
    with pytest.raises(BadWebAddress, match="--web-allow-remote"):
        parse_web("0.0.0.0:8470")
    remote = parse_web("0.0.0.0:8470", allow_remote=True)
    assert remote.token and len(remote.token) >= 24
    assert parse_web("192.168.1.2:1", allow_remote=True, token="t").token == "t"


def test_origin_and_token_rules() -> None:
    host = "127.0.0.1:8470"
    check_origin({"origin": f"http://{host}"}, host)
    check_origin({"referer": f"http://{host}/t/abc"}, host)
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {},
                    {"referer": f"http://{host}.evil.example/"}, {"origin": f"https://{host}"}):
        with pytest.raises(CrossSiteRequest):
            check_origin(headers, host)
    token = csrf_token(b"k" * 32, "session")
    check_csrf(token, token)
    assert csrf_token(b"k" * 32, "other") != token
    for given in (None, "", token[:-1] + "0" if token[-1] != "0" else token[:-1] + "1"):
        with pytest.raises(CsrfTokenMissing):
            check_csrf(token, given)


def test_network_layout_puts_the_center_on_top_and_edges_rim_to_rim() -> None:
    picture = NetPicture("d" * 64, "active", "c", nodes=[
        NetNode("me", 2, True, "p1", me=True), NetNode("p1", 1, True, "c", peer=True),
        NetNode("p2", 1, False, "c", peer=True), NetNode("c", 0, True, center=True, beyond=True),
    ], edges=[NetEdge("me", "p1", "tree"), NetEdge("p1", "c", "tree"), NetEdge("p2", "c", "tree")])
    layout(picture)
    y = {n.id: n.y for n in picture.nodes}
    assert y["c"] < y["p1"] == y["p2"] < y["me"]
    for edge in picture.edges:
        a, b = picture.node(edge.a), picture.node(edge.b)
        assert a is not None and b is not None
        start = ((edge.x1 - a.x) ** 2 + (edge.y1 - a.y) ** 2) ** 0.5
        assert abs(start - RADIUS) < 0.2  # starts on the rim, not in the middle of the circle


@pytest.fixture
def local(tmp_path: Path) -> LocalNode:
    return Home(tmp_path).create_node("unit")


def test_deep_threads_nest_to_a_limit_and_close_every_level(local: LocalNode) -> None:
    store = local.open_store()
    clock = iter(range(1_000, 1_000_000, 1_000))  # replies in time order: the sibling comes last
    signer = BatchSigner(local.key(), store, lambda: next(clock))
    root = signer.document("root", "top")
    events, parent = [root], root.id
    for i in range(MAX_NEST + 4):  # a chain deeper than the nesting limit, then a sibling
        doc = signer.document(f"level {i + 1}", f"text {i + 1}")
        events += [doc, signer.link(parent, doc.id)]
        parent = doc.id
    sibling = signer.document("second", "a second top-level reply")
    events += [sibling, signer.link(root.id, sibling.id)]
    store.append_many(events)
    reader = Reader(local)
    page = thread_page(reader, reader.store, root.id, local.id)
    levels = [p.level for p in page.posts]
    assert max(levels) == MAX_NEST and levels[-1] == 1
    assert sum(p.closes for p in page.posts) == len(page.posts)  # every <details> is closed
    assert [p.deep for p in page.posts].count(True) == 4
    reader.close()
    store.close()


def test_home_lists_forums_even_when_many_newer_replies_are_followed(local: LocalNode) -> None:
    store = local.open_store()
    signer = BatchSigner(local.key(), store)
    forum = signer.document("the forum", "top")
    events = [forum, signer.subscription(forum.id, Action.SUBSCRIBE)]
    for i in range(LIST_LIMIT + 20):  # followed replies (see follow.py), all newer than the forum
        reply = signer.document(f"reply {i}", "r")
        events += [reply, signer.link(forum.id, reply.id), signer.subscription(reply.id, Action.SUBSCRIBE)]
    store.append_many(events)
    reader = Reader(local)
    rows = forums(reader, reader.store, local.id)
    assert [(row.id, row.replies) for row in rows] == [(forum.id, LIST_LIMIT + 20)]
    reader.close()
    store.close()


def test_home_forums_are_the_cli_forums_list_less_directories(local: LocalNode) -> None:
    """Same order (newest activity first), replies and unread counts as `cliqueclique forums`."""
    store = local.open_store()
    clock = iter(range(1_000, 100_000, 1_000))
    mine = BatchSigner(local.key(), store, lambda: next(clock))
    theirs = BatchSigner(make_key(7), store, lambda: next(clock))
    old, busy, quiet = (theirs.document(f"forum {n}", "top") for n in ("old", "busy", "quiet"))
    events = [old, busy, quiet]
    events += [mine.subscription(f.id, Action.SUBSCRIBE) for f in (old, busy, quiet)]
    own = mine.document("Re: forum busy", "mine, so read")
    late = theirs.document("Re: forum old", "a late reply")  # the oldest forum is the most active
    nested = theirs.document("Re: Re", "nested")
    events += [late, theirs.link(old.id, late.id), nested, theirs.link(late.id, nested.id),
               own, mine.link(busy.id, own.id), mine.subscription(quiet.id, Action.READ),
               mine.subscription(busy.id, Action.BOOKMARK)]
    store.append_many(events)
    directory = create_directory(mine, store, "a directory")
    store.append(mine.subscription(directory.id, Action.SUBSCRIBE))
    reader = Reader(local)
    rows = forums(reader, reader.store, local.id)
    expected = [f for f in view_forums(store, local.id) if f.id != directory.id]
    assert len(expected) == 3 and directory.id in [f.id for f in view_forums(store, local.id)]
    assert [(r.id, r.title, r.author, r.timestamp, r.replies, r.unread) for r in rows] == \
        [(f.id, f.subject, f.owner, f.last_activity, f.replies, f.unread) for f in expected]
    assert [r.id for r in rows] == [old.id, busy.id, quiet.id]
    assert [(r.replies, r.unread, r.bookmarked) for r in rows] == [(2, 3, False), (1, 1, True), (0, 0, False)]
    reader.close()
    store.close()


def test_a_thread_page_reads_reactions_and_the_notes_of_this_node(local: LocalNode) -> None:
    store = local.open_store()
    mine, theirs = BatchSigner(local.key(), store), BatchSigner(make_key(7), store)
    root = theirs.document("their forum", "top")
    reply = theirs.document("Re: their forum", "a reply")
    events = [root, reply, theirs.link(root.id, reply.id), theirs.react(root.id, "👍"),
              theirs.react(root.id, "+1"), mine.react(root.id, "👍"),
              mine.subscription(reply.id, Action.NOTE, "check this"),
              theirs.subscription(root.id, Action.NOTE, "their own note, not ours")]
    store.append_many(events)
    reader = Reader(local)
    page = thread_page(reader, reader.store, root.id, local.id)
    counts = {r.emoji: (r.count, r.mine) for r in page.root.reactions}
    assert list(counts) == [*REACTIONS, "+1"]  # the fixed ones, then what others used
    assert counts["👍"] == (2, True) and counts["+1"] == (1, False) and counts["🎉"] == (0, False)
    assert page.root.note is None and page.posts[0].note == "check this"
    assert notes(reader.store, local.id, [root.id, reply.id]) == {reply.id: "check this"}
    reader.close()
    store.close()
