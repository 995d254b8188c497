"""Document state: pycrdt edits merge to the same state in every order;
only the author and named editors may edit."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from cliqueclique.errors import MissingDependency, Unauthorized
from cliqueclique.eventlog import Author, Event, SQLiteStore
from cliqueclique.views import (
    Change,
    crdt,
    document_state,
    dump,
    edit_document,
    replay,
    state_bytes,
)
from cliqueclique.views.errors import DocumentDeleted, NotADocument, NothingToEdit
from cliqueclique.views.signer import BatchSigner

from ..conftest import make_key
from .conftest import Clock, open_store

BASE_SUBJECT, BASE_TEXT = "Plans", "We meet on Monday at the old mill."


def update(state: bytes, node: str, change: Change) -> bytes:
    made = crdt.make_update(state, node, change)
    assert made is not None
    return made


def concurrent_updates() -> list[bytes]:
    """Five edits by three nodes, some made without seeing the others, one
    made on top of another (so it must wait for it when delivered first)."""
    seed = crdt.seed(BASE_SUBJECT, BASE_TEXT)
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    e1 = update(seed, a, Change(body="We meet on Tuesday at the old mill."))
    e2 = update(seed, b, Change(title="Plans (draft)", add_tags=["meeting", "mill"]))
    after_e1 = crdt.merge(seed, [e1])[0]
    e3 = update(after_e1, c, Change(body="We meet on Tuesday at the new mill!",
                                    set_properties={"place": "mill", "day": "Tuesday"}))
    after_123 = crdt.merge(seed, [e1, e2, e3])[0]
    e4 = update(after_123, b, Change(remove_tags=["mill"], remove_properties=["day"],
                                     body="We meet on Tuesday at the new mill! Bring tea."))
    e5 = update(seed, a, Change(body="Plans: we meet on Monday at the old mill.",
                                set_properties={"lang": "en"}))
    return [e1, e2, e3, e4, e5]


def test_merged_state_is_identical_in_every_order() -> None:
    updates = concurrent_updates()
    seed = crdt.seed(BASE_SUBJECT, BASE_TEXT)
    rng = random.Random(7)
    states = set()
    for order in itertools.permutations(updates):
        state, i = seed, 0
        while i < len(order):  # merged in random groups, as batches would
            step = rng.randint(1, 3)
            state, _ = crdt.merge(state, list(order[i:i + step]))
            i += step
        states.add(state)
    assert len(states) == 1
    fields = crdt.read(states.pop())
    # Every node's intent survives: e1+e3+e4's body edits and e5's prefix.
    assert fields.body == "Plans: we meet on Tuesday at the new mill! Bring tea."
    assert fields.title == "Plans (draft)"
    assert fields.tags == ["meeting"]
    assert fields.properties == {"day": None, "lang": "en", "place": "mill"}


def _edit_events() -> tuple[Event, list[Event]]:
    """A document and four edits of it, each by a different node (so every
    delivery order respects every chain)."""
    author, *editors = (BatchSigner(make_key(i), None, Clock()) for i in (1, 2, 3, 4))
    doc = author.document(BASE_SUBJECT, BASE_TEXT, editors=[e.id for e in editors])
    by = [author, *editors]
    return doc, [signer.edit(doc.id, u) for signer, u in zip(by, concurrent_updates())]


def test_stores_converge_whatever_order_edits_arrive_in(tmp_path: Path) -> None:
    doc, edits = _edit_events()
    dumps = []
    for n, order in enumerate(itertools.permutations(edits)):
        store = open_store(tmp_path / f"s{n}.sqlite")
        store.append(doc)
        for edit in order:  # one at a time: every prefix of the order is a view state
            store.append(edit)
        dumps.append(dump(store.db, with_positions=False))
        state = document_state(store, doc.id)
        store.close()
    assert all(d == dumps[0] for d in dumps)
    assert state.edits == 4
    assert state.body == "We meet on Tuesday at the new mill! Bring tea."
    assert state.title == "Plans (draft)" and state.tags == ["meeting"]


def test_edit_by_a_stranger_is_rejected_and_changes_nothing(store: SQLiteStore,
                                                            authors: list[Author]) -> None:
    owner, editor, stranger = authors
    doc = owner.document("Owned", "text", editors=[editor.id])
    edit_document(editor, store, doc.id, Change(body="text, edited"))
    before = dump(store.db)
    with pytest.raises(Unauthorized):
        edit_document(stranger, store, doc.id, Change(body="vandalised"))
    assert dump(store.db) == before
    assert document_state(store, doc.id).body == "text, edited"


def test_edit_of_unknown_deleted_or_unchanged_document(store: SQLiteStore,
                                                       authors: list[Author]) -> None:
    owner = authors[0]
    doc = owner.document("Subject", "text")
    with pytest.raises(NotADocument):
        edit_document(owner, store, "ab" * 32, Change(body="x"))
    with pytest.raises(NothingToEdit):
        edit_document(owner, store, doc.id, Change(body="text", title="Subject"))
    owner.delete(doc.id, doc.id)
    with pytest.raises(DocumentDeleted):
        edit_document(owner, store, doc.id, Change(body="after"))
    stale = crdt.make_update(crdt.seed("Subject", "text"), owner.id, Change(body="late"))
    assert stale is not None
    with pytest.raises(MissingDependency):  # the log refuses edits of a deleted document
        owner.edit(doc.id, stale)


def test_bytes_that_are_not_an_update_are_ignored_by_the_view(store: SQLiteStore,
                                                              authors: list[Author]) -> None:
    owner = authors[0]
    doc = owner.document("Subject", "original")
    owner.edit(doc.id, b"\x07 not a yjs update")
    edit_document(owner, store, doc.id, Change(body="edited"))
    state = document_state(store, doc.id)
    assert (state.body, state.edits) == ("edited", 1)
    before = dump(store.db)
    replay(store)
    assert dump(store.db) == before


@pytest.mark.parametrize("old,new", [
    ("héllo 😀 wörld", "hello 😀 big wörld!"),
    ("", "from nothing"),
    ("all of it goes", ""),
    ("ααα βββ", "βββ ααα γ"),
])
def test_body_edits_are_character_diffs_on_utf8_offsets(old: str, new: str) -> None:
    update = crdt.make_update(crdt.seed("s", old), "n" * 64, Change(body=new))
    assert update is not None
    assert crdt.read(crdt.merge(crdt.seed("s", old), [update])[0]).body == new


def test_edits_to_different_places_both_survive(store: SQLiteStore, authors: list[Author]) -> None:
    owner, editor, _ = authors
    doc = owner.document("S", "first line\nsecond line", editors=[editor.id])
    base = state_bytes(store, doc.id)
    mine = crdt.make_update(base, owner.id, Change(body="FIRST line\nsecond line"))
    theirs = crdt.make_update(base, editor.id, Change(body="first line\nsecond LINE"))
    assert mine is not None and theirs is not None
    owner.edit(doc.id, mine)
    editor.edit(doc.id, theirs)
    assert document_state(store, doc.id).body == "FIRST line\nsecond LINE"


def test_state_of_a_fresh_document_and_its_properties(store: SQLiteStore,
                                                      authors: list[Author]) -> None:
    doc = authors[0].document("Hello", "body", properties={"lang": "en"}, editors=[authors[1].id])
    state = document_state(store, doc.id)
    assert (state.title, state.body, state.edits, state.deleted) == ("Hello", "body", 0, False)
    assert state.properties == {"lang": "en"} and state.editors == [authors[1].id]
    assert state.to_json()["subject"] == "Hello"
    with pytest.raises(NotADocument):
        document_state(store, "cd" * 32)
