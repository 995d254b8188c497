"""One conformance suite, run against the SQLite log and the in-memory log."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from cliqueclique.errors import (
    BadPrev,
    BatchRolledBack,
    ChainGap,
    Equivocation,
    InvalidSignature,
    MissingDependency,
    PurgedContent,
    Unauthorized,
)
from cliqueclique.eventlog import Author, EventStore, Kind, MemoryStore, SQLiteStore, Status, sign_event
from cliqueclique.eventlog.codec import canonical_json, encode_wire

from ..conftest import make_key


def forged(wire: bytes) -> bytes:
    """The same event with its last signature byte flipped."""
    return wire[:63] + bytes([wire[63] ^ 1]) + wire[64:]


class StoreConformance:
    """Every behaviour the log promises, independent of where it is kept."""

    def make_store(self, tmp_path: Path) -> EventStore:
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> EventStore:
        return self.make_store(tmp_path)

    @pytest.fixture
    def source(self) -> MemoryStore:
        """A scratch log where test authors write events before we deliver them."""
        return MemoryStore()

    def test_append_and_read_back(self, store: EventStore, keys: list[SigningKey]) -> None:
        author = Author(keys[0], store)
        doc, link = author.post("Hello", "world")
        assert link is None
        assert store.get(doc.id) == doc
        assert store.head(author.id, doc.id) == (1, doc.id)
        assert [s.event.kind for s in store.events()] == [Kind.DOCUMENT, Kind.SUBSCRIPTION]
        assert [s.event.id for s in store.events()][0] == doc.id

    def test_duplicate_is_a_no_op(self, store: EventStore, keys: list[SigningKey]) -> None:
        doc = Author(keys[0], store).document("s", "t")
        (result,) = store.append_many([doc.wire])
        assert result.status is Status.DUPLICATE
        assert len(list(store.events())) == 1

    def test_positions_increase(self, store: EventStore, keys: list[SigningKey]) -> None:
        author = Author(keys[0], store)
        docs = [author.document(f"s{i}", "t") for i in range(5)]
        positions = [s.position for s in store.events()]
        assert positions == sorted(positions) and len(set(positions)) == 5
        assert [s.event.id for s in store.events(after=positions[2])] == [d.id for d in docs[3:]]

    def test_filters(self, store: EventStore, keys: list[SigningKey]) -> None:
        a, b = Author(keys[0], store), Author(keys[1], store)
        root, _ = a.post("root", "r")
        reply, link = b.post("re", "r", parent=root.id)
        assert link is not None
        assert {s.event.id for s in store.events(network=root.id)} == {root.id, link.id}
        assert {s.event.id for s in store.events(author=b.id, kind=Kind.DOCUMENT)} == {reply.id}
        assert {s.event.kind for s in store.events(author=b.id)} == {Kind.DOCUMENT, Kind.LINK, Kind.SUBSCRIPTION}

    def test_chain_gap(self, store: EventStore, source: MemoryStore, keys: list[SigningKey]) -> None:
        author = Author(keys[0], source)
        doc = author.document("s", "t")
        store.append(doc)
        first = author.link(doc.id, "ab" * 32)
        second = author.link(doc.id, "cd" * 32)
        with pytest.raises(ChainGap, match="seq 3, expected 2"):
            store.append(second)
        store.append(first)
        store.append(second)

    def test_bad_prev(self, store: EventStore, keys: list[SigningKey]) -> None:
        author = Author(keys[0], store)
        doc = author.document("s", "t")
        body = canonical_json({"parent": doc.id, "child": "ab" * 32, "direction": "natural"})
        bad = sign_event(keys[0], Kind.LINK, network=doc.id, seq=2, prev="ee" * 32, timestamp=1, body=body)
        with pytest.raises(BadPrev):
            store.append(bad)

    def test_equivocation_is_rejected_and_kept_as_evidence(
        self, store: EventStore, source: MemoryStore, keys: list[SigningKey]
    ) -> None:
        author = Author(keys[0], source)
        doc = author.document("s", "t")
        store.append(doc)
        honest = author.link(doc.id, "ab" * 32)
        twin = sign_event(keys[0], Kind.LINK, network=doc.id, seq=2, prev=doc.id, timestamp=99,
                          body=canonical_json({"parent": doc.id, "child": "cd" * 32, "direction": "natural"}))
        store.append(honest)
        with pytest.raises(Equivocation, match="equivocation"):
            store.append(twin)
        assert not store.has(twin.id)
        assert [(i, other) for i, _, other in store.equivocations()] == [(twin.id, honest.id)]

    def test_forged_equivocation_is_not_evidence(
        self, store: EventStore, source: MemoryStore, keys: list[SigningKey]
    ) -> None:
        author = Author(keys[0], source)
        doc = author.document("s", "t")
        store.append(doc)
        twin = sign_event(keys[1], Kind.DOCUMENT, network=None, seq=1, prev=None, timestamp=5,
                          body=doc.body or b"")
        with pytest.raises(InvalidSignature):
            store.append(forged(twin.wire))
        assert store.equivocations() == []

    def test_only_the_author_or_an_editor_edits(self, store: EventStore, keys: list[SigningKey]) -> None:
        owner, editor, stranger = (Author(k, store) for k in keys[:3])
        doc = owner.document("s", "t", editors=[editor.id])
        owner.edit(doc.id, b"\x01update")
        editor.edit(doc.id, b"\x02update")
        with pytest.raises(MissingDependency, match="not an editor"):  # not stored, not blamed
            stranger.edit(doc.id, b"\x03update")
        with pytest.raises(MissingDependency):
            stranger.edit("ab" * 32, b"x")

    def test_only_the_author_deletes(self, store: EventStore, keys: list[SigningKey]) -> None:
        owner, stranger = Author(keys[0], store), Author(keys[1], store)
        root, _ = owner.post("root", "r")
        reply, link = stranger.post("re", "r", parent=root.id)
        assert link is not None
        with pytest.raises(Unauthorized, match="may not delete"):
            stranger.delete(root.id, root.id)
        with pytest.raises(Unauthorized, match="may not delete"):
            owner.delete(link.id, root.id)
        with pytest.raises(MissingDependency):
            owner.delete("ab" * 32, root.id)
        stranger.delete(link.id, root.id)
        stranger.delete(reply.id, reply.id)
        assert store.is_deleted(reply.id) and not store.is_deleted(root.id)

    def test_deletion_purges_content_but_verifies(self, store: EventStore, keys: list[SigningKey]) -> None:
        owner = Author(keys[0], store)
        doc = owner.document("secret subject", "secret text")
        edit = owner.edit(doc.id, b"secret edit")
        owner.delete(doc.id, doc.id)
        purged_doc, purged_edit = store.get(doc.id), store.get(edit.id)
        assert purged_doc is not None and purged_doc.purged
        assert purged_edit is not None and purged_edit.purged
        assert store.verify() == []

    def test_purged_events_replicate_with_their_deletion(self, store: EventStore, keys: list[SigningKey]) -> None:
        origin = MemoryStore()
        owner = Author(keys[0], origin)
        doc = owner.document("s", "t")
        deletion = owner.delete(doc.id, doc.id)
        header_only = origin.get(doc.id)
        assert header_only is not None and header_only.purged
        with pytest.raises(PurgedContent):
            store.append(header_only.wire)
        results = store.append_many([header_only.wire, deletion.wire])
        assert [r.status for r in results] == [Status.ACCEPTED, Status.ACCEPTED]
        assert store.verify() == []

    def test_purged_event_whose_deletion_fails_is_rejected(
        self, store: EventStore, keys: list[SigningKey]
    ) -> None:
        origin = MemoryStore()
        owner = Author(keys[0], origin)
        doc = owner.document("s", "t")
        owner.edit(doc.id, b"u1")
        edit = owner.edit(doc.id, b"u2")
        deletion = owner.delete(doc.id, doc.id)
        header_only = origin.get(doc.id)
        assert header_only is not None
        # The middle edits are missing: the deletion has a chain gap, so the
        # header-only document it would have justified is refused as well.
        results = store.append_many([header_only.wire, deletion.wire])
        assert [r.status for r in results] == [Status.REJECTED, Status.REJECTED]
        assert isinstance(results[0].error, PurgedContent)
        assert isinstance(results[1].error, ChainGap)
        results = store.append_many([header_only.wire, forged(deletion.wire)])
        assert [type(r.error) for r in results] == [PurgedContent, InvalidSignature]
        assert list(store.events()) == [] and edit.id

    def test_batch_commits_good_and_reports_bad(self, store: EventStore, keys: list[SigningKey]) -> None:
        source = MemoryStore()
        author = Author(keys[0], source)
        docs = [author.document(f"s{i}", "t").wire for i in range(4)]
        batch = [docs[0], forged(docs[1]), b"garbage", docs[2], docs[2], docs[3]]
        results = store.append_many(batch)
        assert [r.status for r in results] == [
            Status.ACCEPTED, Status.REJECTED, Status.REJECTED, Status.ACCEPTED, Status.DUPLICATE, Status.ACCEPTED,
        ]
        assert isinstance(results[1].error, InvalidSignature)
        assert results[1].reason and "bad signature" in results[1].reason
        assert store.present(s.event.id for s in source.events()) == {
            results[0].event_id, results[3].event_id, results[5].event_id}

    def test_events_depending_on_a_rejected_one_are_rejected(
        self, store: EventStore, keys: list[SigningKey]
    ) -> None:
        source = MemoryStore()
        author = Author(keys[0], source)
        doc = author.document("s", "t")
        links = [author.link(doc.id, f"{i:02x}" * 32) for i in range(3)]
        results = store.append_many([doc.wire, forged(links[0].wire), links[1].wire, links[2].wire])
        assert [r.status for r in results] == [Status.ACCEPTED] + [Status.REJECTED] * 3
        assert isinstance(results[2].error, ChainGap)

    def test_atomic_batch_writes_nothing_on_any_rejection(
        self, store: EventStore, keys: list[SigningKey]
    ) -> None:
        source = MemoryStore()
        author = Author(keys[0], source)
        good = [author.document(f"s{i}", "t").wire for i in range(3)]
        results = store.append_many(good + [b"junk"], atomic=True)
        assert [r.status for r in results] == [Status.REJECTED] * 4
        assert isinstance(results[0].error, BatchRolledBack)
        assert list(store.events()) == []

def decode_ids(wires: list[bytes]) -> list[str]:
    from cliqueclique.eventlog import decode_wire

    return [decode_wire(w).id for w in wires]


class TestMemoryStore(StoreConformance):
    def make_store(self, tmp_path: Path) -> EventStore:
        return MemoryStore()


class TestSQLiteStore(StoreConformance):
    def make_store(self, tmp_path: Path) -> EventStore:
        tmp_path.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(tmp_path / "log.sqlite")

    def test_survives_reopen(self, tmp_path: Path, keys: list[SigningKey]) -> None:
        store = SQLiteStore(tmp_path / "log.sqlite")
        doc = Author(keys[0], store).document("s", "t")
        store.close()
        again = SQLiteStore(tmp_path / "log.sqlite")
        assert again.get(doc.id) == doc
        assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_verify_finds_tampered_rows(self, tmp_path: Path, keys: list[SigningKey]) -> None:
        path = tmp_path / "log.sqlite"
        store = SQLiteStore(path)
        author = Author(keys[0], store)
        docs = [author.document(f"s{i}", "t") for i in range(3)]
        raw = sqlite3.connect(path)
        body = canonical_json({"subject": "evil", "text": "t", "content_type": "text/markdown"})
        raw.execute("UPDATE events SET body = ? WHERE id = ?", [body, docs[0].id])
        raw.execute("UPDATE events SET signature = ? WHERE id = ?", [b"\0" * 64, docs[1].id])
        raw.commit()
        raw.close()
        problems = dict(store.verify())
        assert set(problems) == {docs[0].id, docs[1].id}
        assert "body does not match" in problems[docs[0].id]
        assert "bad signature" in problems[docs[1].id]

    def test_verify_finds_a_broken_chain(self, tmp_path: Path, keys: list[SigningKey]) -> None:
        path = tmp_path / "log.sqlite"
        store = SQLiteStore(path)
        author = Author(keys[0], store)
        doc = author.document("s", "t")
        links = [author.link(doc.id, f"{i:02x}" * 32) for i in range(3)]
        raw = sqlite3.connect(path)
        raw.execute("DELETE FROM events WHERE id = ?", [links[1].id])
        raw.commit()
        raw.close()
        assert [i for i, _ in store.verify()] == [links[2].id]

    def test_unreadable_file_is_a_store_error(self, tmp_path: Path) -> None:
        from cliqueclique.errors import StoreError

        path = tmp_path / "log.sqlite"
        path.write_bytes(b"this is not a database" * 100)
        with pytest.raises(StoreError, match="cannot open log"):
            SQLiteStore(path)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(order=st.permutations(range(6)), authors=st.lists(st.integers(0, 2), min_size=6, max_size=6))
def test_any_delivery_order_ends_in_the_same_set(
    tmp_path: Path, kind: str, order: list[int], authors: list[int]
) -> None:
    """Out-of-order delivery rejects gaps; retrying the rejects converges."""
    source = MemoryStore()
    writers = [Author(make_key(50 + i), source) for i in range(3)]
    root = writers[0].document("root", "r")
    events = [root.wire] + [writers[a].link(root.id, f"{i:02x}" * 32).wire for i, a in enumerate(authors)]
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        store: EventStore = MemoryStore() if kind == "memory" else SQLiteStore(Path(scratch) / "log.sqlite")
        pending = [events[0]] + [events[1 + i] for i in order]
        for _ in range(len(pending)):
            results = store.append_many(pending)
            pending = [w for w, r in zip(pending, results) if r.status is Status.REJECTED]
        assert pending == []
        assert store.present(decode_ids(events)) == set(decode_ids(events))
        assert store.verify() == []
        if isinstance(store, SQLiteStore):
            store.close()


def test_header_only_wire_matches_event(keys: list[SigningKey]) -> None:
    store = MemoryStore()
    doc = Author(keys[0], store).document("s", "t")
    assert encode_wire(doc.signature, doc.header, None) != doc.wire

