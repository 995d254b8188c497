"""Writing commands beyond `post`: edits, tags, reactions, links, editors,
deletions, and the node's own flags and notes."""

from __future__ import annotations

from typing import Any

import click

from ..eventlog.events import Action, Direction
from ..views import (
    Change,
    change_editors,
    edit_document,
    mark,
    projector,
    react,
    reactions,
    retract,
)
from ..views.errors import BadQuery
from .context import Context, pass_context, resolve_id, resolve_node_id
from .group import cli
from .log import require_subject


@cli.command("edit")
@click.argument("doc_id")
@click.option("--body", "-b", help="The new body text (a character diff against the current one).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), help="Read the new body from a file.")
@click.option("--title", "-t", help="The new title.")
@click.option("--tag", "tags", multiple=True, help="Add a tag (repeatable).")
@click.option("--untag", "untags", multiple=True, help="Remove a tag (repeatable).")
@pass_context
def edit_cmd(ctx: Context, doc_id: str, body: str | None, body_file: Any, title: str | None,
             tags: tuple[str, ...], untags: tuple[str, ...]) -> None:
    """Edit a document's text, title or tags (author or named editors only); print the edit id."""
    if body is not None and body_file is not None:
        raise BadQuery("give --body or --body-file, not both")
    if body_file is not None:
        body = body_file.read()
    if title is not None:
        require_subject(title)
    change = Change(body=body, title=title, add_tags=tags, remove_tags=untags)
    if change == Change():
        raise BadQuery("nothing to change: give --body, --title, --tag or --untag")
    with ctx.store() as (node, store):
        event = edit_document(node.author(store), store, resolve_id(store, doc_id), change)
    click.echo(event.id)


@cli.command("tag")
@click.argument("doc_id")
@click.argument("pairs", nargs=-1, metavar="[NAME=VALUE]...")
@click.option("--remove", "removed", multiple=True, metavar="NAME", help="Remove this property (repeatable).")
@pass_context
def tag_cmd(ctx: Context, doc_id: str, pairs: tuple[str, ...], removed: tuple[str, ...]) -> None:
    """Set (NAME=VALUE) or remove (--remove NAME) properties of a document
    (author or named editors only); `find --property` finds them."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BadQuery(f"bad property {pair!r}: use NAME=VALUE")
        values[name.strip()] = value
    if not values and not removed:
        raise BadQuery("nothing to change: give NAME=VALUE or --remove NAME")
    with ctx.store() as (node, store):
        event = edit_document(node.author(store), store, resolve_id(store, doc_id),
                              Change(set_properties=values, remove_properties=removed))
    click.echo(event.id)


@cli.command("react")
@click.argument("doc_id")
@click.argument("emoji")
@click.option("--undo", is_flag=True, help="Take your reaction back.")
@pass_context
def react_cmd(ctx: Context, doc_id: str, emoji: str, undo: bool) -> None:
    """React to a document (anyone who holds it can); --undo takes it back."""
    if not emoji.strip():
        raise BadQuery("a reaction is required, e.g. 👍")
    with ctx.store() as (node, store):
        doc = resolve_id(store, doc_id)
        mine = node.id in reactions(store, doc).get(emoji, [])
        if mine != undo:
            raise BadQuery(f"you have {'already' if mine else 'not'} reacted {emoji} to {doc[:12]}")
        event = react(node.author(store), store, doc, emoji, on=not undo)
    click.echo(event.id)


@cli.command("link")
@click.argument("parent")
@click.argument("child")
@click.option("--reversed", "is_reversed", is_flag=True,
              help="PARENT answers or annotates CHILD (shown as a reply in CHILD's thread).")
@pass_context
def link_cmd(ctx: Context, parent: str, child: str, is_reversed: bool) -> None:
    """Link two held documents: CHILD becomes a reply to PARENT (a cross-link),
    or with --reversed PARENT shows up below CHILD; print the link id."""
    direction = Direction.REVERSED if is_reversed else Direction.NATURAL
    with ctx.store() as (node, store):
        above, below = resolve_id(store, parent), resolve_id(store, child)
        if above == below:
            raise BadQuery("a document cannot link to itself")
        if is_reversed:
            above, below = below, above
        if projector.current(store).execute("SELECT 1 FROM edges WHERE above = ? AND below = ?",
                                            [above, below]).fetchone():
            raise BadQuery("these documents are linked that way already")
        parent_id, child_id = (below, above) if is_reversed else (above, below)
        event = node.author(store).link(parent_id, child_id, direction)
    click.echo(event.id)


@cli.command("editors")
@click.argument("doc_id")
@click.argument("action", type=click.Choice(["add", "remove"]))
@click.argument("node_ids", nargs=-1, required=True, metavar="NODE_ID...")
@pass_context
def editors_cmd(ctx: Context, doc_id: str, action: str, node_ids: tuple[str, ...]) -> None:
    """Name (add) or remove editors of one of your documents (node ids, prefixes or
    local names). A removed editor's later edits stop counting; what they wrote stays."""
    with ctx.store() as (node, store):
        doc = resolve_id(store, doc_id)
        nodes = [resolve_node_id(ctx.home, store, n) for n in node_ids]
        change = {"add": nodes} if action == "add" else {"remove": nodes}
        event = change_editors(node.author(store), store, doc, **change)
    click.echo(event.id)


@cli.command("delete")
@click.argument("event_id")
@pass_context
def delete_cmd(ctx: Context, event_id: str) -> None:
    """Delete one of your documents (its content is purged) or links."""
    with ctx.store() as (node, store):
        target = resolve_id(store, event_id, None)
        events = retract(node.author(store), store, target)
    pruned = f", {len(events) - 1} emptied trie nodes" if len(events) > 1 else ""
    click.echo(f"deleted {target} (deletion {events[0].id[:16]}{pruned})")


def _flag_command(name: str, action: Action, help_text: str) -> None:
    @cli.command(name, help=help_text)
    @click.argument("doc_id")
    @pass_context
    def command(ctx: Context, doc_id: str) -> None:
        with ctx.store() as (node, store):
            document = resolve_id(store, doc_id)
            mark(node.author(store), store, document, action)
        click.echo(f"{name}: {document}")


for _name, _action, _help in (
    ("subscribe", Action.SUBSCRIBE, "Receive every new comment on a document."),
    ("unsubscribe", Action.UNSUBSCRIBE, "Stop receiving new comments on a document."),
    ("bookmark", Action.BOOKMARK, "Keep a document (and fetch it) without subscribing."),
    ("unbookmark", Action.UNBOOKMARK, "Remove a bookmark."),
    ("read", Action.READ, "Mark a document as read."),
    ("unread", Action.UNREAD, "Mark a document as unread."),
):
    _flag_command(_name, _action, _help)


@cli.command("note")
@click.argument("doc_id")
@click.argument("text")
@pass_context
def note_cmd(ctx: Context, doc_id: str, text: str) -> None:
    """Attach a private note to a document (an empty TEXT clears it)."""
    with ctx.store() as (node, store):
        document = resolve_id(store, doc_id)
        mark(node.author(store), store, document, Action.NOTE, text)
    click.echo(f"note: {document}")

