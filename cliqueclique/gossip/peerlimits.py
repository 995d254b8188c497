"""Peer limits that hold: shedding links beyond `max_peers`.

Part of `DocumentProtocol` (a mixin). A document takes links beyond
`max_peers` on purpose (a joiner, or a peer short of links, is never turned
away), so a node that many joined through ends up with too many. Once its
links have been quiet for `settle_delay`, such a node asks one linked peer
at a time to drop the link (`Shed`), never its own upstream and only a peer
that advertises more than `min_peers` links, most-linked first. The peer
decides, since only it knows whether it can do without:

- it keeps at least `min_peers` links after dropping this one;
- the asker does not reach the center through it;
- if the asker is its upstream (its way to the center), it has another link
  to a node that reaches the same center strictly "before" it, ordered by
  (distance, id), and not through it. Each node leans only on smaller nodes
  in that order, so no two nodes can each give up their way to the center
  counting on the other, and the document's network stays connected.

A peer that keeps the link simply does not answer; the asker notes it (until
that peer's attributes change) and asks the next one after `settle_delay`.
When nobody can do without it, the asker first introduces one of its peers
to another with room (`Suggest`, once per pair), so that it soon can:
preferably one that reaches the center before it, which is exactly the
other way it lacks (otherwise the children of a crowded center, each with
the center as its only way, could never let go). If no introduction can be
made yet (each link takes only a few suggestions a minute), it tries again
later, or sooner when its links change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .messages import Delete, Shed
from .states import LinkInput, LinkState
from .suggestions import SUGGESTION_INTERVAL

if TYPE_CHECKING:
    from .states import PeerLink


class PeerLimits:
    """The peer-limit half of `DocumentProtocol` (see the module doc)."""

    def _live_links(self) -> int:
        return sum(1 for link in self.links.values() if link.live)

    def _check_peer_limit(self, now: float) -> None:
        """Called after every flush: plan a shed while there are too many links
        (soon again after a change, even if a later retry was planned)."""
        soon = now + self.cfg.settle_delay
        if (self.active and (self.shed_at is None or self.shed_at > soon) and self.shed_to is None
                and self._live_links() > self.cfg.max_peers):
            self.shed_at = soon

    def _shed_timers(self, now: float) -> None:
        if self.shed_until is not None and self.shed_until <= now:
            link = self.links.get(self.shed_to or "")
            if link is not None:
                self.shed_declined[link.peer] = link.peer_serial  # it kept the link
            self.shed_to = self.shed_until = None
            self._check_peer_limit(now)
        if self.shed_at is not None and self.shed_at <= now:
            self.shed_at = None
            self._ask_to_shed(now)

    def _ask_to_shed(self, now: float) -> None:
        if not self.active or self._live_links() <= self.cfg.max_peers:
            return
        self.shed_declined = {p: s for p, s in self.shed_declined.items() if p in self.links}
        candidates = [(link.attrs.peers, peer) for peer, link in self.links.items()
                      if self._may_ask(peer, link)]
        if not candidates:
            # Nobody can do without us yet: introduce one of them to another of our
            # peers with room, so that it can (and ask again later). If none can be
            # introduced now (each link takes a few suggestions a minute), try
            # again once that budget may have come back, or when the links change.
            delay = self.cfg.settle_delay if self._introduce(now) else SUGGESTION_INTERVAL / 4
            self.shed_at = now + delay
            return
        _, peer = max(candidates)
        self.shed_to, self.shed_until = peer, now + 2 * self.cfg.settle_delay
        self.host.send(peer, Shed(self.doc))

    def _introduce(self, now: float) -> bool:
        """Suggest to a peer we would shed another of our peers that has room
        (once per pair, chosen as in `_introduction_for`), best one that would
        give it another way to the center (module doc); True if one was suggested."""
        holders = [peer for peer, link in self.links.items()
                   if link.holder and link.attrs is not None and link.state is LinkState.SYNCED]
        with_room = [p for p in holders if self.links[p].attrs.peers < self.cfg.max_peers]  # type: ignore[union-attr]
        for peer in holders:
            if peer == self.upstream:
                continue
            a = self.links[peer].attrs
            assert a is not None
            ways = [o for o in with_room if (b := self.links[o].attrs) is not None and b.center == a.center
                    and b.upstream != peer and (b.distance, o) < (a.distance, peer)]
            other = self._introduction_for(peer, ways) or self._introduction_for(peer, with_room)
            if other is not None and self.suggest_to(peer, other, now):
                return True
        return False

    def _may_ask(self, peer: str, link: PeerLink) -> bool:
        a = link.attrs
        if a is None or not link.holder or link.state is not LinkState.SYNCED or peer == self.upstream:
            return False
        if a.peers <= self.cfg.min_peers or self.shed_declined.get(peer) == link.peer_serial:
            return False
        ours, theirs = self.relevant_digests(link)
        return ours == theirs  # caught up: nothing is on its way over this link

    def on_shed(self, peer: str, now: float) -> None:
        """`peer` has too many links: drop ours to it if we can do without."""
        link = self.links.get(peer)
        if not self.active or link is None or not link.live or self._live_links() - 1 < self.cfg.min_peers:
            return
        if peer == self.upstream and not self._another_way(peer):
            return
        if link.attrs is not None and link.attrs.upstream == self.me:
            return  # the asker reaches the center through us (it should not have asked)
        self._remove(peer, LinkInput.SHED)
        self.host.send(peer, Delete(self.doc, 0))
        self.mark_dirty()

    def _another_way(self, upstream: str) -> bool:
        """A link, other than `upstream`'s, to a node that reaches our center
        before us in (distance, id) order and not through us."""
        here = (self.distance, self.me)
        for peer, link in self.links.items():
            a = link.attrs
            if (peer != upstream and link.holder and a is not None and a.center == self.center
                    and a.upstream != self.me and (a.distance, peer) < here):
                return True
        return False

    def _shed_link_gone(self, peer: str) -> None:
        """A link went away: if it was the one we asked to shed, ask no more of it."""
        if peer == self.shed_to:
            self.shed_to = self.shed_until = None
