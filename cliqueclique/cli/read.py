"""Reading commands: a document (`show`), its thread, the forums one follows,
search (`find`) and `replay`.

Every expected failure is a `CliqueError`, which the group prints as one line
(exit 1); `--json` output is JSON only.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import click

from ..eventlog.store import SQLiteStore
from ..home import Home
from ..views import (
    Filters,
    ThreadEntry,
    document_state,
    find,
    flags,
    forums,
    open_views,
    projector,
    reactions,
    replay,
    thread,
)
from ..views.errors import BadQuery
from .context import Context, pass_context, resolve_id, resolve_node_id
from .group import cli
from .text import plain_markdown, when


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def names_of(home: Home) -> dict[str, str]:
    """Local node ids -> their names (shown instead of ids)."""
    return {n.id: n.name for n in home.nodes()}


def who(node_id: str | None, names: dict[str, str]) -> str:
    if node_id is None:
        return "?"
    return names.get(node_id) or node_id[:12]


def current_text(store: SQLiteStore, doc_id: str) -> str | None:
    """A document's text with every edit merged (None once deleted)."""
    state = document_state(store, doc_id)
    return None if state.deleted else state.body


def _line(entry: ThreadEntry, names: dict[str, str], show_hidden: bool) -> str:
    if entry.hidden is not None and not show_hidden:
        reason = f": {entry.hidden['reason']}" if entry.hidden["reason"] else ""
        return f"[hidden by {who(entry.hidden['by'], names)}{reason}]  {entry.id[:12]}"
    if entry.status == "missing":
        return f"[not held yet]  {entry.id[:12]}"
    if entry.status == "deleted":
        return f"[deleted]  {entry.id[:12]}"
    replies = f"  ({entry.replies} repl{'y' if entry.replies == 1 else 'ies'})" if entry.replies else ""
    unread = "  *unread*" if entry.unread else ""
    hidden = "  [hidden]" if entry.hidden is not None else ""
    return (f"{entry.title}  {entry.id[:12]} by {who(entry.author, names)} {when(entry.timestamp)}"
            f"{replies}{unread}{hidden}")


def _reaction_line(store: SQLiteStore, doc_id: str) -> str:
    counts = reactions(store, doc_id)
    return "  ".join(f"{emoji} {len(nodes)}" for emoji, nodes in counts.items())


@cli.command("thread")
@click.argument("doc_id")
@click.option("--bodies", is_flag=True, help="Show each post's current text under its title.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the entries in display order.")
@click.option("--show-hidden", is_flag=True, help="Open what moderators or your blocks hide.")
@pass_context
def thread_cmd(ctx: Context, doc_id: str, bodies: bool, as_json: bool, show_hidden: bool) -> None:
    """Show a document and the tree of its replies (hidden posts collapsed)."""
    names = names_of(ctx.home)
    with ctx.store() as (node, store):
        tree = thread(store, resolve_id(store, doc_id), node=node.id)
        if as_json:
            out = tree.to_json()
            for entry in out["entries"]:
                shown = entry["status"] == "ok" and (entry["hidden"] is None or show_hidden)
                entry["text"] = current_text(store, entry["id"]) if shown else None
            emit_json(out)
            return
        width = shutil.get_terminal_size((100, 24)).columns
        for depth, entry, _ in tree.walk():
            indent = "  " * depth
            click.echo(indent + ("* " if depth == 0 else "- ") + _line(entry, names, show_hidden))
            if bodies and entry.status == "ok" and (entry.hidden is None or show_hidden):
                text = current_text(store, entry.id) or ""
                for line in plain_markdown(text, max(20, width - len(indent) - 4)):
                    click.echo(f"{indent}    {line}".rstrip())
                counts = _reaction_line(store, entry.id)
                if counts:
                    click.echo(f"{indent}    [{counts}]")
                click.echo()


def links_of(store: SQLiteStore, doc_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(parents, children) of a document in the threads view: what it replies to
    and what replies to it, each with the link and its direction."""
    db = projector.current(store)
    def rows(sql: str) -> list[dict[str, Any]]:
        return [{"id": r[0], "link": r[1], "direction": r[2], "subject": r[3]}
                for r in db.execute(sql, [doc_id])]
    parents = rows("SELECT e.above, e.link, e.direction, d.title FROM edges e "
                   "LEFT JOIN docs d ON d.id = e.above WHERE e.below = ? ORDER BY e.timestamp, e.link")
    children = rows("SELECT e.below, e.link, e.direction, d.title FROM edges e "
                    "LEFT JOIN docs d ON d.id = e.below WHERE e.above = ? ORDER BY e.timestamp, e.link")
    return parents, children


@cli.command("show")
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_context
def show_cmd(ctx: Context, doc_id: str, as_json: bool) -> None:
    """Show one document: current text, author, editors, properties, reactions,
    your flags and note, and its links."""
    names = names_of(ctx.home)
    with ctx.store() as (node, store):
        doc = resolve_id(store, doc_id)
        state = document_state(store, doc)
        marks = flags(store, node.id, doc)
        counts = reactions(store, doc) if not state.deleted else {}
        parents, children = links_of(store, doc)
    if as_json:
        emit_json({
            "id": doc, "subject": state.title, "original_subject": state.subject, "text": state.body,
            "author": state.author, "author_name": names.get(state.author), "timestamp": state.timestamp,
            "content_type": state.content_type, "editors": state.editors, "properties": state.properties,
            "tags": state.tags, "reactions": counts, "note": marks.note,
            "flags": {"subscribed": marks.subscribed, "bookmarked": marks.bookmarked, "read": marks.read},
            "parents": parents, "children": children, "deleted": state.deleted, "edits": state.edits,
        })
        return
    if state.deleted:
        click.echo(f"[deleted]  {doc}")
        click.echo(f"by {who(state.author, names)}  {when(state.timestamp)}")
    else:
        click.echo(f"{state.title}")
        click.echo(f"{doc}  by {who(state.author, names)}  {when(state.timestamp)}  {state.content_type}"
                   + (f"  ({state.edits} edit{'' if state.edits == 1 else 's'})" if state.edits else ""))
        click.echo()
        width = shutil.get_terminal_size((100, 24)).columns
        for line in plain_markdown(state.body or "", max(20, width - 2)):
            click.echo(line)
        click.echo()
    details = [
        ("editors", ", ".join(who(e, names) for e in state.editors)),
        ("properties", ", ".join(f"{k}={v}" for k, v in state.properties.items())),
        ("tags", ", ".join(state.tags)),
        ("reactions", "  ".join(f"{e} {len(n)} ({', '.join(who(i, names) for i in n)})"
                                for e, n in counts.items())),
        ("your flags", ", ".join(name for name, on in (("subscribed", marks.subscribed),
                                 ("bookmarked", marks.bookmarked), ("read", marks.read)) if on)),
        ("your note", marks.note or ""),
    ]
    for label, value in details:
        if value:
            click.echo(f"{label + ':':<12} {value}")
    for label, links in (("replies to", parents), ("replies", children)):
        for link in links:
            arrow = "" if link["direction"] == "natural" else " (reversed link)"
            click.echo(f"{label + ':':<12} {link['id'][:12]}  {link['subject'] or '[not held]'}{arrow}")


@cli.command("forums")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def forums_cmd(ctx: Context, as_json: bool) -> None:
    """The forums this node follows, newest activity first."""
    names = names_of(ctx.home)
    with ctx.store() as (node, store):
        found = forums(store, node.id)
    for forum in found:
        if as_json:
            emit_json(forum.to_json())
            continue
        title = "[deleted]" if forum.deleted else forum.subject
        unread = f"  {forum.unread} unread" if forum.unread else ""
        click.echo(f"{forum.id[:12]}  {when(forum.last_activity)}  {title}  by {who(forum.owner, names)}"
                   f"  ({forum.replies} repl{'y' if forum.replies == 1 else 'ies'}){unread}")
    if not found and not as_json:
        click.echo("no forums yet: post one with 'cliqueclique post' or join one with 'cliqueclique join'")


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
@click.option("--author", metavar="NODE", help="Only documents by this author (id, id prefix or local name).")
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (with each text).")
@pass_context
def find_cmd(ctx: Context, author: str | None, subscribed: str | None, bookmarked: str | None,
             unread: str | None, under: str | None, parents_of: str | None, children_of: str | None,
             text: str | None, props: tuple[str, ...], include_deleted: bool, limit: int,
             as_json: bool) -> None:
    """Find documents by author, your flags, ancestry, text and properties."""
    properties = _properties(props)
    with ctx.store() as (node, store):
        filters = Filters(
            node=node.id, author=resolve_node_id(ctx.home, store, author) if author else None,
            subscribed=_flag(subscribed), bookmarked=_flag(bookmarked), unread=_flag(unread),
            under=_doc_option(store, under), parents_of=_doc_option(store, parents_of),
            children_of=_doc_option(store, children_of), text=text, properties=properties,
            include_deleted=include_deleted, limit=limit)
        for summary in find(store, filters):
            if as_json:
                emit_json({**summary.to_json(),
                           "text": None if summary.deleted else current_text(store, summary.id)})
            else:
                title = "[deleted]" if summary.deleted else summary.title
                click.echo(f"{summary.id[:16]}  {when(summary.timestamp)}  {title}"
                           f"{'' if summary.read else '  *unread*'}")


@cli.command("replay")
@pass_context
def replay_cmd(ctx: Context) -> None:
    """Drop every view and rebuild it from the log."""
    with ctx.store() as (_, store):
        count = replay(open_views(store))
    click.echo(f"replayed {count} events into the views")
