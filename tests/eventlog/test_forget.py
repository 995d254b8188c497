"""Forgetting whole networks (garbage collection, cliqueclique/gc.py) in both
logs: chains go whole, positions are never reused, the views end as a replay
of what is left would build them, and a failure forgets nothing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from cliqueclique.errors import StoreError
from cliqueclique.eventlog import Action, Author, BatchSigner, EventStore, MemoryStore, SQLiteStore, node_id
from cliqueclique.gc import collect, sweep
from cliqueclique.views import open_views, schema
from cliqueclique.views.crdt import Change
from cliqueclique.views.directory import add_entry, create_directory
from cliqueclique.views.documents import edit_document
from cliqueclique.views.replay import replay

SECRET = "zebrafish"


def forum(store: EventStore, key: SigningKey) -> tuple[str, list[str]]:
    """A forum by `key` with replies, an edit and a reaction (all in the log)."""
    author = Author(key, store)
    root, _ = author.post(f"Forum {SECRET}", f"welcome {SECRET} " * 200)
    replies = [author.post(f"Re {i} {SECRET}", f"reply {SECRET} " * 200, parent=root.id)[0].id
               for i in range(3)]
    author.react(replies[0], "+1")
    return root.id, replies


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EventStore:
    if request.param == "memory":
        return MemoryStore()
    return open_views(SQLiteStore(tmp_path / "log.sqlite"))


def test_a_forgotten_network_goes_whole(store: EventStore, keys: list[SigningKey]) -> None:
    me = node_id(keys[0])
    root, replies = forum(store, keys[1])
    mine, _ = Author(keys[0], store).post("Mine", "kept", parent=None)
    last = store.last_position()
    report = sweep(store, me, now=1_000, retention=0)
    assert report.forgotten == sorted({root, *replies, node_id(keys[1])})  # bob's own network is stray here
    assert report.documents == 4 and report.events == 4 + 3 + 1 + 4  # documents, links, a reaction, subscriptions
    assert store.networks() == {me, mine.id}
    assert store.verify() == []
    assert store.last_position() == last  # positions are never given again
    again, _ = Author(keys[0], store).post("After", "a new one")
    assert [s.event.id for s in store.events(after=last)][0] == again.id
    records = {r.network: r for r in store.forgotten()}
    assert set(records) == set(report.forgotten) and records[root].document and records[root].forgotten_at == 1_000
    # Received again later, it is like any new document.
    source = MemoryStore()
    forum_again = forum(source, keys[1])
    results = store.append_many([s.event.wire for s in source.events()])
    assert all(r.status.value == "accepted" for r in results) and forum_again[0] != root
    assert store.verify() == []


def test_views_are_what_a_replay_builds(tmp_path: Path, keys: list[SigningKey]) -> None:
    store = open_views(SQLiteStore(tmp_path / "log.sqlite"))
    me = node_id(keys[0])
    root, replies = forum(store, keys[1])
    bob = Author(keys[1], store)
    edit_document(bob, store, replies[1], Change(body=f"edited {SECRET}"))
    directory = create_directory(BatchSigner(keys[1]), store, f"Dir {SECRET}")
    add_entry(keys[1], store, directory.id, replies[2])
    ours = Author(keys[0], store)
    kept, _ = ours.post("Kept", "ours", parent=None)
    ours.post("Ours below bob's reply", "x", parent=replies[0])  # keeps replies[0] and the forum above it
    ours.subscription(root, Action.UNSUBSCRIBE)
    report = collect(store, me, now=int(time.time() * 1000), retention=0)
    assert root not in report.forgotten and replies[0] not in report.forgotten
    assert replies[1] in report.forgotten and directory.id in report.forgotten
    after = schema.dump(store.db, with_positions=False)
    replay(store)
    assert schema.dump(store.db, with_positions=False) == after
    assert store.verify() == []


def test_the_text_leaves_the_files(tmp_path: Path, keys: list[SigningKey]) -> None:
    path = tmp_path / "log.sqlite"
    store = open_views(SQLiteStore(path))
    forum(store, keys[1])
    store.checkpoint()  # as collect does first: the WAL's own size is not reclaimed space
    before = store.file_bytes()
    report = collect(store, node_id(keys[0]), now=1, retention=0)
    assert report.documents == 4 and 0 < report.bytes_reclaimed <= before
    assert store.file_bytes() == before - report.bytes_reclaimed
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert SECRET.encode() not in raw


def test_an_old_log_without_auto_vacuum_is_converted(tmp_path: Path, keys: list[SigningKey]) -> None:
    path = tmp_path / "log.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA auto_vacuum=NONE")
    conn.execute("CREATE TABLE placeholder (x)")  # a file made before auto_vacuum was set
    conn.close()
    store = open_views(SQLiteStore(path))
    assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    forum(store, keys[1])
    report = collect(store, node_id(keys[0]), now=1, retention=0)
    assert report.bytes_reclaimed > 0
    assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())


def test_a_failure_forgets_nothing(tmp_path: Path, keys: list[SigningKey]) -> None:
    store = open_views(SQLiteStore(tmp_path / "log.sqlite"))
    me = node_id(keys[0])
    root, _ = forum(store, keys[1])
    sweep(store, me, now=1, retention=10)  # marks them
    marks = store.gc_marks()
    views = schema.dump(store.db)
    count = store.count()
    # The very last write of the transaction fails: everything before it goes back.
    store.db.execute("CREATE TRIGGER boom BEFORE INSERT ON gc_forgotten BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(StoreError):
        sweep(store, me, now=100_000, retention=10)
    assert store.count() == count and store.get(root) is not None
    assert schema.dump(store.db) == views and store.gc_marks() == marks and store.forgotten() == []
    store.db.execute("DROP TRIGGER boom")
    assert root in sweep(store, me, now=100_000, retention=10).forgotten


def test_marks_survive_reopening(tmp_path: Path, keys: list[SigningKey]) -> None:
    path = tmp_path / "log.sqlite"
    store = open_views(SQLiteStore(path))
    me = node_id(keys[0])
    root, _ = forum(store, keys[1])
    first = sweep(store, me, now=1_000, retention=60)
    assert first.forgotten == [] and store.gc_marks()[root] == 1_000
    store.close()
    store = open_views(SQLiteStore(path))
    assert sweep(store, me, now=50_000, retention=60).forgotten == []
    assert root in sweep(store, me, now=61_000, retention=60).forgotten
