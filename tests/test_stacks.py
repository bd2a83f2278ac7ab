"""The stack of a stale read keeps every watched module's frames, a library's included.

Frames of the project (under the rootdir, outside site-packages) are kept as before; a
package watched with ``--latebind-modules`` that lives in site-packages keeps its frames too,
and unwatched code between them (the standard library, pytest) is left out.
"""

from __future__ import annotations

import json

import pytest

LIBRARY = """\
import threading


def handlers(names):
    out = []
    for name in names:
        out.append(lambda: name)  # line 7: the site
    return out


def dispatch(callbacks):
    return [call() for call in callbacks]  # line 12: the library calls them


def other_handlers(names):
    out = []
    for name in names:
        out.append(lambda: name)  # line 18: another site
    return out


def dispatch_through_the_stdlib(callbacks):
    seen = []
    for call in callbacks:
        threading.Thread(target=lambda call=call: seen.append(call())).run()  # line 25: threading.py's run()
    return seen
"""

TESTS = """\
import extlib


def test_dispatch():
    assert extlib.dispatch(extlib.handlers("ab")) == ["b", "b"]


def test_through_the_stdlib():
    assert extlib.dispatch_through_the_stdlib(extlib.other_handlers("ab")) == ["b", "b"]
"""


@pytest.fixture
def stacks(pytester: pytest.Pytester) -> dict[str, list[tuple[str, int, str]]]:
    packages = pytester.path / "venv" / "lib" / "site-packages"
    (packages / "extlib").mkdir(parents=True)
    (packages / "extlib" / "__init__.py").write_text(LIBRARY)
    project = pytester.mkdir("project")
    (project / "pytest.ini").write_text("[pytest]\npythonpath = ../venv/lib/site-packages\n")
    (project / "test_lib.py").write_text(TESTS)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--rootdir=project", "-p", "no:cacheprovider", "--latebind",
                                           "--latebind-modules=extlib", f"--latebind-report={report}", "project")
    result.assert_outcomes(failed=2)
    found = {}
    for finding in json.loads(report.read_text())["findings"]:
        [test] = finding["tests"]
        found[test.split("::")[1]] = [(f["file"].rsplit("/", 1)[-1], f["line"], f["function"])
                                      for f in finding["first_stale_read"] if f["function"] != "<listcomp>"]
    return found


def test_a_watched_librarys_frames_are_kept(stacks: dict[str, list[tuple[str, int, str]]]) -> None:
    assert stacks["test_dispatch"] == [("test_lib.py", 5, "test_dispatch"), ("__init__.py", 12, "dispatch"),
                                       ("__init__.py", 7, "<lambda>")]


def test_unwatched_frames_between_are_left_out(stacks: dict[str, list[tuple[str, int, str]]]) -> None:
    # Thread.run (threading.py) calls the library's lambda: no stdlib frame shows.
    stack = stacks["test_through_the_stdlib"]
    assert stack[0] == ("test_lib.py", 9, "test_through_the_stdlib")
    assert stack[-2:] == [("__init__.py", 25, "<lambda>"), ("__init__.py", 18, "<lambda>")]
    assert all(file in {"test_lib.py", "__init__.py"} for file, _, _ in stack), stack
