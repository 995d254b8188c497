"""Timestamps a peer chose are shown, never a crash (issue 16).

The log now refuses a timestamp beyond the end of year 9999, but older logs
may already hold one (it used to be accepted and relayed), so every filter
that formats a time must render any integer, and so must a whole page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cliqueclique.eventlog.codec import MAX_INTEGER, MAX_TIMESTAMP
from cliqueclique.web.render import environment, iso, when
from tests.web.test_http import serving, their_forum

NOW = 1_700_000_000.0
OUT_OF_RANGE = [10**17, MAX_TIMESTAMP + 1, MAX_INTEGER, -(10**17)]


@pytest.mark.parametrize("ms", OUT_OF_RANGE)
def test_filters_render_out_of_range_times_without_raising(ms: int) -> None:
    assert "out of range" in when(ms, NOW)
    assert "out of range" in iso(ms)


def test_filters_still_render_the_last_representable_time() -> None:
    assert iso(MAX_TIMESTAMP) == "9999-12-31 23:59:59 UTC"
    assert when(MAX_TIMESTAMP, NOW) == "31 Dec 9999"
    assert iso(0) == "1970-01-01 00:00:00 UTC" and when(0, NOW) == "1 Jan 1970"


def test_the_stamp_macro_renders_an_out_of_range_time() -> None:
    template = environment().from_string('{% import "macros.html" as m %}{{ m.stamp(ms) }}')
    assert "out of range" in template.render(ms=10**17)


async def test_a_thread_page_holding_a_far_future_reply_renders(tmp_path: Path) -> None:
    """A reply dated 10^17 ms (year 3 million), as an older log may hold it,
    written into the views directly: the pages that show it answer 200."""
    home, s = their_forum(tmp_path)
    store = s.local.open_store()
    with store.db.conn:
        store.db.execute("UPDATE docs SET timestamp = ? WHERE id = ?", [10**17, s.reply])
        store.db.execute("UPDATE edges SET timestamp = ? WHERE below = ?", [10**17, s.reply])
    store.close()
    async with serving(home) as client:
        for path in (f"/t/{s.forum}", f"/t/{s.forum}/p/{s.reply}", "/"):
            page = await client.get(path)
            assert page.status == 200, (path, page.text[-500:])
        assert "out of range" in (await client.get(f"/t/{s.forum}")).text
