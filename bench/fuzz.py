"""Fuzz benchmark: N generated hostile inputs for each parser and machine that reads peer input.

Targets (tests/fuzz/targets.py, web_target.py): the frame decoder and opener,
the gossip decoder plus `GossipNode.receive` (structurally valid but hostile
messages from one peer, the same machine throughout, its state measured),
the handshake (both sides fed tampered messages), the SAM reply parser, the
export reader plus import, and every POST route of the web UI. A crash is any
exception but the expected CliqueError subclasses (or a 500, or a refused
request that changed state, or a state bound exceeded). Prints one JSON line
per target; crash reproducers go to stderr.

    python bench/fuzz.py [--inputs N] [--jobs 2] [--targets frame,gossip,...]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGETS = ["web", "gossip", "export", "sam", "frame", "handshake"]  # slowest first


def run_target(name: str, inputs: int, seed: int) -> tuple[dict[str, object], list[str], float]:
    from tests.fuzz import harness, targets

    logging.getLogger("cliqueclique").setLevel(logging.ERROR)  # bans by the web forms are expected
    start = time.perf_counter()
    if name == "web":
        from tests.fuzz.web_target import web_target

        home = targets.workdir()
        try:
            with web_target(home) as ((strategy, check, bound), run_in_loop):
                box: list[harness.Outcome] = []
                run_in_loop(lambda: box.append(harness.run(name, strategy, check, inputs, seed=seed,
                                                           bound=bound)))
                outcome = box[0]
        finally:
            shutil.rmtree(home, ignore_errors=True)
    else:
        work = targets.workdir()
        make = {"frame": targets.frame_target, "sam": targets.sam_target,
                "handshake": targets.handshake_target, "gossip": targets.gossip_target,
                "export": lambda: targets.export_target(work)}[name]
        strategy, check, bound = make()
        outcome = harness.run(name, strategy, check, inputs, seed=seed, bound=bound)
        if name == "gossip":  # the final state too, not only the sampled ones
            final = check.victim.state_bytes()  # type: ignore[attr-defined]
            outcome.max_state_bytes = max(outcome.max_state_bytes, final)
            if bound is not None and final > bound:
                outcome.crashes += 1
                outcome.reproducers.append(f"final state of {final} bytes > {bound}")
        shutil.rmtree(work, ignore_errors=True)
    return outcome.line(), outcome.reproducers, time.perf_counter() - start


def _star(args: tuple[str, int, int]) -> tuple[dict[str, object], list[str], float]:
    return run_target(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--jobs", type=int, default=2, help="targets run in this many processes")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = [n for n in args.targets.split(",") if n]
    unknown = set(names) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    jobs = [(name, args.inputs, args.seed) for name in names]
    with multiprocessing.get_context("spawn").Pool(max(1, args.jobs)) as pool:
        for line, reproducers, seconds in pool.imap_unordered(_star, jobs):
            print(json.dumps(line), flush=True)
            print(f"# {line['target']}: {seconds:.0f} s", file=sys.stderr, flush=True)
            for reproducer in reproducers:
                print(f"# crash in {line['target']}: {reproducer}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
