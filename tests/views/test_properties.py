"""Views are folds over the log: incremental == replayed, and the same events
delivered in any causal order (or after a purge) give the same views."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliqueclique.views import dump, replay

from .conftest import open_store
from .forum_model import EDIT_OPS, OPS, Forum, causal_shuffle


def operations(kinds: tuple[str, ...], least: int, most: int
               ) -> st.SearchStrategy[list[tuple[str, int, int, int]]]:
    return st.lists(st.tuples(st.sampled_from(kinds), st.integers(0, 5), st.integers(0, 10_000),
                              st.integers(0, 10_000)), min_size=least, max_size=most)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations(OPS, 1, 30), seed=st.integers(0, 2**32))
def test_views_are_a_function_of_the_events(ops: list[tuple[str, int, int, int]], seed: int) -> None:
    check_views(ops, seed, open_editing=False, largest_batch=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations(EDIT_OPS, 6, 25), seed=st.integers(0, 2**32))
def test_concurrent_edits_converge_on_every_node(ops: list[tuple[str, int, int, int]], seed: int) -> None:
    check_views([("post", 0, 0, 1), *ops], seed, open_editing=True, largest_batch=2)


def check_views(ops: list[tuple[str, int, int, int]], seed: int, *, open_editing: bool,
                largest_batch: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        first = open_store(Path(tmp) / "first.sqlite")
        events = Forum(first, open_editing=open_editing).run(ops)
        incremental = dump(first.db)

        # (a) dropping every view and folding the log again gives the same tables
        assert replay(first) == len(events)
        assert dump(first.db) == incremental

        # (b) another node receiving the same events in another causal order,
        # in batches of random sizes
        second = open_store(Path(tmp) / "second.sqlite")
        order = causal_shuffle(events, rng)
        while order:
            size = rng.randint(1, largest_batch)
            results = second.append_many(order[:size])
            assert all(r.error is None for r in results), [r.reason for r in results]
            order = order[size:]
        assert dump(second.db, with_positions=False) == dump(first.db, with_positions=False)

        # (c) a node fetching the log after the purges: deleted documents and
        # their edits arrive header-only
        third = open_store(Path(tmp) / "third.sqlite")
        results = third.append_many([s.event for s in first.events()])
        assert all(r.error is None for r in results), [r.reason for r in results]
        assert dump(third.db, with_positions=False) == dump(first.db, with_positions=False)
        for store in (first, second, third):
            store.close()
