"""The `reaction` and `editors` kinds: their bodies, and who may append them
(and the edits editors events allow), on the SQLite log and the in-memory log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from cliqueclique.errors import MalformedEvent, MissingDependency, Unauthorized
from cliqueclique.eventlog import (
    Author,
    EventStore,
    Kind,
    MemoryStore,
    SQLiteStore,
    Status,
    decode_wire,
)
from cliqueclique.eventlog.codec import MAX_INTEGER, MAX_TIMESTAMP, canonical_json, digest, encode_wire
from cliqueclique.eventlog.writer import BatchSigner

from ..conftest import make_key

KEY = make_key(9)
AUTHOR = KEY.verify_key.encode().hex()
DOC = "aa" * 32


def signed(kind: str, raw: bytes, **header: Any) -> bytes:
    """Sign an arbitrary body (to reach the checks behind the signature)."""
    fields = {"author": AUTHOR, "body": digest(raw), "kind": kind, "network": DOC, "prev": None, "seq": 1,
              "size": len(raw), "ts": 0, "v": 1, **header}
    head = canonical_json(fields)
    return encode_wire(KEY.sign(head).signature, head, raw)


# --- bodies ---------------------------------------------------------------------------------


def test_a_reaction_body_decodes_and_refers_to_its_document() -> None:
    event = decode_wire(signed("reaction", canonical_json({"on": True, "reaction": "🎉"})))
    assert event.kind is Kind.REACTION and event.ref == DOC
    assert event.content() == {"on": True, "reaction": "🎉"}


@pytest.mark.parametrize("body", [
    {"reaction": "+1"},
    {"on": True},
    {"on": 1, "reaction": "+1"},
    {"on": "yes", "reaction": "+1"},
    {"on": True, "reaction": ""},
    {"on": True, "reaction": "   "},
    {"on": True, "reaction": "\t\n"},
    {"on": True, "reaction": "x" * 33},
    {"on": True, "reaction": 1},
    {"on": True, "reaction": ["+1"]},
    {"on": True, "reaction": "+1", "extra": 1},
    [True, "+1"],
])
def test_malformed_reaction_bodies_are_refused(body: Any) -> None:
    with pytest.raises(MalformedEvent):
        decode_wire(signed("reaction", canonical_json(body)))


def test_a_reaction_of_32_characters_is_fine_and_spacing_must_be_canonical() -> None:
    decode_wire(signed("reaction", canonical_json({"on": False, "reaction": "x" * 32})))
    with pytest.raises(MalformedEvent, match="canonical"):
        decode_wire(signed("reaction", b'{"on": true, "reaction": "+1"}'))


def test_an_editors_body_decodes() -> None:
    body = {"editors": ["bb" * 32, "cc" * 32], "retired": {"dd" * 32: 3}}
    event = decode_wire(signed("editors", canonical_json(body)))
    assert event.kind is Kind.EDITORS and event.ref == DOC and event.content() == body
    decode_wire(signed("editors", canonical_json({"editors": [], "retired": {}})))


@pytest.mark.parametrize("body", [
    {"editors": []},
    {"retired": {}},
    {"editors": ["cc" * 32, "bb" * 32], "retired": {}},  # unsorted
    {"editors": ["bb" * 32, "bb" * 32], "retired": {}},  # repeated
    {"editors": ["BB" * 32], "retired": {}},
    {"editors": "bb" * 32, "retired": {}},
    {"editors": [], "retired": []},
    {"editors": [], "retired": {"nope": 1}},
    {"editors": [], "retired": {"bb" * 32: 0}},
    {"editors": [], "retired": {"bb" * 32: "1"}},
    {"editors": [], "retired": {"bb" * 32: True}},
    {"editors": [], "retired": {"bb" * 32: MAX_INTEGER + 1}},
    {"editors": [], "retired": {}, "extra": 1},
])
def test_malformed_editors_bodies_are_refused(body: Any) -> None:
    with pytest.raises(MalformedEvent):
        decode_wire(signed("editors", canonical_json(body)))


@pytest.mark.parametrize("field", ["ts", "seq"])
def test_integers_sqlite_cannot_store_are_refused(field: str) -> None:
    raw = canonical_json({"on": True, "reaction": "+1"})
    extra = {"prev": "ee" * 32} if field == "seq" else {}
    with pytest.raises(MalformedEvent, match="integer"):
        decode_wire(signed("reaction", raw, **{field: MAX_INTEGER + 1}, **extra))
    assert decode_wire(signed("reaction", raw, ts=MAX_TIMESTAMP)).timestamp == MAX_TIMESTAMP  # the latest time allowed


# --- who may append them: the same rules on both logs ---------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite = SQLiteStore(tmp_path / "log.sqlite")
    yield sqlite
    sqlite.close()


def authors(store: EventStore, keys: list[SigningKey]) -> list[Author]:
    return [Author(k, store) for k in keys]


def test_anyone_reacts_to_a_held_live_document(store: EventStore, keys: list[SigningKey]) -> None:
    owner, stranger, *_ = authors(store, keys)
    doc = owner.document("s", "t")
    reaction = stranger.react(doc.id, "+1")
    assert store.get(reaction.id) == reaction and reaction.network == doc.id
    stranger.react(doc.id, "+1", on=False)
    with pytest.raises(MissingDependency, match="unknown document"):
        stranger.react("ab" * 32, "+1")
    link = owner.link(doc.id, owner.document("child", "c").id)
    with pytest.raises(Unauthorized, match="not a document"):
        stranger.react(link.id, "+1")
    owner.delete(doc.id, doc.id)
    with pytest.raises(MissingDependency, match="deleted"):
        stranger.react(doc.id, "heart")
    purged = store.get(reaction.id)  # purged with the document, header kept
    assert purged is not None and purged.purged and purged.header == reaction.header
    # a reaction that was on its way when the deletion came arrives header-only
    late = BatchSigner(keys[3], store).react(doc.id, "late")  # signed, not appended
    header_only = encode_wire(late.signature, late.header, None)
    (result,) = store.append_many([header_only])
    assert result.status is Status.ACCEPTED


def test_only_the_author_names_editors(store: EventStore, keys: list[SigningKey]) -> None:
    owner, editor, stranger, _ = authors(store, keys)
    doc = owner.document("s", "t")
    with pytest.raises(Unauthorized, match="only the author"):
        stranger.set_editors(doc.id, [stranger.id])
    with pytest.raises(MissingDependency):
        owner.set_editors("ab" * 32, [editor.id])
    owner.set_editors(doc.id, [editor.id])
    owner.delete(doc.id, doc.id)
    with pytest.raises(MissingDependency, match="deleted"):
        owner.set_editors(doc.id, [])


def test_an_edit_needs_a_grant_held_by_now(store: EventStore, keys: list[SigningKey]) -> None:
    owner, editor, stranger, other = authors(store, keys)
    doc = owner.document("s", "t")
    # Never blamed: a grant naming the author may still be on its way, before
    # the first editors event as after it (the peer that relays it is honest).
    with pytest.raises(MissingDependency, match="not an editor"):
        editor.edit(doc.id, b"u")
    owner.set_editors(doc.id, [other.id])
    with pytest.raises(MissingDependency, match="not an editor"):  # a grant may be on its way
        editor.edit(doc.id, b"u")
    owner.set_editors(doc.id, [editor.id, other.id])
    editor.edit(doc.id, b"u")
    # Removed, but named by an earlier grant: the log still takes the edit
    # (authorisation is monotone); whether it counts is the views' business.
    owner.set_editors(doc.id, [other.id], {editor.id: 1})
    editor.edit(doc.id, b"late")
    with pytest.raises(MissingDependency):
        stranger.edit(doc.id, b"u")


def test_a_grant_earlier_in_the_batch_counts(store: EventStore, keys: list[SigningKey]) -> None:
    origin = MemoryStore()
    owner, editor, other = Author(keys[0], origin), Author(keys[1], origin), Author(keys[2], origin)
    doc = owner.document("s", "t")
    first = owner.set_editors(doc.id, [other.id])
    grant = owner.set_editors(doc.id, [editor.id, other.id])
    edit = editor.edit(doc.id, b"u")
    results = store.append_many([doc.wire, edit.wire, first.wire])
    # refused, never blamed: with no editors event held, or only one not naming
    # the editor, a grant may still be on its way
    assert [type(r.error) for r in results] == [type(None), MissingDependency, type(None)]
    (result,) = store.append_many([edit.wire])
    assert isinstance(result.error, MissingDependency)
    results = store.append_many([grant.wire, edit.wire])
    assert [r.status for r in results] == [Status.ACCEPTED, Status.ACCEPTED]


def test_a_deleted_document_replicates_with_its_reactions_and_editors(
        store: EventStore, keys: list[SigningKey]) -> None:
    """Header-only document and edits, then reactions and editors events written
    before the deletion (with their bodies), then the deletion: all in one batch."""
    origin = MemoryStore()
    owner, editor, fan = (Author(k, origin) for k in keys[:3])
    doc = owner.document("secret", "t")
    owner.set_editors(doc.id, [editor.id])
    editor.edit(doc.id, b"u")
    fan.react(doc.id, "+1")
    owner.set_editors(doc.id, [], {editor.id: 1})
    owner.delete(doc.id, doc.id)
    events = [s.event for s in origin.events()]
    assert origin.get(doc.id).purged  # type: ignore[union-attr]
    results = store.append_many([e.wire for e in events])
    assert all(r.status is Status.ACCEPTED for r in results), [r.reason for r in results]
    assert store.verify() == []


def test_events_about_a_document_need_a_document_network(store: EventStore, keys: list[SigningKey]) -> None:
    """A link's id is no document: editing it would have nothing to seed the state from."""
    owner = Author(keys[0], store)
    link = owner.link(owner.document("parent", "p").id, owner.document("child", "c").id)
    with pytest.raises(Unauthorized, match="not a document"):
        owner.edit(link.id, b"u")
    with pytest.raises(Unauthorized, match="not a document"):
        owner.set_editors(link.id, [])
