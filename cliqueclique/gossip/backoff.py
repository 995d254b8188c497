"""Retransmission delays: pure functions, the randomness is injected.

Every unacknowledged message (a metadata update, a delete, a reconciliation)
is resent after `retry_delay(attempt, ...)`: ``min(cap, base * 2**attempt)``
plus a jitter drawn from the caller's `random.Random`, so two nodes that lost
the same message do not retry in lock step, and a seeded run is reproducible.
"""

from __future__ import annotations

import random


def base_delay(attempt: int, base: float, cap: float) -> float:
    """The deterministic part of the delay before retry number `attempt` (0-based).

    Args:
        attempt: how many times the message has been sent already, minus one.
        base: the first delay, in seconds.
        cap: the largest delay, in seconds.

    Returns:
        ``min(cap, base * 2**attempt)``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if attempt >= 64:  # 2**64 * base overflows any sane cap
        return cap
    return float(min(cap, base * float(2**attempt)))


def jitter(delay: float, fraction: float, rng: random.Random) -> float:
    """A random extra in ``[0, delay * fraction)`` drawn from `rng` (one draw)."""
    if fraction <= 0:
        return 0.0
    return rng.random() * delay * fraction


def retry_delay(attempt: int, base: float, cap: float, fraction: float, rng: random.Random) -> float:
    """The full delay before retry `attempt`: capped exponential plus jitter.

    Args:
        attempt: 0 for the first retry after the initial send.
        base: first delay in seconds.
        cap: largest deterministic delay in seconds.
        fraction: jitter as a fraction of the delay (0 disables it, no RNG draw).
        rng: the injected random source.

    Returns:
        Seconds to wait.
    """
    delay = base_delay(attempt, base, cap)
    return delay + jitter(delay, fraction, rng)


def schedule(start: float, attempts: int, base: float, cap: float, fraction: float,
             rng: random.Random) -> list[float]:
    """Absolute deadlines of the first `attempts` retries of a message sent at `start`."""
    out: list[float] = []
    now = start
    for attempt in range(attempts):
        now += retry_delay(attempt, base, cap, fraction, rng)
        out.append(now)
    return out
