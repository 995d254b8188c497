"""Every hot query of the log uses its index (issue 16: export was quadratic).

Each store method is called for real while SQLite's trace hook records the
statements it runs (with their parameters filled in); each is then put
through EXPLAIN QUERY PLAN. A hot query that stops using the index it was
written for, or that scans the whole events table, fails here, whatever
the size of the test log (the planner's choice does not depend on it
without ANALYZE, which we never run).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cliqueclique.eventlog import Action, BatchSigner, Kind, SQLiteStore

from ..conftest import make_key

FULL_SCAN = re.compile(r"^SCAN events\b")


def statements(store: SQLiteStore, call: Callable[[], Any]) -> list[str]:
    """The SELECT statements `call` runs, parameters expanded."""
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    finally:
        store.db.conn.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def plans(store: SQLiteStore, call: Callable[[], Any]) -> list[list[str]]:
    return [[row[3] for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + sql)]
            for sql in statements(store, call)]


@pytest.fixture(scope="module")
def thread_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SQLiteStore, str, str]]:
    store = SQLiteStore(tmp_path_factory.mktemp("plans") / "log.sqlite")
    signer = BatchSigner(make_key(1), store)
    root = signer.document("forum", "hi")
    events = [root]
    for i in range(30):
        reply = signer.document(f"reply {i}", "t")
        events += [reply, signer.link(root.id, reply.id), signer.react(reply.id, "+1")]
    events.append(signer.subscription(root.id, Action.SUBSCRIBE))
    store.append_many(events)
    yield store, root.id, make_key(1).verify_key.encode().hex()
    store.close()


def _store_calls(store: SQLiteStore, root: str, author: str) -> dict[str, tuple[Callable[[], Any], str]]:
    """name -> (the call, the index its query must use)."""
    calls: dict[str, tuple[Callable[[], Any], str]] = {
        "get": (lambda: store.get(root), "sqlite_autoindex_events_1 (id=?)"),
        "position_of": (lambda: store.position_of(root), "sqlite_autoindex_events_1 (id=?)"),
        "head": (lambda: store.head(author, root), "events_chain (author=? AND network=?)"),
        "heads_many": (lambda: store.heads_many([root]), "events_network (network=?)"),
        "events_in": (lambda: store.events_in([root]), "events_network (network=?)"),
        "chain_after": (lambda: store.chain_after(author, root, 1), "events_chain (author=? AND network=? AND seq>?)"),
        "at": (lambda: store.at(author, root, 2), "events_chain (author=? AND network=? AND seq=?)"),
        "is_deleted": (lambda: store.is_deleted(root), "events_network_kind (network=? AND kind=?)"),
        "editor_grants": (lambda: store.editor_grants(root, author), "events_chain (author=? AND network=?)"),
        "present": (lambda: store.present([root]), "sqlite_autoindex_events_1 (id=?)"),
        "ids_with_prefix": (lambda: store.ids_with_prefix(root[:6]), "sqlite_autoindex_events_1 (id>? AND id<?)"),
        "ids_with_prefix of a kind": (lambda: store.ids_with_prefix(root[:6], Kind.DOCUMENT),
                                      "sqlite_autoindex_events_1 (id>? AND id<?)"),
        "positions_after": (lambda: store.positions_after(3), "INTEGER PRIMARY KEY (rowid>?)"),
    }
    expected = {  # (network, author, kind) given -> index
        (False, False, False): "INTEGER PRIMARY KEY (rowid>?)",
        (False, False, True): "events_kind (kind=? AND position>?)",
        (False, True, False): "events_chain (author=?)",
        (False, True, True): "events_chain (author=?)",
        (True, False, False): "events_network (network=? AND position>?)",
        (True, False, True): "events_network_kind (network=? AND kind=? AND position>?)",
        (True, True, False): "events_network (network=? AND position>?)",
        (True, True, True): "events_network_kind (network=? AND kind=? AND position>?)",
    }
    for n, a, k in itertools.product([False, True], repeat=3):
        calls[f"events network={n} author={a} kind={k}"] = (
            lambda n=n, a=a, k=k: store.events(network=root if n else None, author=author if a else None,
                                               kind=Kind.LINK if k else None, after=1),
            expected[(n, a, k)])
    return calls


CALL_NAMES = list(_store_calls(None, "", "").keys())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", CALL_NAMES)
def test_hot_store_query_uses_its_index(thread_log: tuple[SQLiteStore, str, str], name: str) -> None:
    store, root, author = thread_log
    call, index = _store_calls(store, root, author)[name]
    found = plans(store, call)
    assert found, "the call ran no query"
    for plan in found:
        assert not any(FULL_SCAN.match(step) for step in plan), plan
        assert any(index in step for step in plan), (index, plan)


def test_the_gossip_link_query_uses_the_network_kind_index(thread_log: tuple[SQLiteStore, str, str]) -> None:
    """The regression itself: by network and kind used events_kind (every link of the log)."""
    store, root, _ = thread_log
    (plan,) = plans(store, lambda: store.events(network=root, kind=Kind.LINK))
    assert plan == ["SEARCH events USING INDEX events_network_kind (network=? AND kind=? AND position>?)"]


def test_an_existing_log_gets_the_new_index(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    SQLiteStore(path).close()
    with SQLiteStore(path) as store:
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "events_network_kind" in names
