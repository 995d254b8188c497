"""Each test starts with a fresh handshake-failure log budget (it is per process)."""

from __future__ import annotations

import pytest

from cliqueclique.net import secure
from cliqueclique.net.loglimit import LimitedLog


@pytest.fixture(autouse=True)
def fresh_handshake_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secure, "handshake_failures", LimitedLog(secure.log, "refused handshakes"))
