"""How many peer suggestions (`Suggest`) one link may make us act on.

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
