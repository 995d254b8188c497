"""Local flags and notes per node, and `find` over every filter."""

from __future__ import annotations

import pytest

from cliqueclique.eventlog import Action, Author, Direction, SQLiteStore
from cliqueclique.views import Change, Filters, edit_document, find, flags, mark
from cliqueclique.views.errors import BadQuery, NotADocument


def ids(store: SQLiteStore, **filters: object) -> set[str]:
    return {s.id for s in find(store, Filters(**filters))}  # type: ignore[arg-type]


def test_flags_fold_in_chain_order_per_node(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, _ = authors
    doc = b.document("Doc", "text")
    for action in (Action.SUBSCRIBE, Action.BOOKMARK, Action.READ, Action.UNSUBSCRIBE, Action.BLOCK):
        mark(a, store, doc.id, action)
    mark(a, store, doc.id, Action.NOTE, "remember to answer")
    got = flags(store, a.id, doc.id)
    assert (got.subscribed, got.bookmarked, got.read, got.blocked) == (False, True, True, True)
    assert got.note == "remember to answer"
    mark(a, store, doc.id, Action.NOTE, "")
    assert flags(store, a.id, doc.id).note is None
    assert flags(store, b.id, doc.id) == flags(store, b.id, "00" * 32)  # b set nothing: all off


def test_mark_refuses_unknown_documents(store: SQLiteStore, authors: list[Author]) -> None:
    with pytest.raises(NotADocument):
        mark(authors[0], store, "12" * 32, Action.SUBSCRIBE)


@pytest.fixture
def forum(store: SQLiteStore, authors: list[Author]) -> dict[str, str]:
    a, b, _ = authors
    root, _ = a.post("Gardening", "Tomatoes and basil grow well together.", properties={"lang": "en"})
    r1, _ = b.post("Re: Gardening", "Basil needs sun.", parent=root.id, properties={"lang": "en"})
    r2, _ = a.post("Re: Re", "Jardinage: le basilic.", parent=r1.id, properties={"lang": "fr"})
    other = b.document("Cooking", "Pesto uses basil.")
    b.link(other.id, root.id, Direction.REVERSED)  # cooking annotates gardening
    gone = a.document("Secret basil", "gone soon")
    a.delete(gone.id, gone.id)
    return {"root": root.id, "r1": r1.id, "r2": r2.id, "other": other.id, "gone": gone.id}


def test_find_by_author_text_and_property(store: SQLiteStore, authors: list[Author],
                                          forum: dict[str, str]) -> None:
    a, b, _ = authors
    assert ids(store, author=b.id) == {forum["r1"], forum["other"]}
    assert ids(store, text="basil") == {forum["root"], forum["r1"], forum["other"]}
    assert ids(store, text="basil*") == {forum["root"], forum["r1"], forum["r2"], forum["other"]}
    assert ids(store, text="basil sun") == {forum["r1"]}
    assert ids(store, text="tomat*") == {forum["root"]}
    assert ids(store, text='"quoted" AND (weird') == set()  # words, never FTS5 syntax
    assert ids(store, properties={"lang": "fr"}) == {forum["r2"]}
    assert ids(store, author=a.id, include_deleted=True) >= {forum["gone"]}
    edit_document(b, store, forum["other"], Change(body="Pesto uses pine nuts."))
    assert forum["other"] not in ids(store, text="basil")
    assert ids(store, text="pine") == {forum["other"]}


def test_find_by_ancestry(store: SQLiteStore, forum: dict[str, str]) -> None:
    assert ids(store, under=forum["root"]) == {forum["r1"], forum["r2"], forum["other"]}
    assert ids(store, children_of=forum["root"]) == {forum["r1"], forum["other"]}
    assert ids(store, parents_of=forum["r2"]) == {forum["r1"]}
    summary = {s.id: s for s in find(store, Filters(under=forum["root"]))}
    assert summary[forum["r1"]].replies == 1


def test_find_by_flags(store: SQLiteStore, authors: list[Author], forum: dict[str, str]) -> None:
    b = authors[1]
    # b replied to root, which subscribed b to it
    assert ids(store, node=b.id, subscribed=True) == {forum["root"]}
    mark(b, store, forum["r2"], Action.BOOKMARK)
    assert ids(store, node=b.id, bookmarked=True) == {forum["r2"]}
    assert ids(store, node=b.id, unread=True) == {forum["root"], forum["r2"]}
    mark(b, store, forum["root"], Action.READ)
    assert ids(store, node=b.id, unread=True) == {forum["r2"]}
    assert forum["root"] in ids(store, node=b.id, unread=False)


@pytest.mark.parametrize("filters,message", [
    (Filters(subscribed=True), "need the reading node"),
    (Filters(text="   "), "nothing to search for"),
    (Filters(limit=0), "limit must be"),
])
def test_bad_queries_are_refused(store: SQLiteStore, filters: Filters, message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        find(store, filters)
