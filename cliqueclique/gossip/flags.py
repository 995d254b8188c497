"""Local decisions: subscriptions, bookmarks and blocks.

Part of `GossipNode` (a mixin). The application records each decision as a
subscription event in its own log; the machine applies them as they are
published and rebuilds them from the log after a restart.
"""

from __future__ import annotations

from ..eventlog import Action, Event, Kind
from .errors import LocalProtocolError
from .protocol import DocumentProtocol
from .states import DocState


class LocalFlags:
    """The local-decisions half of `GossipNode` (see the module doc)."""

    def _allowed_doc(self, doc: str) -> bool:
        return doc not in self._blocked_docs and self.policy.allows_document(doc)

    def _set_flags(self, doc: str, subscribed: bool | None, bookmarked: bool | None,
                   now: float) -> None:
        proto = self._docs.get(doc)
        if proto is None or proto.state is DocState.DROPPED:
            if not (subscribed or bookmarked):
                return
            if self.store.get(doc) is None:
                raise LocalProtocolError(f"document {doc[:16]} is not in the log: join it first")
            if not self._allowed_doc(doc):
                raise LocalProtocolError(f"document {doc[:16]} is refused by policy")
            proto = self._docs[doc] = DocumentProtocol(doc, self)
            proto.set_flags(subscribed, bookmarked)
            self.document_activated(doc)
        else:
            proto.set_flags(subscribed, bookmarked)
        self._touch(proto)

    def _apply_subscription(self, ev: Event, now: float) -> bool:
        """Apply one of our own subscription events; True if it lifted a block."""
        body = ev.content()
        doc, action = body["document"], Action(body["action"])
        try:
            if action is Action.SUBSCRIBE:
                self._set_flags(doc, True, None, now)
            elif action is Action.UNSUBSCRIBE:
                self._set_flags(doc, False, None, now)
            elif action is Action.BOOKMARK:
                self._set_flags(doc, None, True, now)
            elif action is Action.UNBOOKMARK:
                self._set_flags(doc, None, False, now)
            elif action is Action.BLOCK:
                self._blocked_docs.add(doc)
                self._set_flags(doc, False, False, now)
            elif action is Action.UNBLOCK:
                self._blocked_docs.discard(doc)
                return True
        except LocalProtocolError:
            pass  # a decision about a document we do not have: nothing to replicate
        return False

    def _restore(self) -> None:
        """Rebuild local flags from our own subscription events (after a restart)."""
        flags: dict[str, list[bool]] = {}
        for stored in self.store.events(network=self.node_id, kind=Kind.SUBSCRIPTION):
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
                self._blocked_docs.add(body["document"])
                row[0] = row[1] = False
            elif action == Action.UNBLOCK:
                self._blocked_docs.discard(body["document"])
        wanted = [doc for doc, (subscribed, bookmarked) in flags.items() if subscribed or bookmarked]
        held = self.store.present(wanted)
        # What activating each document reads, for all of them at once (a big log
        # holds thousands): the children their links name, and their chains' heads.
        self._index_links(*held)
        self._load_heads(held)
        for doc, (subscribed, bookmarked) in flags.items():
            if (subscribed or bookmarked) and doc in held and self._allowed_doc(doc):
                proto = self._docs[doc] = DocumentProtocol(doc, self)
                proto.set_flags(subscribed, bookmarked)
                self.document_activated(doc)
        # What `subscription_changed` would do for each, batched: a big log's
        # forums link hundreds of thousands of children, and one query each
        # (whether the log holds it, its chains' heads) took many seconds.
        for proto in self._docs.values():
            proto.subscribed = proto.local_subscribed  # what the first flush derives (no links yet)
        children = {child for doc, proto in self._docs.items() if proto.subscribed
                    for child in self._children.get(doc, ())}
        present = self.store.present(children)
        for child in children:
            self._update_carried(child, 0.0, held=child in present)
        for proto in self._docs.values():
            if proto.subscribed:
                proto.mark_dirty()
                # The scope digest (carried children included) at the first timers,
                # a few documents per input (`handle_timer`), not all of them here.
                proto.settle_at = 0.0
