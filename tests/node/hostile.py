"""A hostile peer, as its own process: every attack the node must survive.

Usage: python -m tests.node.hostile ADDRESS NODE_ID DOC_ID ATTACK
Prints one line: "done ATTACK <what happened>".

Attacks:
  impostor    handshake claiming a key it cannot sign with
  oversize    a frame header announcing more than the frame limit
  garbage     a well-encrypted frame whose payload is not a gossip message
  forged      joins the forum like an honest peer (running our own gossip
              machine), then pushes a reply whose signature is broken
  flood       thousands of valid but unsolicited events
  suggest-flood
              joins honestly, then sends one frame of 1,000 `Suggest`s naming
              made-up peers at one address (a listener of its own, which counts
              the dials it gets over DIAL_WINDOW seconds: "dials=N")
  fresh-keys  FRESH_KEYS handshakes, each with a new key, each closed at once
              ("seconds=S" for all of them)
  handshake-flood
              HANDSHAKE_FLOOD connections sending a hello that cannot verify
  oversize-after-handshake
              an oversized frame header after a valid handshake, then the same
              key again (a fresh one with AGAIN=fresh): "reconnect refused"
              when the node banned it (its source)
  far-future  joins honestly, then pushes a validly signed reply whose
              timestamp is 10**17 ms (year 3 million), with its link
  unsolicited UNSOLICITED_KEYS fresh keys, each sending up to UNSOLICITED_EACH
              valid ~60 KiB documents the node does not hold, 14 a message
  orphans     joins honestly, then sends ORPHANS ~60 KiB edits of the forum
              whose chain never starts (seq 2, 3, ...; seq 1 never comes)
  empty-vectors
              joins honestly, then sends EMPTY_VECTORS `Vector`s saying it holds
              nothing, and reads for VECTOR_WINDOW s: "answer_bytes=N"
  forged-batch
              joins honestly, then one frame holding a valid reply and its link
              and a forged reply (broken signature) and its link
  fork        joins the node and the one in OTHER ("ADDRESS NODE_ID") honestly
              and sends each a different reply at seq 1 of the forum's network,
              then reads until a node sends both versions back as evidence:
              "twins=ID,ID evidence=yes|no"
"""

from __future__ import annotations

import os
import random
import sys
import time
from functools import partial

import trio
from nacl.signing import SigningKey

from cliqueclique.eventlog import Kind, MemoryStore, canonical_json, sign_event
from cliqueclique.eventlog.codec import FORMAT_VERSION, decode_wire, digest, encode_wire
from cliqueclique.gossip.messages import Events, Suggest, Vector, decode_frame, encode_frames
from cliqueclique.gossip.node import GossipNode
from cliqueclique.gossip.outputs import StoreEvents
from cliqueclique.net import TcpAddress, parse_address, secure_connect
from cliqueclique.net.framing import MAX_PAYLOAD
from cliqueclique.views import BatchSigner

SUGGESTIONS = 1_000
UNSOLICITED_KEYS = 6
UNSOLICITED_EACH = int(os.environ.get("UNSOLICITED_EACH", "830"))  # 6 x 830 x 60 KiB: ~290 MiB offered
UNSOLICITED_PER_MESSAGE = 14  # 60 messages a key: under the unsolicited limit (64)
ORPHANS = int(os.environ.get("ORPHANS", "4096"))
EMPTY_VECTORS = 20
VECTOR_WINDOW = 3.0  # seconds the empty-vectors attacker reads answers for (a measurement)
BIG_TEXT = "x" * (60 * 1024)
FAR_FUTURE_MS = 10**17
DIAL_WINDOW = 3.0  # seconds the suggest-flood listener counts dials for (a measurement, not a wait)
FRESH_KEYS = int(os.environ.get("FRESH_KEYS", "300"))
HANDSHAKE_FLOOD = 2_000
BAD_HELLO = len(b"x" * 200).to_bytes(4, "big") + b"\x00" * 8 + b"x" * 200


#: each attacker process comes from a host of its own (a loopback address of
#: its own), as attackers do; SOURCE=127.0.0.1 shares the honest nodes' host
SOURCE = os.environ.get("SOURCE") or f"127.{random.randrange(1, 255)}.{random.randrange(256)}.{random.randrange(1, 255)}"


async def open_stream(address: str) -> trio.SocketStream:
    where = parse_address(address)
    assert isinstance(where, TcpAddress)
    return await trio.open_tcp_stream(where.host, where.port, local_address=SOURCE)


async def connect(address: str, node_id: str, key: SigningKey):  # type: ignore[no-untyped-def]
    stream = await open_stream(address)
    return await secure_connect(stream, key, node_id)


async def until_closed(channel) -> str:  # type: ignore[no-untyped-def]
    """Read until the node hangs up on us; how it ended."""
    try:
        with trio.fail_after(30):
            async for _ in channel:
                pass
        return "closed"
    except trio.TooSlowError:
        return "open (still connected after 30 s)"
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel) as e:
        return f"closed ({type(e).__name__})"


async def join_honestly(channel, node_id: str, doc: str, key: SigningKey) -> None:  # type: ignore[no-untyped-def]
    """Run a real gossip machine over the link until it holds the document."""
    store = MemoryStore()
    machine = GossipNode(key.verify_key.encode().hex(), store, random.Random(7))
    machine.peer_connected(node_id, trio.current_time())
    machine.join(doc, node_id, trio.current_time())
    with trio.fail_after(30):
        while store.get(doc) is None:
            for _, frame in machine.messages_to_send():
                await channel.send(frame)
            for event in machine.events():
                if isinstance(event, StoreEvents):
                    machine.events_stored(store.append_many(event.events), trio.current_time())
            if store.get(doc) is None and not machine.messages_to_send():
                machine.receive(node_id, await channel.receive(), trio.current_time())


async def suggest_flood(address: str, node_id: str, doc: str, key: SigningKey) -> str:
    dials = 0

    async def count(stream: trio.SocketStream) -> None:
        nonlocal dials
        dials += 1
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, count, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        channel = await connect(address, node_id, key)
        await join_honestly(channel, node_id, doc, key)
        made_up = [SigningKey.generate().verify_key.encode().hex() for _ in range(SUGGESTIONS)]
        for frame in encode_frames([Suggest(doc, peer, f"tcp:127.0.0.1:{port}") for peer in made_up]):
            await channel.send(frame)
        ended = "open"

        async def watch() -> None:
            nonlocal ended
            ended = await until_closed(channel)

        nursery.start_soon(watch)
        await trio.sleep(DIAL_WINDOW)  # the window over which dials are counted (a measurement)
        nursery.cancel_scope.cancel()
    return f"{ended} dials={dials}"


async def fresh_keys(address: str, node_id: str) -> str:
    started, took = time.monotonic(), []
    for _ in range(FRESH_KEYS):
        begun = time.monotonic()
        channel = await connect(address, node_id, SigningKey.generate())
        await trio.aclose_forcefully(channel.stream)
        took.append(time.monotonic() - begun)
    tenth = max(1, len(took) // 10)
    return (f"closed seconds={time.monotonic() - started:.2f} first_tenth_ms={1000 * sum(took[:tenth]) / tenth:.1f}"
            f" last_tenth_ms={1000 * sum(took[-tenth:]) / tenth:.1f}")


async def handshake_flood(address: str) -> str:
    async def one() -> None:
        try:
            stream = await open_stream(address)
            await stream.send_all(BAD_HELLO)
            with trio.fail_after(30):
                while await stream.receive_some():
                    pass
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

    limit = trio.CapacityLimiter(100)  # concurrent connections (the fd limit)

    async def limited() -> None:
        async with limit:
            await one()

    async with trio.open_nursery() as nursery:
        for _ in range(HANDSHAKE_FLOOD):
            nursery.start_soon(limited)
    return "closed"


async def oversize_after_handshake(address: str, node_id: str, key: SigningKey) -> str:
    channel = await connect(address, node_id, key)
    await channel.stream.send_all((MAX_PAYLOAD * 4).to_bytes(4, "big") + b"\x00" * 64)
    ended = await until_closed(channel)
    if os.environ.get("AGAIN") == "fresh":
        key = SigningKey.generate()
    try:
        again = await connect(address, node_id, key)
        with trio.fail_after(10):
            await again.receive()  # an accepted link says `Have` at once
        return f"{ended} reconnect accepted"
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel, OSError) as e:
        return f"{ended} reconnect refused ({type(e).__name__})"
    except Exception as e:  # noqa: BLE001 - the handshake itself refused: also a refusal
        return f"{ended} reconnect refused ({type(e).__name__})"


def unchecked_document(key: SigningKey, subject: str, timestamp: int) -> tuple[str, bytes]:
    """(id, wire) of a validly signed document the codec would refuse to build
    (its timestamp, say): signed by hand, never decoded here."""
    body = canonical_json({"content_type": "text/markdown", "subject": subject, "text": "from far away"})
    header = canonical_json({"author": key.verify_key.encode().hex(), "body": digest(body), "kind": "document",
                             "network": None, "prev": None, "seq": 1, "size": len(body), "ts": timestamp,
                             "v": FORMAT_VERSION})
    return digest(header), encode_wire(key.sign(header).signature, header, body)


async def send_all(channel, messages: list) -> str | None:  # type: ignore[no-untyped-def,type-arg]
    """Send `messages` in frames; how the link ended if the node cut it first."""
    for frame in encode_frames(messages):
        try:
            await channel.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as e:
            return f"cut off ({type(e).__name__})"
    return None


async def far_future(channel, node_id: str, doc: str, key: SigningKey) -> str:  # type: ignore[no-untyped-def]
    await join_honestly(channel, node_id, doc, key)
    reply_id, wire = unchecked_document(key, "from the year 3 million", FAR_FUTURE_MS)
    link = BatchSigner(key, MemoryStore()).link(doc, reply_id)
    ended = await send_all(channel, [Events(doc, ((0, wire), (0, link.wire)))])
    return ended or await until_closed(channel)


async def fork(address: str, node_id: str, doc: str, key: SigningKey) -> str:
    other_address, other_id = os.environ["OTHER"].split()
    twins = []
    for side in ("east", "west"):
        signer = BatchSigner(key, MemoryStore())
        reply = signer.document("twin", f"the version for the {side}")
        twins.append((reply, signer.link(doc, reply.id)))
    channels = []
    for (where, who), (reply, link) in zip([(address, node_id), (other_address, other_id)], twins):
        channel = await connect(where, who, key)
        await join_honestly(channel, who, doc, key)
        if await send_all(channel, [Events(doc, ((0, reply.wire), (0, link.wire)))]):
            return "cut off"
        channels.append(channel)
    wanted = {twins[0][1].id, twins[1][1].id}
    seen: set[str] = set()
    with trio.move_on_after(30):
        async for data in channels[0]:  # the first node passes the evidence to its peers, us too
            for msg in decode_frame(data):
                if isinstance(msg, Events):
                    seen |= {decode_wire(wire).id for _, wire in msg.items} & wanted
            if seen == wanted:
                break
    return f"twins={twins[0][1].id},{twins[1][1].id} evidence={'yes' if seen == wanted else 'no'}"


async def unsolicited(address: str, node_id: str) -> str:
    """Each key stays under the per-link message limit (fewer than 64 messages)
    by packing UNSOLICITED_PER_MESSAGE events into each."""
    sent = 0
    outcomes = []
    for _ in range(UNSOLICITED_KEYS):
        key = SigningKey.generate()
        channel = await connect(address, node_id, key)
        signer = BatchSigner(key, MemoryStore())
        for first in range(0, UNSOLICITED_EACH, UNSOLICITED_PER_MESSAGE):
            events = [signer.document(f"unsolicited {i}", BIG_TEXT)
                      for i in range(first, min(UNSOLICITED_EACH, first + UNSOLICITED_PER_MESSAGE))]
            ended = await send_all(channel, [Events(events[0].id, tuple((0, e.wire) for e in events))])
            if ended:
                outcomes.append("cut")
                break
            sent += len(events)
        else:
            await trio.aclose_forcefully(channel.stream)  # it said everything: hang up
            outcomes.append("done")
    return f"closed sent={sent} " + ",".join(outcomes)


async def orphans(channel, node_id: str, doc: str, key: SigningKey) -> str:  # type: ignore[no-untyped-def]
    await join_honestly(channel, node_id, doc, key)
    prev = None
    for seq in range(2, ORPHANS + 2):  # seq 1 never comes
        event = sign_event(key, Kind.EDIT, network=doc, seq=seq, prev=prev or "ab" * 32,
                           timestamp=1_700_000_000_000, body=BIG_TEXT.encode() + seq.to_bytes(4, "big"))
        prev = event.id
        ended = await send_all(channel, [Events(doc, ((0, event.wire),))])
        if ended:
            return f"{ended} after {seq - 2} orphans"
    return await until_closed(channel)


async def empty_vectors(channel, node_id: str, doc: str, key: SigningKey) -> str:  # type: ignore[no-untyped-def]
    await join_honestly(channel, node_id, doc, key)
    empty = Vector(doc, "0" * 64, "f" * 64, ())
    ended = await send_all(channel, [empty] * EMPTY_VECTORS)
    if ended:
        return ended
    received = 0
    with trio.move_on_after(VECTOR_WINDOW):  # a measurement window: what the node answers in it
        try:
            async for frame in channel:
                received += len(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel):
            pass
    return f"answered answer_bytes={received}"


async def forged_batch(channel, node_id: str, doc: str, key: SigningKey) -> str:  # type: ignore[no-untyped-def]
    await join_honestly(channel, node_id, doc, key)
    signer = BatchSigner(key, MemoryStore())
    good = signer.document("a valid reply", "hello")
    bad = signer.document("a forged reply", "nobody signed this")
    forged = bytearray(bad.wire)
    forged[3] ^= 0xFF  # inside the signature: decodes, fails verification
    items = ((0, good.wire), (0, signer.link(doc, good.id).wire), (0, bytes(forged)),
             (0, signer.link(doc, bad.id).wire))
    ended = await send_all(channel, [Events(doc, items)])
    return (ended or await until_closed(channel)) + f" good={good.id} forged={bad.id}"


async def main(address: str, node_id: str, doc: str, attack: str) -> str:
    key = SigningKey.generate()
    if attack == "unsolicited":
        return await unsolicited(address, node_id)
    joined = {"far-future": far_future, "orphans": orphans, "empty-vectors": empty_vectors,
              "forged-batch": forged_batch}
    if attack in joined:
        return await joined[attack](await connect(address, node_id, key), node_id, doc, key)
    if attack == "fork":
        return await fork(address, node_id, doc, key)
    if attack == "suggest-flood":
        return await suggest_flood(address, node_id, doc, key)
    if attack == "fresh-keys":
        return await fresh_keys(address, node_id)
    if attack == "handshake-flood":
        return await handshake_flood(address)
    if attack == "oversize-after-handshake":
        return await oversize_after_handshake(address, node_id, key)
    if attack == "impostor":
        stream = await open_stream(address)
        # A hello that claims a random identity with a signature that cannot verify.
        await stream.send_all(BAD_HELLO)
        try:
            with trio.fail_after(30):
                data = await stream.receive_some()
            return "closed" if not data else f"answered {len(data)} bytes"
        except trio.BrokenResourceError:
            return "closed"
    channel = await connect(address, node_id, key)
    if attack == "oversize":
        await channel.stream.send_all((MAX_PAYLOAD * 4).to_bytes(4, "big") + b"\x00" * 64)
    elif attack == "garbage":
        await channel.send(b"this is not a gossip frame at all" * 10)
    elif attack == "forged":
        await join_honestly(channel, node_id, doc, key)
        link = BatchSigner(key, MemoryStore()).link(doc, "ab" * 32)
        wire = bytearray(link.wire)
        wire[3] ^= 0xFF  # inside the signature: decodes, fails verification
        for frame in encode_frames([Events(doc, ((0, bytes(wire)),))]):
            await channel.send(frame)
    elif attack == "flood":
        signer = BatchSigner(key, MemoryStore())
        for i in range(2000):
            event = signer.document(f"spam {i}", "buy now")
            for frame in encode_frames([Events(event.id, ((0, event.wire),))]):
                try:
                    await channel.send(frame)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return f"cut off after {i} events"
    return await until_closed(channel)


if __name__ == "__main__":
    print("done", sys.argv[4], trio.run(main, *sys.argv[1:5]), flush=True)
