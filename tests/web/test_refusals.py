"""A refused web action writes nothing (found by bench/fuzz.py's web target).

POST /dirs/{doc}/add to a document that is not a directory used to write the
new entry's document first and refuse afterwards, leaving a stray document
in the log behind a 400.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from tests.fuzz.web_target import PORT, SESSION, web_target


def test_adding_to_a_document_that_is_not_a_directory_writes_nothing(tmp_path: Path) -> None:
    with web_target(tmp_path / "home") as ((_, check, _bound), run_in_loop):
        victim = check.victim  # type: ignore[attr-defined]
        forum = victim.docs[0]  # a forum, not a directory
        body = urlencode({"subject": "an entry", "body": "text", "csrf": victim.token}).encode()
        headers = [(b"host", f"127.0.0.1:{PORT}".encode()),
                   (b"cookie", f"cq_session_{PORT}={SESSION}".encode()),
                   (b"origin", f"http://127.0.0.1:{PORT}".encode()),
                   (b"content-type", b"application/x-www-form-urlencoded"),
                   (b"content-length", str(len(body)).encode())]
        seen: list[tuple[int, int, int]] = []

        def go() -> None:
            import trio

            async def once() -> None:
                before = victim.count()
                status = await victim.request(f"/dirs/{forum}/add", body, headers)
                seen.append((status, before, victim.count()))

            trio.from_thread.run(once)

        run_in_loop(go)
    ((status, before, after),) = seen
    assert 400 <= status < 500
    assert after == before, "the refused entry's document stayed in the log"
