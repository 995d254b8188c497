"""The `cliqueclique` command line: a thin shell over the library.

Expected failures (`CliqueError`) print one line and exit 1; no tracebacks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import AmbiguousId, CliqueError, UnknownEvent
from .eventlog.events import Kind
from .eventlog.store import SQLiteStore
from .eventlog.transfer import export_thread, import_file
from .home import ENV_HOME, Home, LocalNode, default_home


class CliqueGroup(click.Group):
    """A group that turns expected library errors into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliqueError as e:
            raise click.ClickException(str(e)) from None


class Context:
    def __init__(self, home: Path, node: str | None) -> None:
        self.home = Home(home)
        self.node_name = node

    def node(self) -> LocalNode:
        return self.home.node(self.node_name)

    @contextmanager
    def store(self) -> Iterator[tuple[LocalNode, SQLiteStore]]:
        node = self.node()
        store = node.open_store()
        try:
            yield node, store
        finally:
            store.close()


pass_context = click.make_pass_decorator(Context)


def resolve_id(store: SQLiteStore, text: str, kind: Kind | None = Kind.DOCUMENT) -> str:
    """A full id from a full id or a unique prefix (at least 4 hex characters).

    Raises:
        UnknownEvent, AmbiguousId.
    """
    prefix = text.strip().lower()
    what = kind.value if kind else "event"
    if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
        raise UnknownEvent(f"{text!r} is not a {what} id (hex, at least 4 characters)")
    matches = store.ids_with_prefix(prefix, kind)
    if not matches:
        raise UnknownEvent(f"no {what} {text} in this node's log")
    if len(matches) > 1:
        raise AmbiguousId(f"{text} matches several {what}s; give more characters")
    return matches[0]


@click.group(cls=CliqueGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_HOME,
              help=f"Home directory (env {ENV_HOME}; default: the user data dir).")
@click.option("--node", "node", metavar="ID|NAME", help="Which local node to act as.")
@click.version_option(__version__, prog_name="cliqueclique")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, node: str | None) -> None:
    """cliqueclique: a peer-to-peer forum and signed, replicated event log."""
    ctx.obj = Context(home or default_home(), node)


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
    text = body if body is not None else body_file.read()
    with ctx.store() as (node, store):
        parent_id = resolve_id(store, parent) if parent else None
        document, _ = node.author(store).post(subject, text, parent=parent_id)
    click.echo(document.id)


@cli.command()
@click.option("--doc", metavar="ID", help="Only events of this document's network.")
@click.option("--author", metavar="ID", help="Only events by this author (node id).")
@click.option("--kind", type=click.Choice([k.value for k in Kind]), help="Only events of this kind.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def log(ctx: Context, doc: str | None, author: str | None, kind: str | None, as_json: bool) -> None:
    """Show the event log, oldest first."""
    with ctx.store() as (_, store):
        network = resolve_id(store, doc) if doc else None
        for stored in store.events(network=network, author=author and author.lower(), kind=kind):
            e = stored.event
            if as_json:
                click.echo(json.dumps(e.to_json(stored.position), ensure_ascii=False))
            else:
                click.echo(f"{stored.position:>7} {e.kind.value:<12} {e.id[:16]} by {e.author[:12]} "
                           f"in {e.network[:12]} #{e.seq} {_summary(e.content())}")


def _summary(content: Any) -> str:
    if content is None:
        return "(purged)"
    if isinstance(content, bytes):
        return f"({len(content)} bytes)"
    text = content.get("subject") or content.get("action") or content.get("child") or content.get("target")
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
@pass_context
def import_cmd(ctx: Context, file: Path) -> None:
    """Validate and append an export file (all or nothing)."""
    with ctx.store() as (_, store):
        results = import_file(store, file)
    added = sum(1 for r in results if r.status.value == "accepted")
    click.echo(f"imported {added} new events ({len(results) - added} already held)")


def main() -> None:  # pragma: no cover - console entry point alias
    cli()

from . import cli_node, cli_views, cli_web  # noqa: E402,F401  (register their commands on `cli`)
