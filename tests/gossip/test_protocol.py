"""Two machines wired by hand: no simulator, no event loop, `now` advanced by hand."""

from __future__ import annotations

import random

import pytest
from nacl.signing import SigningKey

from cliqueclique.eventlog import Author, MemoryStore, node_id
from cliqueclique.gossip.backoff import schedule
from cliqueclique.gossip.errors import LocalProtocolError
from cliqueclique.gossip.messages import Update, decode_frame
from cliqueclique.gossip.node import GossipNode
from cliqueclique.gossip.outputs import (
    DocumentHeld,
    EventAccepted,
    GossipConfig,
    PeerMisbehaved,
    StoreEvents,
)


class Peer:
    def __init__(self, seed: int, config: GossipConfig) -> None:
        key = SigningKey(bytes([seed]) * 32)
        self.id = node_id(key)
        self.store = MemoryStore()
        self.author = Author(key, self.store, clock=lambda: 0)
        self.machine = GossipNode(self.id, self.store, random.Random(seed), config)
        self.app: list[object] = []

    def drive(self, now: float) -> None:
        """Execute storage requests at once, keep the other app events."""
        while (event := self.machine.next_event()) is not None:
            if isinstance(event, StoreEvents):
                self.machine.events_stored(self.store.append_many(event.events), now)
            else:
                self.app.append(event)


def transfer(src: Peer, dst: Peer, now: float) -> int:
    """Deliver everything src has queued for dst; return how many frames."""
    frames = [data for peer, data in src.machine.messages_to_send() if peer == dst.id]
    for data in frames:
        dst.machine.receive(src.id, data, now)
        dst.drive(now)
    return len(frames)


def drop(src: Peer) -> list[object]:
    return [m for _, data in src.machine.messages_to_send() for m in decode_frame(data)]


def roundtrip(a: Peer, b: Peer, now: float) -> None:
    while transfer(a, b, now) + transfer(b, a, now):
        pass


def pair(config: GossipConfig) -> tuple[Peer, Peer, str]:
    a, b = Peer(1, config), Peer(2, config)
    root = b.author.document("forum", "hello")
    a.store.append(root.wire)
    for p in (a, b):
        p.machine.set_flags(root.id, subscribed=True, now=0.0)
        p.drive(0.0)
        assert p.machine.get_timer() == 0.0  # digests are computed at once
        p.machine.handle_timer(0.0)
        assert p.machine.get_timer() is None
    return a, b, root.id


@pytest.mark.parametrize("jitter", [0.0, 0.1])
def test_exact_backoff_schedule_under_loss(jitter: float) -> None:
    # offer_attempts=0: no re-offered Have timers among the update retries checked here
    config = GossipConfig(retry_base=1.0, retry_cap=8.0, retry_jitter=jitter, offer_attempts=0)
    a, b, root = pair(config)
    a.machine.peer_connected(b.id, 1.0)
    b.machine.peer_connected(a.id, 1.0)
    drop(b)  # b's Have is lost
    transfer(a, b, 1.0)  # a's Have reaches b: b links a and sends its first update
    sent = [m for m in drop(b) if isinstance(m, Update)]
    assert len(sent) == 1
    expected = schedule(1.0, 8, 1.0, 8.0, jitter, random.Random(2))
    if jitter == 0.0:
        assert expected == [2.0, 4.0, 8.0, 16.0, 24.0, 32.0, 40.0, 48.0]
    for deadline in expected:
        assert b.machine.get_timer() == pytest.approx(deadline, abs=1e-9)
        b.machine.handle_timer(deadline)
        resent = [m for m in drop(b) if isinstance(m, Update)]
        assert [m.serial for m in resent] == [sent[0].serial]  # the same serial, resent
    now = expected[-1] + 1
    b.machine.handle_timer(b.machine.get_timer())  # type: ignore[arg-type]
    roundtrip(b, a, now)  # the link heals: update, ack, reconciliation
    for _ in range(20):
        t = min(x for x in (a.machine.get_timer(), b.machine.get_timer(), now + 100) if x is not None)
        if t >= now + 100:
            break
        now = t
        a.machine.handle_timer(now)
        b.machine.handle_timer(now)
        roundtrip(a, b, now)
    assert a.machine.get_timer() is None and b.machine.get_timer() is None
    info_a, info_b = a.machine.info(root), b.machine.info(root)
    assert info_a is not None and info_b is not None and info_a.center == info_b.center


def test_first_update_carries_the_document_to_a_joiner() -> None:
    config = GossipConfig(retry_jitter=0.0)
    a, b = Peer(1, config), Peer(2, config)
    root = b.author.document("forum", "hello")
    b.machine.set_flags(root.id, subscribed=True, now=0.0)
    b.drive(0.0)
    for x, y in ((a, b), (b, a)):
        x.machine.peer_connected(y.id, 0.0)
    drop(a)
    drop(b)
    a.machine.join(root.id, b.id, 0.1)
    transfer(a, b, 0.1)  # join request: an update with holds=False
    updates = [m for m in drop(b) if isinstance(m, Update)]
    assert updates and updates[-1].document == root.wire
    a.machine.receive(b.id, _frame(updates[-1]), 0.2)
    a.drive(0.2)
    assert a.store.get(root.id) is not None
    assert a.machine.holds(root.id)
    assert any(isinstance(e, DocumentHeld) for e in a.app)


def _frame(msg: object) -> bytes:
    from cliqueclique.gossip.messages import encode_frames
    return encode_frames([msg])[0]  # type: ignore[list-item]


def test_reply_travels_and_misuse_raises() -> None:
    a, b, root = pair(GossipConfig(retry_jitter=0.0))
    with pytest.raises(LocalProtocolError):
        a.machine.join("ab" * 32, b.id, 0.0)  # not connected
    with pytest.raises(LocalProtocolError):
        a.machine.set_flags("cd" * 32, subscribed=True, now=0.0)  # unknown document
    with pytest.raises(LocalProtocolError):
        a.machine.receive(b.id, b"x", 0.0)  # not connected
    for x, y in ((a, b), (b, a)):
        x.machine.peer_connected(y.id, 1.0)
    roundtrip(a, b, 1.0)
    doc, link = a.author.post("re", "hi", parent=root)
    a.machine.publish([doc, link], 2.0)  # type: ignore[list-item]
    roundtrip(a, b, 2.0)
    assert b.store.get(doc.id) is not None and b.store.get(link.id) is not None  # type: ignore[union-attr]
    accepted = [e for e in b.app if isinstance(e, EventAccepted)]
    assert {e.event.id for e in accepted} >= {doc.id, link.id}  # type: ignore[union-attr]
    b.machine.receive(a.id, b"garbage", 3.0)
    b.drive(3.0)
    assert isinstance(b.app[-1], PeerMisbehaved) and b.app[-1].peer == a.id
