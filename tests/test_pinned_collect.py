"""Pinned: closures that are garbage in a reference cycle are not alive (issue 22, theme 3).

A closure held only from reference cycles outlives its last use until the cyclic collector
runs.  The verdict must not depend on when that happens: closures the test dropped are no
shared binding, even with the collector disabled and so many garbage holders that a search for
who holds them would give up (and call them alive), while the same closures kept are one.  A mutation run found
that no test stated this (deleting the judge's collection before its liveness check survived).
"""

from __future__ import annotations

import pytest

from .pinned_helpers import marked_line, run_latebind, write_project

MODULE = """
    KEPT = []


    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:site
        return fs
    """

TESTS = """
    import gc

    import pytest

    import cyc


    @pytest.fixture
    def no_collector():
        gc.disable()
        yield  # the plugin judges the call before this fixture's teardown
        gc.enable()


    def test_dropped(no_collector):
        # Made, never called, and dropped; but each is still held by many garbage lists, each
        # in a cycle of its own, which only the cyclic collector frees.
        for f in cyc.make("abc"):
            for _ in range(10_000):
                garbage = [f]
                garbage.append(garbage)
        del f, garbage


    def test_kept(no_collector):
        cyc.KEPT.extend(cyc.make("xy"))
    """


def test_closures_dropped_in_a_cycle_are_no_shared_binding(pytester: pytest.Pytester) -> None:
    write_project(pytester.path, cyc=MODULE, test_cyc=TESTS)
    run = run_latebind(pytester, "test_cyc.py")
    assert run.outcome("test_cyc.py::test_dropped") == "passed"
    assert run.failed_by_latebind("test_cyc.py::test_kept")
    (finding,) = run.findings
    assert (finding["file"], finding["line"], finding["variable"]) == ("cyc.py", marked_line(MODULE, "site"), "name")
    assert (finding["kinds"], finding["created_with"]) == (["shared-binding"], ["'x'", "'y'"])
    assert finding["tests"] == ["test_cyc.py::test_kept"]
