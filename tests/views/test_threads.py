"""Thread trees: replies by natural and reversed links, hidden deleted
entries, missing documents, cross-references, unread marks."""

from __future__ import annotations

import pytest

from cliqueclique.eventlog import Action, Author, Direction, SQLiteStore
from cliqueclique.views import dump, replay, thread
from cliqueclique.views.errors import NotADocument
from cliqueclique.views.signer import BatchSigner

from ..conftest import make_key


def shape(store: SQLiteStore, root: str, node: str | None = None) -> list[tuple[int, str, str]]:
    return [(depth, entry.id, entry.status) for depth, entry, _ in thread(store, root, node=node).walk()]


def test_replies_form_a_tree_in_time_order(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, _ = authors
    root, _ = a.post("Root", "r")
    r1, _ = b.post("First", "1", parent=root.id)
    r2, _ = a.post("Second", "2", parent=root.id)
    r11, _ = a.post("Under first", "11", parent=r1.id)
    tree = thread(store, root.id)
    assert shape(store, root.id) == [(0, root.id, "ok"), (1, r1.id, "ok"), (2, r11.id, "ok"),
                                     (1, r2.id, "ok")]
    assert (tree.replies, tree.children[0].replies, tree.count()) == (2, 1, 4)
    assert tree.children[0].title == "First" and tree.children[0].author == b.id
    assert tree.children[0].link is not None and tree.children[0].direction == "natural"


def test_reversed_link_makes_the_parent_a_reply_of_the_child(store: SQLiteStore,
                                                             authors: list[Author]) -> None:
    a, b, _ = authors
    original = a.document("Original", "o")
    annotation = b.document("Annotation", "about the original")
    b.link(annotation.id, original.id, Direction.REVERSED)
    assert shape(store, original.id) == [(0, original.id, "ok"), (1, annotation.id, "ok")]
    assert shape(store, annotation.id) == [(0, annotation.id, "ok")]


def test_deleted_document_stays_as_a_hidden_entry_with_its_replies(store: SQLiteStore,
                                                                   authors: list[Author]) -> None:
    a, b, _ = authors
    root, _ = a.post("Root", "r")
    gone, _ = b.post("Regrettable", "oops", parent=root.id)
    kept, _ = a.post("Answer to it", "a", parent=gone.id)
    b.delete(gone.id, gone.id)
    tree = thread(store, root.id)
    hidden = tree.children[0]
    assert (hidden.id, hidden.status, hidden.title, hidden.author) == (gone.id, "deleted", None, b.id)
    assert [c.id for c in hidden.children] == [kept.id]


def test_deleting_a_link_detaches_the_reply(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, _ = authors
    root, _ = a.post("Root", "r")
    reply, link = b.post("Reply", "x", parent=root.id)
    assert link is not None
    b.delete(link.id, root.id)
    assert shape(store, root.id) == [(0, root.id, "ok")]
    assert shape(store, reply.id) == [(0, reply.id, "ok")]


def test_links_to_documents_not_held_show_as_missing(store: SQLiteStore, authors: list[Author]) -> None:
    a = authors[0]
    root = a.document("Root", "r")
    far = BatchSigner(make_key(9)).document("Elsewhere", "not here")  # signed, never appended
    a.link(root.id, far.id)
    assert shape(store, root.id) == [(0, root.id, "ok"), (1, far.id, "missing")]
    store.append(far)
    assert shape(store, root.id) == [(0, root.id, "ok"), (1, far.id, "ok")]


def test_cycles_and_cross_references_place_each_document_once(store: SQLiteStore,
                                                              authors: list[Author]) -> None:
    a, b, _ = authors
    root, _ = a.post("Root", "r")
    x, _ = b.post("X", "x", parent=root.id)
    y, _ = a.post("Y", "y", parent=x.id)
    a.link(y.id, root.id)  # a cycle back to the root
    b.link(root.id, y.id)  # and a cross-reference: y is also directly under root
    tree = thread(store, root.id)
    assert shape(store, root.id) == [(0, root.id, "ok"), (1, x.id, "ok"), (1, y.id, "ok")]
    assert tree.replies == 2 and tree.children[1].replies == 1  # y still counts its link to root


def test_unread_marks_follow_the_reading_node(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, _ = authors
    root, _ = a.post("Root", "r")
    reply, _ = b.post("Reply", "x", parent=root.id)
    marks = {e.id: e.unread for _, e, _ in thread(store, root.id, node=a.id).walk()}
    assert marks == {root.id: False, reply.id: True}  # one's own posts count as read
    a.subscription(reply.id, Action.READ)
    assert not any(e.unread for _, e, _ in thread(store, root.id, node=a.id).walk())
    a.subscription(reply.id, Action.UNREAD)
    assert thread(store, root.id, node=a.id).children[0].unread is True
    assert thread(store, root.id).children[0].unread is None


def test_deep_chain_renders_without_recursion(store: SQLiteStore, authors: list[Author]) -> None:
    a = authors[0]
    signer = BatchSigner(a.key, store)
    root = signer.document("Root", "r")
    events, parent = [root], root.id
    for i in range(2000):
        doc = signer.document(f"Reply {i}", "x")
        events += [doc, signer.link(parent, doc.id)]
        parent = doc.id
    store.append_many(events)
    tree = thread(store, root.id)
    assert tree.count() == 2001
    flat = tree.to_json()["entries"]
    assert flat[-1]["depth"] == 2000 and flat[-1]["parent"] == flat[-2]["id"]
    before = dump(store.db)
    replay(store)
    assert dump(store.db) == before


def test_unknown_root(store: SQLiteStore) -> None:
    with pytest.raises(NotADocument):
        thread(store, "ef" * 32)
