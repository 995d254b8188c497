"""Warnings anyone can trigger are rate-limited per source and overall, then summarised."""

from __future__ import annotations

import logging

import pytest

from cliqueclique.net.loglimit import LimitedLog

log = logging.getLogger("test.loglimit")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == log.name]


def test_a_flood_from_one_source_writes_a_few_lines_then_one_summary(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = LimitedLog(log, "refused handshakes", per_source=3, overall=20, window=60.0, clock=clock)
    for i in range(2_000):
        limited.warning("10.0.0.1", "refused %d", i)
    assert lines(caplog) == ["refused 0", "refused 1", "refused 2"]
    clock.now = 60.0
    limited.warning("10.0.0.1", "refused again")
    assert lines(caplog)[3:] == ["1997 more refused handshakes from 10.0.0.1 in the last 60s", "refused again"]


def test_many_sources_share_an_overall_budget(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = LimitedLog(log, "refused handshakes", per_source=3, overall=20, window=60.0, clock=clock)
    for i in range(5_000):
        limited.warning(f"10.0.{i // 256}.{i % 256}", "refused %d", i)
    assert len(lines(caplog)) == 20
    clock.now = 61.0
    limited.warning("10.9.9.9", "next window")
    summary = lines(caplog)[20:]
    assert len(summary) == 7  # the five busiest sources, one line for the rest, the new line
    assert summary[-2] == "4975 more refused handshakes from other sources in the last 60s"
    assert summary[-1] == "next window"


def test_an_honest_failure_now_and_then_is_always_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = LimitedLog(log, "refused handshakes", clock=clock)
    for minute in range(10):
        clock.now = minute * 60.0
        limited.warning("peer", "refused in minute %d", minute)
    assert lines(caplog) == [f"refused in minute {m}" for m in range(10)]
