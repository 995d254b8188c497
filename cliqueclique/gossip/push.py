"""Push (Plumtree): how one document's new events travel (see protocol.py's
docstring, "Push", for the theory of operation).

Part of `DocumentProtocol` (a mixin). A newly held event goes eagerly to the
tree links and lazily (`IHave`) to the other holders; an event announced but
not received eagerly within `graft_timeout` is grafted from an announcer; a
duplicate prunes the redundant link. What announcers make us remember is
bounded (`max_missing`; an announcer is blamed only for its own share).
"""

from __future__ import annotations

import heapq

from ..eventlog import Event, Kind
from .messages import Graft, IHave, Prune

IHAVE_CHUNK = 20_000  # ids per IHave/Graft message (32 bytes each, well under the frame limit)


class PushTree:
    """The push half of `DocumentProtocol` (see the module doc)."""

    def _recent(self, event_id: str) -> set[str]:
        have = self.recent.get(event_id)
        if have is None:
            if len(self.recent) >= self.cfg.recent_limit:
                oldest, _ = self.recent.popitem(last=False)  # O(1), unlike a plain dict
                self.first_source.pop(oldest, None)
            have = self.recent[event_id] = set()
        return have

    def on_held(self, event: Event, source: str | None, hops: int, now: float, child: bool) -> None:
        """An event of this document's scope is now in the log: push it on."""
        if not self.active:
            return
        self._drop_missing(event.id)
        self.settle_at = now + self.cfg.settle_delay
        self._note_fresh(event.id, now)
        have = self._recent(event.id)
        if source is not None:
            have.add(source)
            self.first_source[event.id] = source
        if child and event.kind is Kind.DOCUMENT:
            return  # a child's document travels with the link that names it
        eager, lazy = self._targets()[2 if child else 0 : 4 if child else 2]
        for peer in eager:
            if peer not in have:
                self.host.push(peer, self, [(event, hops + 1)])
                have.add(peer)
        announced = False
        for peer in lazy:
            if peer not in have:
                self.links[peer].lazy.append(event.id)
                have.add(peer)
                announced = True
        if announced and self.lazy_at is None:
            self.lazy_at = now + self.cfg.lazy_interval

    def _note_fresh(self, event_id: str, now: float) -> None:
        fresh = self.fresh
        fresh[event_id] = now
        horizon = now - self.cfg.graft_timeout
        while fresh and (len(fresh) > self.cfg.recent_limit or next(iter(fresh.values())) < horizon):
            fresh.popitem(last=False)

    def in_flight(self, event_id: str, now: float) -> bool:
        """Held here less than `graft_timeout` ago: probably still travelling the
        tree towards a peer asking for it. A reconciliation answer announces such
        events (`IHave`) instead of sending them: most of them arrive eagerly
        anyway (after a tree repair, sending them made most of the duplicates),
        and the requester grafts any that do not."""
        held = self.fresh.get(event_id)
        return held is not None and held >= now - self.cfg.graft_timeout

    def _targets(self) -> tuple[list[str], list[str], list[str], list[str]]:
        """(eager, lazy) holders for the document's own events, then for its children's
        (subscribed holders only); cached until links, attributes or the tree change."""
        cached = self._targets_cache
        if cached is None:
            eager: list[str] = []
            lazy: list[str] = []
            eager_sub: list[str] = []
            lazy_sub: list[str] = []
            for peer, link in self.links.items():
                a = link.attrs
                if a is None or not a.holds or not link.live:
                    continue
                hot = self.eager(peer, link)
                (eager if hot else lazy).append(peer)
                if a.subscribed:
                    (eager_sub if hot else lazy_sub).append(peer)
            cached = self._targets_cache = (eager, lazy, eager_sub, lazy_sub)
        return cached

    def on_duplicate(self, peer: str, event_id: str) -> None:
        """An eager copy of an event we already had arrived from `peer`: prune the
        redundant link (the non-tree one of the two copies)."""
        self._recent(event_id).add(peer)
        link = self.links.get(peer)
        if link is None or not link.live:
            return
        if self.is_tree(peer, link):
            first = self.first_source.get(event_id)
            other = self.links.get(first) if first is not None else None
            if first is None or other is None or not other.live or self.is_tree(first, other):
                return
            peer, link = first, other
        if link.prune_sent:
            return
        link.prune_sent = True
        link.grafted = False
        self._targets_cache = None
        self.host.send(peer, Prune(self.doc))

    def on_prune(self, peer: str) -> None:
        link = self.links.get(peer)
        if link is not None:
            link.grafted = False
            link.pruned = True
            self._targets_cache = None

    def on_ihave(self, peer: str, ids: tuple[str, ...], now: float) -> bool:
        """Note announced ids we lack. False if the announcements overflow what we
        are willing to chase (a flood of made-up ids)."""
        if not self.active or peer not in self.links:
            return True
        known = self.host.known_ids(ids)
        deadline = now + self.cfg.graft_timeout
        for event_id in ids:
            if event_id in known:
                continue
            announcers = self.missing.get(event_id)
            if announcers is None:
                if len(self.missing) >= self.cfg.max_missing:
                    # Ignored either way; blamed only if this peer filled a quarter of it.
                    return self.claims_by[peer] < self.cfg.max_missing // 4
                self.missing[event_id] = [peer]
                self.claims[event_id] = peer
                self.claims_by[peer] += 1
                heapq.heappush(self.graft_heap, (deadline, event_id))
            elif peer not in announcers:
                announcers.append(peer)
        return True

    def on_graft(self, peer: str, ids: tuple[str, ...], now: float) -> None:
        link = self.links.get(peer)
        if link is None or not link.live:
            return
        link.grafted = True
        link.pruned = False
        link.prune_sent = False
        self._targets_cache = None
        self.host.push_ids(peer, self, ids)

    def want_from(self, peer: str, event_id: str, now: float) -> None:
        """We need `event_id` (e.g. the child a link names) and `peer` has it: graft now."""
        if event_id not in self.missing:
            self.missing[event_id] = []
            heapq.heappush(self.graft_heap, (now + self.cfg.graft_timeout, event_id))
        self.host.send(peer, Graft(self.doc, (event_id,)))

    def _drop_missing(self, event_id: str) -> None:
        if self.missing.pop(event_id, None) is None:
            return
        claimant = self.claims.pop(event_id, None)
        if claimant is not None:
            self.claims_by[claimant] -= 1
            if self.claims_by[claimant] <= 0:
                del self.claims_by[claimant]

    def _forget_announcer(self, peer: str) -> None:
        for announcers in self.missing.values():
            if peer in announcers:
                announcers.remove(peer)

    # --- reconciliation -------------------------------------------------------------------

    def _graft_timers(self, now: float) -> None:
        grafts: dict[str, list[str]] = {}
        while self.graft_heap and self.graft_heap[0][0] <= now:
            _, event_id = heapq.heappop(self.graft_heap)
            announcers = self.missing.get(event_id)
            if announcers is None:
                continue
            if self.host.known_ids((event_id,)):
                self._drop_missing(event_id)
                continue
            while announcers and not (announcers[0] in self.links and self.links[announcers[0]].live):
                announcers.pop(0)
            if not announcers:
                self._drop_missing(event_id)
                continue
            grafts.setdefault(announcers.pop(0), []).append(event_id)
            heapq.heappush(self.graft_heap, (now + self.cfg.graft_timeout, event_id))
        for peer, ids in grafts.items():
            self.links[peer].grafted = True
            self.links[peer].prune_sent = False
            self._targets_cache = None
            for i in range(0, len(ids), IHAVE_CHUNK):
                self.host.send(peer, Graft(self.doc, tuple(ids[i : i + IHAVE_CHUNK])))

    def _flush_lazy(self) -> None:
        for peer, link in self.links.items():
            if link.lazy:
                ids, link.lazy = link.lazy, []
                if link.live:
                    self.announce(peer, ids)

    def announce(self, peer: str, ids: list[str]) -> None:
        """Tell `peer` we hold these events (`IHave`, in messages of at most IHAVE_CHUNK ids)."""
        for i in range(0, len(ids), IHAVE_CHUNK):
            self.host.send(peer, IHave(self.doc, tuple(ids[i : i + IHAVE_CHUNK])))

    # --- the state update run after every input ------------------------------------------
