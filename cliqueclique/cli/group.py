"""The `cliqueclique` group, its global options, and the entry point that
turns every expected failure into one `Error:` line (see `failures`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..home import ENV_HOME, default_home
from .context import Context
from .failures import click_exception, expected_message, is_interrupt

#: Set to show the traceback of an unexpected error (a bug) instead of one line.
ENV_DEBUG = "CLIQUECLIQUE_DEBUG"
INTERRUPTED = 130  # the shell's exit status for Ctrl-C
BROKEN_PIPE = 141  # ... and for a reader that went away (SIGPIPE)


class CliqueGroup(click.Group):
    """A group whose commands fail with one clear line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except click.ClickException:
            raise
        except BaseException as e:  # sorted below: bugs are re-raised
            if is_interrupt(e):
                raise click.exceptions.Exit(INTERRUPTED) from None
            if isinstance(e, BrokenPipeError):  # `... | head` stopped reading: not an error
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                raise click.exceptions.Exit(BROKEN_PIPE) from None
            inner = click_exception(e)
            if inner is not None:
                raise inner from None
            message = expected_message(e)
            if message is None:
                if os.environ.get(ENV_DEBUG):
                    raise
                message = (f"unexpected {type(e).__name__}: {e} "
                           f"(a bug; set {ENV_DEBUG}=1 to see where)")
            raise click.ClickException(message) from None


@click.group(cls=CliqueGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_HOME,
              help=f"Home directory (env {ENV_HOME}; default: the user data dir).")
@click.option("--node", "node", metavar="NAME|ID",
              help="Which local node to act as: a name, a name's start, or an id prefix.")
@click.version_option(__version__, prog_name="cliqueclique")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, node: str | None) -> None:
    """cliqueclique: a peer-to-peer forum and signed, replicated event log."""
    ctx.obj = Context(home or default_home(), node)


def main(argv: list[str] | None = None) -> None:
    """The console entry point: Ctrl-C anywhere (even in click's own prompts)
    exits quietly with 130."""
    try:
        cli.main(argv, prog_name="cliqueclique")
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
