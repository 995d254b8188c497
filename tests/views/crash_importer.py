"""Imports batches of forum events into a log with views, forever, printing
a line as it starts writing each batch and one once it is committed.

Run by test_crash.py, which kills it with SIGKILL after reading some lines.
Usage: python -m tests.views.crash_importer LOG_PATH SEED
"""

from __future__ import annotations

import random
import sys

from cliqueclique.eventlog import Action, Event, SQLiteStore
from cliqueclique.views import Change, crdt, open_views, state_bytes
from cliqueclique.views.signer import BatchSigner

from ..conftest import make_key

DOCS_PER_BATCH = 120


def batch(signers: list[BatchSigner], store: SQLiteStore, docs: list[str], rng: random.Random,
          n: int) -> list[Event]:
    """About 400 events: new posts (most of them replies), read marks and
    bookmarks, edits and deletions of earlier posts."""
    events: list[Event] = []
    by_id = {s.id: s for s in signers}
    for i in range(DOCS_PER_BATCH):
        signer = rng.choice(signers)
        post = signer.document(f"post {n}.{i}", f"words {rng.random()}")
        events.append(post)
        if docs:
            events.append(signer.link(rng.choice(docs), post.id))
        events.append(signer.subscription(post.id, rng.choice([Action.READ, Action.BOOKMARK])))
    for target in rng.sample(docs, min(len(docs), 30)):
        owner = by_id[_author(store, target)]
        update = crdt.make_update(state_bytes(store, target), owner.id, Change(body=f"edited {n}"))
        if update is not None:
            events.append(owner.edit(target, update))
    for target in rng.sample(docs, min(len(docs), 3)):
        events.append(by_id[_author(store, target)].delete(target, target))
        docs.remove(target)
    docs += [e.id for e in events if e.kind.value == "document"]
    return events


def _author(store: SQLiteStore, doc_id: str) -> str:
    event = store.get(doc_id)
    assert event is not None
    return event.author


def main(path: str, seed: int) -> None:
    store = open_views(SQLiteStore(path))
    rng = random.Random(seed)
    signers = [BatchSigner(make_key(seed + i), store) for i in range(3)]
    docs: list[str] = []
    n = 0
    while True:
        events = batch(signers, store, docs, rng, n)
        print("writing", len(events), flush=True)
        results = store.append_many(events, atomic=True)  # as `cliqueclique import` does
        assert all(r.error is None for r in results), [r.reason for r in results if r.error][:3]
        n += 1
        print("committed", store.last_position(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
