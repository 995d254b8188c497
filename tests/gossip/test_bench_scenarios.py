"""The gossip benchmark's scenarios at small sizes: reliability and the
workload's invariants (never timings; the figures are for bench/gossip.py)."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import gossip as bench  # noqa: E402


@pytest.mark.parametrize("n,degree", [(20, 3), (30, 4), (31, 6)])
def test_regular_graphs_are_regular_simple_and_connected(n: int, degree: int) -> None:
    edges = bench.regular_graph(n, degree, random.Random(n))
    counts = Counter(i for edge in edges for i in edge)
    assert set(counts.values()) == {degree} and len(counts) == n
    assert all(a < b for a, b in edges)
    assert bench._connected(n, edges, set())


def test_no_regular_graph_of_odd_total_degree() -> None:
    with pytest.raises(ValueError, match="no 3-regular graph on 5 nodes"):
        bench.regular_graph(5, 3, random.Random(1))


def test_churn_scenario_delivers_everything_to_the_survivors() -> None:
    workload = bench.make_churn_workload(30, 0.2, seed=7, authors=3, posts=15)
    crashed = set(workload["crash"]["nodes"])
    authors = {a["node"] for a in workload["appends"]}
    assert len(crashed) == 6 and not crashed & authors and 0 not in crashed
    result = bench.run(workload, seed=1, workers=1)
    assert result["scenario"] == "churn" and result["degree"] == 4.0
    assert result["events"] == 45
    assert result["reliability"] == 1.0
    # every survivor but the author received each reply once at least
    assert result["deliveries"] >= 45 * (30 - len(crashed) - 1)
    assert result["ldh"] >= 1 and result["rmr"] >= 0


def test_standard_scenario_with_failures_delivers_everything() -> None:
    workload = bench.make_workload(20, 0.2, seed=3, authors=3, posts=10)
    result = bench.run(workload, seed=1, workers=1)
    assert result["scenario"] == "standard" and result["events"] == 30
    assert result["reliability"] == 1.0
