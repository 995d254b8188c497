"""The command line: every command, its output, and its error paths."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cliqueclique.cli import cli
from cliqueclique.eventlog import SQLiteStore


class Shell:
    """Runs `cliqueclique --home HOME ...` in-process."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True, input: str | None = None) -> Result:
        result = self.runner.invoke(cli, ["--home", str(self.home), *args], input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def fails(self, *args: str, match: str) -> str:
        result = self(*args, ok=False)
        assert result.exit_code != 0
        assert isinstance(result.exception, SystemExit), f"traceback: {result.exception!r}"
        assert "Traceback" not in result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert match in result.output, result.output
        assert lines[-1].startswith("Error:")
        return result.output


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    return Shell(tmp_path / "home")


@pytest.fixture
def node(sh: Shell) -> str:
    return sh("init", "--name", "alice").output.strip()


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append(prefix + (name,))
        if isinstance(command, click.Group):
            found += all_commands(command, prefix + (name,))
    return found


@pytest.mark.parametrize("command", all_commands(cli))
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_init_creates_a_private_key(sh: Shell, node: str) -> None:
    assert len(node) == 64 and int(node, 16) >= 0
    key = sh.home / "nodes" / node / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((sh.home / "nodes" / node).stat().st_mode) == 0o700


def test_home_from_environment(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["init"], env={"CLIQUECLIQUE_HOME": str(tmp_path / "envhome")})
    assert result.exit_code == 0
    assert (tmp_path / "envhome" / "nodes" / result.output.strip()).is_dir()


def test_several_nodes_and_node_choice(sh: Shell, node: str) -> None:
    bob = sh("init", "--name", "bob").output.strip()
    listed = [json.loads(line) for line in sh("nodes", "--json").output.splitlines()]
    assert [(n["name"], n["default"]) for n in listed] == [("alice", True), ("bob", False)]
    doc = sh("--node", "bob", "post", "-s", "from bob", "-b", "hi").output.strip()
    (event,) = [json.loads(line) for line in sh("--node", bob[:10], "log", "--kind", "document", "--json").output.splitlines()]
    assert event["id"] == doc and event["author"] == bob
    assert sh("log", "--json").output == ""  # alice, the default, holds nothing
    sh.fails("--node", "carol", "log", match="no node named")
    sh.fails("init", "--name", "bob", match="already exists")
    sh.fails("init", "--name", "bad name!", match="bad node name")


def test_no_node_yet(sh: Shell) -> None:
    sh.fails("post", "-s", "x", "-b", "y", match="run 'cliqueclique init' first")


def test_post_reply_and_log(sh: Shell, node: str, tmp_path: Path) -> None:
    root = sh("post", "--subject", "Welcome", "--body", "first!").output.strip()
    body_file = tmp_path / "reply.md"
    body_file.write_text("a *reply* from a file\n", encoding="utf-8")
    reply = sh("post", "--subject", "Re: Welcome", "--body-file", str(body_file), "--parent", root[:8]).output.strip()
    events = [json.loads(line) for line in sh("log", "--json").output.splitlines()]
    assert [e["kind"] for e in events] == ["document", "subscription", "document", "link", "subscription"]
    for event in events:
        assert {"id", "kind", "author", "network", "seq", "prev", "timestamp", "position", "body"} <= event.keys()
    assert events[1]["body"] == {"document": root, "action": "subscribe"}  # a new forum's author follows it
    assert events[2]["body"]["text"] == "a *reply* from a file\n"
    link = events[3]
    assert link["network"] == root and link["body"] == {"parent": root, "child": reply, "direction": "natural"}
    assert [e["id"] for e in map(json.loads, sh("log", "--doc", root, "--json").output.splitlines())] == [
        root, link["id"]]
    kinds = {json.loads(line)["kind"] for line in sh("log", "--kind", "link", "--json").output.splitlines()}
    assert kinds == {"link"}
    assert sh("log", "--author", "ab" * 32, "--json").output == ""
    text = sh("log").output
    assert "Welcome" in text and "document" in text


def test_post_from_stdin(sh: Shell, node: str) -> None:
    doc = sh("post", "-s", "piped", "--body-file", "-", input="from stdin").output.strip()
    (event,) = [json.loads(line) for line in sh("log", "--kind", "document", "--json").output.splitlines()]
    assert event["id"] == doc and event["body"]["text"] == "from stdin"


def test_post_errors(sh: Shell, node: str) -> None:
    sh.fails("post", "-s", "x", match="exactly one of --body and --body-file")
    sh.fails("post", "-s", "x", "-b", "y", "--body-file", "-", match="exactly one of")
    sh.fails("post", "-s", "x", "-b", "y", "--parent", "abcdef12", match="no document abcdef12")
    sh.fails("post", "-s", "x", "-b", "y", "--parent", "zz", match="is not a document id")
    sh.fails("post", "-s", "", "-b", "y", match="a subject is required")
    sh.fails("post", "-s", "  \t", "-b", "y", match="a subject is required")
    sh.fails("post", "-s", "x", "-b", "y" * 70_000, match="too large")
    sh.fails("log", "--kind", "nonsense", match="Invalid value")
    assert sh("log", "--json").output == ""  # nothing was written by any failure


def test_verify_ok_and_tampered(sh: Shell, node: str) -> None:
    docs = [sh("post", "-s", f"s{i}", "-b", "t").output.strip() for i in range(3)]
    assert "ok: 6 events verified" in sh("verify").output  # 3 documents, 3 subscriptions
    store = SQLiteStore(sh.home / "nodes" / node / "log.sqlite")
    store.db.execute("UPDATE events SET signature = ? WHERE id = ?", [b"\1" * 64, docs[1]])
    store.close()
    result = sh("verify", ok=False)
    assert result.exit_code == 1
    assert f"BAD {docs[1]}: " in result.output and "bad signature" in result.output
    assert docs[0] not in result.output


def test_export_import_round_trip(sh: Shell, node: str, tmp_path: Path) -> None:
    root = sh("post", "-s", "root", "-b", "r").output.strip()
    child = sh("post", "-s", "child", "-b", "c", "--parent", root).output.strip()
    sh("post", "-s", "grandchild", "-b", "g", "--parent", child)
    sh("post", "-s", "unrelated", "-b", "u")
    out = tmp_path / "thread.cqx"
    assert "exported 5 events" in sh("export", root, "-o", str(out)).output
    other = Shell(tmp_path / "other")
    other("init")
    assert "imported 5 new events (0 already held); subscribed to 1 forum" in other("import", str(out)).output
    assert other("import", str(out)).output.strip() == "imported 0 new events (5 already held)"

    def dump(shell: Shell) -> dict[str, bytes]:
        (node_dir,) = (shell.home / "nodes").iterdir()
        store = SQLiteStore(node_dir / "log.sqlite")
        try:
            return {s.event.id: s.event.wire for s in store.events() if s.event.kind.value != "subscription"}
        finally:
            store.close()

    original = {i: w for i, w in dump(sh).items()}
    copied = dump(other)
    assert set(copied) <= set(original) and len(copied) == 5
    assert all(copied[i] == original[i] for i in copied)
    assert "ok: 6 events verified" in other("verify").output  # and the subscription to the root
    (subscription,) = [json.loads(line) for line in other("log", "--kind", "subscription", "--json").output.splitlines()]
    assert subscription["body"] == {"document": root, "action": "subscribe"}


def test_import_without_subscribing(sh: Shell, node: str, tmp_path: Path) -> None:
    root = sh("post", "-s", "root", "-b", "r").output.strip()
    sh("post", "-s", "child", "-b", "c", "--parent", root)
    out = tmp_path / "thread.cqx"
    sh("export", root, "-o", str(out))
    other = Shell(tmp_path / "other")
    other("init")
    assert other("import", "--no-subscribe", str(out)).output.strip() == "imported 3 new events (0 already held)"
    assert other("log", "--kind", "subscription", "--json").output == ""
    assert other("forums", "--json").output == ""


@pytest.mark.parametrize("damage", ["truncate", "flip", "checksum-fixed", "not-export", "missing", "extra-lines"])
def test_import_refuses_damaged_files(sh: Shell, node: str, tmp_path: Path, damage: str) -> None:
    root = sh("post", "-s", "root", "-b", "r").output.strip()
    sh("post", "-s", "child", "-b", "c", "--parent", root)
    out = tmp_path / "thread.cqx"
    sh("export", root, "-o", str(out))
    data = out.read_bytes()
    header, _, rest = data.partition(b"\n")
    if damage == "truncate":
        out.write_bytes(data[: len(data) - 40])
        match = "truncated"
    elif damage == "flip":
        out.write_bytes(data[:-30] + bytes([data[-30] ^ 1]) + data[-29:])
        match = "altered"
    elif damage == "checksum-fixed":
        # A careful forger fixes the checksum too: the signatures still catch it.
        import base64
        import hashlib

        lines = rest.split(b"\n")
        event_id, encoded = lines[0].split(b" ")
        wire = bytearray(base64.b64decode(encoded))
        wire[-3] ^= 1
        lines[0] = event_id + b" " + base64.b64encode(bytes(wire))
        rest = b"\n".join(lines)
        meta = json.loads(header)
        meta["sha256"] = hashlib.sha256(rest).hexdigest()
        out.write_bytes(json.dumps(meta, sort_keys=True).encode() + b"\n" + rest)
        match = "body does not match"
    elif damage == "extra-lines":
        # More lines than the header announces: not a truncation (issue 16).
        out.write_bytes(header + b"\n" + rest * 3)
        match = "has 9 event lines but its header announces 3"
    elif damage == "not-export":
        out.write_text("hello world\n")
        match = "not a cliqueclique export file"
    else:
        out.unlink()
        match = "cannot read"
    other = Shell(tmp_path / "other")
    other("init")
    other.fails("import", str(out), match=match)
    assert other("log", "--json").output == ""


def test_import_with_a_forged_event_writes_nothing(sh: Shell, node: str, tmp_path: Path) -> None:
    import base64
    import hashlib

    root = sh("post", "-s", "root", "-b", "r").output.strip()
    for i in range(3):
        sh("post", "-s", f"c{i}", "-b", "c", "--parent", root)
    out = tmp_path / "thread.cqx"
    sh("export", root, "-o", str(out))
    header, _, rest = out.read_bytes().partition(b"\n")
    lines = rest.rstrip(b"\n").split(b"\n")
    event_id, encoded = lines[-1].split(b" ")
    wire = bytearray(base64.b64decode(encoded))
    wire[5] ^= 0xFF  # inside the signature: decodes fine, fails verification
    lines[-1] = event_id + b" " + base64.b64encode(bytes(wire))
    rest = b"\n".join(lines) + b"\n"
    meta = json.loads(header)
    meta["sha256"] = hashlib.sha256(rest).hexdigest()
    out.write_bytes(json.dumps(meta, sort_keys=True).encode() + b"\n" + rest)
    other = Shell(tmp_path / "other")
    other("init")
    other.fails("import", str(out), match="bad signature")
    assert other("log", "--json").output == ""


def test_export_unknown_document(sh: Shell, node: str, tmp_path: Path) -> None:
    sh.fails("export", "abcdef", "-o", str(tmp_path / "x"), match="no document abcdef")
    assert not (tmp_path / "x").exists()


def test_unreadable_key_is_reported(sh: Shell, node: str) -> None:
    key = sh.home / "nodes" / node / "key"
    os.chmod(key, 0o644)
    sh.fails("post", "-s", "x", "-b", "y", match="readable by others")
