"""Sync benchmark: a fresh node catches up with a node holding N events.

Node A holds N events (default 100,000: 20 authors replying in 50 forums, all
of which B subscribes to). A fresh node B, in its own process, joins every
forum over loopback TCP (authenticated, encrypted) and catches up. The same
events are also appended locally into a fresh log with the same views, to
compare: ratio = sync_per_s / local_ingest_per_s (target >= 0.5), and B's
peak memory (target < 300 MB).

    python bench/sync.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

from cliqueclique.eventlog import Action, Kind, SQLiteStore, Status, canonical_json, sign_event  # noqa: E402
from cliqueclique.home import Home  # noqa: E402
from cliqueclique.node import Node, NodeOptions  # noqa: E402
from cliqueclique.views import BatchSigner, open_views  # noqa: E402

AUTHORS, FORUMS = 20, 50
POLL_SECONDS = 0.1  # how often B checks its progress (bounds the measurement error)
args_debug = False


def make_forums(count: int) -> tuple[list[str], list[bytes]]:
    """(forum ids, wire events): FORUMS roots, then replies (document + link) by AUTHORS."""
    signers = [BatchSigner(SigningKey(bytes([i + 1]) * 32), clock=lambda: 1_700_000_000_000)
               for i in range(AUTHORS)]
    roots = [signers[i % AUTHORS].document(f"forum {i}", "welcome") for i in range(FORUMS)]
    wires = [r.wire for r in roots]
    i = 0
    while len(wires) + 2 <= count:
        signer, root = signers[i % AUTHORS], roots[(i * 7) % FORUMS]
        reply = signer.document(f"reply {i}", f"comment number {i} " * 4)
        wires += [reply.wire, signer.link(root.id, reply.id).wire]
        i += 1
    return [r.id for r in roots], wires


def local_ingest_rate(wires: list[bytes], directory: Path) -> float:
    store = open_views(SQLiteStore(directory / "local.sqlite"))
    start = time.perf_counter()
    for i in range(0, len(wires), 2000):
        results = store.append_many(wires[i : i + 2000])
        if any(r.status is not Status.ACCEPTED for r in results):
            raise SystemExit("local ingest rejected an event")
    elapsed = time.perf_counter() - start
    store.close()
    return len(wires) / elapsed


def seed_node_a(home: Home, forums: list[str], wires: list[bytes]) -> None:
    node = home.create_node("a")
    store = node.open_store()
    for i in range(0, len(wires), 5000):
        store.append_many(wires[i : i + 5000])
    key = node.key()
    for seq, forum in enumerate(forums, start=1):  # A wants the forums it serves
        body = canonical_json({"document": forum, "action": Action.SUBSCRIBE.value})
        head = store.head(node.id, node.id)
        store.append(sign_event(key, Kind.SUBSCRIPTION, network=node.id, seq=seq,
                                prev=head[1] if head else None, timestamp=0, body=body))
    store.close()


async def serve_a(home: Home, forums: list[str], total: int, b_home: Path) -> dict[str, float]:
    options = NodeOptions(i2p=False, listen=["127.0.0.1:0"])
    async with Node.open(home, "a", options) as a:
        invites = [str(a.invite(f)) for f in forums]
        proc = await trio.lowlevel.open_process(
            [sys.executable, __file__, "--role", "b", "--home", str(b_home), "--total", str(total)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        await proc.stdin.send_all(("\n".join(invites) + "\n").encode())
        await proc.stdin.aclose()
        output = b""
        async for chunk in proc.stdout:
            output += chunk
        await proc.wait()
        return dict(json.loads(output.decode().strip().splitlines()[-1]))


async def run_b(home_path: Path, total: int) -> None:
    invites = sys.stdin.read().split()
    home = Home(home_path)
    home.create_node("b")
    async with Node.open(home, "b", NodeOptions(i2p=False, listen=["127.0.0.1:0"])) as b:
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:  # all at once: their writes share commits
            for invite in invites:
                nursery.start_soon(b.join, invite)
        held = 0
        while held < total:
            # Polled, not watched: a wake-up per event would cost B's event loop
            # a fifth of its time. Positions are dense, so the last one bounds
            # the count cheaply; the full count (a scan) runs only at the end.
            await trio.sleep(POLL_SECONDS)
            if b.reader.last_position() >= total:
                held = b.reader.count() - b.reader.count(Kind.SUBSCRIPTION)
            if args_debug:
                print(f"{time.perf_counter() - start:.2f}", b.reader.last_position(), file=sys.stderr)
        seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "b_peak_rss_mb": rss_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--role", default="bench")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--total", type=int)
    args = parser.parse_args()
    if args.role == "b":
        trio.run(run_b, args.home, args.total)
        return
    forums, wires = make_forums(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        local = local_ingest_rate(wires, directory)
        a_home = Home(directory / "a")
        seed_node_a(a_home, forums, wires)
        result = trio.run(serve_a, a_home, forums, len(wires), directory / "b")
    sync = len(wires) / result["seconds"]
    print(json.dumps({
        "events": len(wires), "authors": AUTHORS, "documents": FORUMS,
        "seconds": round(result["seconds"], 2), "sync_per_s": round(sync),
        "local_ingest_per_s": round(local), "ratio": round(sync / local, 3),
        "b_peak_rss_mb": round(result["b_peak_rss_mb"], 1),
    }))


if __name__ == "__main__":
    main()
