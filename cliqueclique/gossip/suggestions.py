"""Peer suggestions (`Suggest`): whom we introduce to a link short of peers,
and how many suggestions one link may make us act on.

Part of `DocumentProtocol` (the `Suggestions` mixin). A link advertising
fewer than `min_peers` peers is introduced, one suggestion per flush, to
another of our holders: one it can dial (we know an address: a peer that
dialled us names its TCP port in `Reachable`), not linked with it as far as
its attributes show, with the most room.

A suggestion makes the driver dial someone, so an unbounded stream of them
turns a peer into a dialler of our making (a frame of 1,000 made-up peers at
one address was 6,000 dials a minute). A suggestion only counts when it
comes from a live link of the same document (someone who holds it with us,
so it can know who else does) and names someone other than itself. An
honest node sends each link at most one suggestion per other holder, and at
most `SUGGESTIONS_SENT_PER_LINK` per interval (`DocumentProtocol.suggest_to`:
a node with many links would otherwise send a newcomer one per holder at
once, more than the newcomer accepts, and be banned for it).
A link that overspends reports itself once per interval (`PeerMisbehaved`,
so the driver bans it); its further suggestions are ignored until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Suggest
from .outputs import PeerMisbehaved, PeerSuggested

#: suggestions one link may make per document per `SUGGESTION_INTERVAL`;
#: exceeding it is misbehaviour (a ban), the excess is ignored
SUGGESTIONS_PER_LINK = 8
#: seconds over which `SUGGESTIONS_PER_LINK` is counted
SUGGESTION_INTERVAL = 60.0
#: what an honest node sends one link per document per interval: half the
#: receiver's limit, so intervals that start at different moments on the two
#: ends (latency, jitter) never add up to more than it
SUGGESTIONS_SENT_PER_LINK = SUGGESTIONS_PER_LINK // 2


@dataclass
class SuggestionBudget:
    """What one link spent on suggestions for one document this interval."""

    started: float = float("-inf")
    spent: int = 0

    def spend(self, now: float) -> int:
        """Count one suggestion; the number spent in the current interval (1, 2, ...)."""
        if now - self.started >= SUGGESTION_INTERVAL:
            self.started, self.spent = now, 0
        self.spent += 1
        return self.spent


class Suggestions:
    """The suggestion half of `DocumentProtocol`: acting on those we get, sending
    ours to links short of peers (see the module doc)."""

    def on_suggest(self, peer: str, msg: Suggest, now: float) -> None:
        """Act on a suggestion from a live link, within its budget (module doc)."""
        link = self.links.get(peer)
        if link is None or not link.live or msg.peer == peer:
            return  # it cannot know who holds the document with us: ignored, at no cost
        if len(self.suggestion_budgets) > 2 * max(len(self.links), self.cfg.max_peers):  # links gone
            self.suggestion_budgets = {p: b for p, b in self.suggestion_budgets.items() if p in self.links}
        spent = self.suggestion_budgets.setdefault(peer, SuggestionBudget()).spend(now)
        if spent > SUGGESTIONS_PER_LINK:
            if spent == SUGGESTIONS_PER_LINK + 1:  # once per interval: the driver bans it
                self.host.emit(PeerMisbehaved(peer, f"more than {SUGGESTIONS_PER_LINK} suggestions for "
                                              f"{self.doc[:16]} in {SUGGESTION_INTERVAL:g}s", self.doc, 1))
            return
        other = msg.peer
        if not self.active or other == self.me or other in self.links or not self.room():
            return
        if self.host.is_connected(other):
            self.add_link(other)
        else:
            self.host.emit(PeerSuggested(other, self.doc, msg.hint, peer))

    def _suggest(self, now: float) -> None:
        """Introduce each link short of peers to another of ours (one per flush)."""
        holders = self.holders()
        if len(holders) < 2:
            return
        for peer in holders:
            a = self.links[peer].attrs
            assert a is not None
            if a.peers < self.cfg.min_peers:
                other = self._introduction_for(peer, holders)
                if other is not None:
                    self.suggest_to(peer, other, now)

    def _introduction_for(self, peer: str, holders: list[str]) -> str | None:
        """The holder to suggest to `peer`: one not suggested to it before, that it
        can dial (we know an address; one that dialled us may tell it later, see
        `Reachable`), not linked with it as far as we can see, with the most room.
        A suggestion it cannot act on would spend its small budget for nothing."""
        a = self.links[peer].attrs
        assert a is not None
        best: tuple[int, str] | None = None
        for other in holders:
            b = self.links[other].attrs
            if (other == peer or b is None or (peer, other) in self.suggested or not self.host.hint(other)
                    or a.upstream == other or b.upstream == peer):
                continue
            if best is None or (b.peers, other) < best:
                best = (b.peers, other)
        return None if best is None else best[1]

    def suggest_to(self, peer: str, other: str, now: float) -> bool:
        """Suggest `other` to `peer`, within what we send one link (see
        suggestions.py); False if that is spent for now (tried again later)."""
        if len(self.suggestions_sent) > 2 * max(len(self.links), self.cfg.max_peers):  # links gone
            self.suggestions_sent = {p: b for p, b in self.suggestions_sent.items() if p in self.links}
        budget = self.suggestions_sent.setdefault(peer, SuggestionBudget())
        if budget.spend(now) > SUGGESTIONS_SENT_PER_LINK:
            budget.spent -= 1  # not sent after all
            return False
        self.suggested.add((peer, other))
        self.host.send(peer, Suggest(self.doc, other, self.host.hint(other)))
        return True
