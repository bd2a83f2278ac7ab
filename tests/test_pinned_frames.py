"""Pinned stack frames of a message (issue 22, theme 3: the report's ``stack``).

A stale read's message shows the frames worth reading: the project's (under the root) and those
of every watched module, even one outside the root, but not an unwatched library's in between.
The JSON report's ``first_stale_read`` lists the same frames.  A mutation run found no test with a watched module
outside the root, so dropping the ``watched`` mark of a frame went unnoticed; nor one with a frame
that has no line number, nor one of the core in an interpreter without pytest (whose frames it
would otherwise hide).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


MADE = """
    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:site
        return fs
    """

# A caller whose code has no line numbers (as code built or rewritten by a tool may have).
NO_LINES = """
    def call(f):
        return f()


    def _without_locations(code):
        # The location table (3.11 on): one "no location" entry per run of up to 8 code units.
        units = len(code.co_code) // 2
        table = bytearray()
        while units:
            n = min(units, 8)
            table.append(0x80 | 15 << 3 | n - 1)
            units -= n
        return code.replace(co_linetable=bytes(table))


    call.__code__ = _without_locations(call.__code__)
    """

NO_LINES_TEST = """
    import made
    import nolines


    def test_it():
        fs = made.make("ab")
        assert nolines.call(fs[0]) == "b"  # SITE:test
    """


@pytest.mark.skipif(sys.version_info < (3, 11), reason="builds a 3.11 location table")
def test_a_frame_without_a_line_number_is_shown_at_line_0(pytester: pytest.Pytester) -> None:
    # 0 is no line of the file: the frame is listed, its line unknown (never a real line's number).
    write_project(pytester.path, made=MADE, nolines=NO_LINES, test_it=NO_LINES_TEST)
    run = run_latebind(pytester, "test_it.py")
    (finding,) = run.findings
    assert [(f["file"], f["line"], f["function"]) for f in finding["first_stale_read"]] == [
        ("test_it.py", marked_line(NO_LINES_TEST, "test"), "test_it"),
        ("nolines.py", 0, "call"),
        ("made.py", marked_line(MADE, "site"), "<lambda>"),
    ]
    lines = run.failure_text("test_it").splitlines()
    start = next(n for n, line in enumerate(lines) if "first stale read:" in line) + 1
    assert [line.strip() for line in lines[start:]] == [
        f"test_it.py:{marked_line(NO_LINES_TEST, 'test')} in test_it",
        "nolines.py:0 in call",
        f"made.py:{marked_line(MADE, 'site')} in <lambda>",
    ]


ALONE = """
    import sys

    # An interpreter without pytest: importing it (or pluggy) fails.
    sys.modules["pytest"] = sys.modules["_pytest"] = sys.modules["pluggy"] = None

    import made
    import pytest_latebind

    try:
        pytest_latebind.check(made.make("ab"))
    except pytest_latebind.LateBindingError as error:
        print(error)
    """


def test_check_works_without_pytest_installed(tmp_path: Path) -> None:
    # The core hides pytest's and pluggy's frames from stacks when they are there; without them
    # it has nothing to hide, and still imports and checks (docs/reference/api.md).
    write_project(tmp_path, made=MADE, alone=ALONE)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "alone.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == (
        f"2 closures created at {tmp_path / 'made.py'}:{marked_line(MADE, 'site')} share the loop variable 'name'\n"
        "  all of them now see name='b' (shared binding)\n"
        "  fix: bind the value when the closure is made, e.g. `lambda name=name: ...`\n"
        "       or functools.partial(...)\n")
