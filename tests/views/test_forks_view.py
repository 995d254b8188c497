"""A forked chain in the views: whichever twin a node holds, the thread hides
it (and what the author linked after it), so every holder shows the same."""

from __future__ import annotations

from cliqueclique.errors import BadPrev, Equivocation
from cliqueclique.eventlog import BatchSigner, SQLiteStore
from cliqueclique.views import thread

from ..conftest import make_key
from .conftest import Clock


def test_each_holder_hides_its_twin_and_the_rest_of_the_forked_chain(store: SQLiteStore) -> None:
    clock = Clock()
    owner, honest = BatchSigner(make_key(70), None, clock), BatchSigner(make_key(71), None, clock)
    root = owner.document("Forum", "welcome")
    east, west = BatchSigner(make_key(72), None, clock), BatchSigner(make_key(72), None, clock)
    doc_a, doc_b = east.document("twin", "east"), west.document("twin", "west")
    link_a, link_b = east.link(root.id, doc_a.id), west.link(root.id, doc_b.id)
    after = east.document("later", "on top of the east twin")
    link_after = east.link(root.id, after.id)
    fine = honest.document("honest", "reply")
    store.append_many([root, doc_a, link_a, after, link_after, fine, honest.link(root.id, fine.id)])
    shown = {e.id: e.hidden for _, e, _ in thread(store, root.id).walk()}
    assert shown[doc_a.id] is None and shown[after.id] is None  # no fork known yet

    results = store.append_many([doc_b, link_b])  # the west twin arrives: evidence
    assert isinstance(results[1].error, Equivocation)
    assert store.forks() == {(link_a.author, root.id): 1}
    shown = {e.id: e.hidden for _, e, _ in thread(store, root.id).walk()}
    assert shown[doc_a.id] is not None and shown[doc_a.id]["reason"].startswith("forked")
    assert shown[after.id] is not None  # later in the forked chain
    assert shown[fine.id] is None and doc_b.id not in shown  # the other twin is not linked here


def test_a_prev_that_names_an_unheld_event_is_evidence_of_a_fork_before_it(store: SQLiteStore) -> None:
    clock = Clock()
    owner = BatchSigner(make_key(73), None, clock)
    root = owner.document("Forum", "welcome")
    east, west = BatchSigner(make_key(74), None, clock), BatchSigner(make_key(74), None, clock)
    doc_a, doc_b, doc_c = east.document("a", "1"), west.document("b", "2"), west.document("c", "3")
    link_a, _, link_c = east.link(root.id, doc_a.id), west.link(root.id, doc_b.id), west.link(root.id, doc_c.id)
    store.append_many([root, doc_a, link_a, doc_c])
    (result,) = store.append_many([link_c])  # seq 2, on top of the west twin we never saw
    assert isinstance(result.error, BadPrev)
    assert store.forks() == {(link_a.author, root.id): 1}
    shown = {e.id: e.hidden for _, e, _ in thread(store, root.id).walk()}
    assert shown[doc_a.id] is not None
