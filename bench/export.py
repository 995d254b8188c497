"""Export benchmark: one thread of N replies (issue 16: export was quadratic).

Builds a log holding a forum with N direct replies (each a document plus a
link in the forum's network) and a few unrelated events, then times
`export_thread` and `import_file` (into a fresh log). Prints one JSON object.

    python bench/export.py [--replies N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl.signing import SigningKey

from cliqueclique.eventlog import BatchSigner, SQLiteStore
from cliqueclique.eventlog.transfer import export_thread, import_file


def build(store: SQLiteStore, replies: int) -> str:
    signer = BatchSigner(SigningKey(b"\1" * 32), store)
    root = signer.document("forum", "welcome")
    events = [root]
    for i in range(replies):
        reply = signer.document(f"reply {i}", "text " * 10)
        events += [reply, signer.link(root.id, reply.id)]
    store.append_many(events)
    return root.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = SQLiteStore(Path(tmp) / "a.sqlite")
        root = build(source, args.replies)
        out = Path(tmp) / "thread.cc"
        start = time.perf_counter()
        count = export_thread(source, root, out)
        exported = time.perf_counter() - start
        target = SQLiteStore(Path(tmp) / "b.sqlite")
        start = time.perf_counter()
        import_file(target, out)
        imported = time.perf_counter() - start
        print(json.dumps({"replies": args.replies, "events": count, "export_s": round(exported, 3),
                          "import_s": round(imported, 3)}))


if __name__ == "__main__":
    main()
