"""Restarting the machine on an existing log: local flags now, links on first use.

Part of `GossipNode` (a mixin, plus the lazy index below). The local flags
come back from our own subscription events, and every subscribed or
bookmarked document the log holds is active again at once: that is what
peers are offered (`Have`) and answered.

Which children each document's links name, and so which children a
subscribed document carries, is left for first use: a big log's forums link
hundreds of thousands of children, and indexing them all took seconds and
hundreds of MB before the node could answer anyone. A *pending* document has
its links indexed (and its children carried, as at once) by
`LazyLinks.restore` the first time anything asks about it:

- its children (`_children`, `_index_links`, its scope);
- a child it may link (`_parents`, `_carried`): the log says which networks
  link that child, and the pending ones among them are restored first;
- every carried child (iterating `_carried`): everything pending is restored.

The first settle timer of each subscribed document asks for its scope, so
the rest is restored a few documents per input (`handle_timer`) soon after
start. Once nothing is pending the wrappers answer from memory alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet
from typing import TYPE_CHECKING, Any

from ..eventlog import Action, Kind
from .protocol import DocumentProtocol

if TYPE_CHECKING:
    from .node import GossipNode


class LazyLinks:
    """Which documents' links are not indexed yet, and restoring them."""

    def __init__(self, node: GossipNode) -> None:
        self.node = node
        self.pending: set[str] = set()  # documents whose links are indexed on first use
        self.checked: set[str] = set()  # children whose pending parents are restored

    def restore(self, docs: Iterable[str]) -> None:
        """Index the links of the pending `docs` and carry their children, as
        start-up used to for every document (one query each for all of them)."""
        if not self.pending:
            return
        docs = [doc for doc in docs if doc in self.pending]
        if not docs:
            return
        self.pending.difference_update(docs)
        node = self.node
        found = node.store.link_children(docs)
        # The children's other pending parents first (one query): whether a
        # child is carried depends on all of them.
        self.resolve_many({child for children in found.values() for child in children})
        carry: list[str] = []
        for doc, children in found.items():
            dict.setdefault(node._children, doc, set()).update(children)
            for child in children:
                node._add_parent(child, doc)
            proto = node._docs.get(doc)
            if proto is not None and proto.active and proto.subscribed:
                carry.extend(children)
        present = node.store.present(carry)
        for child in carry:
            node._update_carried(child, 0.0, held=child in present)
        if not self.pending:
            self.checked.clear()  # nothing left to ask about

    def resolve(self, child: str) -> None:
        """Restore the pending documents that link `child`."""
        if self.pending and child not in self.checked:
            self.resolve_many((child,))

    def resolve_many(self, children: Iterable[str]) -> None:
        if not self.pending:
            return
        unchecked = [child for child in children if child not in self.checked]
        if not unchecked:
            return
        self.checked.update(unchecked)
        parents = {net for nets in self.node.store.link_networks(unchecked).values() for net in nets}
        self.restore(parents & self.pending)

    def restore_all(self) -> None:
        self.restore(list(self.pending))


class LazyChildren(dict[str, set[str]]):
    """document -> the children its links name; a pending document's are
    read from the log on first use (see the module doc)."""

    def __init__(self, lazy: LazyLinks) -> None:
        super().__init__()
        self._lazy = lazy

    def get(self, doc: str, default: Any = None) -> Any:
        self._lazy.restore((doc,))
        return super().get(doc, default)

    def __getitem__(self, doc: str) -> set[str]:
        self._lazy.restore((doc,))
        return super().__getitem__(doc)

    def __contains__(self, doc: object) -> bool:
        if isinstance(doc, str):
            self._lazy.restore((doc,))
        return super().__contains__(doc)

    def setdefault(self, doc: str, default: Any = None) -> Any:
        self._lazy.restore((doc,))
        return super().setdefault(doc, default)

    def pop(self, doc: str, *default: Any) -> Any:
        self._lazy.pending.discard(doc)  # forgotten: nothing of it to restore
        return super().pop(doc, *default)


class LazyParents(dict[str, tuple[str, ...]]):
    """child -> the documents linking it; the pending ones among them are
    restored on first use (see the module doc)."""

    def __init__(self, lazy: LazyLinks) -> None:
        super().__init__()
        self._lazy = lazy

    def get(self, child: str, default: Any = None) -> Any:
        self._lazy.resolve(child)
        return super().get(child, default)

    def __getitem__(self, child: str) -> tuple[str, ...]:
        self._lazy.resolve(child)
        return super().__getitem__(child)

    def __contains__(self, child: object) -> bool:
        if isinstance(child, str):
            self._lazy.resolve(child)
        return super().__contains__(child)


class LazyCarried(MutableSet[str]):
    """The children carried by subscribed documents (see the module doc)."""

    def __init__(self, lazy: LazyLinks) -> None:
        self._lazy = lazy
        self._set: set[str] = set()

    @classmethod
    def _from_iterable(cls, it: Iterable[str]) -> set[str]:  # `|`, `&`, `-` give plain sets
        return set(it)

    def __contains__(self, child: object) -> bool:
        if isinstance(child, str):
            self._lazy.resolve(child)
        return child in self._set

    def __iter__(self) -> Iterator[str]:
        self._lazy.restore_all()
        return iter(self._set)

    def __len__(self) -> int:
        self._lazy.restore_all()
        return len(self._set)

    def add(self, child: str) -> None:
        self._set.add(child)

    def discard(self, child: str) -> None:
        self._set.discard(child)


def restore(node: GossipNode) -> None:
    """Rebuild local flags from our own subscription events (after a restart)."""
    flags = read_flags(node)
    wanted = [doc for doc, (subscribed, bookmarked) in flags.items() if subscribed or bookmarked]
    held = node.store.present(wanted)
    # Their links are indexed on first use (the module doc): marked indexed now
    # so that activating them does not, pending once they are active.
    node._indexed.update(held)
    node._load_heads(held)  # what activating each reads, for all at once
    for doc, (subscribed, bookmarked) in flags.items():
        if (subscribed or bookmarked) and doc in held and node._allowed_doc(doc):
            proto = node._docs[doc] = DocumentProtocol(doc, node)
            proto.set_flags(subscribed, bookmarked)
            node.document_activated(doc)
    for proto in node._docs.values():
        proto.subscribed = proto.local_subscribed  # what the first flush derives (no links yet)
    node._lazy.pending.update(held)
    node._lazy.resolve_many(held)  # whether each is some other's child: every flush asks
    for proto in node._docs.values():
        if proto.subscribed:
            proto.mark_dirty()
            # The scope digest (carried children included) at the first timers,
            # a few documents per input (`handle_timer`), not all of them here.
            proto.settle_at = 0.0


def read_flags(node: GossipNode) -> dict[str, list[bool]]:
    """document -> [subscribed, bookmarked] from our own subscription events
    (blocks are recorded on the node as they come)."""
    flags: dict[str, list[bool]] = {}
    for stored in node.store.events(network=node.node_id, kind=Kind.SUBSCRIPTION):
        body = stored.event.content()
        if not isinstance(body, dict):
            continue
        row = flags.setdefault(body["document"], [False, False])
        action = body["action"]
        if action in (Action.SUBSCRIBE, Action.UNSUBSCRIBE):
            row[0] = action == Action.SUBSCRIBE
        elif action in (Action.BOOKMARK, Action.UNBOOKMARK):
            row[1] = action == Action.BOOKMARK
        elif action == Action.BLOCK:
            node._blocked_docs.add(body["document"])
            row[0] = row[1] = False
        elif action == Action.UNBLOCK:
            node._blocked_docs.discard(body["document"])
    return flags
