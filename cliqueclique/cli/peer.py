"""`cliqueclique peer add|ban|unban`: the peer table, by hand.

The running node reads the same table: it dials a peer added here within a
second, and cuts a banned one off.
"""

from __future__ import annotations

import time

import click

from ..errors import NodeError
from ..eventlog.codec import is_hex_id
from ..invite import BadInvite, parse_invite
from ..net import parse_address
from .context import Context, pass_context, resolve_node_id
from .group import cli

FOREVER = 100 * 365 * 86400.0  # a ban by hand lasts until `peer unban`


@cli.group("peer")
def peer_group() -> None:
    """Add, ban and unban peers (see also `peers`)."""


@peer_group.command("add")
@click.argument("address")
@click.option("--id", "peer_id", metavar="NODE_ID",
              help="The peer's node id (the handshake proves it); not needed for ID@ADDRESS or an invite.")
@pass_context
def peer_add(ctx: Context, address: str, peer_id: str | None) -> None:
    """Remember a peer at ADDRESS (tcp:HOST:PORT, i2p:..., ID@ADDRESS or an invite);
    the running node connects to it."""
    if address.startswith("cq:"):
        try:
            invitation = parse_invite(address)
        except BadInvite as e:
            raise NodeError(str(e)) from None
        found, addresses = invitation.peer, [str(a) for a in invitation.addresses]
    else:
        named, sep, rest = address.partition("@")
        if sep:
            found, address = named.lower(), rest
        else:
            found = None
        addresses = [str(parse_address(address))]
    if peer_id is not None:
        if found is not None and found != peer_id.lower():
            raise NodeError("--id differs from the id in the address")
        found = peer_id.lower()
    if found is None:
        raise NodeError("give the peer's node id (--id NODE_ID or ID@ADDRESS): "
                        "links are authenticated, so a node is dialled by its id")
    if not is_hex_id(found):
        raise NodeError(f"{found!r} is not a node id (64 hex characters)")
    with ctx.state() as (local, state):
        if found == local.id:
            raise NodeError("that is this node itself")
        state.add_peer(found, addresses)
    click.echo(f"peer {found[:16]} at {', '.join(addresses)}")


@peer_group.command("ban")
@click.argument("node_id")
@click.option("--reason", default="banned by hand", show_default=True, help="Why (shown by `peers`).")
@pass_context
def peer_ban(ctx: Context, node_id: str, reason: str) -> None:
    """Refuse all contact with a peer until `peer unban` (the running node cuts it off)."""
    with ctx.store() as (local, store), ctx.state() as (_, state):
        peer = resolve_node_id(ctx.home, store, node_id, state)
        if peer == local.id:
            raise NodeError("a node cannot ban itself")
        if state.peer(peer) is None:
            state.add_peer(peer, [])
        state.update_peer(peer, state="banned", banned_until=time.time() + FOREVER, ban_reason=reason)
    click.echo(f"banned {peer[:16]}: {reason}")


@peer_group.command("unban")
@click.argument("node_id")
@pass_context
def peer_unban(ctx: Context, node_id: str) -> None:
    """Lift a ban (by hand or for misbehaviour)."""
    with ctx.store() as (_, store), ctx.state() as (_, state):
        peer = resolve_node_id(ctx.home, store, node_id, state)
        known = state.peer(peer)
        if known is None or known.banned_until is None:
            raise NodeError(f"peer {peer[:16]} is not banned")
        state.update_peer(peer, state="known", banned_until=None, ban_reason=None, failures=0)
    click.echo(f"unbanned {peer[:16]}")
