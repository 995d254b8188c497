"""The CLI shows a time outside the calendar instead of failing (issue 16).

Logs written before the log refused timestamps beyond year 9999 may hold
one; `thread` and `find` print it as out of range."""

from __future__ import annotations

import sqlite3

from cliqueclique.home import Home

from .test_cli_views import Shell, posts, sh  # noqa: F401  (fixtures)


def test_thread_and_find_show_a_far_future_reply(sh: Shell, posts: dict[str, str]) -> None:  # noqa: F811
    logs = [node.log_path for node in Home(sh.home).nodes()]
    assert logs
    for log in logs:
        with sqlite3.connect(log) as db:
            db.execute("UPDATE docs SET timestamp = ? WHERE id = ?", [10**17, posts["reply"]])
            db.execute("UPDATE edges SET timestamp = ? WHERE below = ?", [10**17, posts["reply"]])
    assert "out of range" in sh.ok("thread", posts["root"])
    assert "out of range" in sh.ok("find", "--text", "glad")
