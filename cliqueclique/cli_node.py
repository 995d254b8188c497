"""Commands of the running node: serve, invite, join, peers, status.

`serve` runs the node in the foreground. The other commands work whether or
not it runs: they read what it publishes in the node's database (addresses,
progress, peers) and leave requests there (joins) that it acts on within a
second; with no node running, `join` runs one itself until the forum arrives.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from typing import Any

import click
import trio

from .cli import Context, cli, pass_context, resolve_id
from .errors import NodeError
from .eventlog import Action, Kind
from .invite import Invite, parse_invite
from .net import parse_address
from .node import Node, NodeOptions
from .nodestate import NodeState
from .web.options import WebOptions, parse_web, port_or_any

STATUS_FRESH = 5.0  # seconds: an older snapshot means the node is not running


def running_status(state: NodeState) -> dict[str, Any] | None:
    """The running node's snapshot, or None if no node is serving this home."""
    found = state.read_status("node")
    if found is None:
        return None
    status, age = found
    if not status.get("running") or age > STATUS_FRESH:
        return None
    try:
        os.kill(int(status["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return dict(status)


def _tunnel_options(values: tuple[str, ...]) -> dict[str, str | int]:
    options: dict[str, str | int] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--i2p-option")
        options[name] = int(value) if value.isdigit() else value
    return options


@cli.command()
@click.option("--listen", multiple=True, metavar="HOST:PORT",
              help="TCP address to listen on (repeatable; default 127.0.0.1 on the port used last time).")
@click.option("--i2p/--no-i2p", default=None, help="Require / disable I2P (default: use it if a SAM bridge answers).")
@click.option("--sam", default="127.0.0.1:7656", show_default=True, metavar="HOST:PORT", help="The router's SAM bridge.")
@click.option("--i2p-option", multiple=True, metavar="NAME=VALUE", help="SAM tunnel option, e.g. inbound.length=1.")
@click.option("--events", "print_events", is_flag=True, help="Print one JSON line per event the node accepts.")
@click.option("--web", "web", metavar="HOST:PORT",
              help="Serve the web UI there (default 127.0.0.1 on the port used last time).")
@click.option("--no-web", is_flag=True, help="Do not serve the web UI.")
@click.option("--web-allow-remote", is_flag=True,
              help="Allow --web on an address other than loopback (then an access token is required).")
@click.option("--web-token", envvar="CLIQUECLIQUE_WEB_TOKEN", metavar="TOKEN",
              help="Access token for a remote web UI (default: a random one, printed in the URL).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@pass_context
def serve(ctx: Context, listen: tuple[str, ...], i2p: bool | None, sam: str, i2p_option: tuple[str, ...],
          print_events: bool, web: str | None, no_web: bool, web_allow_remote: bool,
          web_token: str | None, verbose: int) -> None:
    """Run the node and its web UI until Ctrl-C (or SIGTERM); nothing acknowledged is lost."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    local = ctx.node()
    if not listen:
        state = NodeState(local.log_path)
        last = state.read_status("tcp_port")
        state.close()
        listen = (f"127.0.0.1:{last[0] if last else 0}",)
    options = NodeOptions(listen=list(listen), i2p=i2p, sam=sam, i2p_tunnels=_tunnel_options(i2p_option),
                          web=_web_options(local.log_path, web, no_web, web_allow_remote, web_token))
    try:
        trio.run(_serve, ctx, options, print_events)
    except KeyboardInterrupt:
        pass


def _web_options(log_path: Any, web: str | None, no_web: bool, allow_remote: bool,
                 token: str | None) -> WebOptions | None:
    if no_web:
        if web:
            raise click.UsageError("give --web or --no-web, not both")
        return None
    if web:
        return parse_web(web, allow_remote=allow_remote, token=token)
    state = NodeState(log_path)
    last = state.read_status("web_port")
    state.close()
    return WebOptions("127.0.0.1", port_or_any("127.0.0.1", int(last[0])) if last else 0, token=token)


async def _serve(ctx: Context, options: NodeOptions, print_events: bool) -> None:
    async with Node.open(ctx.home, ctx.node_name, options) as node:
        tcp = [a for a in node.addresses if a.scheme == "tcp"]
        if tcp:
            node.state.publish_status("tcp_port", getattr(tcp[0], "port", 0))
        click.echo(f"node {node.local.name} {node.id}")
        for address in node.addresses:
            click.echo(f"listening on {address}")
        if node.web_url and options.web:
            node.state.publish_status("web_port", int(node.web_url.rstrip("/").rsplit(":", 1)[1]))
            token = f"?token={options.web.token}" if options.web.token else ""
            click.echo(f"web ui {node.web_url}{token}")
        click.echo("ready", err=False)
        sys.stdout.flush()
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                if print_events:
                    nursery.start_soon(_print_events, node)
                nursery.start_soon(_print_late_addresses, node, len(node.addresses))
                async for _ in signals:
                    click.echo("stopping", err=True)
                    nursery.cancel_scope.cancel()
                    break


async def _print_late_addresses(node: Node, printed: int) -> None:
    """Print `listening on ...` for addresses that come up after start (I2P: ~20 s later)."""
    while True:
        await trio.sleep(0.25)  # a display refresh; addresses are added rarely
        for address in node.addresses[printed:]:
            click.echo(f"listening on {address}")
            sys.stdout.flush()
        printed = len(node.addresses)


async def _print_events(node: Node) -> None:
    with node.watch_all() as events:
        async for event in events:
            click.echo(json.dumps({"id": event.id, "kind": event.kind.value, "network": event.network,
                                   "author": event.author}))
            sys.stdout.flush()


@cli.command()
@click.argument("doc_id")
@pass_context
def invite(ctx: Context, doc_id: str) -> None:
    """Print an invite to a document: its id and this node's addresses."""
    with ctx.store() as (node, store):
        document = resolve_id(store, doc_id)
        state = NodeState(node.log_path)
        found = state.read_status("addresses")
        state.close()
    addresses = found[0] if found else []
    if not addresses:
        raise NodeError("this node has no address yet: run 'cliqueclique serve' once (it records where it listens)")
    click.echo(str(Invite(document, node.id, tuple(parse_address(a) for a in addresses))))


@cli.command()
@click.argument("invite_text", metavar="INVITE")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait when no node is running.")
@pass_context
def join(ctx: Context, invite_text: str, timeout: float) -> None:
    """Subscribe to a forum through the peer named in INVITE."""
    invitation = parse_invite(invite_text)
    local = ctx.node()
    if invitation.peer == local.id:
        raise NodeError("that invite is this node's own")
    state = NodeState(local.log_path)
    try:
        running = running_status(state) is not None
        if running:
            state.add_peer(invitation.peer, [str(a) for a in invitation.addresses])
            state.request_join(invitation.document, invitation.peer)
    finally:
        state.close()
    if running:
        with ctx.store() as (node, store):
            node.author(store).subscription(invitation.document, Action.SUBSCRIBE)
        click.echo(f"joining {invitation.document[:16]} through {invitation.peer[:16]} (the running node fetches it)")
        return
    subject = trio.run(_join_now, ctx, invitation, timeout)
    click.echo(f"joined {invitation.document[:16]}: {subject}")


async def _join_now(ctx: Context, invitation: Invite, timeout: float) -> str:
    async with Node.open(ctx.home, ctx.node_name, NodeOptions(i2p=False)) as node:
        with node.watch(invitation.document) as events:
            await node.join(invitation)
            if node.reader.get(invitation.document) is None:
                with trio.move_on_after(timeout) as scope:
                    async for event in events:
                        if event.id == invitation.document:
                            break
                if scope.cancelled_caught:
                    raise NodeError(f"no answer from {invitation.peer[:16]} in {timeout:g}s; "
                                    "the join is saved and 'cliqueclique serve' will retry it")
        document = node.reader.get(invitation.document)
        content = document.content() if document else None
        return str(content.get("subject")) if content else "(deleted)"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def peers(ctx: Context, as_json: bool) -> None:
    """List known peers and their state."""
    local = ctx.node()
    state = NodeState(local.log_path)
    try:
        status = running_status(state)
        known = state.peers()
    finally:
        state.close()
    connected = set(status["connected"]) if status else set()
    now = time.time()
    for peer in known:
        live = "connected" if peer.id in connected else ("banned" if peer.banned(now) else "known")
        if as_json:
            click.echo(json.dumps({"id": peer.id, "state": live, "addresses": peer.addresses,
                                   "failures": peer.failures, "last_seen": peer.last_seen,
                                   "banned_until": peer.banned_until, "ban_reason": peer.ban_reason}))
        else:
            extra = f" ({peer.ban_reason})" if live == "banned" else ""
            click.echo(f"{peer.id[:16]}  {live:<9}{extra}  {', '.join(peer.addresses) or '-'}")
    if not known and not as_json:
        click.echo("no peers yet: join a forum with 'cliqueclique join INVITE'")


def _bar(held: int, known: int, width: int = 30) -> str:
    fraction = 1.0 if known == 0 else min(1.0, held / known)
    filled = int(round(fraction * width))
    return f"[{'#' * filled}{'.' * (width - filled)}] {held}/{known}"


def _status_lines(status: dict[str, Any], document: str | None, store: Any) -> tuple[list[str], bool]:
    lines, syncing = [], False
    for doc, progress in sorted(status.get("documents", {}).items()):
        if document is not None and doc != document:
            continue
        event = store.get(doc)
        content = event.content() if event is not None and event.kind is Kind.DOCUMENT else None
        subject = (content or {}).get("subject", "")
        syncing |= progress["held"] < progress["known"]
        lines.append(f"{doc[:16]} {subject[:30]:<30} {_bar(progress['held'], progress['known'])}")
        for peer, p in sorted(progress["peers"].items()):
            lines.append(f"    peer {peer[:16]}  holds {p['held']}  we lack {p['we_lack']}  they lack {p['they_lack']}")
    return lines, syncing


@cli.command()
@click.argument("doc_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the raw progress snapshot as JSON.")
@click.option("--once", is_flag=True, help="Do not keep refreshing while syncing.")
@pass_context
def status(ctx: Context, doc_id: str | None, as_json: bool, once: bool) -> None:
    """Replication progress: held vs known events per document and peer."""
    with ctx.store() as (local, store):
        document = resolve_id(store, doc_id) if doc_id else None
        state = NodeState(local.log_path)
        try:
            while True:
                snapshot = running_status(state)
                if snapshot is None:
                    raise NodeError("no node is serving this home: start 'cliqueclique serve'")
                if as_json:
                    docs = snapshot["documents"]
                    click.echo(json.dumps({d: docs[d] for d in docs if document in (None, d)}))
                    return
                lines, syncing = _status_lines(snapshot, document, store)
                click.echo("\n".join(lines) or "no documents held yet")
                if once or not syncing or not sys.stdout.isatty():
                    return
                time.sleep(0.5)
                click.echo()
        finally:
            state.close()
