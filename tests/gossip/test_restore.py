"""A restart indexes documents' links on first use (restore.py): whatever is
asked first, the machine answers as if it had indexed every one at start-up."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from nacl.signing import SigningKey

from cliqueclique.eventlog import Action, Author, MemoryStore, node_id
from cliqueclique.gossip.node import GossipNode
from cliqueclique.views import BatchSigner


def log() -> tuple[MemoryStore, str, dict[str, str]]:
    """Two subscribed forums, replies, a reply linked from both, a subscribed
    and bookmarked reply with a reply of its own, and a reply the log lacks."""
    key = SigningKey(bytes([7]) * 32)
    store = MemoryStore()
    author = Author(key, store, clock=lambda: 0)
    a = author.post("a", "forum a")[0].id
    b = author.post("b", "forum b")[0].id
    r1 = author.post("r1", "reply", parent=a)[0].id
    r2 = author.post("r2", "reply", parent=b)[0].id
    author.link(b, r1)  # r1 is a child of both forums
    r3 = author.post("r3", "reply", parent=r2)[0].id  # subscribes to r2 too
    author.subscription(r2, Action.BOOKMARK)
    absent = BatchSigner(SigningKey(bytes([9]) * 32), clock=lambda: 0).document("gone", "never appended")
    author.link(a, absent.id)
    return store, node_id(key), {"a": a, "b": b, "r1": r1, "r2": r2, "r3": r3, "absent": absent.id}


def state(g: GossipNode) -> tuple[object, ...]:
    carried = set(g._carried)  # restores every pending document
    return (dict(g._children), dict(g._parents), carried, g.held_documents(),
            {d: g.scope(p) for d, p in g._docs.items()}, {d: g.digests(p) for d, p in g._docs.items()})


FIRST: list[Callable[[GossipNode, dict[str, str]], object]] = [
    lambda g, ids: g.holds(ids["r1"]),
    lambda g, ids: g.holds(ids["r3"]),
    lambda g, ids: g.scope(g._docs[ids["b"]]),
    lambda g, ids: g.progress(ids["a"]),
    lambda g, ids: g.has_subscribed_parent(ids["r2"]),
    lambda g, ids: g.handle_timer(1.0),
    lambda g, ids: g.held_documents(),
]


@pytest.mark.parametrize("first", range(len(FIRST)))
def test_whatever_is_asked_first_the_answers_are_those_of_a_full_index(first: int) -> None:
    store, me, ids = log()
    eager = GossipNode(me, store, random.Random(1))
    eager._lazy.restore_all()  # what start-up used to do for every document
    lazy = GossipNode(me, store, random.Random(1))
    assert lazy._lazy.pending  # nothing indexed yet
    FIRST[first](lazy, ids)
    assert state(lazy) == state(eager)
    assert ids["r1"] in lazy._carried and ids["r3"] in lazy._carried
    assert ids["absent"] not in lazy._carried  # linked, but the log lacks it


def test_a_carried_child_is_known_before_its_forum_is_asked_about() -> None:
    store, me, ids = log()
    g = GossipNode(me, store, random.Random(1))
    assert g.holds(ids["r1"])  # restores the forums that link it, and only those
    assert ids["a"] not in g._lazy.pending and ids["b"] not in g._lazy.pending
