"""`cliqueclique dir ...`: directories, large collections searchable by subject prefix."""

from __future__ import annotations

import click

from ..views import BatchSigner, add_entry, create_directory, search_directory
from ..views.errors import BadQuery
from .context import Context, pass_context, resolve_id
from .group import cli
from .log import require_subject
from .read import emit_json


@cli.group("dir")
def dir_group() -> None:
    """Directories: large collections searchable by subject prefix."""


@dir_group.command("create")
@click.argument("name")
@pass_context
def dir_create(ctx: Context, name: str) -> None:
    """Create an empty directory; print its id."""
    require_subject(name)
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
        emit_json(result.to_json())
        return
    for match in result.matches:
        click.echo(f"{match.id[:16]}  {match.subject}")
    click.echo(f"{len(result.matches)} matches ({result.touched} documents read)", err=True)
