"""Start-up benchmark: how soon a node with a big log serves peers.

A node holds EVENTS events (default 1,000,000) in DOCUMENTS subscribed
forums (default 10,000), each with replies (a document and its link) by 20
authors, written straight into its log. `serve` starts in its own process;
`seconds_to_serving` runs from the start of the process until a fresh peer
has completed the authenticated handshake with it over TCP and received its
first frame (the `Have` listing what it holds). `peak_rss_mb` is the serving
process's peak resident memory (VmHWM) at that moment. Targets: at most 5 s,
under 300 MB.

    python bench/startup.py [--events N] [--documents D] [--cache DIR]

`--cache DIR` keeps the generated node in DIR and reuses it when it is there
(generating a million signed events takes a few minutes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

from cliqueclique.eventlog import Action, Kind, canonical_json, sign_event  # noqa: E402
from cliqueclique.home import Home  # noqa: E402
from cliqueclique.net import parse_address, secure_connect  # noqa: E402
from cliqueclique.net.tcp import TcpTransport  # noqa: E402
from cliqueclique.views import BatchSigner  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AUTHORS = 20
CHUNK = 20_000  # events appended per transaction


def build(home_dir: Path, events: int, documents: int) -> None:
    """A node subscribed to `documents` forums holding about `events` events."""
    home = Home(home_dir)
    node = home.create_node("big")
    store = node.open_store()
    signers = [BatchSigner(SigningKey(bytes([i + 1]) * 32), clock=lambda: 1_700_000_000_000)
               for i in range(AUTHORS)]
    roots = [signers[i % AUTHORS].document(f"forum {i}", "welcome") for i in range(documents)]
    store.append_many([r.wire for r in roots])
    written, i, batch = documents, 0, []
    while written + 2 <= events - documents:  # room left for the subscriptions
        signer, root = signers[i % AUTHORS], roots[i % documents]
        reply = signer.document(f"reply {i}", f"comment number {i} " * 4)
        batch += [reply.wire, signer.link(root.id, reply.id).wire]
        written += 2
        i += 1
        if len(batch) >= CHUNK:
            store.append_many(batch)
            batch = []
            print(f"  {written:,} events written", file=sys.stderr, flush=True)
    if batch:
        store.append_many(batch)
    key, prev = node.key(), None
    subscriptions = []
    for seq, root in enumerate(roots, start=1):
        body = canonical_json({"document": root.id, "action": Action.SUBSCRIBE.value})
        event = sign_event(key, Kind.SUBSCRIPTION, network=node.id, seq=seq, prev=prev, timestamp=0, body=body)
        subscriptions.append(event)
        prev = event.id
    store.append_many(subscriptions)
    store.close()


async def first_frame(address: str, node_id: str) -> None:
    """A fresh peer: handshake, then the node's first frame."""
    stream = await TcpTransport().connect(parse_address(address))
    channel = await secure_connect(stream, SigningKey.generate(), node_id)
    await channel.receive()
    await channel.aclose()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(home_dir: Path) -> tuple[float, float, int]:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "cliqueclique", "--home", str(home_dir), "serve",
                             "--no-i2p", "--listen", "127.0.0.1:0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        node_id = address = None
        for line in proc.stdout:
            if line.startswith("node "):
                node_id = line.split()[-1]
            elif line.startswith("listening on tcp:"):
                address = line.split()[-1]
            if node_id and address:
                break
        if not (node_id and address):
            raise SystemExit(f"serve exited ({proc.wait()}) before listening")
        trio.run(first_frame, address, node_id)
        seconds = time.monotonic() - started
        return seconds, peak_rss_mb(proc.pid), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--cache", type=Path, help="keep (and reuse) the generated node here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home_dir = args.cache or Path(tmp) / "home"
        if not (home_dir / "nodes").exists():
            build(home_dir, args.events, args.documents)
        seconds, rss, _ = measure(home_dir)
    print(json.dumps({"events": args.events, "documents": args.documents,
                      "seconds_to_serving": round(seconds, 2), "peak_rss_mb": round(rss, 1)}))


if __name__ == "__main__":
    main()
