"""Governing forums: moderators and their actions (`mod ...`), the reader's
own blocks (`block`, `unblock`, `blocked`) and fork evidence (`evidence`).

Moderation actions are signed events in the forum's network, seen by every
holder; ignoring a moderator and blocking an author are private decisions
(subscription events in this node's own chain), like subscriptions.
"""

from __future__ import annotations

import base64

import click

from ..eventlog import Action, ModAction
from ..eventlog.codec import decode_wire
from ..views import local, moderation, projector
from ..views.errors import BadModeration
from .context import Context, pass_context, resolve_id, resolve_node_id
from .group import cli
from .read import emit_json, names_of, who
from .text import when


@cli.group("mod")
def mod() -> None:
    """Moderate a forum: moderators, hiding, bans, posting policy, members, history."""


def _act(ctx: Context, forum_text: str, action: ModAction, target_text: str | None = None, *,
         target_is_node: bool = True, reason: str | None = None) -> None:
    with ctx.store() as (node, store):
        forum = resolve_id(store, forum_text)
        if target_text is None:
            target = forum
        elif target_is_node:
            target = resolve_node_id(ctx.home, store, target_text)
        else:
            target = target_text
        event = moderation.moderate(node.author(store), store, forum, action, target, reason)
    click.echo(f"{action.value} {target[:16] if target_is_node else target} in {forum[:16]} "
               f"(event {event.id[:16]})")


def _node_action(name: str, action: ModAction, help_text: str, reason: bool = False) -> None:
    @mod.command(name, help=help_text)
    @click.argument("forum")
    @click.argument("node_id")
    @click.option("--reason", help="Why (shown to everyone who holds the forum).", hidden=not reason)
    @pass_context
    def command(ctx: Context, forum: str, node_id: str, reason: str | None) -> None:
        _act(ctx, forum, action, node_id, reason=reason)


for _name, _action, _help, _reason in (
    ("add", ModAction.APPOINT, "Appoint NODE_ID a moderator of FORUM (its owner only).", False),
    ("remove", ModAction.DISMISS, "Dismiss a moderator of FORUM (its owner only); what it did so far stands.",
     False),
    ("ban", ModAction.BAN, "Ban an author from FORUM: nothing more of theirs is kept or passed on.", True),
    ("unban", ModAction.UNBAN, "Lift a ban.", False),
    ("approve", ModAction.APPROVE, "Approve an author as a member (who may post under `members`).", False),
    ("revoke", ModAction.REVOKE, "Revoke a member's approval.", False),
):
    _node_action(_name, _action, _help, _reason)


@mod.command("hide")
@click.argument("doc_id")
@click.option("--reason", help="Why (shown to everyone who holds the forum).")
@pass_context
def hide_cmd(ctx: Context, doc_id: str, reason: str | None) -> None:
    """Hide a document of a forum from every honouring node's views."""
    _doc_action(ctx, doc_id, ModAction.HIDE, reason)


@mod.command("unhide")
@click.argument("doc_id")
@pass_context
def unhide_cmd(ctx: Context, doc_id: str) -> None:
    """Show a hidden document again."""
    _doc_action(ctx, doc_id, ModAction.UNHIDE, None)


def _doc_action(ctx: Context, doc_text: str, action: ModAction, reason: str | None) -> None:
    with ctx.store() as (node, store):
        doc = resolve_id(store, doc_text)
        forum = moderation.forums_of(store, [doc])[doc]
        event = moderation.moderate(node.author(store), store, forum, action, doc, reason)
    click.echo(f"{action.value} {doc[:16]} in {forum[:16]} (event {event.id[:16]})")


@mod.command("policy")
@click.argument("forum")
@click.argument("policy", metavar="open|members|pow:BITS")
@pass_context
def policy_cmd(ctx: Context, forum: str, policy: str) -> None:
    """Set who may post in FORUM: anyone (open), approved members only, or
    anyone whose post carries BITS bits of proof of work."""
    _act(ctx, forum, ModAction.POLICY, policy, target_is_node=False)


@mod.command("log")
@click.argument("forum")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per action.")
@pass_context
def log_cmd(ctx: Context, forum: str, as_json: bool) -> None:
    """The forum's whole moderation history: who did what, when and why;
    actions that do not count (by a dismissed moderator) are marked."""
    with ctx.store() as (node, store):
        forum_id = resolve_id(store, forum)
        events = moderation.history(store, forum_id)
        current = moderation.state(store, forum_id, node=node.id)
        ignored = moderation.ignored(store, node.id, forum_id)
    names = names_of(ctx.home)
    if as_json:
        for e in events:
            emit_json({**e.to_json(), "ignored_here": e.author in ignored})
        return
    assert current is not None
    click.echo(f"forum {forum_id[:16]}, owner {who(current.owner, names)}, policy {current.policy}, "
               f"moderators: {', '.join(who(m, names) for m in sorted(current.moderators)) or 'none'}")
    for e in events:
        target = e.target if e.action == ModAction.POLICY else who(e.target, names)
        notes = [] if e.counted else ["not counted: outside its author's term"]
        if e.author in ignored:
            notes.append("ignored here")
        line = f"{when(e.timestamp)}  {who(e.author, names)} {e.action} {target}"
        if e.reason:
            line += f": {e.reason}"
        click.echo(line + (f"  [{'; '.join(notes)}]" if notes else ""))


def _ignore_command(name: str, ignore: bool, help_text: str) -> None:
    @mod.command(name, help=help_text)
    @click.argument("forum")
    @click.argument("node_id")
    @pass_context
    def command(ctx: Context, forum: str, node_id: str) -> None:
        with ctx.store() as (node, store):
            forum_id = resolve_id(store, forum)
            moderator = resolve_node_id(ctx.home, store, node_id)
            if (moderator in moderation.ignored(store, node.id, forum_id)) == ignore:
                raise BadModeration(f"{moderator[:16]} is {'already' if ignore else 'not'} ignored "
                                    f"in {forum_id[:16]}")
            moderation.set_ignored(node.author(store), store, forum_id, moderator, ignore)
        click.echo(f"{name} {moderator[:16]} in {forum_id[:16]}")


_ignore_command("ignore", True, "Stop honouring one moderator of FORUM on this node (private): "
                "its hides and bans are reverted here.")
_ignore_command("heed", False, "Honour an ignored moderator of FORUM again.")


# ---------------------------------------------------------------- personal blocks


def _block_command(name: str, action: Action, help_text: str) -> None:
    @cli.command(name, help=help_text)
    @click.argument("author_id")
    @pass_context
    def command(ctx: Context, author_id: str) -> None:
        with ctx.store() as (node, store):
            author = resolve_node_id(ctx.home, store, author_id)
            moderation.set_blocked(node.author(store), store, author, action is Action.BLOCK)
        click.echo(f"{name}ed {author[:16]}")


_block_command("block", Action.BLOCK, "Block an author (private): nothing more of theirs is kept, "
               "shown or passed on by this node, and what it holds is hidden.")
_block_command("unblock", Action.UNBLOCK, "Unblock an author.")


@cli.command("blocked")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per blocked author.")
@pass_context
def blocked_cmd(ctx: Context, as_json: bool) -> None:
    """The authors this node has blocked."""
    with ctx.store() as (node, store):
        blocked = sorted(local.blocked(store, node.id))
        db = projector.current(store)
        posts = {a: db.execute("SELECT count(*) FROM docs WHERE author = ?", [a]).fetchone()[0] for a in blocked}
    names = names_of(ctx.home)
    for author in blocked:
        if as_json:
            emit_json({"author": author, "documents_held": posts[author]})
        else:
            click.echo(f"{who(author, names)}  ({posts[author]} documents held, hidden)")


@cli.command("evidence")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per conflicting event.")
@pass_context
def evidence_cmd(ctx: Context, as_json: bool) -> None:
    """Forks: events that conflict with another event at the same place in
    their author's chain (kept as evidence, outside the log)."""
    with ctx.store() as (_, store):
        rows = store.equivocations()
        held = {other: store.get(other) for _, _, other in rows if other}
    names = names_of(ctx.home)
    if not rows and not as_json:
        click.echo("no forks seen")
    for event_id, wire, other in rows:
        event = decode_wire(wire)
        if as_json:
            emit_json({"id": event_id, "author": event.author, "network": event.network, "seq": event.seq,
                       "conflicts_with": other, "held": held.get(other or "") is not None,
                       "wire_b64": base64.b64encode(wire).decode()})
        else:
            click.echo(f"{who(event.author, names)} forked {event.network[:16]} at seq {event.seq}: "
                       f"{event_id[:16]} conflicts with {(other or 'unknown')[:16]}")
