"""Editors events: a grant lets an editor's edits count, a removal stops the
ones written after it, and every arrival order ends in the same state."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliqueclique.errors import Unauthorized
from cliqueclique.eventlog import Author, Event, SQLiteStore
from cliqueclique.views import (
    BatchSigner,
    Change,
    change_editors,
    crdt,
    document_state,
    dump,
    edit_document,
    editors,
    replay,
    retract,
    state_bytes,
)
from cliqueclique.views.errors import (
    BadQuery,
    DocumentDeleted,
    NotADocument,
    NothingToEdit,
    NotTheAuthor,
)

from ..conftest import make_key
from .conftest import Clock, open_store


def test_a_grant_lets_edits_count(store: SQLiteStore, authors: list[Author]) -> None:
    owner, editor, _ = authors
    doc = owner.document("Notes", "first")
    with pytest.raises(Unauthorized):
        edit_document(editor, store, doc.id, Change(body="not yet"))
    change_editors(owner, store, doc.id, add=[editor.id])
    assert editors(store, doc.id) == [editor.id] == document_state(store, doc.id).editors
    edit_document(editor, store, doc.id, Change(body="first, second"))
    state = document_state(store, doc.id)
    assert (state.body, state.edits) == ("first, second", 1)


def test_only_the_author_changes_editors(store: SQLiteStore, authors: list[Author]) -> None:
    owner, editor, stranger = authors
    doc = owner.document("Mine", "text", editors=[editor.id])
    with pytest.raises(Unauthorized, match="only the author"):
        stranger.set_editors(doc.id, [stranger.id])  # the log refuses it
    with pytest.raises(NotTheAuthor):
        change_editors(editor, store, doc.id, add=[stranger.id])
    with pytest.raises(NothingToEdit):
        change_editors(owner, store, doc.id, add=[editor.id, owner.id], remove=[stranger.id])
    with pytest.raises(BadQuery):
        change_editors(owner, store, doc.id, add=["not a node"])
    with pytest.raises(NotADocument):
        change_editors(owner, store, "ab" * 32, add=[stranger.id])
    with pytest.raises(NotADocument):
        editors(store, "ab" * 32)
    retract(owner, store, doc.id)
    with pytest.raises(DocumentDeleted):
        change_editors(owner, store, doc.id, add=[stranger.id])
    assert editors(store, doc.id) == [] and dump(store.db)["doc_editors"] == []


def test_removal_retires_edits_so_far_and_carries_earlier_entries(store: SQLiteStore,
                                                                 authors: list[Author]) -> None:
    owner, b, c = authors
    doc = owner.document("Shared", "v0", editors=[b.id, c.id])
    edit_document(b, store, doc.id, Change(body="v1 by b"))
    b.react(doc.id, "+1")  # b's seq in the document's network is 2 now
    removal = change_editors(owner, store, doc.id, remove=[b.id])
    assert removal.content() == {"editors": [c.id], "retired": {b.id: 2}}
    with pytest.raises(Unauthorized, match="may not edit"):  # a removed editor is told at once...
        edit_document(b, store, doc.id, Change(body="v2 by b, after the removal"))
    late = crdt.make_update(state_bytes(store, doc.id), b.id, Change(body="v2 by b, after the removal"))
    assert late is not None
    b.edit(doc.id, late)  # ...but one who has not seen the removal yet: the log takes it...
    assert document_state(store, doc.id).body == "v1 by b"  # ...but it does not count
    edit_document(c, store, doc.id, Change(title="Shared (c)"))
    second = change_editors(owner, store, doc.id, remove=[c.id])
    assert second.content() == {"editors": [], "retired": {b.id: 2, c.id: 1}}
    state = document_state(store, doc.id)
    assert (state.title, state.body, state.edits, state.editors) == ("Shared (c)", "v1 by b", 2, [])
    # added again: b's late edit counts after all (it is a current editor's edit)
    change_editors(owner, store, doc.id, add=[b.id])
    assert document_state(store, doc.id).body == "v2 by b, after the removal"
    before = dump(store.db)
    replay(store)
    assert dump(store.db) == before


def capped_events() -> tuple[Event, list[Event]]:
    """A grant, an edit, a removal retiring it, and an edit after the removal."""
    clock = Clock()
    owner, editor = BatchSigner(make_key(31), None, clock), BatchSigner(make_key(32), None, clock)
    doc = owner.document("Capped", "base text")
    seed = crdt.seed("Capped", "base text")
    grant = owner.set_editors(doc.id, [editor.id])
    early_update = crdt.make_update(seed, editor.id, Change(body="base text, early"))
    assert early_update is not None
    early = editor.edit(doc.id, early_update)
    removal = owner.set_editors(doc.id, [], {editor.id: early.seq})
    late_update = crdt.make_update(seed, editor.id, Change(title="Hijacked"))
    assert late_update is not None
    late = editor.edit(doc.id, late_update)
    return doc, [grant, early, removal, late]


def causal(order: tuple[int, ...]) -> bool:
    """The owner's chain in order (grant, removal), the editor's too (early,
    late), and the early edit after the grant that allows it."""
    at = {event: i for i, event in enumerate(order)}
    return at[0] < at[2] and at[1] < at[3] and at[0] < at[1]


#: every order a peer could deliver (grant, early, removal, late) in
ORDERS = [order for order in itertools.permutations(range(4)) if causal(order)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.sampled_from(ORDERS), cut=st.integers(0, 4))
def test_removal_caps_edits_in_any_order_of_arrival(order: tuple[int, ...], cut: int) -> None:
    doc, events = capped_events()
    delivered = [events[i] for i in order]
    with tempfile.TemporaryDirectory() as tmp:
        reference = open_store(Path(tmp) / "reference.sqlite")
        reference.append_many([doc, *events])
        store = open_store(Path(tmp) / "store.sqlite")
        store.append(doc)
        for part in (delivered[:cut], delivered[cut:]):  # two batches, or one
            results = store.append_many(part)
            assert all(r.error is None for r in results), [r.reason for r in results]
        state = document_state(store, doc.id)
        # the early edit counts (retired up to its seq), the late one does not
        assert (state.body, state.title, state.edits, state.editors) == ("base text, early", "Capped", 1, [])
        assert dump(store.db, with_positions=False) == dump(reference.db, with_positions=False)
        replay(store)
        assert dump(store.db, with_positions=False) == dump(reference.db, with_positions=False)
        store.close()
        reference.close()
