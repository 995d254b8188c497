"""The README's resource budgets of the node, one test per bound: what the peers
(or the network) can make the node remember stays bounded, and exceeding a
per-peer bound costs the offender, not the other peers.

Bounds: `node.core.LINK_QUEUE_BYTES`, `node.links.WRITER_BACKLOG`,
`node.dialing.MAX_SUGGESTED_PEERS`, `MAX_DIAL_ADDRESSES`,
`nodestate.MAX_UNKEPT_PEERS`, `node.links.MAX_OFFENDERS`,
`eventlog.verify_helper.MAX_KEYS`, `net.loglimit.MAX_LOG_SOURCES`.

The link tests run a real `Node` and speak the real protocol over trio's
in-memory streams: `lockstep_stream_pair` is a connection whose reader sets the
pace (a sender waits until the other end reads, as with a full TCP window).
Bounds are made small with monkeypatch so the tests are fast.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing
from nacl.signing import SigningKey

from cliqueclique import nodestate
from cliqueclique.eventlog import MemoryStore, verify_helper
from cliqueclique.gossip.messages import Ack, Delete, Events, decode_frame, encode_frames
from cliqueclique.gossip.outputs import PeerSuggested
from cliqueclique.net import MemoryNetwork, loglimit, secure_connect
from cliqueclique.net.loglimit import LimitedLog
from cliqueclique.net.secure import SecureChannel
from cliqueclique.node import Node, NodeOptions, core, dialing, links
from cliqueclique.nodestate import NodeState
from cliqueclique.views import BatchSigner

from ..conftest import make_key
from .hostile import join_honestly
from .test_node_inprocess import make_home

DEADLINE = 15  # seconds: a generous bound for things that take milliseconds


def _options() -> NodeOptions:
    return NodeOptions(listen=[], i2p=False, poll_interval=0.05, dial_interval=0.05)


def _id(key: SigningKey) -> str:
    return key.verify_key.encode().hex()


async def _connect(node: Node, key: SigningKey, *, lockstep: bool = False) -> SecureChannel:
    """A peer with `key` opens a link to `node` (as an incoming connection)."""
    client, server = (trio.testing.lockstep_stream_pair() if lockstep
                      else trio.testing.memory_stream_pair())
    assert node._nursery is not None
    node._nursery.start_soon(node._accept, server)
    return await secure_connect(client, key, node.id)


async def _ack(channel: SecureChannel, serial: int) -> None:
    """Read until the node acknowledges our `Delete` with `serial`."""
    with trio.fail_after(DEADLINE):
        async for frame in channel:
            if any(isinstance(m, Ack) and m.serial == serial for m in decode_frame(frame)):
                return
    raise AssertionError("link closed before the ack")


async def _until(condition: Callable[[], bool]) -> None:
    """Let the node's tasks run until `condition` holds (no clock involved)."""
    with trio.fail_after(DEADLINE):
        while not condition():
            await trio.testing.wait_all_tasks_blocked()


# --- LINK_QUEUE_BYTES: bytes queued to one peer ---------------------------------------------


async def test_a_peer_that_does_not_read_loses_its_link_and_another_keeps_receiving(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "LINK_QUEUE_BYTES", 64 * 1024)
    async with Node.open(make_home(tmp_path, "a"), options=_options()) as node:
        await node.post("forum", "hi")  # the node says `Have` on each new link
        stuck_key, honest_key = make_key(101), make_key(102)
        stuck = await _connect(node, stuck_key, lockstep=True)  # never reads from here on
        honest = await _connect(node, honest_key)
        stuck_id, honest_id = _id(stuck_key), _id(honest_key)
        # Each `Delete` is answered with an `Ack`: cheap to ask for, and it queues up
        # for a peer that does not read (~2,000 acks, some 80 KB, per frame).
        asks = encode_frames([Delete("ab" * 32, k) for k in range(2_000)])
        assert len(asks) == 1
        sent = 0
        with trio.fail_after(DEADLINE):
            for _ in range(50):  # 50 frames: ~4 MB of acks the node would queue if unbounded
                try:
                    await stuck.send(asks[0])
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
                sent += 1
        assert sent < 50, "the node kept a link whose peer reads nothing"
        await _until(lambda: stuck_id not in node.links)  # the link task finishes closing
        # The other peer is untouched: it is still linked and its requests answered.
        await honest.send(encode_frames([Delete("cd" * 32, 7)])[0])
        await _ack(honest, 7)
        assert honest_id in node.links
        for peer in (stuck_id, honest_id):  # closing a stuck link is not a ban
            row = node.state.peer(peer)
            assert row is None or row.banned_until is None


# --- WRITER_BACKLOG: events waiting for the log writer ---------------------------------------


class _BlockedWriter:
    """Holds the node's real log writer busy (a job that waits) until released."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.started = threading.Event()
        self.release = threading.Event()

    def _job(self, store: object) -> None:
        self.started.set()
        self.release.wait(DEADLINE)

    async def __aenter__(self) -> _BlockedWriter:
        assert self.node._nursery is not None
        self.node._nursery.start_soon(self.node.writer.call, self._job)
        await trio.to_thread.run_sync(self.started.wait, DEADLINE)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()


def _replies(key: SigningKey, root: str, n: int, per_frame: int) -> list[bytes]:
    """Frames of `n` valid replies to `root` by `key` (each reply: its document and link)."""
    signer = BatchSigner(key, MemoryStore())
    frames = []
    for first in range(0, n, per_frame):
        items: list[tuple[int, bytes]] = []
        for i in range(first, min(n, first + per_frame)):
            doc = signer.document(f"reply {i}", "text")
            items += [(0, doc.wire), (0, signer.link(root, doc.id).wire)]
        frames += encode_frames([Events(root, tuple(items))])
    return frames


async def test_a_writer_backlog_pauses_reading_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "WRITER_BACKLOG", 4)
    async with Node.open(make_home(tmp_path, "a"), options=_options()) as node:
        root = (await node.post("forum", "hi")).id
        key = make_key(103)
        pusher = await _connect(node, key, lockstep=True)
        await join_honestly(pusher, node.id, root, key)
        frames = _replies(key, root, 40, per_frame=4)  # 10 frames of 8 events
        sent = 0

        async def push() -> None:
            nonlocal sent
            for frame in frames:
                await pusher.send(frame)  # lockstep: returns once the node has read it
                sent += 1

        async def drain() -> None:  # the pusher reads everything the node says
            async for _ in pusher:
                pass

        with node.watch(root) as accepted:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                async with _BlockedWriter(node):
                    nursery.start_soon(push)
                    with trio.fail_after(DEADLINE):
                        while node.writer.backlog <= 4:
                            await trio.testing.wait_all_tasks_blocked()
                    await trio.testing.wait_all_tasks_blocked()
                    # The writer is behind: the node stopped reading this peer, so
                    # what it buffers is bounded, not the whole push.
                    assert sent < len(frames)
                    assert node.writer.backlog < 4 + 3 * 8
                # Released: the peer is read again and every event is stored.
                links_seen = 0
                with trio.fail_after(DEADLINE):
                    async for event in accepted:
                        if event.author == _id(key) and event.network == root:
                            links_seen += 1
                            if links_seen == 40:
                                break
                assert sent == len(frames)
                nursery.cancel_scope.cancel()
        assert _id(key) in node.links  # nobody was punished


# --- MAX_SUGGESTED_PEERS and MAX_DIAL_ADDRESSES: dialling suggestions -------------------------


def _suggest(node: Node, peer: str, hint: str, source: str) -> None:
    node._suggestion(PeerSuggested(peer, "ab" * 32, hint, source))


async def test_suggested_peers_are_capped_oldest_first_and_go_with_a_banned_suggester(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialing, "MAX_SUGGESTED_PEERS", 8)
    async with Node.open(make_home(tmp_path, "a"), options=_options()) as node:
        offender, honest = _id(make_key(104)), _id(make_key(105))
        made_up = [_id(make_key(k)) for k in range(110, 140)]
        for peer in made_up:  # no checkpoint in between: no dial has run yet
            _suggest(node, peer, "tcp:127.0.0.1:1", offender)
        _suggest(node, _id(make_key(106)), "tcp:127.0.0.1:2", honest)
        assert len(node._suggested) == 8  # the oldest went
        assert list(node._suggested)[:7] == made_up[-7:]
        node._punish(offender, "too many suggestions")
        assert [source for _, source in node._suggested.values()] == [honest]
        await _until(lambda: not node._dialing)  # the dials started for forgotten peers do nothing
        assert "tcp:127.0.0.1:1" not in node._address_backoff
        assert node.state.peer(made_up[0]) is None  # suggestions get no row unless reached


async def test_one_address_is_dialled_once_per_back_off_whatever_the_peer_ids(
        tmp_path: Path) -> None:
    network = MemoryNetwork()
    dials = 0

    async def hang_up(stream: trio.abc.Stream) -> None:  # no handshake: each dial fails
        nonlocal dials
        dials += 1
        await trio.aclose_forcefully(stream)

    options = _options()
    options.memory = network
    async with Node.open(make_home(tmp_path, "a"), options=options) as node, \
            trio.open_nursery() as nursery:
        await nursery.start(network.transport("decoy").serve, hang_up)
        for k in range(5):  # made-up peers at one address, one after another
            _suggest(node, _id(make_key(150 + k)), "mem:decoy", "ee" * 32)
            await _until(lambda: not node._dialing)
        assert dials == 1
        allowed_at, failures = node._address_backoff["mem:decoy"]
        assert failures == 1 and allowed_at > trio.current_time()
        nursery.cancel_scope.cancel()


async def test_dial_back_off_is_kept_for_a_bounded_number_of_addresses(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dialing, "MAX_DIAL_ADDRESSES", 16)
    async with Node.open(make_home(tmp_path, "a"), options=_options()) as node:
        honest = "tcp:127.0.0.1:7"
        flood = [f"tcp:10.0.{k // 250}.{k % 250}:1" for k in range(100)]
        delays = []
        for k, address in enumerate(flood):
            node._address_failed(address)
            if k % 10 == 0:  # an address that keeps failing stays tracked, its back-off growing
                node._address_failed(honest)
                delays.append(node._address_backoff[honest][0] - trio.current_time())
            assert len(node._address_backoff) <= 16
        assert set(node._address_backoff) == {honest, *flood[-15:]}  # the least recently failed went
        assert node._address_backoff[honest][1] == 10
        assert [round(d) for d in delays] == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]  # doubling, capped


# --- MAX_UNKEPT_PEERS: peer rows of peers that shared no document ------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = itertools.count(1_700_000_000)

    def time(self) -> float:
        return float(next(self.now))


def test_unkept_peer_rows_are_capped_oldest_first_and_sharing_peers_are_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nodestate, "MAX_UNKEPT_PEERS", 10)
    monkeypatch.setattr(nodestate, "time", _Clock())  # distinct, increasing `added` times
    state = NodeState(tmp_path / "node.sqlite")
    try:
        state.add_peer("on-purpose", ["tcp:127.0.0.1:1"])  # kept: added by the user
        state.add_peer("shared", [], kept=False)
        state.keep_peer("shared")  # it shared a document with us
        state.add_peer("banned-early", [], kept=False)
        state.update_peer("banned-early", state="banned", banned_until=1e12)
        fresh = [f"fresh-{k}" for k in range(25)]
        for peer in fresh:
            state.add_peer(peer, [], kept=False)
            assert sum(not p.kept for p in state.peers()) <= 10
        unkept = [p.id for p in state.peers() if not p.kept]
        assert unkept == fresh[-10:]  # the oldest were forgotten, the early ban among them
        kept = {p.id for p in state.peers() if p.kept}
        assert kept == {"on-purpose", "shared"}
        state.add_peer(fresh[-1], ["tcp:127.0.0.1:2"], kept=False)  # known already: no new row
        assert len(state.peers()) == 12
    finally:
        state.close()


# --- MAX_OFFENDERS: misbehaviour records ------------------------------------------------------


async def test_offence_records_are_capped_and_a_recent_offender_still_escalates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "MAX_OFFENDERS", 8)
    async with Node.open(make_home(tmp_path, "a"), options=_options()) as node:
        def ban_left(peer: str) -> float:
            row = node.state.peer(peer)
            assert row is not None and row.banned_until is not None
            return row.banned_until - time.time()

        base = node.options.budget.ban_base
        old, recent = "0a" * 32, "0b" * 32
        node._punish(old, "bad frame")
        for k in range(10):
            node._punish(f"{k:064x}", "fresh key, bad frame")
            assert len(node._offences) <= 8
            if k == 5:
                node._punish(recent, "bad frame")
        assert recent in node._offences and old not in node._offences
        node._punish(recent, "again")
        assert ban_left(recent) == pytest.approx(2 * base, abs=5)  # its second offence: doubled
        node._punish(old, "again")
        assert ban_left(old) == pytest.approx(base, abs=5)  # forgotten: a first offence again
        assert len(node._offences) == 8


# --- MAX_KEYS: the verify helper's key cache --------------------------------------------------


def test_the_verify_key_cache_is_bounded_and_still_checks_every_signature(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_helper, "MAX_KEYS", 8)
    keys = [make_key(200 + k) for k in range(30)]
    header = b'{"an":"event header"}'
    items = [(k.verify_key.encode(), header, k.sign(header).signature) for k in keys]
    forged = [(k.verify_key.encode(), header + b" ", k.sign(header).signature) for k in keys[-3:]]
    cache: dict[bytes, object] = {}
    request = verify_helper.encode_request(items + forged)
    verdicts = verify_helper.check_request(request[4:], cache)  # type: ignore[arg-type]
    assert verdicts == bytes([1] * 30 + [0] * 3)
    assert len(cache) <= 8
    again = verify_helper.check_request(verify_helper.encode_request(items[:2] + forged[:1])[4:],
                                        cache)  # type: ignore[arg-type]
    assert again == bytes([1, 1, 0]) and len(cache) <= 8


# --- MAX_LOG_SOURCES: sources the log limiter counts one by one -------------------------------


class _Now:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_sources_are_capped_and_a_tracked_source_stays_limited(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loglimit, "MAX_LOG_SOURCES", 8)
    logger = logging.getLogger("test.budgets.loglimit")
    clock = _Now()
    limited = LimitedLog(logger, "refused connections", per_source=3, overall=20, clock=clock)
    for k in range(3):
        limited.warning("10.0.0.1", "noisy %d", k)
    for k in range(5_000):  # a crowd of sources, each saying a little
        limited.warning(f"10.1.{k // 250}.{k % 250}", "crowd %d", k)
        limited.warning("10.0.0.1", "noisy again %d", k)
    assert len(limited._written) <= 8 and len(limited._held) <= 8  # memory bounded
    assert limited._uncounted > 0  # the others are only summed
    lines = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert len(lines) == 20
    assert sum(line.startswith("noisy") for line in lines) == 3  # the tracked source: no more
    clock.now = 61.0
    limited.warning("10.0.0.1", "next window")
    summary = [r.getMessage() for r in caplog.records if r.name == logger.name][20:]
    # The busiest five by name, the rest (tracked or not) in one sum: 4,983 crowd lines
    # and 5,000 noisy ones were held back, 5,000 + 4 x 1 of them named.
    assert summary[:5] == ["5000 more refused connections from 10.0.0.1 in the last 60s"] + [
        line for line in summary[1:5] if line.startswith("1 more refused connections from 10.1.")]
    assert summary[5] == "4979 more refused connections from other sources in the last 60s"
    assert summary[-1] == "next window"
