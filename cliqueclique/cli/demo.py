"""`cliqueclique demo`: three local nodes on loopback, one forum, a short conversation.

A newcomer runs it, opens the three printed URLs side by side and watches
replication happen: whatever they post in one browser tab appears in the
other two within a second. The nodes run in this one process (each with its
own key, log, listener and web UI) and talk over real TCP on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import click
import trio

from ..errors import NodeError
from ..eventlog import Event
from ..home import Home, LocalNode
from ..node import Node, NodeOptions, Watch
from ..nodestate import NodeState
from ..views import Change, edit_document
from ..web import WebOptions
from ..web.options import port_or_any
from .group import cli
from .node import remember_tcp_port, start_web

NAMES = ("alice", "bob", "carol")
ARRIVAL_TIMEOUT = 30.0
WELCOME = """Welcome! This forum lives on three nodes — **alice**, **bob** and **carol** — \
each with its own key, log and web UI, talking over TCP on 127.0.0.1. There is no server.

Open the three URLs side by side and reply in one tab: the reply appears in the others \
within a second. Try *Reply* at any level, *Edit*, *Delete*, and the **Network picture**."""


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo's nodes here and reuse them next time "
                   "(default: a temporary directory, removed at exit).")
@click.option("--web-port", default=0, show_default=True, metavar="PORT",
              help="First of three consecutive web UI ports (0: any free ports).")
def demo(directory: Path | None, web_port: int) -> None:
    """Three local nodes that join one forum and talk; open their web UIs to watch."""
    temporary = directory is None
    path = Path(tempfile.mkdtemp(prefix="cliqueclique-demo-")) if directory is None else directory
    try:
        trio.run(_demo, Home(path), web_port)
    except KeyboardInterrupt:
        pass
    finally:
        if temporary:
            shutil.rmtree(path, ignore_errors=True)


def _remembered(local: LocalNode, key: str) -> int:
    """The port this node used last time (a kept demo reconnects), if it is still free."""
    state = NodeState(local.log_path)
    try:
        found = state.read_status(key)
    finally:
        state.close()
    return port_or_any("127.0.0.1", int(found[0])) if found else 0


def _node_names(home: Home) -> None:
    existing = {n.name for n in home.nodes()}
    for name in NAMES:
        if name not in existing:
            home.create_node(name)


async def _demo(home: Home, web_port: int) -> None:
    _node_names(home)
    async with AsyncExitStack() as stack:
        nodes, urls, nurseries = [], [], []
        for i, name in enumerate(NAMES):
            local = home.node(name)
            web = web_port + i if web_port else _remembered(local, "web_port")
            options = NodeOptions(listen=[f"127.0.0.1:{_remembered(local, 'tcp_port')}"], i2p=False)
            node = await stack.enter_async_context(Node.open(home, name, options))
            nursery = await stack.enter_async_context(trio.open_nursery())  # the node's web UI
            nurseries.append(nursery)
            remember_tcp_port(node)
            urls.append(await start_web(node, nursery, WebOptions("127.0.0.1", web)))
            nodes.append(node)
        click.echo(f"three nodes in {home.path}")
        for node, url in zip(nodes, urls, strict=True):
            click.echo(f"{node.local.name:<6} {url}")
        sys.stdout.flush()
        forum = await _conversation(home, nodes)
        click.echo(f"forum {forum}")
        click.echo("ready: open the URLs above in a browser; Ctrl-C stops the demo")
        sys.stdout.flush()
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                click.echo("stopping", err=True)
                break
        for nursery in nurseries:
            nursery.cancel_scope.cancel()


async def _conversation(home: Home, nodes: list[Node]) -> str:
    """Alice starts a forum, Bob and Carol join it by invite, and they reply to each other."""
    marker = home.path / "demo.json"
    if marker.exists():  # a kept demo directory: the conversation happened already
        return str(json.loads(marker.read_text())["forum"])
    alice, bob, carol = nodes
    forum = await alice.post("Welcome to cliqueclique", WELCOME)
    invite = alice.invite(forum.id)
    for node in (bob, carol):
        await _joined(node, invite, forum.id)
    hello = await bob.post("Re: Welcome to cliqueclique", "Hi Alice, Bob here. Replicated! 👋",
                           parent=forum.id)
    await _everywhere(nodes, hello)
    answer = await carol.post("Re: Bob", "Carol here, answering Bob **one level down**.",
                              parent=hello.id)
    await _everywhere(nodes, answer)
    edit = await alice.write(lambda author, store: edit_document(
        author, store, forum.id, Change(body=WELCOME + "\n\n*Edited:* Bob and Carol are here.")))
    await _everywhere(nodes, edit)
    last = await alice.post("Re: Welcome to cliqueclique", "Welcome, both of you. Now try it from "
                            "the browser: reply at any level, edit, delete.", parent=forum.id)
    await _everywhere(nodes, last)  # everyone has seen everything before the newcomer looks
    marker.write_text(json.dumps({"forum": forum.id}))
    return forum.id


async def _joined(node: Node, invite: object, forum: str) -> None:
    with node.watch_all() as events:
        await node.join(str(invite))
        await _wait(node, events, forum)


async def _everywhere(nodes: list[Node], event: Event) -> None:
    """Until every node holds `event`."""
    for node in nodes:
        with node.watch_all() as events:
            await _wait(node, events, event.id)


async def _wait(node: Node, events: Watch, event_id: str) -> None:
    """Until `node` holds `event_id` (the watch was opened first, so nothing is missed)."""
    if node.reader.get(event_id) is not None:
        return
    with trio.move_on_after(ARRIVAL_TIMEOUT):
        async for event in events:
            if event.id == event_id:
                return
    raise NodeError(f"{node.local.name} did not receive {event_id[:16]} within {ARRIVAL_TIMEOUT:g}s")
