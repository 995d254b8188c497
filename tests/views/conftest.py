"""Fixtures for the views: real SQLite logs with the views attached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cliqueclique.eventlog import Author, SQLiteStore
from cliqueclique.views import open_views

from ..conftest import make_key


def open_store(path: Path) -> SQLiteStore:
    return open_views(SQLiteStore(path))


class Clock:
    """A deterministic clock: every call is one millisecond later."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = open_store(tmp_path / "log.sqlite")
    yield s
    s.close()


@pytest.fixture
def authors(store: SQLiteStore) -> list[Author]:
    clock = Clock()
    return [Author(make_key(i + 1), store, clock) for i in range(3)]
