"""Fuzz targets for the parsers and machines that read what peers (and files) send.

Each `*_target()` returns (strategy, check, bound) for `harness.run`. Hostile
inputs are mostly structurally valid (built with the real constructors and
encoders, then given absurd values) so they get past the first length check
and reach the logic behind it; some are raw bytes. Expected refusals are the
specific `CliqueError` subclasses; anything else escaping is a crash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from cliqueclique.errors import CliqueError, ExportFileError
from cliqueclique.eventlog import BatchSigner, MemoryStore, SQLiteStore, node_id
from cliqueclique.eventlog.transfer import FORMAT, VERSION, import_file, read_export
from cliqueclique.gossip import messages as m
from cliqueclique.gossip.node import GossipNode
from cliqueclique.gossip.outputs import StoreEvents
from cliqueclique.net import framing, handshake, sam
from cliqueclique.net.errors import FramingError, HandshakeError, NetError

Target = tuple[st.SearchStrategy[Any], Callable[[Any], int | None], int | None]

# --------------------------------------------------------------------- building blocks


def _key(i: int) -> SigningKey:
    return SigningKey(hashlib.sha256(b"fuzz key %d" % i).digest())


HONEST, HOSTILE = _key(1), _key(2)
hex_ids = st.binary(min_size=32, max_size=32).map(bytes.hex)
u16 = st.one_of(st.sampled_from([0, 1, 2, 255, 65535]), st.integers(0, 65535))
u32 = st.one_of(st.sampled_from([0, 1, 2**31, 2**32 - 1]), st.integers(0, 2**32 - 1))
u64 = st.one_of(st.sampled_from([0, 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1))


def deep_size(obj: object, exclude: tuple[object, ...] = ()) -> int:
    """Bytes held by `obj` and everything it reaches through containers and
    attributes, each object counted once, not walking into `exclude`."""
    seen: set[int] = {id(o) for o in exclude}
    stack, total = [obj], 0
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, type) or callable(o):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, str | bytes | bytearray | int | float | bool) or o is None:
            continue
        if isinstance(o, dict):  # Counter, OrderedDict, defaultdict too
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset | deque):
            stack.extend(o)
        else:
            if hasattr(o, "__dict__"):
                stack.append(vars(o))
            for klass in type(o).__mro__:
                for slot in getattr(klass, "__slots__", ()):
                    if hasattr(o, slot):
                        stack.append(getattr(o, slot))
    return total


# --------------------------------------------------------------------- frame decoder

MAX_BODY = 64 * 1024  # a small limit so oversized announcements are easy to reach


def _frame_chunks() -> st.SearchStrategy[list[bytes]]:
    sized = st.builds(lambda n, body: framing.LENGTH.pack(n) + body,
                      st.one_of(st.integers(0, MAX_BODY + 8), u32), st.binary(max_size=300))
    exact = st.binary(max_size=600).map(framing.encode_frame)
    return st.lists(st.one_of(st.binary(max_size=64), sized, exact), max_size=12)


def frame_target() -> Target:
    opener_key = bytes(32)

    def check(chunks: list[bytes]) -> int:
        decoder, opener, largest = framing.FrameDecoder(MAX_BODY), framing.FrameOpener(opener_key), 0
        try:
            for chunk in chunks:
                decoder.feed(chunk)
                while (body := decoder.next_frame()) is not None:
                    assert len(body) <= MAX_BODY
                    try:
                        opener.open(body)
                    except FramingError:
                        pass
                largest = max(largest, decoder.buffered)
        except FramingError:
            pass
        return largest

    # a decoder holds at most one partial frame beyond what it returned
    return _frame_chunks(), check, MAX_BODY + framing.LENGTH.size + 600 * 12


# --------------------------------------------------------------------- SAM replies

SAM_WORDS = ["HELLO", "REPLY", "SESSION", "STATUS", "STREAM", "NAMING", "DEST", "RESULT=OK",
             "RESULT=I2P_ERROR", "RESULT=CANT_REACH_PEER", "RESULT=NOPE", "RESULT=", "VERSION=3.1",
             'MESSAGE="a b"', 'MESSAGE="unterminated', "DESTINATION=", "NAME=x", "VALUE=abc",
             "PUB=", "PRIV=", "=", '"', "\\", "FROM_PORT=0", "TO_PORT=99999"]


def _sam_lines() -> st.SearchStrategy[list[bytes]]:
    words = st.lists(st.one_of(st.sampled_from(SAM_WORDS), st.text(max_size=12)), max_size=8)
    line = words.map(lambda w: (" ".join(w) + "\n").encode("utf-8", "surrogatepass"))
    return st.lists(st.one_of(line, st.binary(max_size=80), st.just(b"x" * (sam.MAX_LINE + 5))),
                    max_size=6)


def sam_target() -> Target:
    def check(chunks: list[bytes]) -> int:
        buf, largest = sam.LineBuffer(), 0
        try:
            for chunk in chunks:
                buf.feed(chunk)
                largest = max(largest, len(buf))
                while (line := buf.next_line()) is not None:
                    for parse in (sam.parse_reply, sam.parse_accept_line):
                        try:
                            reply = parse(line)
                        except NetError:
                            continue
                        if isinstance(reply, sam.SamReply):
                            _use_reply(reply)
        except NetError:
            pass
        return largest

    return _sam_lines(), check, sam.MAX_LINE * 2 + 600


def _use_reply(reply: sam.SamReply) -> None:
    for step in (reply.raise_for_result, lambda: reply.expect("HELLO", "REPLY"),
                 lambda: reply.require("DESTINATION"), lambda: reply.message):
        try:
            step()
        except NetError:
            pass


# --------------------------------------------------------------------- handshake


def _mutated(base: bytes) -> st.SearchStrategy[bytes]:
    """`base` with a byte flipped, cut, extended, or replaced by noise of any length."""
    flip = st.integers(0, max(0, len(base) - 1)).flatmap(
        lambda i: st.integers(1, 255).map(lambda x: base[:i] + bytes([base[i] ^ x]) + base[i + 1:]))
    return st.one_of(flip, st.integers(0, len(base)).map(lambda n: base[:n]),
                     st.binary(max_size=8).map(lambda extra: base + extra),
                     st.binary(min_size=len(base), max_size=len(base)),
                     st.binary(max_size=2 * len(base)))


WEAK_POINTS = [bytes(32), b"\x01" + bytes(31), bytes([0xFF] * 32),
               bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]


def handshake_target() -> Target:
    responder_id = node_id(HONEST)
    probe = handshake.Initiator(HOSTILE, responder_id, PrivateKey(b"\x07" * 32))
    hello = probe.hello()
    reply = handshake.Responder(HONEST, PrivateKey(b"\x09" * 32)).receive_hello(hello)
    finish = probe.receive_reply(reply)
    hellos = st.one_of(_mutated(hello), st.sampled_from(WEAK_POINTS).map(
        lambda k: handshake.MAGIC + bytes([handshake.VERSION]) + k))
    replies = st.one_of(_mutated(reply), st.sampled_from(WEAK_POINTS).map(lambda k: k + reply[32:]))
    case = st.one_of(st.tuples(st.just("responder"), hellos, _mutated(finish)),
                     st.tuples(st.just("initiator"), replies, st.just(b"")))

    def check(data: tuple[str, bytes, bytes]) -> int:
        side, first, second = data
        machine: object = None
        try:
            if side == "responder":
                # a fresh responder with the probe's ephemeral pairing, so a mutated
                # finish meets the real transcript
                responder = machine = handshake.Responder(HONEST, PrivateKey(b"\x09" * 32))
                responder.receive_hello(first)
                result = responder.receive_finish(second)
                assert first == hello and second == finish, "accepted a tampered handshake"
                assert result.peer_id == node_id(HOSTILE)
            else:
                initiator = machine = handshake.Initiator(HOSTILE, responder_id, PrivateKey(b"\x07" * 32))
                initiator.hello()
                initiator.receive_reply(first)
                assert first == reply, "accepted a tampered reply"
        except HandshakeError:
            pass
        return deep_size(machine)  # what one handshake in progress holds

    return case, check, 16 * 1024


# --------------------------------------------------------------------- export reader


def _export_bytes(root_id: str, lines: list[bytes], header: dict[str, Any] | None = None) -> bytes:
    body = b"".join(lines)
    head = {"events": len(lines), "format": FORMAT, "root": root_id,
            "sha256": hashlib.sha256(body).hexdigest(), "version": VERSION, **(header or {})}
    return json.dumps(head, sort_keys=True).encode() + b"\n" + body


def export_target(workdir: Path) -> Target:
    signer = BatchSigner(HOSTILE, clock=lambda: 1_700_000_000_000)
    forum = signer.document("forum", "hello")
    replies = [signer.document(f"r{i}", "text") for i in range(3)]
    events = [forum, *replies, *(signer.link(forum.id, r.id) for r in replies)]
    good = [e.id.encode() + b" " + base64.b64encode(e.wire) + b"\n" for e in events]
    store = SQLiteStore(workdir / "import.sqlite")
    path = workdir / "hostile.export"
    junk_line = st.one_of(
        st.binary(max_size=120).map(lambda b: b + b"\n"),
        st.tuples(hex_ids, st.binary(max_size=200)).map(
            lambda t: t[0].encode() + b" " + base64.b64encode(t[1]) + b"\n"),
        st.sampled_from(good).flatmap(lambda line: _mutated(line[:-1]).map(lambda b: b + b"\n")))
    lines = st.lists(st.one_of(st.sampled_from(good), junk_line), max_size=8)
    header_junk = st.dictionaries(st.sampled_from(["events", "format", "root", "sha256", "version"]),
                                  st.one_of(st.none(), st.integers(-5, 2**70), st.text(max_size=8),
                                            st.booleans(), st.lists(st.integers(), max_size=2)),
                                  max_size=2)
    files = st.one_of(
        st.builds(lambda ls, h: _export_bytes(forum.id, ls, h), lines, header_junk),
        st.builds(lambda ls: _export_bytes(forum.id, ls), lines),
        st.builds(lambda ls, cut: _export_bytes(forum.id, ls)[:cut], lines, st.integers(0, 3000)),
        st.binary(max_size=400))

    def check(data: bytes) -> int:
        path.write_bytes(data)
        before = store.last_position()
        try:
            root, wires = read_export(path)
        except ExportFileError:
            return 0
        assert isinstance(root, str) and all(isinstance(w, bytes) for w in wires)
        held = deep_size(wires)  # what the reader holds: about the file's size
        try:
            import_file(store, path)
        except CliqueError:
            assert store.last_position() == before, "a refused import wrote to the log"
        return held

    return files, check, 64 * 1024


# --------------------------------------------------------------------- gossip machine


class GossipVictim:
    """One honest GossipNode holding a small forum, with one hostile peer connected.

    The driver's part is played here: storage requests are executed against the
    node's MemoryStore, outgoing messages are dropped, time moves forward.
    """

    def __init__(self, seed: int = 0) -> None:
        self.store = MemoryStore()
        author = BatchSigner(HONEST, self.store, clock=lambda: 1_700_000_000_000)
        self.forum = author.document("forum", "welcome")
        self.reply = author.document("reply", "a reply")
        self.store.append_many([self.forum, self.reply, author.link(self.forum.id, self.reply.id)])
        self.machine = GossipNode(node_id(HONEST), self.store, random.Random(seed))
        self.machine.set_flags(self.forum.id, subscribed=True, now=1000.0)
        self.peer = node_id(HOSTILE)
        self.now = 1000.0
        self.machine.peer_connected(self.peer, self.now, "tcp:127.0.0.1:1")
        hostile = BatchSigner(HOSTILE, clock=lambda: 1_700_000_000_000)
        hdoc = hostile.document("hostile", "x" * 200)
        self.wires = [self.forum.wire, self.reply.wire, hdoc.wire,
                      hostile.link(self.forum.id, hdoc.id).wire, hostile.document("b", "y").wire]
        self.known = [self.forum.id, self.reply.id, hdoc.id, node_id(HONEST), self.peer]
        self.count = 0
        self._drain()

    def _drain(self) -> None:
        self.machine.messages_to_send()
        while (event := self.machine.next_event()) is not None:
            if type(event) is StoreEvents:
                self.machine.events_stored(self.store.append_many(event.events), self.now)

    def feed(self, frames: list[bytes], advance: float) -> int | None:
        for frame in frames:
            self.machine.receive(self.peer, frame, self.now)
            self._drain()
        self.now += advance
        self.machine.handle_timer(self.now)
        self._drain()
        if not self.machine.is_connected(self.peer):  # a driver reconnects a dropped peer later
            self.machine.peer_connected(self.peer, self.now)
            self._drain()
        self.count += 1
        return self.state_bytes() if self.count % STATE_EVERY == 0 else None

    def state_bytes(self) -> int:
        """Everything the machine keeps but the log and its configuration, walked
        object by object (not the machine's own estimate, `memory_report`)."""
        skip = {"store", "config", "rng", "policy"}
        kept = [v for k, v in vars(self.machine).items() if k not in skip]
        return deep_size(kept, exclude=(self.machine, *(getattr(self.machine, k) for k in skip
                                                         if hasattr(self.machine, k))))


STATE_EVERY = 500  # measure the machine's state every this many inputs (it costs a walk)
GOSSIP_STATE_BOUND = 32 * 1024 * 1024  # per-peer and global structures after hostile input


def _messages(v: GossipVictim) -> st.SearchStrategy[m.Message]:
    docs = st.one_of(st.sampled_from(v.known), hex_ids)
    ids = st.lists(st.one_of(st.sampled_from(v.known), hex_ids), max_size=40).map(tuple)
    digest = st.binary(min_size=m.DIGEST_SIZE, max_size=m.DIGEST_SIZE)
    opt_id = st.one_of(st.none(), st.sampled_from(v.known), hex_ids)
    attrs = st.builds(m.Attrs, holds=st.booleans(), subscribed=st.booleans(), wants=st.booleans(),
                      center=opt_id, center_subscribed=st.booleans(), distance=u16,
                      upstream=opt_id, peers=u16, doc_digest=digest, scope_digest=digest)
    wire = st.one_of(st.sampled_from(v.wires), st.sampled_from(v.wires).flatmap(_mutated),
                     st.binary(max_size=300))
    heads = st.lists(st.tuples(st.one_of(st.sampled_from(v.known), hex_ids),
                               st.lists(st.tuples(st.one_of(st.sampled_from(v.known), hex_ids), u32),
                                        max_size=4).map(tuple)), max_size=6).map(tuple)
    options = [
        st.builds(m.Have, ids),
        st.builds(m.Update, docs, u64, attrs, st.one_of(st.none(), wire)),
        st.builds(m.Ack, docs, u64), st.builds(m.Delete, docs, u64),
        st.builds(m.Suggest, docs, st.one_of(st.sampled_from(v.known), hex_ids),
                  st.text(max_size=80)),
        st.builds(m.Events, docs, st.lists(st.tuples(u16, wire), max_size=6).map(tuple)),
        st.builds(m.IHave, docs, ids), st.builds(m.Graft, docs, ids), st.builds(m.Prune, docs), st.builds(m.Shed, docs),
        st.builds(m.Vector, docs, hex_ids, hex_ids, heads), st.builds(m.More, docs),
    ]
    return st.one_of(options)


def gossip_target(seed: int = 0) -> Target:
    victim = GossipVictim(seed)
    frames = st.one_of(
        st.lists(_messages(victim), min_size=1, max_size=6).map(lambda ms: m.encode_frames(ms)),
        st.lists(st.binary(max_size=200).map(lambda b: m.MAGIC + b), min_size=1, max_size=2),
        st.lists(_messages(victim), min_size=1, max_size=3).flatmap(
            lambda ms: _mutated(m.encode_frames(ms)[0]).map(lambda f: [f])))
    case = st.tuples(frames, st.sampled_from([0.0, 0.01, 1.0, 30.0, 600.0]))

    def check(data: tuple[list[bytes], float]) -> int | None:
        return victim.feed(*data)

    check.victim = victim  # type: ignore[attr-defined]
    return case, check, GOSSIP_STATE_BOUND


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="cq-fuzz-"))
