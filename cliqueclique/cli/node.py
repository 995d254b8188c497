"""Commands of the running node: serve, invite, join, peers, status.

`serve` runs the node (and its web UI, beside it in one nursery) in the
foreground. The other commands work whether or not it runs: they read what
it publishes in the node's database (addresses, progress, peers, joins) and
leave requests there (joins) that it acts on within a second; with no node
running, `join` runs one itself until the forum has arrived.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import click
import trio

from ..errors import NodeError
from ..eventlog import Action, Kind
from ..gc import DAY, DEFAULT_RETENTION, GcConfig
from ..gossip import GossipConfig
from ..home import LocalNode
from ..invite import Invite, parse_invite
from ..net import parse_address
from ..node import Node, NodeOptions
from ..node.core import parse_listen
from ..node.lock import running_pid
from ..nodestate import NodeState
from ..web.options import WebOptions, parse_web, port_or_any
from .context import Context, pass_context, resolve_id
from .group import cli

MAX_PEER_LIMIT = 64  # --max-peers beyond this would only multiply every document's traffic

JOIN_POLL = 0.2  # seconds between looks at a join's progress


def running_status(local: LocalNode, state: NodeState) -> dict[str, Any] | None:
    """The running node's last snapshot, or None if no process runs this node."""
    if running_pid(local) is None:
        return None
    found = state.read_status("node")
    return dict(found[0]) if found and found[0].get("running") else None


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
@click.option("--gc-retention", type=float, default=DEFAULT_RETENTION / DAY, show_default=True, metavar="DAYS",
              help="Forget documents nobody here has wanted for this long (see `gc`).")
@click.option("--max-peers", type=click.IntRange(1, MAX_PEER_LIMIT), default=GossipConfig.max_peers,
              show_default=True, help="Links kept per document; extra ones are shed once a join settles.")
@click.option("--min-peers", type=click.IntRange(1, MAX_PEER_LIMIT), default=GossipConfig.min_peers,
              show_default=True, help="A document with fewer links gets peers suggested (at most --max-peers).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@pass_context
def serve(ctx: Context, listen: tuple[str, ...], i2p: bool | None, sam: str, i2p_option: tuple[str, ...],
          print_events: bool, web: str | None, no_web: bool, web_allow_remote: bool,
          web_token: str | None, gc_retention: float, max_peers: int, min_peers: int, verbose: int) -> None:
    """Run the node and its web UI until Ctrl-C (or SIGTERM); nothing acknowledged is lost."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    local = ctx.node()
    pid = running_pid(local)
    if pid is not None:
        raise NodeError(f"node {local.name} is already running in process {pid} (stop that one first)")
    if not listen:
        state = NodeState(local.log_path)
        last = state.read_status("tcp_port")
        state.close()
        listen = (f"127.0.0.1:{last[0] if last else 0}",)
    for text in listen:
        parse_listen(text)  # a bad address is refused before anything starts
    if not 0 <= gc_retention <= 100 * 365:
        raise click.BadParameter("must be from 0 to 36500 days", param_hint="--gc-retention")
    if min_peers > max_peers:
        raise click.BadParameter(f"{min_peers} is more than --max-peers {max_peers}", param_hint="--min-peers")
    options = NodeOptions(listen=list(listen), i2p=i2p, sam=sam, i2p_tunnels=_tunnel_options(i2p_option),
                          gc=GcConfig(retention=gc_retention * DAY), max_peers=max_peers, min_peers=min_peers)
    web_options = _web_options(local.log_path, web, no_web, web_allow_remote, web_token)
    trio.run(_serve, ctx, options, web_options, print_events)


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


async def _serve(ctx: Context, options: NodeOptions, web: WebOptions | None, print_events: bool) -> None:
    async with Node.open(ctx.home, ctx.node_name, options) as node, trio.open_nursery() as nursery:
        remember_tcp_port(node)
        web_url = await start_web(node, nursery, web) if web is not None else None
        click.echo(f"node {node.local.name} {node.id}")
        for address in node.addresses:
            click.echo(f"listening on {address}")
        if web_url and web:
            token = f"?token={web.token}" if web.token else ""
            click.echo(f"web ui {web_url}{token}")
        click.echo("ready")
        sys.stdout.flush()
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            if print_events:
                nursery.start_soon(_print_events, node)
            nursery.start_soon(_print_late_addresses, node, len(node.addresses))
            async for _ in signals:
                click.echo("stopping", err=True)
                nursery.cancel_scope.cancel()
                break


def remember_tcp_port(node: Node) -> None:
    """Record the TCP port, so the next run listens there again (peers reconnect)."""
    tcp = [a for a in node.addresses if a.scheme == "tcp"]
    if tcp:
        node.state.publish_status("tcp_port", getattr(tcp[0], "port", 0))


async def start_web(node: Node, nursery: trio.Nursery, web: WebOptions) -> str:
    """Serve `node`'s web UI in `nursery`; record its port for next time; return its URL."""
    from ..web import run_web  # Starlette and hypercorn only when a UI is served

    url: str = await nursery.start(run_web, node, web)
    node.state.publish_status("web_port", int(url.rstrip("/").rsplit(":", 1)[1]))
    return url


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
@click.option("--timeout", default=120.0, show_default=True, metavar="SECONDS",
              help="Give up after this long (the join stays saved for 'serve').")
@click.option("--no-wait", is_flag=True, help="Only ask for it: the running (or next) 'serve' fetches it.")
@pass_context
def join(ctx: Context, invite_text: str, timeout: float, no_wait: bool) -> None:
    """Subscribe to a forum through the peer named in INVITE and wait until it
    has caught up with that peer; print the forum's subject."""
    invitation = parse_invite(invite_text)
    if timeout <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--timeout")
    local = ctx.node()
    if invitation.peer == local.id:
        raise NodeError("that invite is this node's own")
    running = running_pid(local) is not None
    if running or no_wait:
        requested = _request_join(ctx, local, invitation)
        if no_wait:
            who = "the running node fetches it" if running else "'cliqueclique serve' will fetch it"
            click.echo(f"joining {invitation.document[:16]} through {invitation.peer[:16]} ({who})")
            return
        report = trio.run(_wait_for_running_node, local, invitation, requested, timeout)
    else:
        report = trio.run(_join_in_process, ctx, invitation, timeout)
    with ctx.store() as (_, store):
        event = store.get(invitation.document)
        content = event.content() if event is not None and event.kind is Kind.DOCUMENT else None
    subject = content.get("subject") if content else "(deleted)"
    click.echo(f"joined {invitation.document[:16]}: {subject} ({report['held']} events)")


def _request_join(ctx: Context, local: LocalNode, invitation: Invite) -> float:
    """Leave the join for the running node (or the next `serve`); subscribe now."""
    state = NodeState(local.log_path)
    try:
        state.add_peer(invitation.peer, [str(a) for a in invitation.addresses])
        requested = state.request_join(invitation.document, invitation.peer)
    finally:
        state.close()
    with ctx.store() as (node, store):
        node.author(store).subscription(invitation.document, Action.SUBSCRIBE)
    return requested


async def _wait_for_running_node(local: LocalNode, invitation: Invite, requested: float,
                                 timeout: float) -> dict[str, Any]:
    state = NodeState(local.log_path)
    try:
        def report() -> dict[str, Any] | None:
            status = running_status(local, state)
            if status is None:
                raise NodeError("the running node stopped before the join finished")
            found = status.get("joins", {}).get(invitation.document)
            return found if found and found["requested"] >= requested else None
        return await _wait_for_join(report, invitation, timeout)
    finally:
        state.close()


async def _join_in_process(ctx: Context, invitation: Invite, timeout: float) -> dict[str, Any]:
    # I2P only when the invite offers nothing else: creating a session takes ~20 s
    i2p_only = all(a.scheme == "i2p" for a in invitation.addresses)
    async with Node.open(ctx.home, ctx.node_name, NodeOptions(i2p=None if i2p_only else False)) as node:
        await node.join(invitation)
        return await _wait_for_join(lambda: node.join_report(invitation.document), invitation, timeout)


async def _wait_for_join(read: Callable[[], dict[str, Any] | None], invitation: Invite,
                         timeout: float) -> dict[str, Any]:
    """Poll the join's report until done; show progress; fail with the reason.

    Raises:
        NodeError: refused, or still not done after `timeout` (the reason names
            the last state; whatever arrived is kept).
    """
    show = _JoinDisplay(sys.stderr.isatty())
    report: dict[str, Any] | None = None
    with trio.move_on_after(timeout):
        while True:
            report = read()
            if report is not None:
                show(report)
                if report["state"] == "done":
                    show.end()
                    return report
                if report["state"] == "refused":
                    show.end()
                    raise NodeError(f"peer {invitation.peer[:16]} does not hold document "
                                    f"{invitation.document[:16]}")
            await trio.sleep(JOIN_POLL)
    show.end()
    raise NodeError(_timeout_reason(report, invitation, timeout))


def _timeout_reason(report: dict[str, Any] | None, invitation: Invite, timeout: float) -> str:
    peer = invitation.peer[:16]
    after = f"after {timeout:g}s"
    if report is None:
        return f"the running node did not take up the join {after}"
    if report["state"] == "unreachable":
        return (f"peer {peer} is unreachable ({report['error']}); gave up {after}; "
                "the join is saved and 'cliqueclique serve' keeps trying")
    if report["state"] == "connecting":
        return f"no connection to peer {peer} {after}; the join is saved and 'cliqueclique serve' keeps trying"
    return (f"timed out while syncing {after}: {report['held']} of {report['known']} events received "
            "(kept; 'cliqueclique serve' continues)")


class _JoinDisplay:
    """A progress bar on a terminal, a line per change of state otherwise (stderr)."""

    def __init__(self, tty: bool) -> None:
        self.tty, self.last = tty, ""
        self.drawn = False

    def __call__(self, report: dict[str, Any]) -> None:
        held, known = report["held"], report["known"]
        if self.tty:
            click.echo(f"\r{report['state']:<11} {bar(held, known)}", nl=False, err=True)
            self.drawn = True
        elif report["state"] != self.last:
            click.echo(f"join: {report['state']} ({held} of {known} events)", err=True)
        self.last = report["state"]

    def end(self) -> None:
        if self.drawn:
            click.echo(err=True)
            self.drawn = False


def bar(held: int, known: int, width: int = 30) -> str:
    fraction = 1.0 if known == 0 else min(1.0, held / known)
    filled = round(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {held}/{known}"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def peers(ctx: Context, as_json: bool) -> None:
    """List known peers and their state."""
    with ctx.state() as (local, state):
        status = running_status(local, state)
        known = state.peers()
    connected = set(status["connected"]) if status else set()
    now = time.time()
    for peer in known:
        live = "banned" if peer.banned(now) else ("connected" if peer.id in connected else "known")
        if as_json:
            click.echo(json.dumps({"id": peer.id, "state": live, "addresses": peer.addresses,
                                   "failures": peer.failures, "last_seen": peer.last_seen,
                                   "banned_until": peer.banned_until, "ban_reason": peer.ban_reason}))
        else:
            extra = f" ({peer.ban_reason})" if live == "banned" else ""
            click.echo(f"{peer.id[:16]}  {live:<9}{extra}  {', '.join(peer.addresses) or '-'}")
    if not known and not as_json:
        click.echo("no peers yet: join a forum with 'cliqueclique join INVITE'")


def _status_lines(status: dict[str, Any], document: str | None, store: Any) -> tuple[list[str], bool]:
    lines, syncing = [], False
    for doc, progress in sorted(status.get("documents", {}).items()):
        if document is not None and doc != document:
            continue
        event = store.get(doc)
        content = event.content() if event is not None and event.kind is Kind.DOCUMENT else None
        subject = (content or {}).get("subject", "")
        syncing |= progress["held"] < progress["known"]
        lines.append(f"{doc[:16]} {subject[:30]:<30} {bar(progress['held'], progress['known'])}")
        for peer, p in sorted(progress["peers"].items()):
            lines.append(f"    peer {peer[:16]}  holds {p['held']}  we lack {p['we_lack']}  they lack {p['they_lack']}")
    admission = status.get("admission") or {}
    refused = admission.get("refused") or {}
    if document is None and (refused or admission.get("held_back")):
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(refused.items()))
        lines.append(f"kept out: {sum(refused.values())} events refused ({why or 'none'}), "
                     f"{admission.get('held_back', 0)} events held back by flood limits "
                     f"({admission.get('held_now', 0)} waiting now)")
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
                snapshot = running_status(local, state)
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
