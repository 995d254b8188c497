"""What became of a join: the node's view of it, for `cliqueclique join` to wait on.

A join is asked for (by `Node.join` or, while `serve` runs, by the CLI through
the node state), then taken up once the inviting peer is connected. Its state:

- `connecting`: the peer is not connected yet, and no dial has failed;
- `unreachable`: dialling failed (still retried, with back-off); `error` says how;
- `refused`: the peer answered that it does not hold the document;
- `syncing`: connected, events arriving (`held` of `known` so far);
- `done`: the root is held and we hold everything the peer advertised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class JoinWatch:
    document: str
    peer: str
    requested: float  # when it was asked for (wall clock): tells a new request from an old one
    refused: bool = False
    done: bool = False
    next_deep_check: float = 0.0  # monotonic time of the next look below the root
    last: dict[str, Any] | None = None  # the report once done

    def report(self, *, root_held: bool, caught_up: bool, connected: bool, dial_error: str | None,
               held: int, known: int) -> dict[str, Any]:
        if not self.refused and root_held and caught_up:
            self.done = True  # sticky: later activity in the forum does not undo it
        if self.done:
            state = "done"
        elif self.refused:
            state = "refused"
        elif connected:
            state = "syncing"
        elif dial_error is not None:
            state = "unreachable"
        else:
            state = "connecting"
        report = {"document": self.document, "peer": self.peer, "requested": self.requested,
                  "state": state, "held": held, "known": max(known, held), "error": dial_error}
        if self.done:
            self.last = report  # final: the node reports it as it was from now on
        return report
