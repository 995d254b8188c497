"""Moderation as signed events: who may write them, which count, and the state
they give, the same in every delivery order."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliqueclique.errors import MalformedEvent, MissingDependency, Unauthorized
from cliqueclique.eventlog import Author, BatchSigner, Event, ModAction, SQLiteStore
from cliqueclique.eventlog.codec import parse_policy
from cliqueclique.views import dump, replay
from cliqueclique.views import moderation as mod

from ..conftest import make_key
from .conftest import Clock, open_store

OWNER, MOD1, MOD2, SPAMMER, MEMBER = (make_key(40 + i) for i in range(5))


def scenario() -> tuple[Event, list[Event]]:
    """A forum; its owner appoints two moderators and dismisses the first,
    whose actions race the dismissal; hides, bans, a policy and a member."""
    clock = Clock()
    owner, m1, m2, spammer = (BatchSigner(k, None, clock) for k in (OWNER, MOD1, MOD2, SPAMMER))
    forum = owner.document("Forum", "welcome")
    spam = spammer.document("spam", "buy now")
    events = [
        spam, spammer.link(forum.id, spam.id),
        owner.moderate(forum.id, ModAction.APPOINT, m1.id),
        m1.moderate(forum.id, ModAction.HIDE, spam.id, reason="spam"),  # m1 seq 1
        m1.moderate(forum.id, ModAction.BAN, spammer.id, reason="spammer"),  # m1 seq 2
        owner.moderate(forum.id, ModAction.DISMISS, m1.id, until=2),
        m1.moderate(forum.id, ModAction.UNBAN, spammer.id),  # seq 3: after until, never counts
        owner.moderate(forum.id, ModAction.APPOINT, m2.id),
        m2.moderate(forum.id, ModAction.POLICY, "members"),
        m2.moderate(forum.id, ModAction.APPROVE, make_key(44).verify_key.encode().hex()),
        m2.moderate(forum.id, ModAction.BAN, owner.id, reason="a ban of the owner is void"),
    ]
    return forum, events


def deliver(store: SQLiteStore, events: list[Event], order: list[int], batch: int) -> None:
    """Append in `order`, `batch` at a time, keeping refused events (a gap, an
    appointment not held yet) for later, as a node's orphan buffer does."""
    waiting = [events[i] for i in order]
    while waiting:
        part, waiting = waiting[:batch], waiting[batch:]
        results = store.append_many(part)
        refused = [e for e, r in zip(part, results) if r.error is not None]
        assert len(refused) < len(part) or waiting, [r.reason for r in results]
        waiting += refused


def test_the_scenario_gives_the_documented_state(store: SQLiteStore) -> None:
    forum, events = scenario()
    store.append_many([forum, *events])
    state = mod.state(store, forum.id)
    assert state is not None
    spam, m1, m2 = events[0], events[3].author, events[8].author
    assert state.moderators == {m2}  # m1 dismissed
    assert state.hidden == {spam.id: mod.Verdict(m1, "spam")}  # before the dismissal: still counts
    assert state.ban_of(spam.author) == mod.Verdict(m1, "spammer")  # m1's late unban does not count
    assert state.ban_of(forum.author) is None  # the owner cannot be banned
    assert state.policy == "members" and not state.may_post(spam.author) and state.may_post(m2)
    counted = {e.id: e.counted for e in mod.history(store, forum.id)}
    assert counted[events[6].id] is False and counted[events[4].id] is True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(range(11)), batch=st.integers(1, 11))
def test_moderation_state_is_the_same_in_every_delivery_order(order: list[int], batch: int) -> None:
    forum, events = scenario()
    with tempfile.TemporaryDirectory() as tmp:
        reference = open_store(Path(tmp) / "reference.sqlite")
        reference.append_many([forum, *events])
        store = open_store(Path(tmp) / "store.sqlite")
        store.append(forum)
        deliver(store, events, order, batch)
        assert mod.state(store, forum.id) == mod.state(reference, forum.id)
        assert dump(store.db, with_positions=False) == dump(reference.db, with_positions=False)
        replay(store)
        assert dump(store.db, with_positions=False) == dump(reference.db, with_positions=False)
        store.close()
        reference.close()


def test_only_the_owner_appoints_and_only_appointees_moderate(store: SQLiteStore) -> None:
    clock = Clock()
    owner, m1, stranger = (Author(k, store, clock) for k in (OWNER, MOD1, SPAMMER))
    forum = owner.document("Forum", "welcome")
    signer = BatchSigner(SPAMMER, store, clock)
    result = store.append_many([signer.moderate(forum.id, ModAction.APPOINT, stranger.id)])[0]
    assert isinstance(result.error, Unauthorized) and forum.id[:16] in str(result.error)
    signer = BatchSigner(SPAMMER, store, clock)  # its refused appointment took no seq
    result = store.append_many([signer.moderate(forum.id, ModAction.HIDE, forum.id)])[0]
    assert isinstance(result.error, MissingDependency)  # its appointment may still come: no blame
    owner.moderate(forum.id, ModAction.APPOINT, m1.id)
    m1.moderate(forum.id, ModAction.HIDE, forum.id, reason="test")
    state = mod.state(store, forum.id)
    assert state is not None and forum.id in state.hidden


def test_an_ignored_moderator_s_actions_are_reverted_for_that_node_only(store: SQLiteStore) -> None:
    forum, events = scenario()
    store.append_many([forum, *events])
    reader = Author(MEMBER, store, Clock())
    m1 = events[3].author
    from cliqueclique.eventlog import Action

    reader.subscription(forum.id, Action.IGNORE, moderator=m1)
    mine = mod.state(store, forum.id, node=reader.id)
    assert mine is not None and mine.hidden == {} and mine.ban_of(events[0].author) is None
    assert mod.state(store, forum.id).hidden  # everyone else still honours m1  # type: ignore[union-attr]
    reader.subscription(forum.id, Action.HEED, moderator=m1)
    assert mod.state(store, forum.id, node=reader.id) == mod.state(store, forum.id)


@pytest.mark.parametrize("body", [
    {"action": "promote", "target": "ab" * 32},
    {"action": "hide", "target": "not an id"},
    {"action": "policy", "target": "pow:99"},
    {"action": "policy", "target": "closed"},
    {"action": "dismiss", "target": "ab" * 32},  # no until
    {"action": "hide", "target": "ab" * 32, "until": 3},
    {"action": "hide", "target": "ab" * 32, "since": 3},
    {"action": "ban", "target": "ab" * 32, "reason": "x" * 1001},
    {"action": "appoint", "target": "ab" * 32, "since": -1},
])
def test_malformed_moderation_bodies_are_refused(body: dict[str, object]) -> None:
    from cliqueclique.eventlog import Kind, canonical_json, sign_event

    with pytest.raises(MalformedEvent):  # signing checks the body as decoding a peer's does
        sign_event(OWNER, Kind.MODERATION, network="cd" * 32, seq=1, prev=None,
                   timestamp=1_700_000_000_000, body=canonical_json(body))


def test_policies() -> None:
    assert parse_policy("open") == ("open", 0) and parse_policy("members") == ("members", 0)
    assert parse_policy("pow:16") == ("pow", 16)
    assert all(parse_policy(p) is None for p in ("pow:0", "pow:33", "pow:016", "pow:", "POW:8", ""))
