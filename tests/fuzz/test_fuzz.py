"""A small profile of every fuzz target (bench/fuzz.py runs 100,000 inputs of each).

Each test feeds a few hundred generated hostile inputs and requires zero
crashes: only the specific CliqueError subclasses may escape the code under
test, refused inputs change nothing, and the machine's state stays under
the target's bound.
"""

from __future__ import annotations

from pathlib import Path

from tests.fuzz import harness, targets
from tests.fuzz.web_target import web_target

EXAMPLES = 300


def assert_clean(outcome: harness.Outcome) -> None:
    assert outcome.inputs > 0
    assert outcome.crashes == 0, "\n".join(outcome.reproducers)


def profile(name: str, target: targets.Target, examples: int = EXAMPLES) -> harness.Outcome:
    strategy, check, bound = target
    return harness.run(name, strategy, check, examples, bound=bound)


def test_frame_decoder() -> None:
    assert_clean(profile("frame", targets.frame_target()))


def test_sam_reply_parser() -> None:
    assert_clean(profile("sam", targets.sam_target()))


def test_handshake_both_sides() -> None:
    assert_clean(profile("handshake", targets.handshake_target()))


def test_export_reader_and_import(tmp_path: Path) -> None:
    assert_clean(profile("export", targets.export_target(tmp_path)))


def test_gossip_receive_with_hostile_messages() -> None:
    strategy, check, bound = targets.gossip_target()
    outcome = harness.run("gossip", strategy, check, EXAMPLES, bound=bound)
    assert_clean(outcome)
    assert check.victim.state_bytes() <= targets.GOSSIP_STATE_BOUND  # type: ignore[attr-defined]


def test_web_forms(tmp_path: Path) -> None:
    with web_target(tmp_path / "home") as ((strategy, check, bound), run_in_loop):
        box: list[harness.Outcome] = []
        run_in_loop(lambda: box.append(harness.run("web", strategy, check, 200, bound=bound)))
    assert_clean(box[0])


def test_a_crash_is_counted_not_raised() -> None:
    """The harness itself: an unexpected exception is one crash with a reproducer."""
    from hypothesis import strategies as st

    def check(n: int) -> None:
        if n == 3:
            raise ValueError("boom")

    outcome = harness.run("self", st.integers(0, 5), check, 50)
    assert outcome.crashes >= 1 and "ValueError: boom" in outcome.reproducers[0]
