"""Directories: prefix search equals a brute-force filter, and reads only
the trie path plus what lies on the way to the matches."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliqueclique.eventlog import Author, SQLiteStore
from cliqueclique.views import (
    BatchSigner,
    add_entries,
    add_entry,
    create_directory,
    key,
    retract,
    search_directory,
)
from cliqueclique.views.directory import MAX_DEPTH
from cliqueclique.views.errors import DocumentDeleted, NotADirectory

from ..conftest import make_key
from .conftest import Clock, open_store


def build(store: SQLiteStore, subjects: list[str], n_key: int = 1) -> tuple[str, dict[str, str]]:
    """A directory holding one document per subject; returns (dir id, doc id -> subject)."""
    signer = BatchSigner(make_key(n_key), store, Clock())
    directory = create_directory(signer, store, "Index").id
    docs = [signer.document(s, "") for s in subjects]
    store.append_many(docs)
    add_entries(signer.key, store, directory, [d.id for d in docs], batch_size=700)
    return directory, {d.id: s for d, s in zip(docs, subjects)}


def brute_force(entries: dict[str, str], prefix: str) -> set[str]:
    return {doc for doc, subject in entries.items() if key(subject).startswith(key(prefix))}


subjects = st.lists(st.text(alphabet="abAB cé", min_size=1, max_size=6), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subjects=subjects, prefixes=st.lists(st.text(alphabet="abAB cé", min_size=1, max_size=4),
                                             max_size=8))
def test_prefix_search_matches_brute_force(subjects: list[str], prefixes: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "log.sqlite")
        author = Author(make_key(1), store, Clock())
        directory = create_directory(BatchSigner(author.key, store), store, "D").id
        entries = {}
        for subject in subjects:  # one at a time: every addition reuses the trie built so far
            doc = author.document(subject, "")
            add_entry(author.key, store, directory, doc.id)
            entries[doc.id] = subject
        for prefix in prefixes + [s[:2] for s in subjects]:
            found = search_directory(store, directory, prefix)
            assert {m.id for m in found.matches} == brute_force(entries, prefix), prefix
        store.close()


def distinct_prefixes(keys: list[str], shortest: int) -> int:
    return len({k[:i] for k in keys for i in range(shortest + 1, len(k) + 1)})


def test_search_touches_only_the_path_and_the_way_to_the_matches(tmp_path: Path) -> None:
    rng = random.Random(3)
    subjects = sorted({"".join(rng.choice("abcdefgh") for _ in range(rng.randint(4, 7)))
                       for _ in range(3000)})
    store = open_store(tmp_path / "log.sqlite")
    directory, entries = build(store, subjects)
    for prefix in rng.sample(sorted({s[:3] for s in subjects}), 40) + ["abcde", "hhhh", "zzz"]:
        result = search_directory(store, directory, prefix)
        matched = [key(m.subject) for m in result.matches]
        assert {m.id for m in result.matches} == brute_force(entries, prefix)
        below = distinct_prefixes(matched, len(prefix))
        path = 1 + len(prefix) if matched else result.path
        # exactly: the directory and trie nodes along the prefix, the trie
        # nodes on the way down to the matches, and the matches themselves
        assert result.touched == path + below + len(matched)
        assert result.touched <= 1 + len(prefix) + len(matched) * (1 + 7 - len(prefix))
        assert result.touched < len(entries) / 20


def test_long_subjects_share_the_deepest_trie_node(tmp_path: Path) -> None:
    stem = "x" * MAX_DEPTH
    subjects = [stem + "apple", stem + "apricot", stem + "banana", "x" * 10]
    store = open_store(tmp_path / "log.sqlite")
    directory, entries = build(store, subjects)
    for prefix in (stem + "ap", stem, "x" * 10, stem + "q"):
        found = search_directory(store, directory, prefix)
        assert {m.id for m in found.matches} == brute_force(entries, prefix)


def test_concurrent_writers_create_duplicate_nodes_and_both_are_searched(tmp_path: Path) -> None:
    one, two = open_store(tmp_path / "one.sqlite"), open_store(tmp_path / "two.sqlite")
    w1, w2 = Author(make_key(1), one, Clock()), Author(make_key(2), two, Clock(2_000_000_000_000))
    directory = create_directory(BatchSigner(w1.key, one), one, "Shared")
    two.append(directory)
    apple, apricot = w1.document("apple", ""), w2.document("apricot", "")
    add_entry(w1.key, one, directory.id, apple.id)
    add_entry(w2.key, two, directory.id, apricot.id)  # w2 builds its own "a", "ap", ...
    one.append_many([s.event for s in two.events()])
    found = search_directory(one, directory.id, "ap")
    assert {m.id for m in found.matches} == {apple.id, apricot.id}
    assert found.path == 1 + 2 * 2  # the directory, then two "a" and two "ap" nodes
    more = w1.document("apex", "")
    added = add_entry(w1.key, one, directory.id, more.id)
    assert len(added) == 2 * 2 + 1  # reuses "a", "ap"; makes "ape", "apex"; links the entry
    assert len(search_directory(one, directory.id, "ap").matches) == 3


def test_errors_and_idempotence(store: SQLiteStore, authors: list[Author]) -> None:
    a = authors[0]
    directory = create_directory(BatchSigner(a.key, store), store, "Dir").id
    plain = a.document("Not a directory", "")
    with pytest.raises(NotADirectory):
        search_directory(store, plain.id, "ab")
    with pytest.raises(NotADirectory):
        add_entry(a.key, store, plain.id, directory)
    assert add_entry(a.key, store, directory, plain.id)
    assert add_entry(a.key, store, directory, plain.id) == []
    gone = a.document("Gone", "")
    a.delete(gone.id, gone.id)
    with pytest.raises(DocumentDeleted):
        add_entry(a.key, store, directory, gone.id)


def test_deleted_entries_vanish_and_their_empty_trie_path_is_retracted(
        store: SQLiteStore, authors: list[Author]) -> None:
    a = authors[0]
    directory = create_directory(BatchSigner(a.key, store), store, "Dir").id
    keep, drop = a.document("cat", ""), a.document("catalogue", "")
    for doc in (keep, drop):
        add_entry(a.key, store, directory, doc.id)
    events = retract(a, store, drop.id)
    # the entry and its link, then "catalogue" ... "cata" and the links to them
    assert len(events) == 2 + 2 * len("alogue")
    found = search_directory(store, directory, "cat")
    assert [m.id for m in found.matches] == [keep.id]
    assert found.touched == 1 + 3 + 1  # directory, c, ca, cat; the entry
