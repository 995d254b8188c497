"""Export a thread to a file and import it elsewhere (offline transfer).

File format (text, one record a line)::

    {"events": N, "format": "cliqueclique-export", "root": ID, "sha256": HEX, "version": 1}
    <event id> <base64 of the wire bytes>      (N lines, in log order)

`sha256` covers every line after the first, so truncation and accidental
damage are caught before anything is parsed; each event is then decoded and
fully validated, and the whole file is appended atomically: one bad event
and nothing is written. Event bytes travel unchanged, so ids and bytes are
identical on both sides.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path

from ..errors import BatchRolledBack, ExportFileError, IdMismatch, InvalidEvent, UnknownEvent
from .base import AppendResult, EventStore, Status
from .codec import decode_wire
from .events import Direction, Event, Kind

FORMAT = "cliqueclique-export"
VERSION = 1


def thread_networks(store: EventStore, root: str) -> list[str]:
    """The root and every document below it by natural links, breadth first."""
    order, seen = [root], {root}
    for network in order:
        for stored in store.events(network=network, kind=Kind.LINK):
            body = stored.event.content()
            if body and body["direction"] == Direction.NATURAL and body["child"] not in seen:
                seen.add(body["child"])
                order.append(body["child"])
    return order


def thread_events(store: EventStore, root: str) -> list[Event]:
    """Every held event of the thread's networks, in log order.

    Raises:
        UnknownEvent: the root document is not in this log.
    """
    root_event = store.get(root)
    if root_event is None or root_event.kind is not Kind.DOCUMENT:
        raise UnknownEvent(f"no document {root} in this log")
    stored = [s for n in thread_networks(store, root) for s in store.events(network=n)]
    return [s.event for s in sorted(stored, key=lambda s: s.position)]


def export_thread(store: EventStore, root: str, path: Path) -> int:
    """Write the thread below `root` to `path` (atomically); return the event count."""
    events = thread_events(store, root)
    lines = b"".join(e.id.encode() + b" " + base64.b64encode(e.wire) + b"\n" for e in events)
    header = {"events": len(events), "format": FORMAT, "root": root,
              "sha256": hashlib.sha256(lines).hexdigest(), "version": VERSION}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(json.dumps(header, sort_keys=True).encode() + b"\n" + lines)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(events)


def read_export(path: Path) -> tuple[str, list[bytes]]:
    """Parse and check an export file; return (root id, wire events).

    Raises:
        ExportFileError: not an export file, truncated, or tampered with.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ExportFileError(f"cannot read {path}: {e.strerror}") from None
    first, _, rest = data.partition(b"\n")
    try:
        header = json.loads(first)
        ok = isinstance(header, dict) and header.get("format") == FORMAT
    except ValueError:
        ok = False
    if not ok:
        raise ExportFileError(f"{path} is not a cliqueclique export file")
    if header.get("version") != VERSION:
        raise ExportFileError(f"{path}: unsupported export version {header.get('version')!r}")
    lines = rest.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    announced = header.get("events")
    if type(announced) is not int or announced < 0:
        raise ExportFileError(f"{path}: its header announces no event count")
    if len(lines) > announced:
        raise ExportFileError(f"{path} has {len(lines)} event lines but its header announces {announced}")
    if len(lines) < announced or not rest.endswith(b"\n") and lines:
        raise ExportFileError(f"{path} is truncated: {len(lines)} of {announced} events")
    if hashlib.sha256(rest).hexdigest() != header.get("sha256"):
        raise ExportFileError(f"{path} was altered: its checksum does not match")
    wires = []
    for number, line in enumerate(lines, start=2):
        claimed, _, encoded = line.partition(b" ")
        try:
            wire = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ExportFileError(f"{path} line {number}: bad base64") from None
        try:
            event = decode_wire(wire)
        except InvalidEvent as e:
            raise ExportFileError(f"{path} line {number}: {e}") from None
        if event.id != claimed.decode(errors="replace"):
            raise ExportFileError(f"{path} line {number}: {IdMismatch(claimed.decode(errors='replace'))}")
        wires.append(wire)
    return str(header.get("root")), wires


def import_file(store: EventStore, path: Path) -> list[AppendResult]:
    """Validate and append a whole export file, all or nothing.

    Raises:
        ExportFileError: bad file, or an event in it was rejected (nothing written).
    """
    _, wires = read_export(path)
    results = store.append_many(wires, atomic=True)
    for result in results:
        if result.status is Status.REJECTED and not isinstance(result.error, BatchRolledBack):
            raise ExportFileError(f"{path}: nothing imported: {result.error}")
    return results
