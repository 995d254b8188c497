"""Commands of the log itself: nodes, posting, listing, verifying, export and import."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..eventlog.base import Status
from ..eventlog.events import Action, Direction, Kind
from ..eventlog.store import SQLiteStore
from ..eventlog.transfer import export_thread, import_file
from ..views import flags, moderation
from ..views.errors import BadQuery
from .context import Context, pass_context, resolve_id, resolve_node_id
from .group import cli

FOLLOW_INTERVAL = 0.2  # seconds between looks at the log with --follow


def require_subject(subject: str) -> str:
    """The subject as typed; a blank one is refused before anything is signed."""
    if not subject.strip():
        raise BadQuery("a subject is required")
    return subject


@cli.command()
@click.option("--name", help="A short name for the node (default: node1, node2, ...).")
@pass_context
def init(ctx: Context, name: str | None) -> None:
    """Create a new local node (key pair and log); print its id."""
    node = ctx.home.create_node(name)
    click.echo(node.id)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def nodes(ctx: Context, as_json: bool) -> None:
    """List the local nodes of this home."""
    default = ctx.home.default_id()
    for node in ctx.home.nodes():
        if as_json:
            click.echo(json.dumps({"id": node.id, "name": node.name, "default": node.id == default}))
        else:
            click.echo(f"{'*' if node.id == default else ' '} {node.name:<16} {node.id}")


@cli.command()
@click.option("--subject", "-s", required=True, help="Subject line.")
@click.option("--body", "-b", "body", help="Body text (Markdown).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), help="Read the body from a file ('-' for stdin).")
@click.option("--parent", metavar="DOC_ID", help="Post as a reply to this document.")
@pass_context
def post(ctx: Context, subject: str, body: str | None, body_file: Any, parent: str | None) -> None:
    """Post a new document (or a reply with --parent); print its id."""
    if (body is None) == (body_file is None):
        raise click.UsageError("give exactly one of --body and --body-file")
    require_subject(subject)
    text = body if body is not None else body_file.read()
    with ctx.store() as (node, store):
        parent_id = resolve_id(store, parent) if parent else None
        bits = moderation.work_required(store, parent_id, node.id) if parent_id else 0
        started = time.monotonic()
        document, _ = node.author(store).post(subject, text, parent=parent_id, work=bits,
                                              progress=_mining_progress if bits else None)
    if bits:
        click.echo(f"\rproof of work: {bits} bits in {time.monotonic() - started:.1f} s" + " " * 20,
                   err=True)
    click.echo(document.id)


def _mining_progress(tries: int, seconds: float) -> None:
    click.echo(f"\rmining proof of work: {tries:,} tries, {seconds:.1f} s", err=True, nl=False)


@cli.command()
@click.option("--doc", metavar="ID", help="Only events of this document's network.")
@click.option("--author", metavar="ID", help="Only events by this author (node id, prefix or local name).")
@click.option("--kind", type=click.Choice([k.value for k in Kind]), help="Only events of this kind.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they are appended (Ctrl-C ends).")
@pass_context
def log(ctx: Context, doc: str | None, author: str | None, kind: str | None, as_json: bool,
        follow: bool) -> None:
    """Show the event log, oldest first."""
    with ctx.store() as (_, store):
        network = resolve_id(store, doc) if doc else None
        author_id = resolve_node_id(ctx.home, store, author) if author else None
        position = _print_events(store, network, author_id, kind, as_json, after=0)
        while follow:
            time.sleep(FOLLOW_INTERVAL)  # another process appends: the log is all we share
            position = _print_events(store, network, author_id, kind, as_json, after=position)


def _print_events(store: SQLiteStore, network: str | None, author: str | None, kind: str | None,
                  as_json: bool, after: int) -> int:
    """Print the matching events after log position `after`; return the position
    to go on from (the log's end as it was when we looked, or later)."""
    last = store.last_position()
    for stored in store.events(network=network, author=author, kind=kind, after=after):
        e = stored.event
        if as_json:
            click.echo(json.dumps(e.to_json(stored.position), ensure_ascii=False))
        else:
            click.echo(f"{stored.position:>7} {e.kind.value:<12} {e.id[:16]} by {e.author[:12]} "
                       f"in {e.network[:12]} #{e.seq} {_summary(e.content())}")
        last = max(last, stored.position)
    sys.stdout.flush()
    return last


def _summary(content: Any) -> str:
    if content is None:
        return "(purged)"
    if isinstance(content, bytes):
        return f"({len(content)} bytes)"
    text = (content.get("subject") or content.get("action") or content.get("child")
            or content.get("target") or content.get("reaction") or content.get("editors"))
    return str(text)[:60]


@cli.command()
@pass_context
def verify(ctx: Context) -> None:
    """Re-check every stored event (id, signature, chain); exit 1 if any is bad."""
    with ctx.store() as (_, store):
        problems = store.verify()
        count = store.count()
    for event_id, reason in problems:
        click.echo(f"BAD {event_id}: {reason}")
    if problems:
        click.echo(f"{len(problems)} of {count} events failed verification", err=True)
        sys.exit(1)
    click.echo(f"ok: {count} events verified")


@cli.command("export")
@click.argument("doc_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write.")
@pass_context
def export_cmd(ctx: Context, doc_id: str, output: Path) -> None:
    """Write a document and the whole thread below it to a file."""
    with ctx.store() as (_, store):
        count = export_thread(store, resolve_id(store, doc_id), output)
    click.echo(f"exported {count} events to {output}")


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-subscribe", is_flag=True, help="Do not subscribe to the forums the file brings in.")
@pass_context
def import_cmd(ctx: Context, file: Path, no_subscribe: bool) -> None:
    """Validate and append an export file (all or nothing); subscribe to its roots,
    so that `serve` replicates them."""
    with ctx.store() as (node, store):
        results = import_file(store, file)
        subscribed = [] if no_subscribe else _subscribe_roots(node, store, [r.event_id for r in results])
    added = sum(1 for r in results if r.status is Status.ACCEPTED)
    click.echo(f"imported {added} new events ({len(results) - added} already held)"
               + (f"; subscribed to {len(subscribed)} forum(s)" if subscribed else ""))


def _subscribe_roots(node: Any, store: SQLiteStore, event_ids: list[str | None]) -> list[str]:
    """Subscribe to the imported documents that no imported reply link points at."""
    events = [e for e in (store.get(i) for i in event_ids if i) if e is not None]
    children = {e.ref for e in events if e.kind is Kind.LINK and not e.purged
                and e.content()["direction"] == Direction.NATURAL}
    roots = [e.id for e in events if e.kind is Kind.DOCUMENT and e.id not in children]
    author = node.author(store)
    done = []
    for root in roots:
        if not flags(store, node.id, root).subscribed:
            author.subscription(root, Action.SUBSCRIBE)
            done.append(root)
    return done
