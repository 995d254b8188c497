"""The moderation view: who moderates each forum, and what their actions hide,
ban and allow.

A forum's moderation events live in its root's network. The root's author is
the forum's owner. The rules, chosen so that the state is a function of the
set of events held (the same in every delivery order):

- **Who counts.** The owner's appointments and dismissals of a moderator M,
  taken in the owner's chain order, give the ranges of M's chain (M's seq in
  the forum's network) whose actions count: `appoint` (with `since`, M's
  last seq the owner had seen, 0 at first) opens the range after `since`;
  `dismiss` (with `until`) closes it at `until`. So a dismissal racing M's
  own actions is settled by `until`, whatever arrives first. The owner's own
  actions always count.
- **What they do.** The counted actions, ordered by (timestamp, event id),
  are folded: the last hide/unhide of a document wins, likewise ban/unban of
  an author, approve/revoke of a member, and the last policy. A ban never
  applies to the owner or to a current moderator.
- **Subjective moderation.** A node may ignore moderators of a forum (its own
  `ignore`/`heed` subscription events, private like every subscription): the
  fold then skips their actions, for that node only.

The log accepts every moderation event by the owner and by anyone the owner
ever appointed (see eventlog.validation); which count is decided here.
`mod_events` keeps every held moderation event with its `counted` flag,
recomputed for a forum whenever its moderation events change (they are few
per forum); the fold runs at query time, with the reading node's ignores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from ..eventlog.codec import MAX_POW_BITS, MAX_REASON, parse_policy
from ..eventlog.events import OWNER_ACTIONS, Action, Event, ModAction
from ..eventlog.store import SQLiteStore
from ..eventlog.writer import Author
from . import local, projector
from .batch import Batch, select_in
from .errors import BadModeration, NotADocument, NotAMember, NotAModerator


@dataclass(frozen=True)
class ModEvent:
    """One held moderation event."""

    id: str
    forum: str
    author: str
    seq: int
    timestamp: int
    action: str
    target: str
    reason: str | None = None
    since: int = 0
    until: int = 0
    counted: bool = False

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "forum": self.forum, "by": self.author, "timestamp": self.timestamp,
               "action": self.action, "target": self.target, "reason": self.reason,
               "counted": self.counted}
        if self.action == ModAction.APPOINT:
            out["since"] = self.since
        elif self.action == ModAction.DISMISS:
            out["until"] = self.until
        return out


@dataclass(frozen=True)
class Verdict:
    """Why something is hidden: who did it, and the reason they gave."""

    by: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason}


@dataclass
class ModerationState:
    """A forum's moderation, as one node honours it."""

    forum: str
    owner: str
    moderators: set[str] = field(default_factory=set)
    hidden: dict[str, Verdict] = field(default_factory=dict)  # document -> who hid it
    banned: dict[str, Verdict] = field(default_factory=dict)  # author -> who banned them
    members: set[str] = field(default_factory=set)
    policy: str = "open"

    def may_moderate(self, node: str) -> bool:
        return node == self.owner or node in self.moderators

    def ban_of(self, author: str) -> Verdict | None:
        """The ban in force on `author` (never on the owner or a moderator)."""
        return None if self.may_moderate(author) else self.banned.get(author)

    def may_post(self, author: str) -> bool:
        """Whether the policy lets `author` post at all (proof of work aside)."""
        if self.ban_of(author) is not None:
            return False
        return self.policy != "members" or self.may_moderate(author) or author in self.members

    def to_json(self) -> dict[str, Any]:
        return {"forum": self.forum, "owner": self.owner, "moderators": sorted(self.moderators),
                "policy": self.policy, "members": sorted(self.members),
                "hidden": {doc: v.to_json() for doc, v in sorted(self.hidden.items())},
                "banned": {author: v.to_json() for author, v in sorted(self.banned.items())}}


def _ranges(owner: str, events: Iterable[ModEvent]) -> dict[str, list[tuple[int, int | None]]]:
    """moderator -> the (after, up to) ranges of its chain that count; None: still open."""
    ranges: dict[str, list[tuple[int, int | None]]] = {}
    roles = sorted((e for e in events if e.author == owner and e.action in (ModAction.APPOINT,
                                                                            ModAction.DISMISS)),
                   key=lambda e: (e.seq, e.id))
    for e in roles:
        if e.target == owner:
            continue  # the owner is more than a moderator
        held = ranges.setdefault(e.target, [])
        open_now = bool(held) and held[-1][1] is None
        if e.action == ModAction.APPOINT and not open_now:
            held.append((e.since, None))
        elif e.action == ModAction.DISMISS and open_now:
            held[-1] = (held[-1][0], e.until)
    return ranges


def counted_ids(owner: str, events: Iterable[ModEvent]) -> set[str]:
    """The ids of the events that count (see the module doc: who counts)."""
    events = list(events)
    ranges = _ranges(owner, events)
    return {e.id for e in events
            if e.author == owner or any(lo < e.seq and (hi is None or e.seq <= hi)
                                        for lo, hi in ranges.get(e.author, ()))}


def fold(forum: str, owner: str, events: Iterable[ModEvent], ignored: Iterable[str] = ()) -> ModerationState:
    """The state the counted `events` give, skipping the actions of `ignored` moderators."""
    skip = set(ignored)
    counted = [e for e in events if e.counted]
    state = ModerationState(forum, owner)
    state.moderators = {m for m, held in _ranges(owner, counted).items() if held and held[-1][1] is None}
    for e in sorted(counted, key=lambda e: (e.timestamp, e.id)):
        if e.author in skip:
            continue
        verdict = Verdict(e.author, e.reason)
        if e.action == ModAction.HIDE:
            state.hidden[e.target] = verdict
        elif e.action == ModAction.UNHIDE:
            state.hidden.pop(e.target, None)
        elif e.action == ModAction.BAN:
            state.banned[e.target] = verdict
        elif e.action == ModAction.UNBAN:
            state.banned.pop(e.target, None)
        elif e.action == ModAction.APPROVE:
            state.members.add(e.target)
        elif e.action == ModAction.REVOKE:
            state.members.discard(e.target)
        elif e.action == ModAction.POLICY:
            state.policy = e.target
    return state


# ---------------------------------------------------------------- the view


_COLUMNS = "id, forum, author, seq, timestamp, action, target, reason, since, until, counted"


def _row(row: Sequence[Any]) -> ModEvent:
    return ModEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                    bool(row[10]))


def apply(batch: Batch) -> None:
    """Record a batch's moderation events and recount the forums they touch;
    fold ignore/heed subscriptions into `mod_ignored`."""
    recs = [r for r in batch.of_kind("moderation") if r.body is not None]
    if recs:
        batch.db.conn.executemany(
            f"INSERT INTO mod_events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,0)",
            [(r.id, r.network, r.author, r.seq, r.timestamp, r.body["action"], r.body["target"],
              r.body.get("reason"), r.body.get("since", 0), r.body.get("until", 0)) for r in recs])
        for forum in {r.network for r in recs}:
            _recount(batch.db, forum)
    for rec in batch.of_kind("subscription"):
        body = rec.body
        if body is None or body["action"] not in ("ignore", "heed"):
            continue
        if body["action"] == "ignore":
            batch.db.execute("INSERT OR IGNORE INTO mod_ignored (node, forum, moderator) VALUES (?,?,?)",
                             [rec.author, body["document"], body["moderator"]])
        else:
            batch.db.execute("DELETE FROM mod_ignored WHERE node = ? AND forum = ? AND moderator = ?",
                             [rec.author, body["document"], body["moderator"]])


def _recount(db: sqlite_utils.Database, forum: str) -> None:
    owner = _owner(db, forum)
    events = [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM mod_events WHERE forum = ?", [forum])]
    counted = counted_ids(owner, events) if owner is not None else set()
    db.conn.executemany("UPDATE mod_events SET counted = ? WHERE id = ?",
                        [(int(e.id in counted), e.id) for e in events if e.counted != (e.id in counted)])


def _owner(db: sqlite_utils.Database, forum: str) -> str | None:
    row = db.execute("SELECT author FROM docs WHERE id = ?", [forum]).fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------- queries


def history(store: SQLiteStore, forum: str) -> list[ModEvent]:
    """Every moderation event of the forum held here, oldest first, each with its `counted` flag."""
    db = projector.current(store)
    return [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM mod_events WHERE forum = ? "
                                        "ORDER BY timestamp, id", [forum])]


def ignored(store: SQLiteStore, node: str, forum: str) -> set[str]:
    """The moderators of `forum` that `node` does not honour."""
    db = projector.current(store)
    return {r[0] for r in db.execute("SELECT moderator FROM mod_ignored WHERE node = ? AND forum = ?",
                                     [node, forum])}


def state(store: SQLiteStore, forum: str, *, node: str | None = None) -> ModerationState | None:
    """The forum's moderation as `node` honours it (None: honouring every moderator);
    None if the forum is not a document held here."""
    db = projector.current(store)
    owner = _owner(db, forum)
    if owner is None:
        return None
    events = [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM mod_events WHERE forum = ? "
                                          "AND counted", [forum])]
    return fold(forum, owner, events, ignored(store, node, forum) if node else ())


def forums_of(store: SQLiteStore, docs: Iterable[str]) -> dict[str, str]:
    """doc -> the forum it belongs to: the root reached by following replies up
    (the oldest parent first, so one answer on every node); a document that
    replies to nothing is its own forum."""
    db = projector.current(store)
    out: dict[str, str] = {}
    for doc in docs:
        seen, current = {doc}, doc
        while True:
            parents = select_in(db, "SELECT e.above FROM edges e LEFT JOIN docs d ON d.id = e.above "
                                "WHERE e.below IN ({marks}) AND e.direction = 'natural' "
                                "ORDER BY coalesce(d.timestamp, e.timestamp), e.above LIMIT 1", [current])
            if not parents or parents[0][0] in seen:
                break
            current = parents[0][0]
            seen.add(current)
        out[doc] = current
    return out


# ---------------------------------------------------------------- writing


def moderate(author: Author, store: SQLiteStore, forum: str, action: ModAction, target: str,
             reason: str | None = None) -> Event:
    """Take one moderation action in `forum` as `author` (the local node).

    An appointment records the new moderator's last seq in the forum's network
    as `since`, a dismissal as `until`: what it did so far keeps counting.

    Raises:
        NotADocument: the forum is not a document held here.
        NotAModerator: the author may not do this in this forum.
        BadModeration: a bad policy, or an appointment of the owner.
    """
    current = state(store, forum)
    if current is None:
        raise NotADocument(f"no document {forum} in this node's log")
    if action in OWNER_ACTIONS and author.id != current.owner:
        raise NotAModerator(f"only the owner of forum {forum[:16]} ({current.owner[:16]}) appoints and "
                            "dismisses moderators")
    if not current.may_moderate(author.id):
        raise NotAModerator(f"{author.id[:16]} is neither the owner nor a moderator of forum {forum[:16]}")
    if action is ModAction.POLICY and parse_policy(target) is None:
        raise BadModeration(f"unknown policy {target!r}: give open, members or pow:BITS (BITS 1-{MAX_POW_BITS})")
    if action in OWNER_ACTIONS and target == current.owner:
        raise BadModeration("the owner of a forum is more than a moderator already")
    if reason is not None and len(reason) > MAX_REASON:
        raise BadModeration(f"a reason is at most {MAX_REASON} characters")
    head = store.head(target, forum) if action in OWNER_ACTIONS else None
    seq = head[0] if head else 0
    return author.moderate(forum, action, target, reason=reason or None,
                           since=seq if action is ModAction.APPOINT else 0,
                           until=seq if action is ModAction.DISMISS else 0)


def set_ignored(author: Author, store: SQLiteStore, forum: str, moderator: str, ignore: bool) -> Event:
    """Stop (or start again) honouring one moderator of a forum, on this node only.

    Raises:
        NotADocument: the forum is not a document held here.
    """
    if state(store, forum) is None:
        raise NotADocument(f"no document {forum} in this node's log")
    return author.subscription(forum, Action.IGNORE if ignore else Action.HEED, moderator=moderator)


def set_blocked(author: Author, store: SQLiteStore, target: str, block: bool) -> Event:
    """Block (or unblock) an author or a document, on this node only (`block`,
    `unblock` and the web UI share it, so they refuse alike).

    Raises:
        BadModeration: the target is the node itself, or nothing would change.
    """
    if target == author.id:
        raise BadModeration("you cannot block yourself")
    if (target in local.blocked(store, author.id)) == block:
        raise BadModeration(f"{target[:16]} is {'already' if block else 'not'} blocked")
    return author.subscription(target, Action.BLOCK if block else Action.UNBLOCK)


def work_required(store: SQLiteStore, parent: str, author: str) -> int:
    """Bits of proof of work a reply below `parent` by `author` must carry (0: none),
    per the policy of the forum `parent` belongs to.

    Raises:
        NotAMember: the forum is members-only, or the author is banned from it.
    """
    forum = forums_of(store, [parent])[parent]
    current = state(store, forum, node=author)
    if current is None or current.may_moderate(author) or author in current.members:
        return 0
    ban = current.ban_of(author)
    if ban is not None:
        because = f": {ban.reason}" if ban.reason else ""
        raise NotAMember(f"you are banned from forum {forum[:16]} by {ban.by[:16]}{because}")
    if current.policy == "members":
        raise NotAMember(f"forum {forum[:16]} is for members only; ask its moderators to approve you")
    parsed = parse_policy(current.policy)
    return parsed[1] if parsed and parsed[0] == "pow" else 0
