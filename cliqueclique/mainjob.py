"""The README's main job: a short demonstration of the signed event log.

It creates a node in a demo home (./demo-home unless CLIQUECLIQUE_HOME is
set), posts a thread with a reply, prints the log, and verifies it. Later
milestones replace this with a serving node.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from click.testing import CliRunner

from .cli import cli


def main() -> int:
    home = os.environ.get("CLIQUECLIQUE_HOME") or str(Path.cwd() / "demo-home")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--home", home, *args], catch_exceptions=False)
        if result.exit_code != 0:
            sys.stderr.write(result.output)
            raise SystemExit(result.exit_code)
        return result.output.rstrip()

    names = run("nodes")
    if not names:
        print("created node", run("init", "--name", "demo"))
    root = run("post", "--subject", "Hello, cliqueclique", "--body", "The first post of this demo.")
    reply = run("post", "--subject", "Re: Hello", "--body", "A reply, linked to its parent.", "--parent", root)
    print(f"posted thread {root[:16]} with reply {reply[:16]} in {home}\n")
    print(run("log", "--doc", root))
    print(run("verify"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
