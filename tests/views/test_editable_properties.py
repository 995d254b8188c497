"""Properties edits set and remove, laid over the document's own, and found by `find`."""

from __future__ import annotations

import pytest

from cliqueclique.eventlog import Author, SQLiteStore
from cliqueclique.views import (
    TYPE_PROPERTY,
    Change,
    Filters,
    document_state,
    dump,
    edit_document,
    find,
    replay,
)
from cliqueclique.views.errors import BadChange, NothingToEdit


def found(store: SQLiteStore, **properties: str) -> set[str]:
    return {s.id for s in find(store, Filters(properties=properties))}


def test_set_and_remove_properties_and_find_them(store: SQLiteStore, authors: list[Author]) -> None:
    owner, editor, _ = authors
    doc = owner.document("Recipe", "pesto", properties={"lang": "it", "course": "sauce"}, editors=[editor.id])
    other = owner.document("Other", "text", properties={"lang": "it"})
    assert found(store, lang="it") == {doc.id, other.id}

    edit_document(editor, store, doc.id, Change(set_properties={"lang": "en", "status": "tested"}))
    state = document_state(store, doc.id)
    assert state.properties == {"course": "sauce", "lang": "en", "status": "tested"}
    assert found(store, lang="it") == {other.id}
    assert found(store, lang="en", status="tested") == {doc.id}

    # removing a property the body has hides it too
    edit_document(owner, store, doc.id, Change(remove_properties=["course", "status"]))
    assert document_state(store, doc.id).properties == {"lang": "en"}
    assert found(store, course="sauce") == set() and found(store, status="tested") == set()
    edit_document(owner, store, doc.id, Change(set_properties={"course": "main"}))
    assert found(store, course="main") == {doc.id}

    before = dump(store.db)
    replay(store)
    assert dump(store.db) == before


def test_property_changes_that_change_nothing_or_are_not_allowed(store: SQLiteStore,
                                                                 authors: list[Author]) -> None:
    owner = authors[0]
    doc = owner.document("Plain", "text", properties={"lang": "en"})
    with pytest.raises(NothingToEdit):
        edit_document(owner, store, doc.id, Change(set_properties={"lang": "en"}, remove_properties=["nope"]))
    for change in (Change(set_properties={"": "x"}), Change(set_properties={TYPE_PROPERTY: "directory"}),
                   Change(remove_properties=[TYPE_PROPERTY]), Change(set_properties={"a": 1}),  # type: ignore[dict-item]
                   Change(set_properties={"a": "x"}, remove_properties=["a"])):
        with pytest.raises(BadChange):
            edit_document(owner, store, doc.id, change)
    with pytest.raises(TypeError):  # the property fields are keyword-only
        Change("body", "title", (), (), {"a": "b"})  # type: ignore[call-arg]
    edit_document(owner, store, doc.id, Change(remove_properties=(name for name in ["lang"])))
    assert document_state(store, doc.id).properties == {}


def test_a_deleted_document_keeps_no_properties(store: SQLiteStore, authors: list[Author]) -> None:
    owner = authors[0]
    doc = owner.document("Gone", "soon")
    edit_document(owner, store, doc.id, Change(set_properties={"secret": "Prop-edit"}))
    assert found(store, secret="Prop-edit") == {doc.id}
    owner.delete(doc.id, doc.id)
    assert found(store, secret="Prop-edit") == set()
    assert [r for r in dump(store.db)["doc_props"] if r[0] == doc.id] == []
