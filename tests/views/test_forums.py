"""`forums`: the followed top-level documents with reply, unread and activity counts."""

from __future__ import annotations

import time

from cliqueclique.eventlog import Action, Author, SQLiteStore
from cliqueclique.views import BatchSigner, Change, edit_document, forums, mark, retract

from ..conftest import make_key
from .conftest import Clock


def test_forums_summarise_their_threads(store: SQLiteStore, authors: list[Author]) -> None:
    a, b, c = authors
    old, _ = a.post("Old forum", "quiet")  # posting a forum subscribes its author
    busy, _ = a.post("Busy forum", "welcome")
    r1, _ = b.post("First reply", "hi", parent=busy.id)
    r2, _ = c.post("Nested", "deeper", parent=r1.id)
    r3, _ = b.post("Gone", "soon deleted", parent=busy.id)
    a.link(r2.id, r1.id)  # a cycle below the root is walked once
    a.link(old.id, r2.id)  # shared with the other forum
    c.post("Not followed by a", "elsewhere")
    mark(a, store, r1.id, Action.READ)
    retract(b, store, r3.id)
    edit_document(a, store, busy.id, Change(title="Busy forum (renamed)"))

    listed = forums(store, a.id)
    assert [f.id for f in listed] == [busy.id, old.id]  # r3, the newest document, is in busy's thread
    top = listed[0]
    assert top.to_json() == {"id": busy.id, "subject": "Busy forum (renamed)", "owner": a.id, "replies": 2,
                             "unread": 1, "last_activity": store.get(r3.id).timestamp,  # type: ignore[union-attr]
                             "deleted": False}
    # a's own root counts as read, r1 is marked read, r2 (c's) is unread, deleted r3 counts for nothing
    assert (listed[1].replies, listed[1].unread) == (2, 1)  # r2, and r1 below it through the cross-link
    # replying subscribes to the parent: b follows busy (not r1, which is no forum)
    assert [(f.id, f.unread) for f in forums(store, b.id)] == [(busy.id, 2)]  # the root and r2

    retract(a, store, old.id)
    gone = next(f for f in forums(store, a.id) if f.id == old.id)
    assert (gone.deleted, gone.subject, gone.replies) == (True, None, 2)
    mark(a, store, busy.id, Action.UNSUBSCRIBE)
    assert [f.id for f in forums(store, a.id)] == [old.id]


def test_a_forum_of_ten_thousand_replies_is_summarised_quickly(store: SQLiteStore) -> None:
    signer = BatchSigner(make_key(40), store, Clock())
    root = signer.document("Huge", "forum")
    events = [root, signer.subscription(root.id, Action.SUBSCRIBE)]
    parents = [root.id]
    for i in range(10_000):
        reply = signer.document(f"reply {i}", "text")
        events += [reply, signer.link(parents[i // 3], reply.id)]  # a tree: three replies each
        parents.append(reply.id)
    results = store.append_many(events)
    assert all(r.error is None for r in results)
    reader = make_key(41).verify_key.encode().hex()
    store.append(BatchSigner(make_key(41), store).subscription(root.id, Action.SUBSCRIBE))
    started = time.perf_counter()
    (forum,) = forums(store, reader)
    elapsed = time.perf_counter() - started
    assert (forum.replies, forum.unread) == (10_000, 10_001)
    assert elapsed < 0.5, f"{elapsed:.2f} s"
