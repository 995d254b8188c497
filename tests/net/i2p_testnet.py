"""A private, offline I2P network of real i2pd routers for tests (stdlib only).

How it works:

* `I2PTestnet.start(workdir, routers=3, floodfills=1)` (in the test process)
  launches this file as ``unshare --user --map-root-user --net python
  i2p_testnet.py hold ...``: a private user + network namespace that has only a
  loopback interface, so nothing can leave the machine and no port clashes with
  the host or with another test net.
* Inside, the runner brings `lo` up, gives router i the address 198.18.0.i
  (i2pd 2.45.1 refuses NTCP2 peers in 127/8 whatever `reservedrange` says;
  198.18/15 passes), writes one config per router (netid 7, NTCP2 only, SAM on
  127.0.0.1, floodfills carry no SAM), starts every router once so it writes
  its router.info, stops them, hands all router.info files to every router as
  a reseed zip, and starts them again. Ready means every router's web console
  lists all routers and floodfills and has an NTCP2 session. It then prints one
  line ``READY {json}`` and waits until its stdin closes (or SIGTERM), then stops
  the routers by PID. Routers get PDEATHSIG, so they die with the runner.
* Test code runs inside the namespace through `nsenter` into the runner's
  namespaces: `testnet.run([...])`, `testnet.popen([...])`, or
  `testnet.run_json([...])` for a scenario script that prints its result as JSON
  on the last line of stdout. Inside, SAM bridges are at 127.0.0.1 on
  `testnet.sam_ports` (one per non-floodfill router); scenario code creates its
  sessions with `SESSION_OPTIONS` (0-hop tunnels: the only kind this tiny
  network can build reliably).

Timings on i2pd 2.45.1 (2 cores): ready in ~10 s; each SESSION CREATE takes
20 s, so create sessions in parallel; STREAM CONNECT then takes milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

I2PD = os.environ.get("I2PD", "/usr/sbin/i2pd")
NET = "198.18.0"
BASE_PORT = 27000
READY_TIMEOUT = 120.0
SESSION_OPTIONS = {"inbound.length": 0, "outbound.length": 0,
                   "inbound.quantity": 1, "outbound.quantity": 1}
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Router:
    index: int
    floodfill: bool
    workdir: Path

    @property
    def ip(self) -> str:
        return f"{NET}.{self.index}"

    @property
    def ntcp2_port(self) -> int:
        return BASE_PORT + 10 * self.index

    @property
    def sam_port(self) -> int:
        return self.ntcp2_port + 1

    @property
    def http_port(self) -> int:
        return self.ntcp2_port + 2

    @property
    def dir(self) -> Path:
        return self.workdir / f"r{self.index}"


# --- inside the namespace ------------------------------------------------------------------


def _config(r: Router, seed: Path) -> str:
    sam = "false" if r.floodfill else "true"
    return f"""# router {r.index} of a private I2P test network
log = file
logfile = {r.dir}/i2pd.log
loglevel = warn
pidfile = {r.dir}/i2pd.pid
netid = 7
ipv4 = true
ipv6 = false
host = {r.ip}
address4 = {r.ip}
port = {r.ntcp2_port}
nat = false
reservedrange = false
floodfill = {str(r.floodfill).lower()}
bandwidth = X
[ntcp2]
enabled = true
published = true
port = {r.ntcp2_port}
[ssu2]
enabled = false
[http]
enabled = true
address = 127.0.0.1
port = {r.http_port}
[httpproxy]
enabled = false
[socksproxy]
enabled = false
[sam]
enabled = {sam}
address = 127.0.0.1
port = {r.sam_port}
[bob]
enabled = false
[i2cp]
enabled = false
[i2pcontrol]
enabled = false
[upnp]
enabled = false
[addressbook]
# disabling it crashes i2pd 2.45.1 on STREAM CONNECT by base64; an empty URL crashes it later
enabled = true
defaulturl = http://none.i2p/hosts.txt
subscriptions =
[nettime]
enabled = false
[persist]
profiles = false
[reseed]
verify = false
urls =
yggurls =
threshold = 0
zipfile = {seed}
[exploratory]
inbound.length = 0
outbound.length = 0
inbound.quantity = 2
outbound.quantity = 2
"""


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class _Routers:
    """Starts and stops the i2pd processes of this namespace."""

    def __init__(self, routers: list[Router]) -> None:
        self.routers = routers
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, r: Router) -> None:
        (r.dir / "tunnels.d").mkdir(parents=True, exist_ok=True)
        (r.dir / "tunnels.conf").write_text("")  # keeps the packaged IRC tunnels out
        out = (r.dir / "stdout.log").open("ab")
        self.procs[r.index] = subprocess.Popen(
            [I2PD, f"--conf={r.dir}/i2pd.conf", f"--datadir={r.dir}",
             f"--tunconf={r.dir}/tunnels.conf", f"--tunnelsdir={r.dir}/tunnels.d",
             "--certsdir=/usr/share/i2pd/certificates"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)  # noqa: PLW1509 - the runner has a single thread
        out.close()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: immediate shutdown in i2pd
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def check_alive(self) -> None:
        for index, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"router r{index} exited with {proc.returncode}")


def _console(r: Router, page: str = "") -> str:
    url = f"http://127.0.0.1:{r.http_port}/{page}"
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return str(reply.read().decode("utf-8", "replace"))
    except OSError:
        return ""


def _is_ready(r: Router, total: int, floodfills: int) -> bool:
    main = _console(r).replace("\n", " ")
    known = re.search(r"Routers:</b>\s*(\d+).*?Floodfills:</b>\s*(\d+)", main)
    if not known or int(known[1]) < total or int(known[2]) < floodfills:
        return False
    # a seeded netDb alone looks ready even when no link works: require a live NTCP2 session
    links = re.search(r"<b>NTCP2</b>\s*\(\s*(\d+)\s*\)", _console(r, "?page=transports"))
    return bool(links and int(links[1]) >= 1)


def _wait(condition: Any, timeout: float, what: str, routers: _Routers) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        routers.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)  # polling a child process's files and web page; no event to wait on


def _router_info_written(r: Router) -> bool:
    path = r.dir / "router.info"
    # complete once it publishes our NTCP2 address (written after the first start-up steps)
    return path.exists() and r.ip.encode() in path.read_bytes()


def _bring_up(procs: _Routers, floodfills: int) -> None:
    routers = procs.routers
    workdir = routers[0].workdir
    seed = workdir / "seed.zip"
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for r in routers:
        subprocess.run(["ip", "addr", "add", f"{r.ip}/32", "dev", "lo"], check=True)
        r.dir.mkdir(parents=True, exist_ok=True)
        (r.dir / "i2pd.conf").write_text(_config(r, seed))
    for r in routers:  # phase 1: keys and router.info
        procs.start(r)
    for r in routers:
        _wait(lambda r=r: _router_info_written(r), 30, f"r{r.index}/router.info", procs)
    procs.stop_all()
    with zipfile.ZipFile(seed, "w") as z:  # phase 2: everyone reseeds from everyone
        for r in routers:
            z.write(r.dir / "router.info", f"routerInfo-r{r.index}.dat")
    for r in routers:
        shutil.rmtree(r.dir / "netDb", ignore_errors=True)
        shutil.rmtree(r.dir / "peerProfiles", ignore_errors=True)
        procs.start(r)
    for r in routers:
        _wait(lambda r=r: _is_ready(r, len(routers), floodfills), READY_TIMEOUT,
              f"r{r.index} to know every router and hold an NTCP2 session", procs)


def hold(count: int, floodfills: int, workdir: Path) -> int:
    """Runner entry point (inside the namespace): bring the net up, report, wait, stop."""
    routers = [Router(i, i <= floodfills, workdir) for i in range(1, count + 1)]
    started = time.monotonic()
    procs = _Routers(routers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _bring_up(procs, floodfills)
        info = {"sam_ports": [r.sam_port for r in routers if not r.floodfill],
                "seconds": round(time.monotonic() - started, 1),
                "routers": [{"index": r.index, "ip": r.ip, "floodfill": r.floodfill,
                             "sam_port": None if r.floodfill else r.sam_port,
                             "http_port": r.http_port} for r in routers]}
        print("READY " + json.dumps(info), flush=True)
        sys.stdin.read()  # until the test closes our stdin (or we are terminated)
        return 0
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:  # reported to the test
        print(f"FAILED {type(e).__name__}: {e} (logs under {workdir})", flush=True)
        return 1
    finally:
        procs.stop_all()


# --- in the test process ---------------------------------------------------------------------


class I2PTestnetError(RuntimeError):
    """The test network could not be started, or a command inside it failed."""


class I2PTestnet:
    """A running private I2P network; use as a context manager or call `close()`."""

    def __init__(self, proc: subprocess.Popen[str], info: dict[str, Any], workdir: Path) -> None:
        self._proc = proc
        self.info = info
        self.workdir = workdir
        self.sam_ports: list[int] = info["sam_ports"]

    @classmethod
    def start(cls, workdir: Path, routers: int = 3, floodfills: int = 1,
              timeout: float = READY_TIMEOUT + 60) -> I2PTestnet:
        """Start the network and wait until it is ready.

        Raises:
            I2PTestnetError: i2pd or unshare/nsenter missing, no user namespaces, or the
                routers did not become ready (the message carries the log tails).
        """
        for tool in (I2PD, "unshare", "nsenter", "ip"):
            if not shutil.which(tool):
                raise I2PTestnetError(f"{tool} is not installed; the real-I2P tests need "
                                      "`apt-get install -y i2pd` (util-linux and iproute2 too)")
        if not routers > floodfills >= 1:
            raise I2PTestnetError("need routers > floodfills >= 1")
        workdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--net", sys.executable,
             os.path.abspath(__file__), "hold", str(routers), str(floodfills), str(workdir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = cls._first_line(proc, timeout)
        if not line.startswith("READY "):
            proc.kill()
            _, err = proc.communicate()
            raise I2PTestnetError(f"test net did not start: {line.strip() or err.strip()}\n"
                                  + _log_tails(workdir))
        return cls(proc, json.loads(line[len("READY "):]), workdir)

    @staticmethod
    def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return ""
        return proc.stdout.readline()

    def command(self, args: Sequence[str]) -> list[str]:
        """`args` prefixed so that they run inside the test net's namespaces."""
        return ["nsenter", f"--target={self._proc.pid}", "--user", "--net", *args]

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a process inside the namespace (same arguments as `subprocess.Popen`)."""
        return subprocess.Popen(self.command(args), **kwargs)

    def run(self, args: Sequence[str], timeout: float,
            **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a process inside the namespace to completion, capturing its output as text."""
        return subprocess.run(self.command(args), check=False, timeout=timeout,
                              capture_output=True, text=True, **kwargs)

    def run_json(self, args: Sequence[str], timeout: float) -> dict[str, Any]:
        """Run a scenario inside the namespace; return the JSON object on its last stdout line.

        Raises:
            I2PTestnetError: non-zero exit or no JSON; carries stdout, stderr and log tails.
        """
        done = self.run(args, timeout)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise I2PTestnetError(
                f"{' '.join(args[:3])}... exited {done.returncode}\n--- stdout\n{done.stdout}"
                f"\n--- stderr\n{done.stderr}\n{_log_tails(self.workdir)}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def close(self) -> None:
        """Stop every router and the namespace."""
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log_tails(workdir: Path, lines: int = 15) -> str:
    out = []
    for log in sorted(workdir.glob("r*/i2pd.log")) + sorted(workdir.glob("r*/stdout.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        if tail:
            out.append(f"--- {log}\n" + "\n".join(tail))
    return "\n".join(out)


@contextlib.contextmanager
def i2p_testnet(workdir: Path, routers: int = 3, floodfills: int = 1) -> Iterator[I2PTestnet]:
    """Context manager form of `I2PTestnet.start`."""
    net = I2PTestnet.start(workdir, routers, floodfills)
    try:
        yield net
    finally:
        net.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    sub = parser.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold", help="(inside the namespace) run the net until stdin closes")
    h.add_argument("routers", type=int)
    h.add_argument("floodfills", type=int)
    h.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    return hold(args.routers, args.floodfills, args.workdir)


if __name__ == "__main__":
    sys.exit(main())
