"""The unit of acceptance (issue 16): each event of a batch is accepted or
refused on its own, except that a link whose child document was refused in
the same batch is refused with it (a forged reply must not leave a link to a
document that can never arrive, shown as '[not held yet]' on every node)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cliqueclique.errors import (
    BodyHashMismatch,
    ChainGap,
    DependencyRejected,
    InvalidSignature,
    MissingDependency,
)
from cliqueclique.eventlog import BatchSigner, EventStore, MemoryStore, SQLiteStore, Status
from cliqueclique.eventlog.events import Event

from ..conftest import make_key


def forged(wire: bytes) -> bytes:
    """The same event with its last signature byte flipped."""
    return wire[:63] + bytes([wire[63] ^ 1]) + wire[64:]


def bad_body(wire: bytes) -> bytes:
    return wire[:-1] + bytes([wire[-1] ^ 1])


STORES: dict[str, Callable[[Path], EventStore]] = {
    "memory": lambda _: MemoryStore(),
    "sqlite": lambda tmp: SQLiteStore(tmp / "log.sqlite"),
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EventStore:
    return STORES[request.param](tmp_path)


def thread(store: EventStore) -> tuple[BatchSigner, Event, Event, Event]:
    """A held root; a reply and its link, signed but not yet delivered."""
    root_author = BatchSigner(make_key(1), store)
    root = root_author.document("root", "r")
    store.append(root)
    replier = BatchSigner(make_key(2), MemoryStore())
    reply = replier.document("reply", "x")
    link = replier.link(root.id, reply.id)
    return replier, root, reply, link


@pytest.mark.parametrize("damage", [forged, bad_body])
@pytest.mark.parametrize("link_first", [False, True])
def test_a_link_whose_child_was_refused_in_the_batch_is_refused(
    store: EventStore, damage: Callable[[bytes], bytes], link_first: bool
) -> None:
    _, _, reply, link = thread(store)
    other = BatchSigner(make_key(3), MemoryStore()).document("unrelated", "u")
    items = [link.wire, damage(reply.wire)] if link_first else [damage(reply.wire), link.wire]
    results = store.append_many([*items, other.wire])
    by_id = {r.event_id: r for r in results}
    assert isinstance(by_id[reply.id].error, InvalidSignature | BodyHashMismatch)
    refused = by_id[link.id]
    assert refused.status is Status.REJECTED and isinstance(refused.error, DependencyRejected)
    assert isinstance(refused.error, MissingDependency)  # never blamed on whoever relayed it
    assert by_id[other.id].status is Status.ACCEPTED  # everything else stands on its own
    assert not store.has(link.id) and not store.has(reply.id) and store.has(other.id)
    # Once the real reply comes, the same link is welcome.
    assert [r.status for r in store.append_many([reply.wire, link.wire])] == [Status.ACCEPTED] * 2


def test_a_link_to_a_child_not_in_the_batch_is_still_kept(store: EventStore) -> None:
    """Unchanged: a link may arrive before its child (it is announced in the
    child's network later), so an absent child is no reason to refuse it."""
    _, _, reply, link = thread(store)
    (result,) = store.append_many([link.wire])
    assert result.status is Status.ACCEPTED and not store.has(reply.id)


def test_what_follows_the_refused_link_in_its_chain_is_refused_as_a_gap(store: EventStore) -> None:
    replier, root, reply, link = thread(store)
    second = replier.document("second", "y")
    next_link = replier.link(root.id, second.id)
    results = store.append_many([forged(reply.wire), link.wire, second.wire, next_link.wire])
    assert [r.status for r in results] == [Status.REJECTED, Status.REJECTED, Status.ACCEPTED, Status.REJECTED]
    assert isinstance(results[3].error, ChainGap)
    assert store.has(second.id) and not store.has(next_link.id)


def test_a_held_child_offered_again_does_not_refuse_its_link(store: EventStore) -> None:
    """A duplicate is not a refusal: the link to an already held child stands."""
    _, _, reply, link = thread(store)
    store.append(reply)
    results = store.append_many([reply.wire, link.wire])
    assert [r.status for r in results] == [Status.DUPLICATE, Status.ACCEPTED]
