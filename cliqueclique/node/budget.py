"""Per-peer budgets and bans: pure bookkeeping with an explicit clock.

A peer spends from a token bucket for every frame and every byte it sends
us. A peer that overdraws (floods) or misbehaves (garbage, forged or invalid
events, protocol violations) is disconnected and banned; each further
offence doubles the ban, up to a cap, so a persistent attacker costs us
almost nothing while an honest peer with a bug recovers. The source it
came from is banned too (`AddressBans`), within bounds.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """`rate` tokens per second, holding at most `burst`."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def spend(self, amount: float, now: float) -> bool:
        """Take `amount` tokens; False (and nothing taken) if there are not enough."""
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


@dataclass(frozen=True)
class BudgetConfig:
    frames_per_s: float = 2_000.0
    frame_burst: float = 10_000.0
    bytes_per_s: float = 32 * 1024 * 1024
    byte_burst: float = 128 * 1024 * 1024
    ban_base: float = 30.0  # first ban, seconds
    ban_cap: float = 3600.0
    # Incoming connections: each holds a descriptor and a task, and anyone can
    # open them, so handshakes in progress are capped overall and per source
    # (a TCP host, an I2P destination), and so are accepted links.
    max_handshakes: int = 64
    max_handshakes_per_source: int = 8
    max_incoming_links: int = 256


class PeerBudget:
    """What one peer may still send us."""

    def __init__(self, config: BudgetConfig) -> None:
        self.frames = TokenBucket(config.frames_per_s, config.frame_burst)
        self.bytes = TokenBucket(config.bytes_per_s, config.byte_burst)

    def allow(self, size: int, now: float) -> bool:
        return self.frames.spend(1, now) and self.bytes.spend(size, now)


def ban_duration(offences: int, config: BudgetConfig) -> float:
    """Seconds to ban a peer for its `offences`-th offence (1, 2, ...)."""
    return min(config.ban_cap, config.ban_base * 2 ** max(0, offences - 1))


class Admission:
    """Which incoming connections may start a handshake: counts per source."""

    def __init__(self, config: BudgetConfig) -> None:
        self.config = config
        self.by_source: dict[str, int] = {}
        self.total = 0

    def begin(self, source: str) -> bool:
        """Count a handshake from `source`; False (nothing counted) if over a cap."""
        here = self.by_source.get(source, 0)
        if self.total >= self.config.max_handshakes or here >= self.config.max_handshakes_per_source:
            return False
        self.by_source[source] = here + 1
        self.total += 1
        return True

    def end(self, source: str) -> None:
        """A handshake `begin` counted is over (it succeeded or failed)."""
        self.total -= 1
        left = self.by_source[source] - 1
        if left:
            self.by_source[source] = left
        else:
            del self.by_source[source]


#: sources (TCP hosts, I2P destinations) banned at once, and the longest such ban
MAX_ADDRESS_BANS = 1_000
ADDRESS_BAN_CAP = 600.0


class AddressBans:
    """Bans by where a banned peer came from, so that a fresh key from the same
    place gains nothing. Many honest nodes can share a source (a NAT, one host),
    so the harm an attacker can do to them is bounded: a source is banned at
    most `ADDRESS_BAN_CAP` seconds at a time, at most `MAX_ADDRESS_BANS`
    sources are (the oldest go), and a ban by source never keeps out a peer
    this node keeps (one that shared a document and never misbehaved)."""

    def __init__(self) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()

    def ban(self, source: str, seconds: float, now: float) -> None:
        self._until.pop(source, None)
        self._until[source] = now + min(seconds, ADDRESS_BAN_CAP)
        while len(self._until) > MAX_ADDRESS_BANS:
            self._until.popitem(last=False)

    def banned(self, source: str, now: float) -> bool:
        until = self._until.get(source)
        if until is not None and until <= now:
            del self._until[source]
            return False
        return until is not None

    def __len__(self) -> int:
        return len(self._until)
