"""The README's main job: run this machine's node, creating it on first use.

`./run.sh` serves the default node of the home ($CLIQUECLIQUE_HOME, else the
platform's user data directory): SQLite log in the home, TCP on localhost,
I2P too when a SAM bridge answers, and the web UI on 127.0.0.1 (its URL is
printed). `./run.sh ARGS...` runs `cliqueclique ARGS...` instead, e.g.
`./run.sh demo` for three local nodes gossiping in the browser.
"""

from __future__ import annotations

import sys

from .cli import main as cli_main
from .errors import CliqueError
from .home import Home, default_home


def main(argv: list[str]) -> None:
    if argv:
        cli_main(argv)
        return
    home = Home(default_home())
    try:
        if not home.nodes():
            node = home.create_node("me")
            print(f"created node {node.name} {node.id} in {home.path}")
    except (CliqueError, OSError) as e:  # an unwritable or unreadable home
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(1)
    cli_main(["--home", str(home.path), "serve"])


if __name__ == "__main__":
    main(sys.argv[1:])
