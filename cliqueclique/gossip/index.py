"""What the machine keeps in memory about the log: chain heads, digests, and
which documents link which.

Part of `GossipNode` (a mixin). Heads are read from the log once per network
(several at a time where a message names several) and advanced as events are
stored; a network's digest is the XOR of a hash per (author, head seq), so
equal digests mean equal holdings. A subscribed document carries the
children it links (their networks are replicated with it) while the log
holds them and the policy allows them. After a restart, which children a
document links is read from the log on first use (restore.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..eventlog import Event
from .outputs import DocumentDropped
from .records import PeerProgress, Progress

if TYPE_CHECKING:
    from .protocol import DocumentProtocol


def _chain_digest(network: str, author: str, seq: int) -> int:
    raw = hashlib.blake2b(f"{network}{author}{seq}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big")

class LogIndex:
    """The in-memory index half of `GossipNode` (see the module doc)."""

    def digests(self, proto: DocumentProtocol) -> tuple[bytes, bytes]:
        doc = self._digest_of(proto.doc)
        scope = 0
        networks = self.scope(proto)
        self._load_heads(net for net in networks if net not in self._digest)  # one query, not one each
        for net in networks:
            scope ^= self._digest_of(net)
        return (doc or 1).to_bytes(8, "big"), (scope or 1).to_bytes(8, "big")

    def _advance_head(self, ev: Event) -> None:
        heads = self._heads.get(ev.network)
        if heads is None:
            heads = self._heads_of(ev.network)
        if ev.seq > heads.get(ev.author, 0):
            heads[ev.author] = ev.seq
            self._digest.pop(ev.network, None)  # recomputed when next advertised

    def _load_heads(self, networks: Iterable[str]) -> None:
        """Cache the heads of several networks with one query (see `_heads_of`)."""
        unknown = {net for net in networks if net not in self._heads}
        if unknown:
            found = self.store.heads_many(unknown)
            for net in unknown:
                self._heads[net] = found.get(net, {})

    def _heads_of(self, network: str) -> dict[str, int]:
        self._load_heads((network,))
        return self._heads[network]

    def _digest_of(self, network: str) -> int:
        """XOR of a hash per (network, author, head seq): equal digests, equal holdings."""
        digest = self._digest.get(network)
        if digest is None:
            digest = 0
            for author, seq in self._heads_of(network).items():
                digest ^= _chain_digest(network, author, seq)
            self._digest[network] = digest
        return digest

    def _index_links(self, *docs: str) -> None:
        """Learn which children the links of `docs` name (one query for all)."""
        self._lazy.restore(docs)  # those restore.py left for first use
        docs = tuple(doc for doc in docs if doc not in self._indexed)
        if not docs:
            return
        self._indexed.update(docs)
        for doc, children in self.store.link_children(docs).items():
            self._children.setdefault(doc, set()).update(children)
            for child in children:
                self._add_parent(child, doc)

    # A child's parents are a tuple, not a set: nearly every child has one parent,
    # and a big log indexes hundreds of thousands of children (a set is 4x the bytes).
    def _add_parent(self, child: str, parent: str) -> None:
        parents = self._parents.get(child, ())
        if parent not in parents:
            self._parents[child] = (*parents, parent)

    def _remove_parent(self, child: str, parent: str) -> None:
        parents = tuple(p for p in self._parents.get(child, ()) if p != parent)
        if parents:
            self._parents[child] = parents
        else:
            self._parents.pop(child, None)

    def _update_carried(self, child: str, now: float, held: bool | None = None) -> None:
        """Carry `child` while a subscribed parent links it (`held`: whether the
        log holds it, if known)."""
        parent = self.has_subscribed_parent(child)
        if parent and child in self._carried and child not in self._docs:
            return  # the common case: one more link to a child we already carry
        should = parent and self._allowed_doc(child) and (self.store.has(child) if held is None else held)
        if should and child not in self._carried:
            self._carried.add(child)
        elif not should and child in self._carried:
            self._carried.discard(child)
            if not (child in self._docs and self._docs[child].active):
                self.emit(DocumentDropped(child, "no subscribed parent"))
        own = self._docs.get(child)
        if own is not None:
            own.mark_dirty()
            self._touch(own)

    def has_subscribed_parent(self, doc: str) -> bool:
        for parent in self._parents.get(doc, ()):
            p = self._docs.get(parent)
            if p is not None and p.active and p.subscribed:
                return True
        return False

    def progress(self, doc: str) -> Progress:
        """Held vs known events of a document's scope, overall and per peer."""
        proto = self._docs.get(doc)
        if proto is None:
            return Progress(0, 0, {})
        networks = self.scope(proto)
        self._load_heads(networks)  # one query for the scope, not one per network
        held = known = 0
        per_peer: dict[str, list[int]] = {p: [0, 0, 0] for p in proto.holders()}
        for net in networks:
            mine = self._heads_of(net)
            authors = set(mine)
            for peer in per_peer:
                authors |= set(proto.links[peer].heads.get(net, ()))
            for author in authors:
                m = mine.get(author, 0)
                best = m
                for peer, row in per_peer.items():
                    t = proto.links[peer].heads.get(net, {}).get(author, 0)
                    best = max(best, t)
                    row[0] += t
                    row[1] += max(0, t - m)
                    row[2] += max(0, m - t)
                held += m
                known += best
        known += len(proto.missing)
        peers = {}
        doc_digest, scope_digest = self.digests(proto)
        for peer, row in per_peer.items():
            a = proto.links[peer].attrs
            assert a is not None
            same = (scope_digest == a.scope_digest) if (proto.subscribed and a.subscribed) \
                else (doc_digest == a.doc_digest)
            # Equal digests of the chain heads mean the peer holds exactly what we hold.
            peers[peer] = PeerProgress(held, 0, 0) if same else PeerProgress(*row)
        return Progress(held, known, peers)
