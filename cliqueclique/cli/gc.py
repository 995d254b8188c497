"""`cliqueclique gc`: forget the documents this node no longer wants, now.

While `serve` runs the command asks the running node (the log has one
writer) and prints its answer; otherwise it takes the node's lock and sweeps
itself. See cliqueclique/gc.py for what is kept and what is forgotten.
"""

from __future__ import annotations

import json

import click

from ..gc import DAY, DEFAULT_RETENTION, describe
from ..node.gc import ask_running_node, collect_offline
from ..node.lock import NodeRunning, running_pid
from .context import Context, pass_context
from .group import cli
from .text import when


@cli.command("gc")
@click.option("--dry-run", is_flag=True, help="Say what would be forgotten now; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--retention", type=float, metavar="DAYS",
              help=f"Forget what has been unwanted this long (default: the running node's, "
                   f"else {DEFAULT_RETENTION / DAY:g}).")
@click.option("--history", is_flag=True, help="List what was forgotten and when, newest first; change nothing.")
@pass_context
def gc_command(ctx: Context, dry_run: bool, as_json: bool, retention: float | None, history: bool) -> None:
    """Forget documents nobody here wants: not subscribed, bookmarked, written
    in by this node, above a kept document, nor needed by a peer, for longer
    than the retention. Their events leave the log and the views; prints the
    documents and events forgotten and the bytes the log's files shrank by."""
    if retention is not None and not 0 <= retention <= 100 * 365:
        raise click.BadParameter("must be from 0 to 36500 days", param_hint="--retention")
    if history:
        if dry_run or retention is not None:
            raise click.UsageError("--history lists past collections: give it alone (or with --json)")
        _history(ctx, as_json)
        return
    local = ctx.node()
    seconds = None if retention is None else retention * DAY
    if running_pid(local) is not None:
        report = ask_running_node(local, dry_run, seconds)
    else:
        try:
            report = collect_offline(local, dry_run, DEFAULT_RETENTION if seconds is None else seconds)
        except NodeRunning:  # started meanwhile: it answers instead
            report = ask_running_node(local, dry_run, seconds)
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    click.echo(describe(report))
    for network in report.forgotten:
        click.echo(f"  {network}")


def _history(ctx: Context, as_json: bool) -> None:
    with ctx.store() as (_, store):
        records = store.forgotten()
    for r in records:
        if as_json:
            click.echo(json.dumps({"network": r.network, "document": r.document, "events": r.events,
                                   "unwanted_since": r.unwanted_since, "forgotten_at": r.forgotten_at}))
        else:
            what = "document" if r.document else "stray events of"
            click.echo(f"{when(r.forgotten_at)}  {what} {r.network}  ({r.events} events, "
                       f"unwanted since {when(r.unwanted_since)})")
    if not records and not as_json:
        click.echo("nothing forgotten yet")


__all__ = ["gc_command"]
