"""Shared fixtures: deterministic keys, fresh stores on real files or in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from cliqueclique.eventlog import MemoryStore, SQLiteStore


def make_key(n: int) -> SigningKey:
    """A deterministic key, so failures are reproducible."""
    return SigningKey(bytes([n % 256]) * 32)


@pytest.fixture
def keys() -> list[SigningKey]:
    return [make_key(i + 1) for i in range(4)]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "log.sqlite"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(db_path)
    yield store
    store.close()


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()
