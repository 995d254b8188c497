"""What a running node replicates, as its forums' moderation says.

The gossip machine asks its `Policy` about every event a peer sends, with the
document whose network carried it (gossip/admission.py applies the answer).
`Governance` answers from the views: an event is refused, neither stored nor
forwarded, when

- its author is banned from the forum the document belongs to (by a
  moderator this node honours: `mod ignore` takes that moderator's bans away);
- it is a post (a document, or the link adding it) by an author who may not
  post under the forum's policy: `members`, or `pow:BITS` without the proof
  of work (the document's id has BITS leading zero bits);

and a post is held back (not refused) when its author has used up the flood
budget for that forum (`FloodConfig`: 60 new posts a minute with bursts of
100 by default): it is offered again once the budget refills. Only new posts
are charged, those dated within `fresh_seconds` (15 minutes) of this node's
clock: older ones are history that a joining node fetches in bulk, and
holding them back would make a join of a busy forum take hours. A flood
backdated to slip past the budget lands in the thread's past, where a
moderator's ban or the forum's policy still applies to it. The owner and
the moderators are never refused nor held back, and moderation events always
pass, so that a ban reaches everyone. Blocks by this node are the machine's
own (its subscription events), applied before this.

The forum of each document and the moderation state of each forum are
cached; `learned` drops what a stored event changes, and says whether the
policy may now admit what it refused (not after a ban: see `STRICTER`). A post is charged to
its author's flood budget once, however many peers send a copy of it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..eventlog import Event, Kind, ModAction
from ..eventlog.codec import parse_policy
from ..eventlog.store import SQLiteStore
from ..eventlog.work import has_work
from ..gossip.outputs import Policy, Refusal
from ..views import moderation
from .budget import TokenBucket

#: documents whose forum is remembered, forums whose state is, and (author, forum) flood budgets
CACHED = 10_000
#: moderation actions after which the policy admits nothing it refused before:
#: asking the peers again for every refused post after each ban (a flood's
#: containment is a ban per spamming key) would only bring them back refused
STRICTER = frozenset({ModAction.BAN, ModAction.REVOKE, ModAction.HIDE, ModAction.UNHIDE})
#: posts (link ids) remembered as charged to a flood budget, so a copy is not charged again
CHARGED = 50_000

BANNED, MEMBERS_ONLY, UNPROVEN = Refusal("banned"), Refusal("members"), Refusal("pow")


@dataclass(frozen=True)
class FloodConfig:
    """New posts per (author, forum): `per_minute` on average, `burst` at once;
    a post dated more than `fresh_seconds` before now is history, not charged."""

    per_minute: float = 60.0
    burst: float = 100.0
    fresh_seconds: float = 900.0


class Governance(Policy):
    def __init__(self, store: SQLiteStore, node: str, flood: FloodConfig | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.store, self.node = store, node
        self.flood = flood or FloodConfig()
        self.wall_clock = wall_clock  # event timestamps are wall-clock milliseconds; `now` is monotonic
        self._forum_of: OrderedDict[str, str] = OrderedDict()
        self._states: OrderedDict[str, moderation.ModerationState | None] = OrderedDict()
        self._budgets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        self._charged: OrderedDict[str, None] = OrderedDict()

    def admit(self, ev: Event, doc: str, now: float) -> Refusal | None:
        if ev.kind is Kind.MODERATION:
            return None
        forum = self.forum(doc)
        state = self.state(forum)
        if state is None or state.may_moderate(ev.author):
            return None
        if state.ban_of(ev.author) is not None:
            return BANNED
        if ev.kind is Kind.DOCUMENT or (ev.kind is Kind.LINK and ev.ref is not None):
            if ev.author not in state.members:
                policy = parse_policy(state.policy) or ("open", 0)
                if policy[0] == "members":
                    return MEMBERS_ONLY
                proof = ev.id if ev.kind is Kind.DOCUMENT else ev.ref
                if policy[0] == "pow" and not has_work(proof or "", policy[1]):
                    return UNPROVEN
            if ev.kind is Kind.LINK and ev.timestamp >= (self.wall_clock() - self.flood.fresh_seconds) * 1000:
                return self._spend(ev, forum, now)
        return None

    def _spend(self, ev: Event, forum: str, now: float) -> Refusal | None:
        """One new post from its author in `forum`: within its flood budget, or held back until then."""
        if ev.id in self._charged:
            return None  # another copy of a post already admitted (the machine drops duplicates)
        key = (ev.author, forum)
        bucket = self._budgets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.flood.per_minute / 60.0, self.flood.burst)
            self._remember(self._budgets, key, bucket)
        if bucket.spend(1.0, now):
            self._charged[ev.id] = None
            while len(self._charged) > CHARGED:
                self._charged.popitem(last=False)
            return None
        return Refusal("flood", now + (1.0 - bucket.tokens) / bucket.rate)

    def learned(self, ev: Event) -> bool:
        if ev.kind is Kind.MODERATION:
            self._states.pop(ev.network, None)
            body = ev.content()
            return not (isinstance(body, dict) and body.get("action") in STRICTER)
        if ev.kind is Kind.SUBSCRIPTION and ev.author == self.node and ev.ref is not None:
            body = ev.content()
            if isinstance(body, dict) and body.get("action") in ("ignore", "heed"):
                self._states.pop(ev.ref, None)
                return True
        if ev.kind is Kind.DOCUMENT and ev.id in self._states and self._states[ev.id] is None:
            del self._states[ev.id]  # the forum's root came after we looked it up
        if ev.kind is Kind.LINK and ev.ref is not None and self._forum_of.get(ev.ref) == ev.ref:
            del self._forum_of[ev.ref]  # it was taken for a forum of its own before its link came
        return False

    def forum(self, doc: str) -> str:
        forum = self._forum_of.get(doc)
        if forum is None:
            forum = moderation.forums_of(self.store, [doc])[doc]
            self._remember(self._forum_of, doc, forum)
        return forum

    def state(self, forum: str) -> moderation.ModerationState | None:
        if forum not in self._states:
            self._remember(self._states, forum, moderation.state(self.store, forum, node=self.node))
        return self._states[forum]

    @staticmethod
    def _remember(cache: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
        cache[key] = value
        while len(cache) > CACHED:
            cache.popitem(last=False)
