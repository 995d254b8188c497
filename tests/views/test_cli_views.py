"""The view commands through click's CliRunner, error paths included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from cliqueclique.cli import cli

COMMANDS = ["thread", "edit", "delete", "subscribe", "unsubscribe", "bookmark", "unbookmark", "read",
            "unread", "note", "dir", "dir create", "dir add", "dir search", "find", "replay"]


class Shell:
    """Runs commands against one home directory."""

    def __init__(self, home: Path, node: str = "bob") -> None:
        self.home = home
        self.node = node  # who acts when a command does not say
        self.runner = CliRunner()

    def run(self, *args: str, node: str | None = None) -> Result:
        prefix = ["--home", str(self.home), "--node", node or self.node]
        return self.runner.invoke(cli, [*prefix, *args])

    def ok(self, *args: str, node: str | None = None) -> str:
        result = self.run(*args, node=node)
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    def fails(self, *args: str, node: str | None = None, says: str = "") -> str:
        """Exit 1 with exactly one line, no traceback."""
        result = self.run(*args, node=node)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert says in lines[0], lines[0]
        return lines[0]

    def json_lines(self, *args: str, node: str | None = None) -> list[Any]:
        return [json.loads(line) for line in self.ok(*args, node=node).splitlines()]

    def share(self, root: str, source: str, target: str) -> None:
        """Carry a thread from one local node's log to another's (export/import)."""
        path = self.home / f"{root[:8]}.export"
        self.ok("export", root, "-o", str(path), node=source)
        self.ok("import", str(path), node=target)


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    shell = Shell(tmp_path / "home")
    shell.ok("init", "--name", "alice", node="alice")
    shell.ok("init", "--name", "bob", node="alice")
    return shell


@pytest.fixture
def posts(sh: Shell) -> dict[str, str]:
    """Alice posts, Bob receives it and replies (Bob's log holds both)."""
    root = sh.ok("post", "-s", "Welcome", "-b", "hello forum", node="alice")
    sh.share(root, "alice", "bob")
    reply = sh.ok("post", "-s", "Thanks", "-b", "glad to be here", "--parent", root, node="bob")
    return {"root": root, "reply": reply}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(sh: Shell, command: str) -> None:
    out = sh.ok(*command.split(), "--help")
    assert out.startswith("Usage:") and len(out.splitlines()) > 2


def test_thread_text_and_json(sh: Shell, posts: dict[str, str]) -> None:
    text = sh.ok("thread", posts["root"][:10]).splitlines()
    assert text[0].startswith("* Welcome") and text[0].endswith("(1 reply)  *unread*")
    assert text[1].startswith("  - Thanks") and "*unread*" not in text[1]  # Bob's own
    tree = json.loads(sh.ok("thread", posts["root"], "--json"))
    assert [(e["depth"], e["id"], e["unread"]) for e in tree["entries"]] == [
        (0, posts["root"], True), (1, posts["reply"], False)]
    sh.fails("thread", "abcdef12", says="no document abcdef12")
    sh.fails("thread", "not-hex", says="is not a document id")


def test_edit_by_author_and_editor_rules(sh: Shell, posts: dict[str, str]) -> None:
    edit_id = sh.ok("edit", posts["root"], "--body", "hello, forum!", "--tag", "intro", node="alice")
    assert len(edit_id) == 64
    found = sh.json_lines("find", "--text", "forum", "--json", node="alice")
    assert [f["id"] for f in found] == [posts["root"]]
    sh.fails("edit", posts["root"], "--body", "mine now", node="bob", says="not authorised")
    assert sh.json_lines("find", "--text", "mine", "--json") == []
    sh.fails("edit", posts["root"], "--body", "hello, forum!", node="alice",
             says="already looks like that")
    sh.fails("edit", posts["root"], node="alice", says="nothing to change")
    sh.fails("edit", "0123456789", "--body", "x", says="no document")


def test_edit_body_from_file_and_title(sh: Shell, posts: dict[str, str], tmp_path: Path) -> None:
    body = tmp_path / "body.md"
    body.write_text("a body from a file", encoding="utf-8")
    sh.ok("edit", posts["reply"], "--body-file", str(body), "--title", "Many thanks", node="bob")
    tree = json.loads(sh.ok("thread", posts["root"], "--json"))
    assert tree["entries"][1]["title"] == "Many thanks"
    sh.fails("edit", posts["reply"], "--body", "x", "--body-file", str(body), node="bob",
             says="not both")


def test_delete_document_and_link(sh: Shell, posts: dict[str, str]) -> None:
    sh.fails("delete", posts["root"], node="bob", says="not authorised")
    out = sh.ok("delete", posts["reply"], node="bob")
    assert out.startswith(f"deleted {posts['reply']}")
    tree = json.loads(sh.ok("thread", posts["root"], "--json"))
    assert tree["entries"][1]["status"] == "deleted" and tree["entries"][1]["title"] is None
    sh.fails("delete", posts["reply"], node="bob", says="already deleted")
    link = sh.json_lines("log", "--kind", "link", "--json", node="bob")[0]["id"]
    sh.ok("delete", link, node="bob")
    assert len(json.loads(sh.ok("thread", posts["root"], "--json"))["entries"]) == 1
    sh.fails("delete", link, node="bob", says="already deleted")
    sh.fails("delete", "ffffffff", says="no event ffffffff")


def test_flags_and_notes(sh: Shell, posts: dict[str, str]) -> None:
    def flags() -> tuple[bool, bool, bool]:
        rows = {r["id"]: r for r in sh.json_lines("find", "--json")}
        return rows[posts["root"]]["subscribed"], rows[posts["root"]]["bookmarked"], rows[posts["root"]]["read"]

    assert flags() == (True, False, False)  # replying subscribed Bob to the root
    assert sh.ok("bookmark", posts["root"]) == f"bookmark: {posts['root']}"
    sh.ok("read", posts["root"])
    assert flags() == (True, True, True)
    sh.ok("unsubscribe", posts["root"])
    sh.ok("unbookmark", posts["root"])
    sh.ok("unread", posts["root"])
    assert flags() == (False, False, False)
    sh.ok("subscribe", posts["root"])
    assert flags() == (True, False, False)
    assert sh.ok("note", posts["root"], "answer this") == f"note: {posts['root']}"
    for command in ("subscribe", "unsubscribe", "bookmark", "read", "unread", "unbookmark"):
        sh.fails(command, "99999999", says="no document 99999999")
    sh.fails("note", "99999999", "x", says="no document")


def test_find_filters(sh: Shell, posts: dict[str, str]) -> None:
    alice = sh.json_lines("nodes", "--json")[0]["id"]

    def found(*args: str) -> list[str]:
        return [r["id"] for r in sh.json_lines("find", *args, "--json")]

    assert found("--author", alice) == [posts["root"]]
    assert found("--unread", "yes") == [posts["root"]]
    assert found("--under", posts["root"]) == [posts["reply"]]
    assert found("--children-of", posts["root"]) == [posts["reply"]]
    assert found("--parents-of", posts["reply"]) == [posts["root"]]
    assert found("--subscribed", "yes") == [posts["root"]]
    assert found("--bookmarked", "yes") == []
    assert found("--property", "lang=en") == []
    assert sh.ok("find", "--text", "glad").endswith("Thanks")  # Bob's own: no unread mark
    sh.fails("find", "--property", "nonsense", says="NAME=VALUE")
    sh.fails("find", "--text", "***", says="nothing to search for")
    sh.fails("find", "--under", "12345678", says="no document")
    sh.fails("find", "--limit", "0", says="limit must be")


def test_directory_commands(sh: Shell) -> None:
    directory = sh.ok("dir", "create", "Recipes")
    docs = {s: sh.ok("post", "-s", s, "-b", "recipe") for s in ("Pesto", "Pecan pie", "Pizza", "Soup")}
    for doc in docs.values():
        assert sh.ok("dir", "add", directory, doc).startswith("added")
    assert "already in the directory" in sh.ok("dir", "add", directory, docs["Soup"])
    found = json.loads(sh.ok("dir", "search", directory, "pe", "--json"))
    assert [m["subject"] for m in found["matches"]] == ["Pecan pie", "Pesto"]
    assert found["touched"] == found["trie_nodes"] + 2
    assert sh.ok("dir", "search", directory, "PIZ").split() == [docs["Pizza"][:16], "Pizza"]
    assert sh.ok("dir", "search", directory, "xyz") == ""
    sh.fails("dir", "search", docs["Soup"], "so", says="not a directory")
    sh.fails("dir", "add", docs["Soup"], docs["Pizza"], says="not a directory")
    sh.fails("dir", "search", directory, " ", says="non-empty prefix")
    sh.fails("dir", "add", directory, "abcdabcd", says="no document")


def test_replay_rebuilds_the_same_views(sh: Shell, posts: dict[str, str]) -> None:
    sh.ok("edit", posts["reply"], "--body", "changed")
    before = (sh.ok("thread", posts["root"], "--json"), sh.ok("find", "--json"))
    assert sh.ok("replay") == f"replayed {len(sh.json_lines('log', '--json'))} events into the views"
    assert (sh.ok("thread", posts["root"], "--json"), sh.ok("find", "--json")) == before


def test_commands_need_a_node(tmp_path: Path) -> None:
    Shell(tmp_path / "empty").fails("find", says="no node")


def test_the_view_commands_are_registered() -> None:
    assert isinstance(cli, click.Group)
    assert {c.split()[0] for c in COMMANDS} <= set(cli.commands)
