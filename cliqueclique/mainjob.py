"""The README's main job: run this machine's node, creating it on first use.

`./run.sh` serves the default node of the home ($CLIQUECLIQUE_HOME, else the
platform's user data directory): SQLite log in the home, TCP on localhost,
I2P too when a SAM bridge answers, and the web UI on 127.0.0.1 (its URL is
printed). `./run.sh ARGS...` runs `cliqueclique ARGS...` instead, e.g.
`./run.sh demo` for three local nodes gossiping in the browser.
"""

from __future__ import annotations

import sys

from .cli import cli
from .home import Home, default_home


def main(argv: list[str]) -> None:
    if argv:
        cli.main(argv, prog_name="cliqueclique")
        return
    home = Home(default_home())
    if not home.nodes():
        node = home.create_node("me")
        print(f"created node {node.name} {node.id} in {home.path}")
    cli.main(["--home", str(home.path), "serve"], prog_name="cliqueclique")


if __name__ == "__main__":
    main(sys.argv[1:])
