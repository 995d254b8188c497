from __future__ import annotations

import random

import pytest

from cliqueclique.gossip.backoff import base_delay, jitter, retry_delay, schedule


def test_base_delay_doubles_then_caps() -> None:
    assert [base_delay(a, 1.0, 60.0) for a in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert base_delay(500, 0.5, 10.0) == 10.0


def test_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError):
        base_delay(-1, 1.0, 2.0)


def test_jitter_is_drawn_from_the_injected_rng() -> None:
    a, b = random.Random(7), random.Random(7)
    assert [retry_delay(i, 1.0, 60.0, 0.1, a) for i in range(10)] == \
        [retry_delay(i, 1.0, 60.0, 0.1, b) for i in range(10)]
    for i in range(10):
        d = retry_delay(i, 1.0, 60.0, 0.1, a)
        assert base_delay(i, 1.0, 60.0) <= d < base_delay(i, 1.0, 60.0) * 1.1


def test_zero_jitter_draws_nothing() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    assert jitter(5.0, 0.0, rng) == 0.0
    assert rng.getstate() == state


def test_schedule_is_cumulative() -> None:
    assert schedule(10.0, 5, 1.0, 4.0, 0.0, random.Random(0)) == [11, 13, 17, 21, 25]
