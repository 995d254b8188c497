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
"""

from __future__ import annotations

import random
import sys

import trio
from nacl.signing import SigningKey

from cliqueclique.eventlog import MemoryStore
from cliqueclique.gossip.messages import Events, encode_frames
from cliqueclique.gossip.node import GossipNode
from cliqueclique.gossip.outputs import StoreEvents
from cliqueclique.net import TcpTransport, parse_address, secure_connect
from cliqueclique.net.framing import MAX_PAYLOAD
from cliqueclique.views import BatchSigner


async def connect(address: str, node_id: str, key: SigningKey):  # type: ignore[no-untyped-def]
    stream = await TcpTransport().connect(parse_address(address))
    return await secure_connect(stream, key, node_id)


async def until_closed(channel) -> str:  # type: ignore[no-untyped-def]
    """Read until the node hangs up on us; how it ended."""
    try:
        with trio.fail_after(30):
            async for _ in channel:
                pass
        return "closed"
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


async def main(address: str, node_id: str, doc: str, attack: str) -> str:
    key = SigningKey.generate()
    if attack == "impostor":
        stream = await TcpTransport().connect(parse_address(address))
        # A hello that claims a random identity with a signature that cannot verify.
        await stream.send_all(len(b"x" * 200).to_bytes(4, "big") + b"\x00" * 8 + b"x" * 200)
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
