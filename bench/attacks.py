"""What each attack of issue 16 costs the victim, at the sizes the attacks were found with.

Every scenario runs a real victim `serve` (A) with an honest peer (B) joined
to its forum, then one attack by a hostile process (tests/node/hostile.py,
its own key, the real protocol), and prints one JSON line: the victim's CPU
seconds and RSS before and after, the attack's outcome, and the delay of an
honest post from A to B made right after it.

    python bench/attacks.py [--only far-future,empty-vectors,...] [--victim-tree PATH]

`--victim-tree` runs both honest nodes from another checkout (say, the code
before the fixes: `git worktree add /tmp/before f5b84c0`); the attacker
always runs from this one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.node.conftest import run_attack, usage  # noqa: E402
from tests.node.harness import ROOT, Pair  # noqa: E402

#: scenario -> (attack, forum events, environment for the attacker)
SCENARIOS: dict[str, tuple[str, int, dict[str, str]]] = {
    "far-future": ("far-future", 0, {}),
    "unsolicited-64k-events": ("unsolicited", 0, {"UNSOLICITED_EACH": "850"}),  # 5,100 x 60 KiB offered
    "orphan-64k-edits": ("orphans", 0, {"ORPHANS": "4096"}),
    "empty-vectors-50k-forum": ("empty-vectors", 50_000, {}),
    "forged-in-batch": ("forged-batch", 0, {}),
    "suggest-flood": ("suggest-flood", 0, {}),
    "fresh-keys-2000": ("fresh-keys", 0, {"FRESH_KEYS": "2000"}),
    "handshake-flood": ("handshake-flood", 0, {}),
    "oversize-after-handshake": ("oversize-after-handshake", 0, {}),
    "flood": ("flood", 0, {}),
}


def scenario(name: str, work: Path, tree: Path) -> dict[str, object]:
    attack, events, env = SCENARIOS[name]
    pair = Pair(work, events=events, tree=tree)
    try:
        cpu0, rss0 = usage(pair.a.proc.pid)
        outcome = run_attack(pair.a.address, pair.a.node_id, pair.root, attack, env)
        cpu1, rss1 = usage(pair.a.proc.pid)
        delay = pair.honest_post_arrives()
    finally:
        pair.stop()
    return {"attack": name, "victim_cpu_s": round(cpu1 - cpu0, 2), "rss_before_mb": round(rss0 / 1024, 1),
            "rss_after_mb": round(rss1 / 1024, 1), "honest_post_delay_s": round(delay, 2),
            "outcome": outcome.removeprefix(f"done {attack} ")[:160]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--victim-tree", type=Path, default=ROOT, help="source tree the victim runs")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    for name in names:
        with tempfile.TemporaryDirectory(prefix="cq-attack-") as tmp:
            try:
                line = scenario(name, Path(tmp), args.victim_tree.resolve())
            except AssertionError as e:  # e.g. the old code never lets the honest post through
                line = {"attack": name, "failed": str(e)[:300]}
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
