"""Reactions: each node's latest event per reaction counts, the same on every
node whatever order the chains arrive in, and after a replay."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliqueclique.errors import MissingDependency
from cliqueclique.eventlog import Author, Event, SQLiteStore
from cliqueclique.views import BatchSigner, document_state, dump, react, reactions, replay, retract
from cliqueclique.views.errors import BadReaction, DocumentDeleted, NotADocument

from ..conftest import make_key
from .conftest import Clock, open_store

#: (author, reaction, on) in each author's chain order
SCRIPT = [
    (0, "+1", True), (0, "heart", True), (0, "+1", False), (0, "+1", True),
    (1, "+1", True), (1, "🎉", True), (1, "🎉", False),
    (2, "heart", True), (2, "+1", True), (2, "heart", False), (2, "heart", True),
]


def scripted() -> tuple[Event, list[list[Event]], list[str]]:
    """A document and three authors' reaction chains (each in chain order)."""
    clock = Clock()
    signers = [BatchSigner(make_key(20 + i), None, clock) for i in range(3)]
    doc = signers[0].document("Vote", "react here")
    chains: list[list[Event]] = [[], [], []]
    for who, reaction, on in SCRIPT:
        chains[who].append(signers[who].react(doc.id, reaction, on))
    return doc, chains, [s.id for s in signers]


def expected(ids: list[str]) -> dict[str, list[str]]:
    latest = {}
    for who, reaction, on in SCRIPT:
        latest[(ids[who], reaction)] = on
    found: dict[str, list[str]] = {}
    for (node, reaction), on in sorted(latest.items()):
        if on:
            found.setdefault(reaction, []).append(node)
    return dict(sorted(found.items(), key=lambda item: (-len(item[1]), item[0])))


def interleave(chains: list[list[Event]], turns: list[int]) -> list[Event]:
    """The chains merged in the order `turns` names them (each chain stays in order)."""
    queues = [list(chain) for chain in chains]
    return [queues[who].pop(0) for who in turns]


TURNS = [who for who, _, _ in SCRIPT]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(st.permutations(TURNS), min_size=2, max_size=3), sizes=st.integers(1, 5))
def test_any_delivery_order_gives_the_same_reactions(orders: list[list[int]], sizes: int) -> None:
    doc, chains, ids = scripted()
    want = expected(ids)
    assert want == {"+1": sorted(ids), "heart": sorted([ids[0], ids[2]])}
    with tempfile.TemporaryDirectory() as tmp:
        dumps = []
        for n, turns in enumerate(orders):
            store = open_store(Path(tmp) / f"s{n}.sqlite")
            store.append(doc)
            events = interleave(chains, turns)
            for start in range(0, len(events), sizes):  # batches: every view state in between is one too
                results = store.append_many(events[start:start + sizes])
                assert all(r.error is None for r in results), [r.reason for r in results]
            assert reactions(store, doc.id) == want
            assert document_state(store, doc.id).reactions == want
            dumps.append(dump(store.db, with_positions=False))
            replay(store)
            assert dump(store.db, with_positions=False) == dumps[-1]
            store.close()
        assert all(d == dumps[0] for d in dumps)


def test_retraction_and_counting_once_per_node(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, c = authors
    doc = a.document("Poll", "yes?")
    for author in (a, b, c):
        react(author, store, doc.id, "+1")
    react(b, store, doc.id, "+1")  # again: still one
    react(c, store, doc.id, "heart")
    assert reactions(store, doc.id) == {"+1": sorted([a.id, b.id, c.id]), "heart": [c.id]}
    react(a, store, doc.id, "+1", on=False)
    react(c, store, doc.id, "heart", on=False)
    assert reactions(store, doc.id) == {"+1": sorted([b.id, c.id])}
    react(c, store, doc.id, "heart", on=False)  # retracting what is off changes nothing
    react(a, store, doc.id, "zzz")
    react(b, store, doc.id, "aaa")
    assert list(reactions(store, doc.id)) == ["+1", "aaa", "zzz"]  # most used, then by label


def test_reacting_needs_a_live_document(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, _ = authors
    with pytest.raises(MissingDependency):  # the log itself refuses it
        b.react("ab" * 32, "+1")
    with pytest.raises(NotADocument):
        react(b, store, "ab" * 32, "+1")
    with pytest.raises(NotADocument):
        reactions(store, "ab" * 32)
    doc = a.document("Short-lived", "text")
    with pytest.raises(BadReaction):
        react(b, store, doc.id, " ")
    with pytest.raises(BadReaction):
        react(b, store, doc.id, "x" * 33)
    react(b, store, doc.id, "+1")
    before = dump(store.db)
    retract(a, store, doc.id)
    assert reactions(store, doc.id) == {} and document_state(store, doc.id).reactions == {}
    assert dump(store.db)["reactions"] == [] and before["reactions"]
    with pytest.raises(DocumentDeleted):
        react(b, store, doc.id, "heart")
    with pytest.raises(MissingDependency, match="deleted"):
        b.react(doc.id, "heart")
    after = dump(store.db)
    replay(store)
    assert dump(store.db) == after
