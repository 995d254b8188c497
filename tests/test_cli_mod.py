"""Governing a forum from the terminal: `mod ...`, `block`/`unblock`/`blocked`,
`evidence`, and how `thread` shows what they hide (in-process; logs shared
between nodes with export/import, as a peer would deliver them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .test_cli import Shell
from .test_cli_client import ids, share


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    shell = Shell(tmp_path / "home")
    for name in ("owner", "mod", "reader", "spammer"):
        shell("init", "--name", name)
    return shell


def entries(sh: Shell, node: str, root: str, *extra: str) -> dict[str, dict[str, Any]]:
    out = json.loads(sh("--node", node, "thread", root, "--json", *extra).output)
    return {e["id"]: e for e in out["entries"]}


@pytest.fixture
def forum(sh: Shell, tmp_path: Path) -> tuple[str, str]:
    """owner's forum with one reply by spammer; everyone holds both."""
    root = sh("--node", "owner", "post", "-s", "Forum", "-b", "welcome").output.strip()
    share(sh, root, tmp_path, "owner", "spammer")
    spam = sh("--node", "spammer", "post", "-s", "spam", "-b", "buy now", "--parent", root[:10]).output.strip()
    for target in ("owner", "mod", "reader"):
        share(sh, root, tmp_path, "spammer", target)
    return root, spam


def test_a_moderator_hides_and_bans_and_the_reader_sees_it_collapsed(sh: Shell, forum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, spam = forum
    nodes = ids(sh)
    sh("--node", "owner", "mod", "add", root[:10], "mod")
    share(sh, root, tmp_path, "owner", "mod")
    assert "hide" in sh("--node", "mod", "mod", "hide", spam[:10], "--reason", "spam").output
    sh("--node", "mod", "mod", "ban", root[:10], "spammer", "--reason", "spammer")
    share(sh, root, tmp_path, "mod", "reader")
    seen = entries(sh, "reader", root)
    assert seen[spam]["hidden"] == {"by": nodes["mod"], "reason": "spam"} and seen[spam]["text"] is None
    assert seen[root]["hidden"] is None
    assert entries(sh, "reader", root, "--show-hidden")[spam]["text"] == "buy now"
    text = sh("--node", "reader", "thread", root).output
    assert "[hidden by mod: spam]" in text and "buy now" not in text
    history = [json.loads(line) for line in sh("--node", "reader", "mod", "log", root, "--json").output.splitlines()]
    assert [(h["action"], h["by"]) for h in history] == [
        ("appoint", nodes["owner"]), ("hide", nodes["mod"]), ("ban", nodes["mod"])]
    assert all(h["counted"] for h in history)
    log = sh("--node", "reader", "mod", "log", root[:10]).output
    assert "moderators: mod" in log and "mod ban spammer: spammer" in log
    # the reader stops honouring the moderator: hidden no more, here only
    sh("--node", "reader", "mod", "ignore", root[:10], "mod")
    assert entries(sh, "reader", root)[spam]["hidden"] is None
    assert entries(sh, "owner", root)[spam]["hidden"] is None  # the owner has not received the hide
    sh("--node", "reader", "mod", "heed", root[:10], "mod")
    assert entries(sh, "reader", root)[spam]["hidden"] is not None


def test_a_dismissed_moderator_s_later_actions_do_not_count(sh: Shell, forum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, spam = forum
    sh("--node", "owner", "mod", "add", root[:10], "mod")
    share(sh, root, tmp_path, "owner", "mod")
    sh("--node", "mod", "mod", "hide", spam[:10])
    share(sh, root, tmp_path, "mod", "owner")
    sh("--node", "owner", "mod", "remove", root[:10], "mod")  # until: the hide, which stays
    sh("--node", "mod", "mod", "unhide", spam[:10])  # the mod does not know yet
    share(sh, root, tmp_path, "mod", "reader")
    share(sh, root, tmp_path, "owner", "reader")
    assert entries(sh, "reader", root)[spam]["hidden"] is not None
    history = [json.loads(line) for line in sh("--node", "reader", "mod", "log", root, "--json").output.splitlines()]
    assert {(h["action"], h["counted"]) for h in history} >= {("hide", True), ("dismiss", True),
                                                              ("unhide", False)}
    assert "not counted" in sh("--node", "reader", "mod", "log", root).output


def test_refusals_are_one_error_line(sh: Shell, forum) -> None:  # type: ignore[no-untyped-def]
    root, spam = forum
    sh.fails("--node", "spammer", "mod", "hide", spam[:10], match="neither the owner nor a moderator")
    sh.fails("--node", "spammer", "mod", "add", root[:10], "spammer", match="only the owner")
    sh.fails("--node", "owner", "mod", "policy", root[:10], "pow:40", match="unknown policy")
    sh.fails("--node", "owner", "mod", "policy", root[:10], "closed", match="unknown policy")
    sh.fails("--node", "owner", "mod", "add", root[:10], "owner", match="more than a moderator")
    sh.fails("--node", "owner", "mod", "ban", "ffff", "spammer", match="no document")
    sh.fails("--node", "owner", "mod", "ban", root[:10], "zz", match="not a node id")
    sh.fails("--node", "owner", "mod", "heed", root[:10], "mod", match="not ignored")
    sh.fails("--node", "owner", "mod", "ban", root[:10], "spammer", "--reason", "x" * 1001, match="at most")
    sh.fails("--node", "owner", "unblock", "spammer", match="not blocked")
    sh.fails("--node", "owner", "block", "owner", match="yourself")
    assert "policy pow:16" in sh("--node", "owner", "mod", "policy", root[:10], "pow:16").output


def test_block_hides_an_author_for_this_node_only(sh: Shell, forum) -> None:  # type: ignore[no-untyped-def]
    root, spam = forum
    nodes = ids(sh)
    sh("--node", "reader", "block", "spammer")
    assert entries(sh, "reader", root)[spam]["hidden"] == {"by": nodes["reader"], "reason": "blocked"}
    assert entries(sh, "owner", root)[spam]["hidden"] is None
    blocked = [json.loads(line) for line in sh("--node", "reader", "blocked", "--json").output.splitlines()]
    assert blocked == [{"author": nodes["spammer"], "documents_held": 1}]
    sh.fails("--node", "reader", "block", "spammer", match="already blocked")
    sh("--node", "reader", "unblock", nodes["spammer"][:8])
    assert entries(sh, "reader", root)[spam]["hidden"] is None
    assert sh("--node", "reader", "blocked").output == ""


def test_evidence_lists_no_forks_on_an_honest_log(sh: Shell, forum) -> None:  # type: ignore[no-untyped-def]
    assert sh("--node", "reader", "evidence").output.strip() == "no forks seen"
    assert sh("--node", "reader", "evidence", "--json").output == ""


def test_posting_policies_are_applied_when_posting(sh: Shell, forum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cliqueclique.eventlog.work import leading_zero_bits

    root, _ = forum
    sh("--node", "owner", "mod", "policy", root[:10], "pow:10")
    share(sh, root, tmp_path, "owner", "reader")
    result = sh("--node", "reader", "post", "-s", "proven", "-b", "hi", "--parent", root[:10])
    reply = result.stdout.strip()
    assert leading_zero_bits(reply) >= 10 and "proof of work: 10 bits in" in result.stderr
    assert "proof of work" not in sh("--node", "owner", "post", "-s", "mine", "-b", "x", "--parent",
                                     root[:10]).stderr  # the owner needs none
    sh("--node", "owner", "mod", "policy", root[:10], "members")
    sh("--node", "owner", "mod", "ban", root[:10], "spammer", "--reason", "spam")
    share(sh, root, tmp_path, "owner", "reader")
    share(sh, root, tmp_path, "owner", "spammer")
    sh.fails("--node", "reader", "post", "-s", "x", "-b", "y", "--parent", reply[:10], match="members only")
    sh.fails("--node", "spammer", "post", "-s", "x", "-b", "y", "--parent", root[:10],
             match="banned from forum")
    sh("--node", "owner", "mod", "approve", root[:10], "reader")
    share(sh, root, tmp_path, "owner", "reader")
    sh("--node", "reader", "post", "-s", "member now", "-b", "hi", "--parent", reply[:10])
