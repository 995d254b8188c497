"""Signature checks in helper processes: same verdicts as in process, no
deadlock with many requests in flight, and a fallback when helpers die."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from cliqueclique.errors import InvalidSignature, MalformedEvent
from cliqueclique.eventlog import BatchSigner, SQLiteStore, Status
from cliqueclique.eventlog.codec import signature_holds
from cliqueclique.eventlog.signatures import PARALLEL_VERIFY_MIN
from cliqueclique.eventlog.verifier import MAX_IN_FLIGHT, VerifierPool

from ..conftest import make_key


def forged(wire: bytes) -> bytes:
    return wire[:10] + bytes([wire[10] ^ 1]) + wire[11:]


def signed_items(count: int, bad: set[int]) -> list[tuple[str, bytes, bytes]]:
    """(author, header, signature) triples; those at `bad` carry another key's signature."""
    signer, other = BatchSigner(make_key(1)), make_key(2)
    doc = signer.document("forum", "text")
    items = []
    for i in range(count):
        event = signer.link(doc.id, f"{i:064x}")
        signature = other.sign(event.header).signature if i in bad else event.signature
        items.append((event.author, event.header, signature))
    return items


@pytest.fixture
def pool() -> Iterator[VerifierPool]:
    pool = VerifierPool(size=2)
    yield pool
    pool.close()


def test_helpers_agree_with_checking_in_process(pool: VerifierPool) -> None:
    items = signed_items(300, bad={0, 7, 299})
    tickets = [pool.submit(items[i : i + 50]) for i in range(0, 300, 50)]
    verdicts = [v for t in tickets for v in pool.result(t)]
    assert verdicts == [signature_holds(*item) for item in items]
    assert [i for i, ok in enumerate(verdicts) if not ok] == [0, 7, 299]
    assert not pool.broken


def test_more_requests_in_flight_than_replies_fit(pool: VerifierPool) -> None:
    items = signed_items(3 * MAX_IN_FLIGHT, bad={5})
    tickets = [pool.submit([item]) for item in items]  # none collected yet
    assert [pool.result(t)[0] for t in reversed(tickets)] == [i != 5 for i in reversed(range(len(items)))]


def test_dead_helpers_fall_back_to_checking_here(pool: VerifierPool) -> None:
    items = signed_items(40, bad={3})
    first = pool.submit(items[:20])
    for helper in pool._helpers:
        helper.proc.kill()
        helper.proc.wait()
    second = pool.submit(items[20:])
    assert pool.result(first) + pool.result(second) == [i != 3 for i in range(40)]
    assert pool.broken
    assert pool.result(pool.submit(items[:2])) == [True, True]  # no retry, still right


def test_big_batch_uses_helpers_and_reports_each_event(tmp_path: Path) -> None:
    """A batch big enough for the helpers: a forged signature, a duplicate, a
    broken event and a repeat in the batch each get their own result."""
    signer = BatchSigner(SigningKey(b"\x05" * 32))
    doc = signer.document("forum", "welcome")
    wires = [doc.wire] + [signer.link(doc.id, f"{i:064x}").wire for i in range(PARALLEL_VERIFY_MIN + 50)]
    with SQLiteStore(tmp_path / "log.sqlite") as store:
        store.append_many(wires[:10])
        batch = wires[5:] + [wires[20], b"junk"]
        batch[200] = forged(batch[200])
        results = store.append_many(batch)
        statuses = [r.status for r in results]
        assert statuses[:5] == [Status.DUPLICATE] * 5
        assert isinstance(results[200].error, InvalidSignature)
        # everything after the forgery in that chain has a gap, so it is rejected too
        assert all(s is Status.ACCEPTED for s in statuses[5:200])
        assert all(s is Status.REJECTED for s in statuses[200:-2])
        assert statuses[-2] is Status.DUPLICATE
        assert isinstance(results[-1].error, MalformedEvent)
        assert store.count() == 205
        assert store.verify() == []
