"""Center sequence numbers: how a node cut off from its center gets routes
it may take again without waiting out the hold-down (see election.py for the
feasibility condition and protocol.py's docstring, "Center election").

Part of `DocumentProtocol` (a mixin). After every election a node looks for
better centers that only unfeasible routes lead to and asks for a newer seqno
along the closest of them (`SeqnoRequest`). A node that routes to that center
relays the request to its upstream (or, if it does not, to its closest link
that does), unless the route it holds is already new enough: then the newer
routes are on their way down through it. The center raises its seqno to what
was asked. Everything is rate-limited per center by `seqno_interval`: one
request sent or relayed, one raise (a raise sends an update down the whole
tree), so a peer asking in a loop costs the network little. One raise goes
up by at most `MAX_SEQNO_STEP`, enough for a restarted center (back at 0) to
catch up with what its peers remember in one go, while a peer asking for
ever higher numbers needs days to push a center to `MAX_SEQNO`; were it
there, losing a center would only cost the hold-down again.
"""

from __future__ import annotations

from . import election
from .messages import MAX_SEQNO, Attrs, SeqnoRequest

MAX_SEQNO_STEP = 1 << 16  # the most one raise adds to a center's seqno


class Seqnos:
    """The seqno half of `DocumentProtocol` (see the module doc)."""

    def _ask_seqnos(self, candidates: list[tuple[str, Attrs]], route: election.Route, now: float) -> None:
        """Ask for a newer seqno of every better center that only unfeasible routes lead to."""
        ours = election.rank(route.center_subscribed, route.center)
        best: dict[str, tuple[int, str]] = {}  # center -> (distance, peer) of the closest unfeasible route
        for peer, a in candidates:
            c = a.center
            if (c is None or c == self.me or c not in self.fd or not a.holds or a.upstream == self.me
                    or election.rank(a.center_subscribed, c) <= ours):
                continue
            if c not in best or (a.distance, peer) < best[c]:
                best[c] = (a.distance, peer)
        for center, (_, peer) in best.items():
            self._send_seqno_request(peer, center, self.fd[center][0] + 1, self.cfg.max_distance, now)

    def _send_seqno_request(self, peer: str, center: str, seqno: int, hops: int, now: float) -> None:
        asked = self.seqno_asked.get(center)
        if asked is not None and asked[0] >= seqno and now < asked[1] + self.cfg.seqno_interval:
            return  # asked (or relayed) already: one request per center and interval
        if len(self.seqno_asked) >= 2 * self.cfg.max_peers:  # centers we no longer hear of
            self.seqno_asked = {c: v for c, v in self.seqno_asked.items() if now < v[1] + self.cfg.seqno_interval}
        self.seqno_asked[center] = (seqno, now)
        self.host.send(peer, SeqnoRequest(self.doc, center, min(seqno, MAX_SEQNO), hops))

    def on_seqno_request(self, peer: str, msg: SeqnoRequest, now: float) -> None:
        """Raise our seqno if we are the center asked for, else relay the request
        one hop closer to it (our upstream, or the closest link that routes to it)."""
        link = self.links.get(peer)
        if not self.active or link is None or not link.live:
            return
        if msg.center == self.me:
            wanted = min(msg.seqno, self.own_seqno + MAX_SEQNO_STEP, MAX_SEQNO)
            if wanted > max(self.own_seqno, self.seqno_wanted):
                self.seqno_wanted = wanted
                self._raise_seqno(now)
            return
        if msg.hops <= 1:
            return
        if self.center == msg.center:
            if self.center_seqno >= msg.seqno or self.upstream is None:
                return  # the newer routes are already on their way down through us
            toward = self.upstream
        else:
            routes = sorted((a.distance, p) for p, lk in self.links.items()
                            if lk.live and p != peer and (a := lk.attrs) is not None
                            and a.center == msg.center and a.upstream != self.me)
            if not routes:
                return
            toward = routes[0][1]
        self._send_seqno_request(toward, msg.center, msg.seqno, min(msg.hops, self.cfg.max_distance) - 1, now)

    def _raise_seqno(self, now: float) -> None:
        """Adopt the wanted seqno, at most once per `seqno_interval` (each raise sends
        an update down the whole tree, so a peer asking in a loop costs little)."""
        if self.seqno_wanted <= self.own_seqno:
            return
        due = None if self.seqno_raised_at is None else self.seqno_raised_at + self.cfg.seqno_interval
        if due is not None and now < due:
            self.seqno_at = due
            return
        self.own_seqno, self.seqno_raised_at = self.seqno_wanted, now
        self.mark_dirty()
