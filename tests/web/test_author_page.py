"""The author page, /a/{author}, over HTTP against a real node in this process
(as in test_http): an author's documents, the block button, fork evidence, bad
ids, and the author links of a thread page that lead there."""

from __future__ import annotations

import itertools
import re
import time
from html import unescape
from pathlib import Path

from cliqueclique.errors import Equivocation
from cliqueclique.eventlog import Action
from cliqueclique.home import Home, LocalNode
from cliqueclique.views import BatchSigner
from cliqueclique.web.authors import DOC_LIMIT
from tests.conftest import make_key

from .test_http import serving


def node_of(key_seed: int) -> str:
    return make_key(key_seed).verify_key.encode().hex()


def clock() -> itertools.count[int]:
    return itertools.count(int(time.time() * 1000) - 60_000)  # a millisecond apart, a minute ago


def forum_by_others(tmp_path: Path) -> tuple[Home, LocalNode, str, str, str]:
    """A followed forum by key 7, with two replies by key 9 (the second newer)
    and one by key 7. The forum, key 9's first and second replies."""
    home = Home(tmp_path / "home")
    local = home.create_node("reader")
    store = local.open_store()
    ticks = clock()
    owner, poster = BatchSigner(make_key(7), store, ticks.__next__), BatchSigner(make_key(9), store, ticks.__next__)
    forum = owner.document("Gardening <club>", "Welcome.")
    first = poster.document("Tomatoes & <b>peppers</b>", "First reply.")
    owners = owner.document("Re: Gardening", "The owner answers.")
    second = poster.document("Late frost", "Second reply.")
    store.append_many([forum, first, owner.link(forum.id, first.id), owners, owner.link(forum.id, owners.id),
                       second, poster.link(first.id, second.id),
                       BatchSigner(local.key(), store).subscription(forum.id, Action.SUBSCRIBE)])
    store.close()
    return home, local, forum.id, first.id, second.id


async def test_an_author_page_lists_their_documents_newest_first_with_their_threads(tmp_path: Path) -> None:
    home, _, forum, first, second = forum_by_others(tmp_path)
    author = node_of(9)
    async with serving(home) as client:
        page = await client.get(f"/a/{author}")
        assert page.status == 200
        rows = re.findall(r'<tr data-id="([0-9a-f]{64})">', page.text)
        assert rows == [second, first]  # only key 9's, newest first
        assert f'href="/t/{forum}#d-{second}">Late frost</a>' in page.text  # in the thread, at the post
        assert "Tomatoes &amp; &lt;b&gt;peppers&lt;/b&gt;" in page.text  # escaped, not markup
        assert "<b>peppers</b>" not in page.text
        assert f'<a href="/t/{forum}">Gardening &lt;club&gt;</a>' in page.text  # the forum it is in
        assert "This author forked" not in page.text and 'id="more-docs"' not in page.text
        # Not blocked: the existing block form, coming back here.
        assert 'action="/block"' in page.text and f'name="next" value="/a/{author}"' in page.text

        owner_page = await client.get(f"/a/{node_of(7)}")
        owned = re.findall(r'<tr data-id="([0-9a-f]{64})">', owner_page.text)
        assert len(owned) == 2 and owned[-1] == forum

        blocked = await client.post("/block", {"author": author, "next": f"/a/{author}"})
        assert blocked.status == 303 and blocked.headers["location"] == f"/a/{author}"
        page = await client.get(f"/a/{author}")
        assert 'id="blocked-pill"' in page.text and 'action="/unblock"' in page.text

        nobody = await client.get(f"/a/{node_of(33)}")  # a well-formed id this node has never seen
        assert nobody.status == 200 and "holds no documents by this author" in nobody.text


async def test_a_unique_prefix_or_a_local_name_redirects_to_the_full_id(tmp_path: Path) -> None:
    home, local, *_ = forum_by_others(tmp_path)
    author = node_of(9)
    async with serving(home) as client:
        for given in (author[:10], author.upper()):
            moved = await client.get(f"/a/{given}")
            assert moved.status == 302 and moved.headers["location"] == f"/a/{author}"
        named = await client.get("/a/reader")
        assert named.status == 302 and named.headers["location"] == f"/a/{local.id}"
        mine = await client.get(f"/a/{local.id}")
        assert mine.status == 200 and 'action="/block"' not in mine.text  # no blocking oneself


async def test_bad_author_ids_give_the_error_page_not_a_500(tmp_path: Path) -> None:
    home, *_ = forum_by_others(tmp_path)
    async with serving(home) as client:
        for path, status, words in (("/a/xyz!", 404, "is not a node id"),
                                    ("/a/ab", 404, "is not a node id"),
                                    ("/a/" + "f" * 12, 404, "no node ffffffffffff in this node's log"),
                                    ("/a/" + "a" * 300, 404, "is not a node id"),
                                    ("/a/%3Cscript%3E", 404, "is not a node id")):
            page = await client.get(path)
            assert page.status == status, path
            assert 'class="error-message"' in page.text and words in unescape(page.text), path
            assert "<script>" not in page.text.split('class="error-message"')[1]


async def test_an_author_who_forked_is_shown_with_the_evidence(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    local = home.create_node("reader")
    store = local.open_store()
    ticks = clock()
    owner = BatchSigner(make_key(7), None, ticks.__next__)
    forum = owner.document("Forked forum", "Welcome.")
    # One key, two signers that do not know of each other: both sign seq 1 of the forum's network.
    east, west = BatchSigner(make_key(9), None, ticks.__next__), BatchSigner(make_key(9), None, ticks.__next__)
    doc_a, doc_b = east.document("East twin", "one version"), west.document("West twin", "another")
    link_a, link_b = east.link(forum.id, doc_a.id), west.link(forum.id, doc_b.id)
    store.append_many([forum, doc_a, link_a, BatchSigner(local.key(), store).subscription(forum.id,
                                                                                          Action.SUBSCRIBE)])
    results = store.append_many([doc_b, link_b])
    assert isinstance(results[1].error, Equivocation)  # kept as evidence, outside the log
    (network, seq), = ((n, s) for (a, n), s in store.forks().items() if a == node_of(9))
    assert network == forum.id
    store.close()

    async with serving(home) as client:
        page = await client.get(f"/a/{node_of(9)}")
        assert page.status == 200
        warning = page.text[page.text.index('id="forks"'):page.text.index("Documents held here")]
        assert "This author forked its history" in warning
        assert f'<a href="/t/{forum.id}">Forked forum</a>' in warning
        assert f"from seq <strong>{seq}</strong>" in warning
        for event in (link_a.id, link_b.id):
            assert f'title="{event}">{event[:16]}</span>' in warning
        assert "no longer accepts or passes on" in warning
        assert page.text.index('id="forks"') < page.text.index('id="author-docs"')  # prominently first

        honest = await client.get(f"/a/{node_of(7)}")
        assert "This author forked" not in honest.text


async def test_author_names_on_a_thread_page_link_to_the_author_page(tmp_path: Path) -> None:
    home, _, forum, first, second = forum_by_others(tmp_path)
    async with serving(home) as client:
        page = await client.get(f"/t/{forum}")
        opening = page.text[page.text.index(f'id="o-{forum}"'):page.text.index(f'id="d-{first}"')]
        assert f'href="/a/{node_of(7)}"' in opening
        reply = page.text[page.text.index(f'id="d-{second}"'):]
        assert re.search(rf'<a class="author" href="/a/{node_of(9)}"', reply)
        linked = set(re.findall(r'href="/a/([0-9a-f]{64})"', page.text))
        assert linked == {node_of(7), node_of(9)}
        target = await client.get(f"/a/{node_of(9)}")
        assert target.status == 200 and second in target.text

        home_page = await client.get("/")  # names inside a forum's link are not links themselves
        assert home_page.status == 200
        assert not re.search(r'<a class="forum-link"[^>]*>(?:(?!</a>).)*<a ', home_page.text, re.S)


async def test_the_listing_is_bounded_with_a_note(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    local = home.create_node("reader")
    store = local.open_store()
    ticks = clock()
    prolific = BatchSigner(make_key(9), store, ticks.__next__)
    docs = [prolific.document(f"Note {i}", "text") for i in range(DOC_LIMIT + 1)]
    store.append_many(docs)
    store.close()
    async with serving(home) as client:
        page = await client.get(f"/a/{node_of(9)}")
        rows = re.findall(r'<tr data-id="([0-9a-f]{64})">', page.text)
        assert rows == [d.id for d in reversed(docs)][:DOC_LIMIT]  # the newest 200
        assert 'id="more-docs"' in page.text and f"Only the newest {DOC_LIMIT}" in page.text
