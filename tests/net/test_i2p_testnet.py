"""Real I2P: SAM streams between destinations on different i2pd routers of a private network.

Needs the Debian package i2pd (CI installs it); without it the test fails with
a message saying so, it is never skipped. Takes about 30 s: ~5 s for the
routers, 20 s for the SAM sessions (created in parallel), then the checks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from i2p_testnet import i2p_testnet

SCENARIO = Path(__file__).with_name("i2p_sam_scenario.py")


@pytest.mark.slow
def test_sam_streams_over_a_real_private_i2p_network(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    with i2p_testnet(tmp_path / "net", routers=3, floodfills=1) as net:
        assert len(net.sam_ports) == 2  # SAM routers; the floodfill carries no sessions
        a, b = (r for r in net.info["routers"] if not r["floodfill"])
        result = net.run_json(
            [sys.executable, str(SCENARIO), str(a["sam_port"]), str(a["http_port"]),
             str(b["sam_port"]), str(keys)], timeout=240)
    print(result)  # timings, shown with -s or on failure
    assert result["two_way_stream"] == "passed"
    assert result["stream_pairs"] >= 10  # check_two_way_stream made its streams over I2P
    assert result["lookup_ok"] is True
    first, quick, full = result["restart"]
    for step in (first, quick, full):
        assert step["address"] == first["address"]  # the router's own view ("NAMING LOOKUP ME")
        assert step["echo"] is True
    assert full["dialled_out"] is True
    for name in ("server.keys", "restart.keys", "client.keys"):
        assert (keys / name).stat().st_mode & 0o777 == 0o600
