"""Running one fuzz target: Hypothesis generates, the target checks, crashes are counted.

A target is a function `check(data) -> int | None` plus a strategy. `check`
feeds one generated input to the code under test and returns the machine's
state size in bytes when it measured it (else None). Any exception but the
expected `CliqueError` subclasses, caught inside `check`, is a crash: it is
recorded (type, message, a repr of the input, cut short) and the run goes on,
so one run counts every crash instead of stopping at the first.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

REPRODUCERS_KEPT = 5  # crash reproducers kept per target (the count is exact)


@dataclass
class Outcome:
    target: str
    inputs: int = 0
    crashes: int = 0
    max_state_bytes: int = 0
    reproducers: list[str] = field(default_factory=list)

    def line(self) -> dict[str, Any]:
        return {"target": self.target, "inputs": self.inputs, "crashes": self.crashes,
                "max_state_bytes": self.max_state_bytes}


class StateBoundExceeded(AssertionError):
    """The machine holds more than the target's bound after hostile input."""


def run(name: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], int | None],
        examples: int, *, seed: int | None = 0, bound: int | None = None) -> Outcome:
    """Feed `examples` generated inputs to `check`; count crashes and the largest state seen."""
    outcome = Outcome(name)

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=seed is not None)
    @given(strategy)
    def one(data: Any) -> None:
        outcome.inputs += 1
        try:
            size = check(data)
            if size is not None:
                outcome.max_state_bytes = max(outcome.max_state_bytes, size)
                if bound is not None and size > bound:
                    raise StateBoundExceeded(f"state of {size} bytes > bound {bound}")
        except Exception as e:  # noqa: BLE001 - counting crashes is the point
            outcome.crashes += 1
            if len(outcome.reproducers) < REPRODUCERS_KEPT:
                where = traceback.extract_tb(e.__traceback__)[-1]
                outcome.reproducers.append(
                    f"{type(e).__name__}: {str(e)[:200]} at {where.filename}:{where.lineno} "
                    f"input={repr(data)[:600]}")

    one()
    return outcome
