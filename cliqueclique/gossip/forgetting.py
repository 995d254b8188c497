"""Garbage collection, the machine's side: what it still needs, and forgetting.

Part of `GossipNode` (a mixin). Garbage collection (cliqueclique/gc.py)
asks `needed_networks` which networks must stay in the log whatever the
node's own flags say, removes the others once unwanted for long enough, and
calls `forget` with what it removed: the machine drops everything it kept
about those networks (chain heads, digests, links between documents, held
and orphaned events, forks), so it answers as if it had never held them: a
joiner's `Update` gets `Delete` (the log no longer has the document), and a
later join or a subscribed parent's link brings the document back like any
other.
"""

from __future__ import annotations

from collections.abc import Iterable

from .states import DocState


class Forgetting:
    """The garbage-collection half of `GossipNode` (see the module doc)."""

    def needed_networks(self) -> set[str]:
        """Networks the machine needs now: documents it replicates and wants
        (for itself, a downstream peer or a joiner), is joining, or carries as
        a subscribed document's children, and networks with events on their
        way to the log. An active document in its `gc_delay` grace (wanted by
        nobody) is not needed."""
        needed = {doc for doc, proto in self._docs.items()
                  if proto.state is DocState.JOINING or (proto.active and proto.wants)}
        needed |= self._carried
        for pending in self._pending.values():
            needed.add(pending.doc)
            needed.add(pending.event.network)
        needed.update(self._deleting)
        return needed

    def forget(self, networks: Iterable[str], now: float) -> None:
        """The log no longer holds these networks (garbage collection removed
        them): drop what the machine knew of them. A document it took up again
        meanwhile (a joiner came) is dropped, with a `Delete` to its peers."""
        gone = set(networks)
        if not gone:
            return
        for net in gone:
            proto = self._docs.get(net)
            if proto is not None and proto.state in (DocState.ACTIVE, DocState.JOINING):
                proto.drop(now, "forgotten")
                self._touch(proto)
            self._carried.discard(net)
            self._heads.pop(net, None)
            self._digest.pop(net, None)
            self._indexed.discard(net)
            for child in self._children.pop(net, ()):
                self._remove_parent(child, net)
        for key in list(self._orphans):
            held = self._orphans.get(key)
            if held is not None and (held.doc in gone or held.event.network in gone):
                self._orphans.pop(key)
        self._gate.drop_documents(gone)
        self.forks.forget(gone)
        self._finish(now)
