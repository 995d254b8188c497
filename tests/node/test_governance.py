"""The running node's replication policy (node/governance.py), answered from a
real SQLite log with its views: what it refuses, what it holds back, and what
a change of moderation changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cliqueclique.eventlog import BatchSigner, Event, ModAction, SQLiteStore
from cliqueclique.eventlog.work import has_work
from cliqueclique.node.governance import FloodConfig, Governance

from ..conftest import make_key
from ..views.conftest import open_store

NOW_MS = 1_800_000_000_000  # the node's wall clock in these tests
OWNER, MOD, MEMBER, STRANGER = (make_key(60 + i) for i in range(4))


def signer(key: object, at_ms: int = NOW_MS) -> BatchSigner:
    clock = iter(range(at_ms, at_ms + 10**9))
    return BatchSigner(key, None, lambda: next(clock))  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = open_store(tmp_path / "log.sqlite")
    yield s
    s.close()


def governed(store: SQLiteStore, flood: FloodConfig | None = None) -> Governance:
    return Governance(store, "0" * 64, flood, wall_clock=lambda: NOW_MS / 1000)


def forum(store: SQLiteStore, *actions: tuple[ModAction, str]) -> tuple[Event, BatchSigner]:
    owner = signer(OWNER)
    root = owner.document("Forum", "welcome")
    store.append_many([root, owner.moderate(root.id, ModAction.APPOINT, signer(MOD).id),
                       *(owner.moderate(root.id, action, target) for action, target in actions)])
    return root, owner


def reply(author: BatchSigner, root: Event, text: str = "hello") -> tuple[Event, Event]:
    doc = author.document("re", text)
    return doc, author.link(root.id, doc.id)


def test_a_banned_author_is_refused_and_a_moderator_is_never(store: SQLiteStore) -> None:
    stranger = signer(STRANGER)
    root, _ = forum(store, (ModAction.BAN, stranger.id))
    policy = governed(store)
    assert [getattr(policy.admit(e, root.id, 0.0), "reason", None) for e in reply(stranger, root)] == ["banned"] * 2
    mod_doc, mod_link = reply(signer(MOD), root)
    assert policy.admit(mod_doc, root.id, 0.0) is None and policy.admit(mod_link, root.id, 0.0) is None


def test_a_members_forum_refuses_strangers_posts_and_admits_members(store: SQLiteStore) -> None:
    member = signer(MEMBER)
    root, _ = forum(store, (ModAction.POLICY, "members"), (ModAction.APPROVE, member.id))
    policy = governed(store)
    for event in reply(signer(STRANGER), root):
        refusal = policy.admit(event, root.id, 0.0)
        assert refusal is not None and refusal.reason == "members"
    assert [policy.admit(e, root.id, 0.0) for e in reply(member, root)] == [None, None]


def test_a_pow_forum_refuses_an_unproven_post_and_admits_a_proven_one(store: SQLiteStore) -> None:
    root, _ = forum(store, (ModAction.POLICY, "pow:6"))
    policy = governed(store)
    stranger = signer(STRANGER)
    unproven = next(p for p in (reply(stranger, root, f"try {i}") for i in range(100)) if not has_work(p[0].id, 6))
    assert [r.reason for r in (policy.admit(e, root.id, 0.0) for e in unproven) if r] == ["pow", "pow"]
    proven = next(p for p in (reply(stranger, root, f"mine {i}") for i in range(5000)) if has_work(p[0].id, 6))
    assert [policy.admit(e, root.id, 0.0) for e in proven] == [None, None]


def test_moderation_learned_changes_the_answer(store: SQLiteStore) -> None:
    root, owner = forum(store)
    policy = governed(store)
    stranger = signer(STRANGER)
    doc, _ = reply(stranger, root)
    assert policy.admit(doc, root.id, 0.0) is None  # cached: open, nobody banned
    ban = owner.moderate(root.id, ModAction.BAN, stranger.id)
    store.append(ban)
    assert policy.learned(ban) is False  # stricter: nothing refused before is worth asking for again
    refusal = policy.admit(doc, root.id, 0.0)
    assert refusal is not None and refusal.reason == "banned"
    unban = owner.moderate(root.id, ModAction.UNBAN, stranger.id)
    store.append(unban)
    assert policy.learned(unban) is True  # may admit what it refused: the machine asks again
    assert policy.admit(doc, root.id, 0.0) is None


def test_new_posts_beyond_the_flood_budget_are_held_back_until_it_refills(store: SQLiteStore) -> None:
    root, _ = forum(store)
    policy = governed(store, FloodConfig(per_minute=60, burst=5))
    stranger = signer(STRANGER)
    links = [reply(stranger, root, f"post {i}")[1] for i in range(7)]
    answers = [policy.admit(link, root.id, 100.0) for link in links]
    assert answers[:5] == [None] * 5
    held = [a for a in answers[5:] if a is not None]
    assert [a.reason for a in held] == ["flood", "flood"] and all(100.0 < a.until <= 101.0 for a in held)
    assert policy.admit(links[5], root.id, 101.0) is None  # one a second refilled
    other = reply(signer(MEMBER), root)[1]
    assert policy.admit(other, root.id, 100.0) is None  # another author's budget is its own


def test_history_is_not_charged_so_a_join_of_a_busy_forum_is_not_held(store: SQLiteStore) -> None:
    root, _ = forum(store)
    policy = governed(store, FloodConfig(per_minute=60, burst=5))
    old = signer(STRANGER, at_ms=NOW_MS - 3600_000)  # posted an hour ago
    assert [policy.admit(reply(old, root, f"{i}")[1], root.id, 0.0) for i in range(50)] == [None] * 50
    recent = signer(MEMBER, at_ms=NOW_MS - 60_000)  # a minute ago: new, charged
    answers = [policy.admit(reply(recent, root, f"{i}")[1], root.id, 0.0) for i in range(6)]
    assert answers[:5] == [None] * 5 and answers[5] is not None
