"""Crash soak: a node catching up a big forum over TCP is SIGKILLed again and again.

Two peers (real `cliqueclique serve` processes) hold one forum of N events
(default 50,000: a root and replies by 20 authors). A fresh victim joins it
through both and, while it catches up, is SIGKILLed at a random moment
(after a random number of accepted events, or at once after start-up),
`--rounds` times, restarting each time. Finally it runs until it holds what
the peers hold and stops; then

- `cliqueclique verify` must pass on its log;
- its views (dumped as they are) must equal the views `cliqueclique replay`
  rebuilds from the same log (on a copy);
- "lost" counts the events it acknowledged (printed by `serve --events`, so
  committed) in any round that are missing at the end, plus the events the
  peers hold that it lacks.

    python bench/soak.py [--rounds 20] [--events 50000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlite_utils

from cliqueclique.eventlog import Kind
from cliqueclique.home import Home
from cliqueclique.views.schema import dump
from tests.node.harness import Serve, cli, make_forum
from tests.node.harness import seed_node as seed_peer

CATCH_UP_DEADLINE = 900.0  # seconds the final catch-up may take
POLL_SECONDS = 0.5  # how often the final catch-up checks the victim's log


def log_path(home: Path) -> Path:
    return Home(home).node().log_path


def held_ids(home: Path) -> set[str]:
    """Ids in a node's log, except its own subscription events (never replicated)."""
    conn = sqlite3.connect(f"file:{log_path(home)}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM events WHERE kind != ?",
                                           [Kind.SUBSCRIPTION.value])}
    finally:
        conn.close()


def count_held(home: Path) -> int:
    conn = sqlite3.connect(f"file:{log_path(home)}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM events WHERE kind != ?",
                                [Kind.SUBSCRIPTION.value]).fetchone()[0])
    finally:
        conn.close()


def views_of(home: Path) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite_utils.Database(sqlite3.connect(log_path(home)))
    try:
        return dump(db, with_positions=False)
    finally:
        db.conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = time.perf_counter()
    forum, wires = make_forum(args.events)
    with tempfile.TemporaryDirectory(prefix="cq-soak-") as tmp:
        work = Path(tmp)
        peers = []
        try:
            for name in ("a", "b"):
                seed_peer(work / name, name, forum, wires)
                peers.append(Serve(work / name, "--no-web"))
            victim_home = work / "victim"
            cli(victim_home, "init", "--name", "victim")
            for peer in peers:
                cli(victim_home, "join", "--no-wait", f"cq:{forum}@{peer.node_id},{peer.address}")
            acknowledged: set[str] = set()
            per_round = max(1, args.events // (args.rounds + 2))
            for _ in range(args.rounds):
                victim = Serve(victim_home, "--no-web")
                try:
                    wanted = rng.choice([0, rng.randrange(1, 2 * per_round)])
                    if wanted and count_held(victim_home) < len(wires):
                        victim.wait_for_count(min(wanted, len(wires) - count_held(victim_home)))
                finally:
                    victim.kill()
                acknowledged |= victim.seen
            victim = Serve(victim_home, "--no-web")
            try:
                deadline = time.monotonic() + CATCH_UP_DEADLINE
                while count_held(victim_home) < len(wires) and time.monotonic() < deadline:
                    time.sleep(POLL_SECONDS)
            finally:
                victim.stop()
            acknowledged |= victim.seen
            held = held_ids(victim_home)
            theirs = held_ids(work / "a") | held_ids(work / "b")
        finally:
            for peer in peers:
                peer.stop()
        verify = cli(victim_home, "verify", check=False)
        before = views_of(victim_home)
        copy = work / "replayed"
        shutil.copytree(victim_home, copy)
        cli(copy, "replay")
        after = views_of(copy)
    lost = len(acknowledged - held) + len(theirs - held)
    print(json.dumps({"rounds": args.rounds, "lost": lost,
                      "verify_failures": 0 if verify.returncode == 0 else 1,
                      "views_equal_replay": before == after,
                      "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    if verify.returncode != 0:
        print(verify.stdout[-2000:], verify.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
