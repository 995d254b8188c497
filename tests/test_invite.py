"""Invites and the node's persisted peer table."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliqueclique.invite import BadInvite, Invite, parse_invite
from cliqueclique.net.address import parse_address
from cliqueclique.nodestate import NodeState

DOC, PEER = "ab" * 32, "cd" * 32


def test_invite_round_trip() -> None:
    invite = Invite(DOC, PEER, (parse_address("tcp:127.0.0.1:7000"), parse_address("tcp:[::1]:7001")))
    text = str(invite)
    assert " " not in text and text.startswith("cq:")
    assert parse_invite("  " + text + "\n") == invite


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("hello", "starts with 'cq:'"),
        (f"cq:{DOC[:10]}@{PEER},tcp:127.0.0.1:1", "document id"),
        (f"cq:{DOC}@nobody,tcp:127.0.0.1:1", "peer id"),
        (f"cq:{DOC}@{PEER}", "no peer address"),
        (f"cq:{DOC}@{PEER},tcp:127.0.0.1:99999", "bad address"),
        (f"cq:{DOC}@{PEER},ftp:x", "bad address"),
    ],
)
def test_bad_invites(text: str, match: str) -> None:
    with pytest.raises(BadInvite, match=match):
        parse_invite(text)


def test_peer_table_persists_and_merges_addresses(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "log.sqlite")
    state.add_peer(PEER, ["tcp:127.0.0.1:1"])
    state.add_peer(PEER, ["tcp:127.0.0.1:2"])
    state.update_peer(PEER, state="banned", banned_until=50.0, ban_reason="flood")
    state.close()
    again = NodeState(tmp_path / "log.sqlite")
    (peer,) = again.peers()
    assert peer.addresses == ["tcp:127.0.0.1:2", "tcp:127.0.0.1:1"]
    assert peer.banned(now=10.0) and not peer.banned(now=60.0) and peer.ban_reason == "flood"
    with pytest.raises(ValueError):
        again.update_peer(PEER, id="x")


def test_joins_and_status(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "log.sqlite")
    requested = state.request_join(DOC, PEER)
    assert state.pending_joins() == [(DOC, PEER, requested)]
    state.finish_join(DOC, PEER)
    assert state.pending_joins() == []
    state.publish_status("progress", {"x": 1})
    value, age = state.read_status("progress") or (None, None)
    assert value == {"x": 1} and age is not None and age >= 0
    assert state.read_status("nothing") is None
