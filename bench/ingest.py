"""Ingest benchmark: validated append_many vs raw signature verification.

Pre-signs N events (several authors, several networks), then measures in the
same process (a) raw pynacl verification of those signatures on one core and
(b) full validated `append_many` into a fresh SQLite log. Prints one JSON
object; target: ratio = ingest/verify >= 0.7.

Both are measured `--repeat` times as back-to-back pairs (a fresh log each
time), and the medians count: on a shared 2-core machine a slow spell during
one measurement alone would otherwise decide the ratio. `ratio` is the median
of the pairs' ratios, which `ratio_runs` lists.

    python bench/ingest.py [--events N] [--batch B] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl.signing import SigningKey, VerifyKey  # noqa: E402

from cliqueclique.eventlog import BatchSigner, SQLiteStore, Status, decode_wire  # noqa: E402


def make_events(count: int, authors: int = 10, networks: int = 20) -> list[bytes]:
    """Signed wire events: documents plus links chained in their networks."""
    signers = [BatchSigner(SigningKey(bytes([i + 1]) * 32)) for i in range(authors)]
    roots = [signers[n % authors].document(f"forum {n}", "welcome " * 20) for n in range(networks)]
    wires = [r.wire for r in roots]
    i = 0
    while len(wires) < count:
        wires.append(signers[i % authors].link(roots[(i * 7) % networks].id, f"{i:064x}").wire)
        i += 1
    return wires


def raw_verify_rate(wires: list[bytes]) -> float:
    """pynacl verification alone, one core, with keys prepared in advance."""
    events = [decode_wire(w) for w in wires]
    keys = {e.author: VerifyKey(bytes.fromhex(e.author)) for e in events}
    pairs = [(keys[e.author], e.header, e.signature) for e in events]
    start = time.perf_counter()
    for key, header, signature in pairs:
        key.verify(header, signature)
    return len(pairs) / (time.perf_counter() - start)


def ingest_rate(wires: list[bytes], batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "log.sqlite")
        start = time.perf_counter()
        for i in range(0, len(wires), batch):
            results = store.append_many(wires[i : i + batch])
            bad = [r for r in results if r.status is not Status.ACCEPTED]
            if bad:
                raise SystemExit(f"benchmark events rejected: {bad[0]}")
        elapsed = time.perf_counter() - start
        if store.count() != len(wires):
            raise SystemExit("not every event was stored")
        store.close()
    return len(wires) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    wires = make_events(args.events)
    runs = [(raw_verify_rate(wires), ingest_rate(wires, args.batch)) for _ in range(max(1, args.repeat))]
    print(json.dumps({
        "events": len(wires),
        "batch": args.batch,
        "cores": os.cpu_count(),
        "verify_per_s": round(median(v for v, _ in runs)),
        "ingest_per_s": round(median(i for _, i in runs)),
        "ratio": round(median(i / v for v, i in runs), 3),
        "repeats": len(runs),
        "ratio_runs": [round(i / v, 3) for v, i in runs],
    }))


if __name__ == "__main__":
    main()
