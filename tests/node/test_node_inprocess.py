"""Two and three nodes in one process over real loopback TCP (driver tests)."""

from __future__ import annotations

from pathlib import Path

import trio

from cliqueclique.eventlog import Event, Kind
from cliqueclique.home import Home
from cliqueclique.node import Node, NodeOptions


def make_home(tmp_path: Path, name: str) -> Home:
    home = Home(tmp_path / name)
    home.create_node(name)
    return home


def options() -> NodeOptions:
    return NodeOptions(i2p=False, poll_interval=0.05, dial_interval=0.05)


async def wait_for(watch: object, predicate: object, timeout: float = 20) -> object:
    with trio.fail_after(timeout):
        async for event in watch:  # type: ignore[attr-defined]
            if predicate(event):  # type: ignore[operator]
                return event
    raise AssertionError("watch ended")


async def forum_joined(a: Node, b: Node) -> Event:
    """A posts a forum and B joins it by invite; returns the forum once B holds it."""
    root = await a.post("Forum", "welcome")
    with b.watch(root.id) as events:
        await b.join(str(a.invite(root.id)))
        got = await wait_for(events, lambda e: e.id == root.id)
        assert got.body == root.body
    return root


async def test_join_by_invite_and_reply_both_ways(tmp_path: Path) -> None:
    a_home, b_home = make_home(tmp_path, "a"), make_home(tmp_path, "b")
    async with Node.open(a_home, options=options()) as a, Node.open(b_home, options=options()) as b:
        root = await forum_joined(a, b)
        with a.watch(root.id) as a_watch:
            reply = await b.post("Re: Forum", "hello from b", parent=root.id)
            await wait_for(a_watch, lambda e: e.kind is Kind.LINK and e.ref == reply.id)
        assert a.reader.get(reply.id) is not None
        with b.watch(root.id) as b_watch:
            second = await a.post("Re: Forum", "hello back", parent=root.id)
            await wait_for(b_watch, lambda e: e.kind is Kind.LINK and e.ref == second.id)
        assert b.reader.get(second.id) is not None


async def test_a_crashed_task_stops_the_node_without_hanging(tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    async def crash() -> None:
        raise Boom

    home = make_home(tmp_path, "a")
    with trio.fail_after(20):
        try:
            async with Node.open(home, options=options()) as node:
                await node.post("before", "the crash")
                assert node._nursery is not None
                node._nursery.start_soon(crash)
                await trio.sleep_forever()
        except* Boom:
            pass
    store = home.node().open_store()
    assert store.verify() == [] and store.count(Kind.DOCUMENT) == 1
    store.close()


async def test_nested_replies_are_followed_without_the_web_ui(tmp_path: Path) -> None:
    a_home, b_home = make_home(tmp_path, "a"), make_home(tmp_path, "b")
    async with Node.open(a_home, options=options()) as a, Node.open(b_home, options=options()) as b:
        root = await forum_joined(a, b)
        parent = root
        for level in range(1, 5):  # each level lives in the network of the one above
            with b.watch_all() as events:
                parent = await a.post(f"level {level}", "deeper", parent=parent.id)
                await wait_for(events, lambda e, want=parent.id: e.id == want)
