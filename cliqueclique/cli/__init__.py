"""The `cliqueclique` command line: a thin shell over the library.

`group` defines the command group and its error handling; each other module
registers one group of commands on it, and this package imports them all.
Expected failures print one `Error:` line and exit non-zero; no tracebacks.
"""

from . import demo, dirs, gc, log, mod, node, peer, read, write  # noqa: F401  (register their commands)
from .group import cli, main

__all__ = ["cli", "main"]
