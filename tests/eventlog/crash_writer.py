"""Appends batches to a log forever, printing each committed batch's ids.

Run by test_crash.py, which kills it with SIGKILL at arbitrary moments.
Usage: python -m tests.eventlog.crash_writer LOG_PATH SEED
"""

from __future__ import annotations

import sys

from cliqueclique.eventlog import Author, BatchSigner, SQLiteStore, Status

from ..conftest import make_key

BATCH = 150


def main(path: str, seed: int) -> None:
    store = SQLiteStore(path)
    keys = [make_key(seed + i) for i in range(3)]
    roots = [Author(k, store).document(f"root {seed}", "r").id for k in keys]
    n = store.count()
    while True:
        batch = []
        for key, root in zip(keys, roots):
            signer = BatchSigner(key, store)  # picks up the heads the last run left
            for _ in range(BATCH // 3):
                batch.append(signer.link(root, f"{n:064x}"))
                n += 1
        results = store.append_many(batch)
        assert all(r.status is Status.ACCEPTED for r in results), results
        print("committed", " ".join(e.id for e in batch), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
