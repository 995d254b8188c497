"""Command-line commands over the views: threads, edits, deletions, flags,
directories, search and replay.

Registered on the `cli` group by the import at the bottom of `cli.py`. Every
expected failure is a `CliqueError`, which the group prints as one line
(exit 1); `--json` output is JSON only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from .cli import Context, cli, pass_context, resolve_id
from .eventlog.events import Action
from .eventlog.store import SQLiteStore
from .views import (
    BatchSigner,
    Change,
    Filters,
    ThreadEntry,
    add_entry,
    create_directory,
    edit_document,
    find,
    mark,
    open_views,
    replay,
    retract,
    search_directory,
    thread,
)
from .views.errors import BadQuery


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def _when(ms: int | None) -> str:
    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _line(entry: ThreadEntry) -> str:
    if entry.status == "missing":
        return f"[not held yet]  {entry.id[:12]}"
    if entry.status == "deleted":
        return f"[deleted]  {entry.id[:12]}"
    replies = f"  ({entry.replies} repl{'y' if entry.replies == 1 else 'ies'})" if entry.replies else ""
    unread = "  *unread*" if entry.unread else ""
    return (f"{entry.title}  {entry.id[:12]} by {(entry.author or '?')[:12]} "
            f"{_when(entry.timestamp)}{replies}{unread}")


@cli.command("thread")
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the entries in display order.")
@pass_context
def thread_cmd(ctx: Context, doc_id: str, as_json: bool) -> None:
    """Show a document and the tree of its replies."""
    with ctx.store() as (node, store):
        tree = thread(store, resolve_id(store, doc_id), node=node.id)
    if as_json:
        _emit_json(tree.to_json())
        return
    for depth, entry, _ in tree.walk():
        click.echo("  " * depth + ("* " if depth == 0 else "- ") + _line(entry))


@cli.command("edit")
@click.argument("doc_id")
@click.option("--body", "-b", help="The new body text (a character diff against the current one).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), help="Read the new body from a file.")
@click.option("--title", "-t", help="The new title.")
@click.option("--tag", "tags", multiple=True, help="Add a tag (repeatable).")
@click.option("--untag", "untags", multiple=True, help="Remove a tag (repeatable).")
@click.option("--react", "reacts", multiple=True, help="Add your reaction, e.g. +1 (repeatable).")
@click.option("--unreact", "unreacts", multiple=True, help="Remove your reaction (repeatable).")
@pass_context
def edit_cmd(ctx: Context, doc_id: str, body: str | None, body_file: Any, title: str | None,
             tags: tuple[str, ...], untags: tuple[str, ...], reacts: tuple[str, ...],
             unreacts: tuple[str, ...]) -> None:
    """Edit a document's mutable state (author or named editors only); print the edit id."""
    if body is not None and body_file is not None:
        raise BadQuery("give --body or --body-file, not both")
    if body_file is not None:
        body = body_file.read()
    change = Change(body, title, tags, untags, reacts, unreacts)
    if change == Change():
        raise BadQuery("nothing to change: give --body, --title, --tag, --untag, --react or --unreact")
    with ctx.store() as (node, store):
        event = edit_document(node.author(store), store, resolve_id(store, doc_id), change)
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


@cli.group("dir")
def dir_group() -> None:
    """Directories: large collections searchable by subject prefix."""


@dir_group.command("create")
@click.argument("name")
@pass_context
def dir_create(ctx: Context, name: str) -> None:
    """Create an empty directory; print its id."""
    with ctx.store() as (node, store):
        event = create_directory(BatchSigner(node.key(), store), store, name)
    click.echo(event.id)


@dir_group.command("add")
@click.argument("dir_id")
@click.argument("doc_id")
@pass_context
def dir_add(ctx: Context, dir_id: str, doc_id: str) -> None:
    """Add a document to a directory."""
    with ctx.store() as (node, store):
        directory, document = resolve_id(store, dir_id), resolve_id(store, doc_id)
        events = add_entry(node.key(), store, directory, document)
    click.echo(f"added {document[:16]} ({len(events)} events)" if events
               else f"{document[:16]} is already in the directory")


@dir_group.command("search")
@click.argument("dir_id")
@click.argument("prefix")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_context
def dir_search(ctx: Context, dir_id: str, prefix: str, as_json: bool) -> None:
    """List the directory's documents whose subject starts with PREFIX."""
    if not prefix.strip():
        raise BadQuery("give a non-empty prefix: a directory is never listed whole")
    with ctx.store() as (_, store):
        result = search_directory(store, resolve_id(store, dir_id), prefix)
    if as_json:
        _emit_json(result.to_json())
        return
    for match in result.matches:
        click.echo(f"{match.id[:16]}  {match.subject}")
    click.echo(f"{len(result.matches)} matches ({result.touched} documents read)", err=True)


def _flag(value: str | None) -> bool | None:
    return None if value is None else value == "yes"


def _properties(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BadQuery(f"bad --property {pair!r}: use NAME=VALUE")
        out[name] = value
    return out


def _doc_option(store: SQLiteStore, text: str | None) -> str | None:
    return None if text is None else resolve_id(store, text)


@cli.command("find")
@click.option("--author", metavar="NODE_ID", help="Only documents by this author (full node id).")
@click.option("--subscribed", type=click.Choice(["yes", "no"]), help="By your subscription.")
@click.option("--bookmarked", type=click.Choice(["yes", "no"]), help="By your bookmark.")
@click.option("--unread", type=click.Choice(["yes", "no"]), help="By your read mark.")
@click.option("--under", metavar="DOC_ID", help="Only documents in the thread below this one.")
@click.option("--parents-of", metavar="DOC_ID", help="Only documents this one replies to.")
@click.option("--children-of", metavar="DOC_ID", help="Only direct replies to this document.")
@click.option("--text", help="Words in the title or body (word* for a prefix).")
@click.option("--property", "props", multiple=True, metavar="NAME=VALUE", help="A property (repeatable).")
@click.option("--include-deleted", is_flag=True, help="Also list deleted documents (hidden entries).")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def find_cmd(ctx: Context, author: str | None, subscribed: str | None, bookmarked: str | None,
             unread: str | None, under: str | None, parents_of: str | None, children_of: str | None,
             text: str | None, props: tuple[str, ...], include_deleted: bool, limit: int,
             as_json: bool) -> None:
    """Find documents by author, your flags, ancestry, text and properties."""
    properties = _properties(props)
    with ctx.store() as (node, store):
        filters = Filters(
            node=node.id, author=author.lower() if author else None, subscribed=_flag(subscribed),
            bookmarked=_flag(bookmarked), unread=_flag(unread), under=_doc_option(store, under),
            parents_of=_doc_option(store, parents_of), children_of=_doc_option(store, children_of),
            text=text, properties=properties, include_deleted=include_deleted, limit=limit)
        found = find(store, filters)
    for summary in found:
        if as_json:
            _emit_json(summary.to_json())
        else:
            title = "[deleted]" if summary.deleted else summary.title
            click.echo(f"{summary.id[:16]}  {_when(summary.timestamp)}  {title}"
                       f"{'' if summary.read else '  *unread*'}")


@cli.command("replay")
@pass_context
def replay_cmd(ctx: Context) -> None:
    """Drop every view and rebuild it from the log."""
    with ctx.store() as (_, store):
        count = replay(open_views(store))
    click.echo(f"replayed {count} events into the views")
