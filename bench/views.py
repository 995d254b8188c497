"""Views benchmark: thread rendering, full replay, directory prefix search.

Builds three real SQLite logs (with the views attached, appended in batches)
and prints one JSON object:

- ``thread_replies`` / ``thread_ms``: the full tree of a thread with 10,000
  replies from the API (`views.thread`, with unread marks), median of 5 runs;
  target < 300 ms.
- ``replay_events`` / ``replay_per_s``: `views.replay` over a log of 100,000
  mixed events (posts, replies, cross-links, pycrdt edits, subscriptions,
  deletions of documents and links); target >= 20,000 events/s.
- ``dir_entries`` / ``dir_search_ms`` / ``dir_touched_docs``: median time and
  documents read by 3-character prefix searches in a directory of 100,000
  entries (random five-letter subjects over 12 letters); target < 20 ms.

Generating and signing the events takes a few minutes; only the measured
calls are timed.

    python bench/views.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl.signing import SigningKey

from cliqueclique.eventlog import Action, Direction, Event, SQLiteStore
from cliqueclique.views import (
    BatchSigner,
    Change,
    add_entries,
    crdt,
    create_directory,
    open_views,
    replay,
    search_directory,
    thread,
)

BATCH = 5000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        self.now += 7
        return self.now


def signers(count: int, store: SQLiteStore) -> list[BatchSigner]:
    clock = Clock()
    return [BatchSigner(SigningKey(bytes([i + 1]) * 32), store, clock) for i in range(count)]


def append(store: SQLiteStore, events: list[Event]) -> None:
    for i in range(0, len(events), BATCH):
        results = store.append_many(events[i:i + BATCH])
        bad = [r.reason for r in results if r.error is not None]
        assert not bad, bad[:3]


def timed(call: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


# --- thread ---------------------------------------------------------------------------------


def bench_thread(path: Path, replies: int) -> dict[str, float]:
    store = open_views(SQLiteStore(path))
    rng = random.Random(1)
    people = signers(50, store)
    reader = people[0]
    root = people[1].document("A busy thread", "Say something.")
    docs, events = [root.id], [root]
    for i in range(replies):
        who = rng.choice(people)
        doc = who.document(f"Re: point {i}", f"My view on point {i}: " + "words " * 20)
        events += [doc, who.link(rng.choice(docs), doc.id)]
        docs.append(doc.id)
        if rng.random() < 0.3:
            events.append(reader.subscription(doc.id, Action.READ))
    authors = {e.id: e.author for e in events}
    by_id = {p.id: p for p in people}
    for gone in rng.sample(docs[1:], replies // 100):
        events.append(by_id[authors[gone]].delete(gone, gone))
    log(f"thread: appending {len(events)} events")
    append(store, events)
    ms, tree = timed(lambda: thread(store, root.id, node=reader.id), 5)
    entries = tree.count()  # type: ignore[attr-defined]
    depth = max(d for d, _, _ in tree.walk())  # type: ignore[attr-defined]
    assert entries == replies + 1
    store.close()
    return {"thread_replies": replies, "thread_ms": round(ms, 1), "thread_depth": depth}


# --- replay -----------------------------------------------------------------------------------


class MixedForum:
    """A forum's worth of mixed events by 20 authors, edits included."""

    def __init__(self, store: SQLiteStore, rng: random.Random) -> None:
        self.rng = rng
        self.people = signers(20, store)
        self.docs: list[tuple[str, BatchSigner, list[BatchSigner]]] = []
        self.states: dict[str, bytes] = {}
        self.links: list[tuple[Event, BatchSigner]] = []
        self.events: list[Event] = []

    def post(self, parent: str | None) -> None:
        who = self.rng.choice(self.people)
        editors = self.rng.sample(self.people, 3)
        subject, text = f"Topic {len(self.docs)}", "Some text about it. " * self.rng.randint(1, 8)
        doc = who.document(subject, text, editors=[e.id for e in editors if e is not who])
        self.events.append(doc)
        self.docs.append((doc.id, who, [who, *editors]))
        self.states[doc.id] = crdt.seed(subject, text)
        if parent is not None:
            link = who.link(parent, doc.id, Direction.REVERSED if self.rng.random() < 0.05 else
                            Direction.NATURAL)
            self.events.append(link)
            self.links.append((link, who))

    def edit(self) -> None:
        doc, _, allowed = self.rng.choice(self.docs)
        who = self.rng.choice(allowed)
        if self.rng.random() < 0.25:  # a reaction: its own event, no edit rights needed
            self.events.append(who.react(doc, self.rng.choice(["+1", "heart", "laugh"]),
                                         on=self.rng.random() < 0.8))
            return
        fields = crdt.read(self.states[doc])
        change = self.rng.choice([
            Change(body=fields.body + f" Edited by {who.id[:6]}."),
            Change(title=fields.title + " (updated)"),
            Change(add_tags=[self.rng.choice(["news", "help", "meta", "fun"])]),
        ])
        update = crdt.make_update(self.states[doc], who.id, change)
        if update is not None:
            self.events.append(who.edit(doc, update))
            self.states[doc] = crdt.merge(self.states[doc], [update])[0]

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.05 or not self.docs:
            self.post(None)
        elif roll < 0.45:
            self.post(self.rng.choice(self.docs)[0])
        elif roll < 0.65:
            self.edit()
        elif roll < 0.85:
            doc = self.rng.choice(self.docs)[0]
            action = self.rng.choice([Action.READ, Action.SUBSCRIBE, Action.BOOKMARK, Action.UNREAD])
            self.events.append(self.rng.choice(self.people).subscription(doc, action))
        elif roll < 0.93:
            (parent, *_), (child, *_) = self.rng.sample(self.docs, 2)
            who = self.rng.choice(self.people)
            link = who.link(parent, child)
            self.events.append(link)
            self.links.append((link, who))
        elif roll < 0.97 and len(self.docs) > 10:
            doc, owner, _ = self.docs.pop(self.rng.randrange(len(self.docs)))
            self.events.append(owner.delete(doc, doc))
        elif self.links:
            link, owner = self.links.pop(self.rng.randrange(len(self.links)))
            self.events.append(owner.delete(link.id, link.network))


def bench_replay(path: Path, count: int) -> dict[str, float]:
    store = open_views(SQLiteStore(path))
    forum = MixedForum(store, random.Random(2))
    while len(forum.events) < count:
        forum.step()
    events = forum.events[:count]
    log(f"replay: appending {len(events)} events")
    start = time.perf_counter()
    append(store, events)
    ingest = len(events) / (time.perf_counter() - start)
    kinds = {k: sum(1 for e in events if e.kind.value == k)
             for k in ("document", "link", "edit", "subscription", "deletion")}
    log(f"replay: kinds {kinds}")
    start = time.perf_counter()
    replayed = replay(store)
    seconds = time.perf_counter() - start
    store.close()
    return {"replay_events": replayed, "replay_per_s": round(replayed / seconds),
            "replay_s": round(seconds, 2), "append_with_views_per_s": round(ingest)}


# --- directory --------------------------------------------------------------------------------


def bench_directory(path: Path, entries: int) -> dict[str, float]:
    store = open_views(SQLiteStore(path))
    rng = random.Random(3)
    letters = "etaoinsrhldu"
    subjects: set[str] = set()
    while len(subjects) < entries:
        subjects.add("".join(rng.choice(letters) for _ in range(5)))
    people = signers(10, store)
    docs = [rng.choice(people).document(s, "An entry of the directory.") for s in sorted(subjects)]
    rng.shuffle(docs)
    log(f"directory: appending {len(docs)} documents")
    append(store, docs)
    directory = create_directory(people[0], store, "Everything").id
    log("directory: building the trie")
    added = add_entries(people[0].key, store, directory, [d.id for d in docs], batch_size=BATCH)
    log(f"directory: {added} trie events")
    prefixes = rng.sample(sorted({s[:3] for s in subjects}), 200)
    search_directory(store, directory, prefixes[0])  # warm the page cache once
    times, touched, matches = [], [], []
    for prefix in prefixes:
        start = time.perf_counter()
        result = search_directory(store, directory, prefix)
        times.append((time.perf_counter() - start) * 1000)
        touched.append(result.touched)
        matches.append(len(result.matches))
        assert all(m.subject.startswith(prefix) for m in result.matches)
    store.close()
    return {"dir_entries": entries, "dir_search_ms": round(statistics.median(times), 2),
            "dir_touched_docs": statistics.median(touched),
            "dir_matches": statistics.median(matches), "dir_trie_events": added}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every size (for a quick look)")
    args = parser.parse_args()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out.update(bench_thread(Path(tmp) / "thread.sqlite", int(10_000 * args.scale)))
        out.update(bench_replay(Path(tmp) / "replay.sqlite", int(100_000 * args.scale)))
        out.update(bench_directory(Path(tmp) / "dir.sqlite", int(100_000 * args.scale)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
