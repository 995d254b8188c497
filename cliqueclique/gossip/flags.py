"""Local decisions: subscriptions, bookmarks and blocks.

Part of `GossipNode` (a mixin). The application records each decision as a
subscription event in its own log; the machine applies them as they are
published (restore.py rebuilds them from the log after a restart).
"""

from __future__ import annotations

from ..eventlog import Action, Event
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
