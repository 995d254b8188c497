"""Answering reconciliation requests (`Vector`) with flow control (sans-IO).

A `Vector` is tiny; the answer can be a whole forum. Answered in one go, 20
empty vectors (2 KB) made a node read and queue a 50,000-event forum twenty
times over. So an answer is paced by the requester:

- one answer is at most `GossipConfig.vector_answer_bytes` of events, read
  lazily from the log (we stop reading once the chunk is full); when more
  remains we say so with `More`;
- the requester sends its next vector only once it has *stored* that chunk
  (`More` arms it, `GossipNode.events_stored` fires it), so it takes the
  next chunk exactly as fast as it writes;
- per (peer, document) an identical vector while its answer is in flight is
  a duplicate and ignored (`limits.ReplyPacing`);
- per peer, the bytes we answer with are drawn from a token bucket
  (`vector_bytes_per_s`, `vector_burst_bytes`): a peer asking faster than that
  waits, its latest request per document kept (replacing older ones) and
  answered when the bucket refills.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from ..eventlog import Event, EventStore, Kind
from .limits import DebtBucket, PeerBoundedBuffer, ReplyPacing, event_bytes
from .messages import MAX_ITEMS, More, Vector

if TYPE_CHECKING:
    from .node import GossipNode
    from .protocol import DocumentProtocol


def fingerprint(msg: Vector, ours: bytes) -> bytes:
    """A short value standing for a request: the vector and what we hold (`ours`,
    our digests), so the same vector once we hold more is a new request. A
    collision only makes us skip one answer to the same peer, which asks again
    after `vector_resend_after`."""
    return hash((msg.lo, msg.hi, msg.heads, ours)).to_bytes(8, "big", signed=True)


def chain_from(store: EventStore, author: str, network: str, seq: int) -> Iterator[Event]:
    """The author's events in `network` after `seq`, in chain order, read lazily
    (a chain is written in seq order, so log order is chain order)."""
    after = 0
    position_of = getattr(store, "position_of", None)  # SQLite: start the scan at `seq`
    if seq > 0 and position_of is not None:
        start = store.at(author, network, seq)
        after = (position_of(start) or 0) if start is not None else 0
    for stored in store.events(network=network, author=author, after=after):
        if stored.event.seq > seq:
            yield stored.event


def answer(node: GossipNode, peer: str, proto: DocumentProtocol, msg: Vector, now: float) -> int:
    """Send `peer` at most one chunk of what its vector shows it lacks, and
    `More` if that was not all. Returns the bytes of events sent."""
    link = proto.links[peer]
    theirs = {net: dict(authors) for net, authors in msg.heads}
    networks = node.scope(proto) if (proto.subscribed and link.attrs and link.attrs.subscribed) \
        else [proto.doc]
    scope = networks
    networks = [net for net in scope if msg.lo <= net <= msg.hi]
    node._load_heads(networks)
    budget = node.config.vector_answer_bytes
    missing: list[Event] = []
    announced: list[str] = []
    included: set[str] = set()
    # A child the peer lacks goes in right beside the link naming it (its network
    # is taken in only with that link): cut between them, the peer would graft
    # every child one by one.
    # (A vector comes in ranges: for networks outside this one, what the earlier
    # ranges told us.)
    lacked_children = {net for net in scope if net != proto.doc and not (
        theirs.get(net) if msg.lo <= net <= msg.hi else link.heads.get(net))}
    # Until the peer holds every link of the document, a child it lacks is sent
    # only beside its link (sent alone it would be dropped, as out of scope).
    root_heads = theirs.get(proto.doc, {}) if msg.lo <= proto.doc <= msg.hi \
        else link.heads.get(proto.doc, {})
    has_links = all(root_heads.get(a, 0) >= seq for a, seq in node._heads_of(proto.doc).items())
    size = 0
    cut = False
    for net in networks:
        have = theirs.get(net, {})
        link.heads[net] = dict(have)
        if cut or (net in lacked_children and not has_links and net not in included):
            continue
        if have:
            chains = [chain_from(node.store, author, net, have.get(author, 0))
                      for author, seq in sorted(node._heads_of(net).items()) if have.get(author, 0) < seq]
        else:  # the peer holds nothing of it: log order keeps cross-chain dependencies in order
            chains = [(stored.event for stored in node.store.events(network=net))]
        for chain in chains:
            announcing = False  # from an in-flight event on, the chain is announced
            for ev in chain:
                if ev.id in included:
                    continue
                if announcing or proto.in_flight(ev.id, now):
                    announcing = True
                    announced.append(ev.id)
                    continue
                if size >= budget:
                    cut = True
                    break
                if ev.kind is Kind.LINK and net == proto.doc:
                    child = node.codec.link_child(ev)
                    if child in lacked_children and child not in included:
                        document = node.store.get(child)
                        if document is not None:
                            missing.append(document)
                            included.add(child)
                            size += event_bytes(document)
                missing.append(ev)
                included.add(ev.id)
                size += event_bytes(ev)
            if cut:
                break
    # Heads the peer reports for networks we do not (yet) replicate are kept only
    # for children we know of: peer input never grows a table of made-up names.
    children = node._children.get(proto.doc, ())
    for net, have in theirs.items():
        if net not in link.heads and net in children:
            link.heads[net] = dict(have)
    if missing:
        node._send_events(peer, proto.doc, node._with_children(missing))
    proto.announce(peer, announced)
    if cut:
        node.send(peer, More(proto.doc))
    return size


class Reconciler:
    """The node's side of reconciliation pacing: answering vectors (dedup, per
    peer byte budget, deferral) and asking for the next chunk after a `More`."""

    def __init__(self, node: GossipNode) -> None:
        c = node.config
        self.node = node
        self.replies = ReplyPacing(c.vector_resend_after)
        self.budget: dict[str, DebtBucket] = {}  # peer -> what answering it may still cost
        self.deferred: PeerBoundedBuffer[tuple[str, str], Vector] = PeerBoundedBuffer(
            c.deferred_vector_bytes, c.deferred_vector_total_bytes, MAX_ITEMS)
        self.timer: float | None = None  # when a deferred request can be answered
        self._asked: set[tuple[str, str]] = set()  # (peer, doc) we sent a vector to: a More may follow
        self._armed: set[tuple[str, str]] = set()  # ... that said More: ask again once stored

    def entries(self) -> int:
        return len(self.replies) + len(self.budget) + len(self._asked) + len(self._armed)

    def drop_peer(self, peer: str) -> None:
        self.replies.drop_peer(peer)
        self.budget.pop(peer, None)
        self.deferred.drop_peer(peer)
        self._asked = {k for k in self._asked if k[0] != peer}
        self._armed = {k for k in self._armed if k[0] != peer}

    def asked(self, peer: str, doc: str) -> None:
        self._asked.add((peer, doc))

    def on_vector(self, peer: str, proto: DocumentProtocol, msg: Vector, now: float) -> None:
        """Answer a reconciliation request, paced."""
        # Only a node holding the document sends a vector, so one may arrive just
        # before the update that says it holds it (a joiner's first): answer it.
        link = proto.links.get(peer)
        if link is None or not link.live or not proto.active:
            return
        # What the answer depends on besides the vector: our holdings, and whether
        # the link replicates the whole scope (both sides subscribed) or the document.
        whole = proto.subscribed and link.attrs is not None and link.attrs.subscribed
        request = fingerprint(msg, b"".join(self.node.digests(proto)) + bytes([whole]))
        if not self.replies.should_answer(peer, proto.doc, request, now):
            return  # the same request while its answer is on the way
        bucket = self.budget.get(peer)
        if bucket is None:
            c = self.node.config
            bucket = self.budget[peer] = DebtBucket(c.vector_bytes_per_s, c.vector_burst_bytes)
        if not bucket.ready(now):
            # Keep only its latest request per document (a newer one supersedes it);
            # past the peer's share it is dropped: its reconcile timer asks again.
            size = 200 + sum(40 + 36 * len(authors) for _, authors in msg.heads)
            self.deferred.add((peer, proto.doc), msg, peer, size)
            at = bucket.ready_at(now)
            self.timer = at if self.timer is None else min(self.timer, at)
            return
        bucket.charge(answer(self.node, peer, proto, msg, now), now)
        self.replies.answered(peer, proto.doc, request, now)

    def handle_timer(self, now: float) -> None:
        if self.timer is None or self.timer > now:
            return
        self.timer = None
        for key in list(self.deferred):
            peer, doc = key
            bucket = self.budget.get(peer)
            if bucket is not None and not bucket.ready(now):
                at = bucket.ready_at(now)
                self.timer = at if self.timer is None else min(self.timer, at)
                continue
            msg = self.deferred.pop(key)
            proto = self.node.protocol(doc)
            if msg is not None and proto is not None and self.node.is_connected(peer):
                self.on_vector(peer, proto, msg, now)
                self.node._touch(proto)

    def on_more(self, peer: str, proto: DocumentProtocol, pending_from: Mapping[str, int]) -> None:
        """The peer cut its answer to our vector short: ask again once stored."""
        key = (peer, proto.doc)
        if key not in self._asked:
            return  # not for a vector of ours (or a second range of one): costs nothing
        self._asked.discard(key)
        self._armed.add(key)
        self.ask_for_more(pending_from)

    def ask_for_more(self, pending_from: Mapping[str, int]) -> None:
        """Send the next vector to each peer that said More, once nothing it sent
        is still on its way to the log: the requester paces the answers."""
        for key in [k for k in self._armed if k[0] not in pending_from]:
            self._armed.discard(key)
            proto = self.node.protocol(key[1])
            if proto is not None and proto.active and self.node.is_connected(key[0]):
                self.node.send_vector(key[0], proto)
                self.node._touch(proto)
