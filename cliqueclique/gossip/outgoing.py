"""Events going out: pushes, answers to grafts, and our side of reconciliation.

Part of `GossipNode` (a mixin). A link travels with the child document it
names, events are packed into as few `Events` messages as fit a frame (a
group never split), nothing of a forked chain from the fork on is sent, and
a `Vector` tells a peer how far we hold every chain of the scope.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from ..eventlog import Event, Kind
from .messages import MAX_ITEMS, MESSAGE_OVERHEAD, Events, Vector

if TYPE_CHECKING:
    from .protocol import DocumentProtocol

_LOW, _HIGH = "0" * 64, "f" * 64

class EventSending:
    """The sending half of `GossipNode` (see the module doc)."""

    def push(self, peer: str, proto: DocumentProtocol, items: list[tuple[Event, int]]) -> None:
        """Send events to a peer; a link goes with the child document it names."""
        link = proto.links.get(peer)
        subscribed = link is not None and link.attrs is not None and link.attrs.subscribed
        out: list[list[tuple[int, bytes]]] = []
        payload_sent = self.stats.payload_sent
        for ev, hops in items:
            group = [(hops, self.codec.wire(ev))]
            if subscribed and ev.kind is Kind.LINK and ev.network == proto.doc:
                child = self.codec.link_child(ev)
                have = proto.recent.get(child)
                if have is None or peer not in have:
                    child_ev = self.store.get(child)
                    if child_ev is not None:  # counted with its link, as one reply
                        group.insert(0, (hops, self.codec.wire(child_ev)))
            out.append(group)
            payload_sent[ev.id] += 1
            if link is not None:
                chain = link.heads.setdefault(ev.network, {})
                if chain.get(ev.author, 0) < ev.seq:
                    chain[ev.author] = ev.seq
        self._send_events(peer, proto.doc, out)

    def push_ids(self, peer: str, proto: DocumentProtocol, ids: Iterable[str]) -> None:
        """Answer a graft: send the requested events we hold that belong to the scope."""
        scope = set(self.scope(proto))
        found = [ev for ev in (self.store.get(i) for i in ids) if ev is not None]
        found = [ev for ev in found if (ev.network in scope or ev.id in self._children.get(proto.doc, ()))
                 and not self.forks.refuses(ev)]
        found.sort(key=lambda ev: (ev.kind is not Kind.DOCUMENT, ev.seq))
        if found:
            self.push(peer, proto, [(ev, 1) for ev in found])

    def send_vector(self, peer: str, proto: DocumentProtocol, only: Collection[str] | None = None) -> None:
        """Tell `peer` how far we hold each chain of the scope, so it sends the rest.

        Events on their way to the log count as held: otherwise a node catching
        up asks again for all it has received but not yet written, and the
        answer repeats it. Should one of them fail, the digests still differ
        and a later vector asks for it.

        `only`: just these networks, one vector each covering that network
        alone. Asking again for what the policy refused (and now allows), the
        whole-scope vector may be the very one the peer just answered, which
        it ignores for a while (reconcile.py); a narrower one it answers."""
        link = proto.links.get(peer)
        if link is None or link.attrs is None:
            return
        networks = self.scope(proto) if (proto.subscribed and link.attrs.subscribed) else [proto.doc]
        if only is not None:
            networks = [net for net in networks if net in only]
        networks.sort()
        self._load_heads(networks)
        pending: dict[str, dict[str, int]] = {}
        for (author, net), seq in self._pending_heads.items():
            pending.setdefault(net, {})[author] = seq
        rows = []
        for net in networks:
            heads = self._heads_of(net)
            if net in pending:
                heads = {**heads, **{a: s for a, s in pending[net].items() if s > heads.get(a, 0)}}
            rows.append((net, tuple(sorted(heads.items()))))
        self._reconciler.asked(peer, proto.doc)
        if only is not None:
            for net, authors in rows:
                self.send(peer, Vector(proto.doc, net, net, ((net, authors),) if authors else ()))
            return
        budget = self.config.max_frame // 2
        chunks: list[list[tuple[str, tuple[tuple[str, int], ...]]]] = [[]]
        size = 0
        for net, authors in rows:
            entry = 34 + 36 * len(authors)
            if size + entry > budget and chunks[-1]:
                chunks.append([])
                size = 0
            chunks[-1].append((net, authors))
            size += entry
        for i, chunk in enumerate(chunks):
            lo = _LOW if i == 0 else chunk[0][0]
            hi = _HIGH if i == len(chunks) - 1 else f"{int(chunks[i + 1][0][0], 16) - 1:064x}"
            self.send(peer, Vector(proto.doc, lo, hi, tuple(chunk)))

    def _with_children(self, events: list[Event]) -> list[list[tuple[int, bytes]]]:
        """Events to send, each child document in one group with the link naming
        it (a receiver takes a child's network in only beside that link); no
        event of a forked chain from the fork on."""
        if self.forks:
            events = [ev for ev in events if not self.forks.refuses(ev)]
        documents = {ev.id: ev for ev in events if ev.kind is Kind.DOCUMENT}
        named = {self.codec.link_child(ev) for ev in events if ev.kind is Kind.LINK} & documents.keys()
        placed: set[str] = set()
        groups = []
        for ev in events:
            if ev.id in named:
                continue  # goes with (the first) link naming it
            group = [ev]
            if ev.kind is Kind.LINK:
                child = self.codec.link_child(ev)
                if child in named and child not in placed:
                    placed.add(child)
                    group.insert(0, documents[child])
            self.stats.payload_sent[ev.id] += 1  # a child document counts with its link
            groups.append([(1, self.codec.wire(e)) for e in group])
        return groups

    def _send_events(self, peer: str, doc: str, groups: list[list[tuple[int, bytes]]]) -> None:
        """Send (hops, wire) items in as few messages as fit; a group never splits."""
        budget = self.config.max_frame - 64 - MESSAGE_OVERHEAD - 34
        chunk: list[tuple[int, bytes]] = []
        size = 0
        for group in groups:
            group_size = sum(len(wire) + 6 for _, wire in group)
            if chunk and (size + group_size > budget or len(chunk) + len(group) > MAX_ITEMS):
                self.send(peer, Events(doc, tuple(chunk)))
                chunk, size = [], 0
            chunk.extend(group)
            size += group_size
        if chunk:
            self.send(peer, Events(doc, tuple(chunk)))
