"""The terminal as a complete client: reading posts back, reactions, links,
editors, properties, id prefixes and names (in-process; see
test_cli_failures.py for the subprocess error cases)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cliqueclique.cli.context import resolve_id
from cliqueclique.errors import AmbiguousId

from .test_cli import Shell


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    shell = Shell(tmp_path / "home")
    shell("init", "--name", "alice")
    shell("init", "--name", "bob")
    return shell


def ids(sh: Shell) -> dict[str, str]:
    return {n["name"]: n["id"] for n in map(json.loads, sh("nodes", "--json").output.splitlines())}


def show(sh: Shell, doc: str, node: str = "alice") -> Any:
    return json.loads(sh("--node", node, "show", doc, "--json").output)


def share(sh: Shell, root: str, tmp_path: Path, source: str = "alice", target: str = "bob") -> None:
    path = tmp_path / f"{root[:8]}-{source}-{target}.cqx"
    sh("--node", source, "export", root, "-o", str(path))
    sh("--node", target, "import", str(path))


def test_show_gives_current_text_and_everything_about_a_post(sh: Shell, tmp_path: Path) -> None:
    root = sh("post", "-s", "Forum", "-b", "the *original* text").output.strip()
    reply = sh("post", "-s", "Re", "-b", "a reply", "--parent", root[:6]).output.strip()
    sh("edit", root[:6], "--body", "the edited text", "--title", "Forum v2")
    sh("tag", root[:6], "status=open", "area=cli")
    sh("note", root[:6], "remember this")
    sh("react", root[:6], "👍")
    data = show(sh, root[:6])
    assert data["id"] == root and data["subject"] == "Forum v2" and data["text"] == "the edited text"
    assert data["author"] == ids(sh)["alice"] and data["author_name"] == "alice"
    assert data["properties"] == {"area": "cli", "status": "open"}
    assert data["reactions"] == {"👍": [ids(sh)["alice"]]}
    assert data["note"] == "remember this" and data["flags"]["subscribed"] is True
    assert data["deleted"] is False and data["parents"] == []
    assert [c["id"] for c in data["children"]] == [reply] and data["children"][0]["direction"] == "natural"
    assert {"id", "subject", "text", "author", "timestamp", "editors", "properties", "reactions",
            "note", "flags", "parents", "children", "deleted"} <= data.keys()
    assert show(sh, reply)["parents"][0]["id"] == root
    text = sh("show", root[:6]).output
    assert "Forum v2" in text and "the edited text" in text and "by alice" in text
    assert "status=open" in text and "👍 1 (alice)" in text and "remember this" in text

    sh("delete", root[:6])
    gone = show(sh, root[:6])
    assert gone["deleted"] is True and gone["text"] is None and gone["reactions"] == {}
    assert "[deleted]" in sh("show", root[:6]).output


def test_thread_bodies_and_json_text(sh: Shell) -> None:
    root = sh("post", "-s", "Forum", "-b", "# Heading\n\nfirst paragraph\ncontinued\n\n- one\n- two").output.strip()
    reply = sh("post", "-s", "Re", "-b", "reply text", "--parent", root).output.strip()
    sh("edit", reply, "--body", "edited reply text")
    sh("--node", "alice", "react", reply, "🎉")
    out = sh("thread", root, "--bodies").output
    assert "first paragraph continued" in out  # a paragraph is re-wrapped as one
    assert "- one" in out and "edited reply text" in out and "[🎉 1]" in out
    assert out.index("Forum") < out.index("first paragraph") < out.index("Re") < out.index("edited reply")
    entries = json.loads(sh("thread", root, "--json").output)["entries"]
    assert [(e["id"], e["text"]) for e in entries] == [
        (root, "# Heading\n\nfirst paragraph\ncontinued\n\n- one\n- two"), (reply, "edited reply text")]
    assert "edited reply text" not in sh("thread", root).output  # titles only without --bodies


def test_forums_lists_followed_roots_newest_activity_first(sh: Shell, tmp_path: Path) -> None:
    old = sh("post", "-s", "Old forum", "-b", "x").output.strip()
    new = sh("post", "-s", "New forum", "-b", "y").output.strip()
    sh("post", "-s", "Re old", "-b", "z", "--parent", old)  # the old one is now the most active
    listed = [json.loads(line) for line in sh("forums", "--json").output.splitlines()]
    assert [f["id"] for f in listed] == [old, new]
    assert listed[0]["replies"] == 1 and listed[0]["subject"] == "Old forum"
    assert listed[0]["owner"] == ids(sh)["alice"] and {"unread", "last_activity"} <= listed[0].keys()
    text = sh("forums").output.splitlines()
    assert "Old forum" in text[0] and "(1 reply)" in text[0] and "New forum" in text[1]
    sh("unsubscribe", new)
    assert [json.loads(line)["id"] for line in sh("forums", "--json").output.splitlines()] == [old]
    assert "no forums yet" in sh("--node", "bob", "forums").output
    share(sh, old, tmp_path)
    (bobs,) = [json.loads(line) for line in sh("--node", "bob", "forums", "--json").output.splitlines()]
    assert bobs["id"] == old and bobs["unread"] == 2  # the root and its reply


def test_reactions_by_any_reader_and_retraction(sh: Shell, tmp_path: Path) -> None:
    root = sh("post", "-s", "Forum", "-b", "x").output.strip()
    share(sh, root, tmp_path)
    sh("--node", "bob", "react", root[:8], "👍")
    sh("--node", "alice", "react", root[:8], "👍")
    sh("--node", "bob", "react", root[:8], "❤️")
    sh.fails("--node", "bob", "react", root[:8], "👍", match="already reacted")
    sh.fails("--node", "alice", "react", root[:8], "🙃", "--undo", match="not reacted")
    share(sh, root, tmp_path)  # alice's reaction reaches bob
    people = ids(sh)
    assert show(sh, root, "bob")["reactions"] == {"👍": sorted([people["alice"], people["bob"]]),
                                                   "❤️": [people["bob"]]}
    sh("--node", "bob", "react", root[:8], "👍", "--undo")
    assert show(sh, root, "bob")["reactions"] == {"👍": [people["alice"]], "❤️": [people["bob"]]}


def test_links_cross_and_reversed(sh: Shell) -> None:
    a = sh("post", "-s", "A", "-b", "a").output.strip()
    b = sh("post", "-s", "B", "-b", "b").output.strip()
    c = sh("post", "-s", "C", "-b", "c").output.strip()
    sh("link", a, b)  # B becomes a reply to A as well
    sh("link", c, a, "--reversed")  # C annotates A: C shows up below A
    below_a = {e["id"] for e in json.loads(sh("thread", a, "--json").output)["entries"]}
    assert below_a == {a, b, c}
    assert show(sh, c)["children"] == [] and show(sh, c)["parents"][0]["id"] == a
    assert show(sh, c)["parents"][0]["direction"] == "reversed"
    sh.fails("link", a, b, match="linked that way already")
    sh.fails("link", a, a, match="cannot link to itself")
    sh.fails("link", a, "ffff1234", match="no document ffff1234")


def test_editors_add_and_remove(sh: Shell, tmp_path: Path) -> None:
    root = sh("post", "-s", "Wiki", "-b", "v1").output.strip()
    share(sh, root, tmp_path)
    sh.fails("--node", "bob", "edit", root, "--body", "bob's", match="not")
    sh("editors", root, "add", "bob")  # a local name works as a node id
    share(sh, root, tmp_path)
    sh("--node", "bob", "edit", root, "--body", "v2 by bob")
    assert show(sh, root, "bob")["editors"] == [ids(sh)["bob"]]
    share(sh, root, tmp_path, "bob", "alice")
    assert show(sh, root)["text"] == "v2 by bob"
    sh("editors", root, "remove", ids(sh)["bob"][:10])
    assert show(sh, root)["editors"] == []
    sh.fails("--node", "bob", "editors", root, "add", "alice", match="author")


def test_properties_are_findable_and_removable(sh: Shell) -> None:
    doc = sh("post", "-s", "Bug", "-b", "it breaks").output.strip()
    other = sh("post", "-s", "Other", "-b", "fine").output.strip()
    sh("tag", doc, "status=open")
    found = [json.loads(line) for line in sh("find", "--property", "status=open", "--json").output.splitlines()]
    assert [f["id"] for f in found] == [doc] and found[0]["text"] == "it breaks"
    sh("tag", doc, "status=closed")
    assert sh("find", "--property", "status=open", "--json").output == ""
    sh("tag", doc, "--remove", "status")
    assert show(sh, doc)["properties"] == {}
    sh.fails("tag", doc, "novalue", match="NAME=VALUE")
    sh.fails("tag", other, match="nothing to change")


def test_prefixes_and_names_everywhere(sh: Shell) -> None:
    people = ids(sh)
    doc = sh("--node", "bo", "post", "-s", "by bob", "-b", "x").output.strip()  # the start of a name
    assert show(sh, doc, "bob")["author"] == people["bob"]
    assert show(sh, doc, people["bob"][:6])["author"] == people["bob"]
    for author in (people["bob"][:12], "bob", people["bob"]):
        found = [json.loads(line)["id"] for line in sh("--node", "bob", "find", "--author", author, "--json").output.splitlines()]
        assert found == [doc]
        logged = {json.loads(line)["author"] for line in sh("--node", "bob", "log", "--author", author, "--json").output.splitlines()}
        assert logged == {people["bob"]}
    sh.fails("--node", "bob", "find", "--author", "ffff0000", match="no node ffff0000")
    sh.fails("--node", "zed", "log", match="no node named")


def test_ambiguous_names_and_prefixes_are_refused(sh: Shell) -> None:
    sh("init", "--name", "alina")
    sh.fails("--node", "ali", "log", match="matches several nodes")
    assert sh("--node", "alice", "log").exit_code == 0  # an exact name wins over name starts

    class TwoMatches:  # what a log answers when two ids share the prefix typed
        def ids_with_prefix(self, prefix: str, kind: object) -> list[str]:
            return [prefix + "0" * 60, prefix + "1" * 60]

    with pytest.raises(AmbiguousId, match="matches several documents"):
        resolve_id(TwoMatches(), "abcd")  # type: ignore[arg-type]
    sh.fails("show", "abc", match="at least 4 characters")


def test_peer_add_ban_unban(sh: Shell) -> None:
    peer = "ab" * 32
    assert "peer abababababababab at tcp:127.0.0.1:7000" in sh("peer", "add", f"{peer}@tcp:127.0.0.1:7000").output
    sh("peer", "add", "tcp:127.0.0.1:7001", "--id", peer)
    invite = f"cq:{'cd' * 32}@{'ef' * 32},tcp:127.0.0.1:7002"
    sh("peer", "add", invite)
    listed = {p["id"]: p for p in map(json.loads, sh("peers", "--json").output.splitlines())}
    assert listed[peer]["addresses"] == ["tcp:127.0.0.1:7001", "tcp:127.0.0.1:7000"]
    assert listed["ef" * 32]["addresses"] == ["tcp:127.0.0.1:7002"]
    sh.fails("peer", "add", "tcp:127.0.0.1:7003", match="give the peer's node id")
    sh.fails("peer", "add", "nonsense", "--id", peer, match="address")
    sh.fails("peer", "add", "1234@tcp:127.0.0.1:7003", match="is not a node id")
    sh.fails("peer", "add", f"{ids(sh)['alice']}@tcp:127.0.0.1:7003", match="this node itself")

    assert "banned abababababababab: spam" in sh("peer", "ban", peer[:8], "--reason", "spam").output
    (banned,) = [p for p in map(json.loads, sh("peers", "--json").output.splitlines()) if p["id"] == peer]
    assert banned["state"] == "banned" and banned["ban_reason"] == "spam"
    sh("peer", "unban", peer[:8])
    (back,) = [p for p in map(json.loads, sh("peers", "--json").output.splitlines()) if p["id"] == peer]
    assert back["state"] == "known" and back["banned_until"] is None
    sh.fails("peer", "unban", peer[:8], match="is not banned")
    sh.fails("peer", "ban", "alice", match="cannot ban itself")
    sh.fails("peer", "ban", "0000ffff", match="no node 0000ffff")
