"""Embedding cliqueclique: two nodes in one program replicate a forum.

Run: .venv/bin/python examples/embed.py
"""

from __future__ import annotations

import tempfile

import trio

from cliqueclique import Home, Node, NodeOptions


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        alice_home, bob_home = Home(f"{tmp}/alice"), Home(f"{tmp}/bob")
        alice_home.create_node("alice")
        bob_home.create_node("bob")
        options = NodeOptions(i2p=False)  # TCP on 127.0.0.1, a free port; no web UI
        async with Node.open(alice_home, options=options) as alice, \
                Node.open(bob_home, options=options) as bob:
            forum = await alice.post("Hello", "A forum with no server.")
            with bob.watch(forum.id) as events:
                await bob.join(str(alice.invite(forum.id)))  # the root id + alice's address
                async for event in events:
                    if event.id == forum.id:
                        break
            with alice.watch(forum.id) as events:
                reply = await bob.post("Re: Hello", "Hi from bob!", parent=forum.id)
                async for event in events:
                    if event.ref == reply.id:  # the link that makes it a reply
                        break
            print("alice holds bob's reply:", alice.reader.get(reply.id) is not None)
            print("progress:", alice.progress(forum.id))


if __name__ == "__main__":
    trio.run(main)
