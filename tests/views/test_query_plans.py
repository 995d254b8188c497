"""The views' hot queries use their indexes (issue 16): the thread page, find,
a document's state, reactions and the forum list never scan a whole table
of the log or the views (a listing ordered by time walks docs_time, which is
what that index is for)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cliqueclique.eventlog import Action, SQLiteStore
from cliqueclique.views import BatchSigner, Filters, document_state, find, forums, reactions, thread

from ..conftest import make_key
from ..eventlog.test_query_plans import plans
from .conftest import open_store

# A full scan of a table (an index walk named docs_time is the time-ordered listing).
FULL_SCAN = re.compile(r"^SCAN (events|docs|d|edges|e|reactions|doc_props|doc_state|local_flags|f)\b"
                       r"(?! USING (COVERING )?INDEX docs_time)")


@pytest.fixture(scope="module")
def forum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SQLiteStore, str, str]]:
    store = open_store(tmp_path_factory.mktemp("view-plans") / "log.sqlite")
    signer = BatchSigner(make_key(1), store)
    root = signer.document("forum", "hi")
    events = [root, signer.subscription(root.id, Action.SUBSCRIBE), signer.react(root.id, "+1")]
    for i in range(30):
        reply = signer.document(f"reply {i}", "t")
        events += [reply, signer.link(root.id, reply.id)]
    store.append_many(events)
    yield store, root.id, make_key(1).verify_key.encode().hex()
    store.close()


def _calls(store: SQLiteStore, root: str, node: str) -> dict[str, Callable[[], Any]]:
    return {
        "thread": lambda: thread(store, root, node=node),
        "find text": lambda: find(store, Filters(node=node, text="reply")),
        "find top level": lambda: find(store, Filters(node=node, top_level=True)),
        "find under": lambda: find(store, Filters(under=root)),
        "find children": lambda: find(store, Filters(children_of=root)),
        "find unread": lambda: find(store, Filters(node=node, unread=True)),
        "document_state": lambda: document_state(store, root),
        "reactions": lambda: reactions(store, root),
        "forums": lambda: forums(store, node),
    }


@pytest.mark.parametrize("name", list(_calls(None, "", "")))  # type: ignore[arg-type]
def test_hot_view_query_uses_indexes(forum: tuple[SQLiteStore, str, str], name: str) -> None:
    store, root, node = forum
    found = plans(store, _calls(store, root, node)[name])
    assert found
    for plan in found:
        assert not [step for step in plan if FULL_SCAN.match(step)], plan
