"""Sync benchmark: a fresh node catches up with a node holding N events.

Node A holds N events (default 100,000: 20 authors replying in 50 forums, all
of which B subscribes to). A fresh node B, in its own process, joins every
forum over loopback TCP (authenticated, encrypted) and catches up. The same
events are also appended locally into a fresh log with the same views, to
compare: ratio = sync_per_s / local_ingest_per_s (target >= 0.5), and B's
peak memory (target < 300 MB).

    python bench/sync.py [--events N]
    python bench/sync.py --rtt-ms 2000 --kbps 800 [--events N]

A slow link (issue 13; about I2P): with `--rtt-ms` or `--kbps`, B reaches A
through the shaping proxy (tests/node/shapingproxy.py, its own process): each
direction gets a one-way delay of RTT/2 and a bandwidth of K kilobits per
second (800 kbps = 100,000 bytes/s), modelled as a real link (bytes queue,
each chunk leaves after len/bandwidth and arrives RTT/2 later, so the
bandwidth-delay product is in flight). N defaults to 10,000 then, and the
local-ingest comparison is skipped. It reports:

- `seconds`: from B starting its joins until it holds every event;
- `round_trips`: {"before_first_event": n, "total": m}. A round trip is a
  wait of the data flow on a request, counted by the proxy (see its module
  doc): the connection's setup is one; then an upstream (B -> A) chunk
  reaching A when the downstream would run dry before any answer could
  arrive, up to A sending again (B's chunks meanwhile count with it, A's own
  pushes start none, and waits less than a round trip apart are parallel and
  count once). `before_first_event`: those that began before B stored its
  first event of a forum's history (not a root, which comes with A's first
  metadata update); `total`: all of them until B holds everything;
- `bytes`: what A sent B through the proxy (downstream, framing, encryption
  and all); `bytes_up` what B sent A;
- `link_utilisation` = bytes / (K * 1000 / 8 * seconds): the share of the
  downstream bandwidth the join used, target >= 0.7 with
  `--rtt-ms 2000 --kbps 800`, and `round_trips.before_first_event` <= 5.

`--debug` prints B's progress and, shaped, both nodes' gossip messages with
their times on stderr (which exchange the join waits on).
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

from cliqueclique.eventlog import Action, Kind, SQLiteStore, Status, canonical_json, sign_event  # noqa: E402
from cliqueclique.home import Home  # noqa: E402
from cliqueclique.invite import Invite, parse_invite  # noqa: E402
from cliqueclique.net.address import parse_address  # noqa: E402
from cliqueclique.node import Node, NodeOptions  # noqa: E402
from cliqueclique.views import BatchSigner, open_views  # noqa: E402
from tests.node.shapingproxy import ShapingProxyProcess  # noqa: E402

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


async def serve_a(home: Home, forums: list[str], total: int, b_home: Path,
                  shape: tuple[float, float] | None = None) -> dict[str, Any]:
    """Serve A, run B to the end; B's result, and with `shape` (rtt ms, kbps) the proxy's stats."""
    options = NodeOptions(i2p=False, listen=["127.0.0.1:0"])
    async with Node.open(home, "a", options) as a:
        if shape is None:
            return await run_b_process(b_home, total, [str(a.invite(f)) for f in forums])
        if args_debug:  # on A's clock: B's starts a moment later
            trace_messages(a, time.perf_counter(), "A ")
        port = int(str(a.addresses[0]).rsplit(":", 1)[1])
        with ShapingProxyProcess(port, delay_ms=shape[0] / 2, kbps=shape[1]) as proxy:
            via = (parse_address(f"tcp:127.0.0.1:{proxy.port}"),)
            result = await run_b_process(b_home, total, [str(Invite(f, a.id, via)) for f in forums])
            result["proxy"] = proxy.stats()
        return result


async def run_b_process(b_home: Path, total: int, invites: list[str]) -> dict[str, Any]:
    proc = await trio.lowlevel.open_process(
        [sys.executable, __file__, "--role", "b", "--home", str(b_home), "--total", str(total)]
        + (["--debug"] if args_debug else []),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    await proc.stdin.send_all(("\n".join(invites) + "\n").encode())
    await proc.stdin.aclose()
    output = b""
    async for chunk in proc.stdout:
        output += chunk
    await proc.wait()
    return dict(json.loads(output.decode().strip().splitlines()[-1]))


async def first_reply(b: Node, forums: set[str], seen: list[float]) -> None:
    """Record (on time.monotonic(), the proxy's clock) when B stores its first
    event of a forum's history: not its own, not a forum's root (that one
    comes with the peer's first metadata update, before any catch-up)."""
    with b.watch_all() as events:
        async for event in events:
            if event.author != b.id and event.id not in forums:
                seen.append(time.monotonic())
                return


def trace_messages(b: Node, start: float, who: str = "") -> None:
    """--debug: B's gossip messages in and out on stderr (time, direction, kinds),
    to see which exchanges a join waits on."""
    from cliqueclique.gossip.messages import decode_frame

    gossip = b.gossip
    receive, to_send = gossip.receive, gossip.messages_to_send

    def show(way: str, frame: bytes) -> None:
        kinds: dict[str, int] = {}
        for msg in decode_frame(frame):
            name = type(msg).__name__
            kinds[name] = kinds.get(name, 0) + (len(msg.items) if name == "Events" else 1)
        print(f"{who}{time.perf_counter() - start:7.3f} {way} {len(frame):8d} {kinds}", file=sys.stderr)

    def traced_receive(peer: str, data: bytes, now: float) -> None:
        show("in ", data)
        receive(peer, data, now)

    def traced_send() -> list[tuple[str, bytes]]:
        out = to_send()
        for _, frame in out:
            show("out", frame)
        return out

    gossip.receive, gossip.messages_to_send = traced_receive, traced_send


async def run_b(home_path: Path, total: int) -> None:
    invites = sys.stdin.read().split()
    home = Home(home_path)
    home.create_node("b")
    async with Node.open(home, "b", NodeOptions(i2p=False, listen=["127.0.0.1:0"])) as b:
        start = time.perf_counter()
        if args_debug:
            trace_messages(b, start)
        first: list[float] = []
        async with trio.open_nursery() as outer:
            outer.start_soon(first_reply, b, {parse_invite(i).document for i in invites}, first)
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
            done = time.monotonic()
            outer.cancel_scope.cancel()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "b_peak_rss_mb": rss_mb, "first_event": first[0] if first else None,
                      "first_event_s": first[0] - done + seconds if first else None, "done": done}))


def shaped_report(events: int, rtt_ms: float, kbps: float, result: dict[str, Any]) -> dict[str, Any]:
    proxy, seconds = result["proxy"], result["seconds"]
    waits = [w for w in proxy["waits"] if w <= result["done"]]
    if args_debug:
        start = result["done"] - seconds
        print("round trips at", [round(w - start, 2) for w in waits], file=sys.stderr)
    first = result["first_event"]
    rate = kbps * 1000 / 8 if kbps > 0 else None
    return {
        "events": events, "documents": FORUMS, "rtt_ms": rtt_ms, "kbps": kbps,
        "seconds": round(seconds, 2),
        "round_trips": {"before_first_event": sum(1 for w in waits if first is None or w < first),
                        "total": len(waits)},
        "bytes": proxy["down_bytes"], "bytes_up": proxy["up_bytes"],
        "link_utilisation": round(proxy["down_bytes"] / (rate * seconds), 3) if rate else None,
        "seconds_to_first_event": round(result["first_event_s"], 2) if first else None,
        "b_peak_rss_mb": round(result["b_peak_rss_mb"], 1),
    }


def main() -> None:
    global args_debug
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, help="default 100,000; 10,000 through a shaped link")
    parser.add_argument("--rtt-ms", type=float, help="shape the link: round trip in ms (one-way RTT/2 each way)")
    parser.add_argument("--kbps", type=float,
                        help="shape the link: kilobits per second each way (800 = 100,000 bytes/s); 0: unlimited")
    parser.add_argument("--debug", action="store_true", help="B's progress on stderr")
    parser.add_argument("--role", default="bench")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--total", type=int)
    args = parser.parse_args()
    args_debug = args.debug
    if args.role == "b":
        trio.run(run_b, args.home, args.total)
        return
    shaped = args.rtt_ms is not None or args.kbps is not None
    events = args.events or (10_000 if shaped else 100_000)
    forums, wires = make_forums(events)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        local = 0.0 if shaped else local_ingest_rate(wires, directory)
        a_home = Home(directory / "a")
        seed_node_a(a_home, forums, wires)
        shape = (args.rtt_ms or 0.0, args.kbps or 0.0) if shaped else None
        result = trio.run(serve_a, a_home, forums, len(wires), directory / "b", shape)
    if shape is not None:
        print(json.dumps(shaped_report(len(wires), shape[0], shape[1], result)))
        return
    sync = len(wires) / result["seconds"]
    print(json.dumps({
        "events": len(wires), "authors": AUTHORS, "documents": FORUMS,
        "seconds": round(result["seconds"], 2), "sync_per_s": round(sync),
        "local_ingest_per_s": round(local), "ratio": round(sync / local, 3),
        "b_peak_rss_mb": round(result["b_peak_rss_mb"], 1),
    }))


if __name__ == "__main__":
    main()
