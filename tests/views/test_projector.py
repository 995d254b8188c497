"""The projector keeps the views in step with the log, whoever appends."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliqueclique.eventlog import Author, SQLiteStore
from cliqueclique.views import (
    Filters,
    document_state,
    dump,
    find,
    open_views,
    replay,
    schema,
    thread,
)
from cliqueclique.views.errors import ViewsNotAttached
from cliqueclique.views.signer import BatchSigner

from ..conftest import make_key
from .conftest import Clock, open_store


def small_forum(store: SQLiteStore) -> str:
    author = Author(make_key(5), store, Clock())
    root, _ = author.post("Root", "root text")
    for i in range(5):
        author.post(f"Reply {i}", f"reply text {i}", parent=root.id)
    return root.id


def test_views_catch_up_with_events_appended_without_them(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    plain = SQLiteStore(path)  # e.g. an older program, or a writer without views
    root = small_forum(plain)
    with pytest.raises(ViewsNotAttached):
        thread(plain, root)
    plain.close()
    store = open_store(path)
    assert thread(store, root).count() == 6
    assert set(schema.positions(store.db).values()) == {store.last_position()}
    caught_up = dump(store.db)
    replay(store)
    assert dump(store.db) == caught_up


def test_queries_see_events_another_connection_appended(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    store = open_store(path)
    root = small_forum(store)
    other = SQLiteStore(path)  # a second writer on the same file, without views
    Author(make_key(6), other, Clock(1_800_000_000_000)).post("Late", "late", parent=root)
    other.close()
    assert thread(store, root).replies == 6


def test_views_of_another_schema_version_are_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    store = open_store(path)
    root = small_forum(store)
    before = dump(store.db)
    store.db.execute("UPDATE view_state SET schema = 0")
    store.db.execute("DELETE FROM edges")
    store.close()
    store = open_store(path)
    assert dump(store.db) == before
    assert thread(store, root).replies == 5


def test_a_rejected_batch_leaves_no_trace_in_the_views(store: SQLiteStore) -> None:
    root = small_forum(store)
    before = dump(store.db)
    signer = BatchSigner(make_key(7), store, Clock())
    good = signer.document("Would be fine", "x")
    link = signer.link(root, good.id)
    stranger_edit = BatchSigner(make_key(8), store).edit(root, b"\x00\x00")  # not an editor
    results = store.append_many([good, link, stranger_edit], atomic=True)
    assert all(r.error is not None for r in results)
    assert dump(store.db) == before
    assert find(store, Filters(text="fine")) == []


def test_open_views_is_idempotent(store: SQLiteStore) -> None:
    root = small_forum(store)
    assert open_views(store) is store
    assert sum(1 for p in store.projectors if type(p).__name__ == "Views") == 1
    assert document_state(store, root).body == "root text"
