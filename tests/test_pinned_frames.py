"""Pinned stack frames of a message (issue 22, theme 3: the report's ``stack``).

A stale read's message shows the frames worth reading: the project's (under the root) and those
of every watched module, even one outside the root, but not an unwatched library's in between.
The JSON report's ``first_stale_read`` lists the same frames.  A mutation run found no test with a watched module
outside the root, so dropping the ``watched`` mark of a frame went unnoticed.
"""

from __future__ import annotations

import pytest

from .pinned_helpers import marked_line, run_latebind, write_project

WATCHED = """
    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:site
        return fs
    """

PLAIN = """
    def call(f):
        return f()  # SITE:plain
    """

TEST = """
    import lib_plain
    import lib_watched


    def test_it():
        fs = lib_watched.make("ab")
        assert lib_plain.call(fs[0]) == "b"  # SITE:test
    """


def test_message_shows_a_watched_modules_frames_outside_the_root_but_no_other_librarys(
        pytester: pytest.Pytester) -> None:
    write_project(pytester.path, lib_watched=WATCHED, lib_plain=PLAIN)
    pytester.mkdir("proj")
    write_project(pytester.path / "proj", test_it=TEST)
    run = run_latebind(pytester, "--rootdir=proj", "--latebind-modules=lib_watched", "proj/test_it.py")
    (finding,) = run.findings
    here = pytester.path.resolve().as_posix()
    # The report: the project's frame (relative to the root) and the watched module's, innermost last.
    assert [(f["file"], f["line"], f["function"]) for f in finding["first_stale_read"]] == [
        ("test_it.py", marked_line(TEST, "test"), "test_it"),
        (f"{here}/lib_watched.py", marked_line(WATCHED, "site"), "<lambda>"),
    ]
    # The message: the test's frame and the watched module's, not lib_plain's.
    lines = run.failure_text("test_it").splitlines()
    start = next(n for n, line in enumerate(lines) if "first stale read:" in line) + 1
    assert [line.strip() for line in lines[start:]] == [
        f"test_it.py:{marked_line(TEST, 'test')} in test_it",
        f"{here}/lib_watched.py:{marked_line(WATCHED, 'site')} in <lambda>",
    ]
