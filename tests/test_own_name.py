"""A function made in a loop that calls itself by its loop-rebound name (issue 10, point 4).

After the loop the name holds the last round's function: an earlier one's recursion reaches
it.  That is a bug when the function reached behaves differently (other defaults, other cell
values), and nothing when it is equivalent or when the recursion happens within the round.
"""

from __future__ import annotations

import json

import pytest

WALKERS = """
    import functools

    def walkers(steps):
        out = []
        for step in steps:
            def walk(n, step=step):  # its step is its own, but `walk` is the loop's
                return walk(n - 1) + step if n else 0
            out.append(walk)
        return out

    def walked_in_their_round(steps):
        totals = []
        for step in steps:
            def walk(n, step=step):
                return walk(n - 1) + step if n else 0
            totals.append(walk(3))
        return totals

    def alike(names):
        out = []
        for name in names:
            def countdown(n):  # every round's is the same function in all but identity
                return countdown(n - 1) if n else "done"
            out.append(countdown)
        return out

    def lambdas(steps):
        out = []
        for step in steps:
            f = lambda n, step=step: f(n - 1) + step if n else 0
            out.append(f)
        return out

    def cached(steps):
        out = []
        for step in steps:
            @functools.lru_cache(maxsize=None)
            def walk(n, step=step):
                return walk(n - 1) + step if n else 0
            out.append(walk)
        return out
"""

TESTS = """
    import walkers

    def test_walkers():
        assert [w(2) for w in walkers.walkers([1, 10])] == [2, 20]  # plain Python: [11, 20]

    def test_walked_in_their_round():
        assert walkers.walked_in_their_round([1, 10]) == [3, 30]

    def test_alike():
        assert [c(2) for c in walkers.alike("ab")] == ["done", "done"]

    def test_lambdas():
        assert [f(2) for f in walkers.lambdas([1, 10])] == [2, 20]

    def test_cached():
        assert [w(2) for w in walkers.cached([1, 10])] == [2, 20]
"""

BUGGY = {"test_walkers": "walk", "test_lambdas": "f", "test_cached": "walk"}
QUIET = {"test_walked_in_their_round", "test_alike"}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(walkers=WALKERS, test_walkers=TESTS)
    return pytester


def test_plain_python_shows_the_bugs(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(QUIET), failed=len(BUGGY))


def test_recursion_into_another_rounds_function_is_a_stale_read(project: pytest.Pytester) -> None:
    report = project.path / "r.json"
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-v", "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(passed=len(QUIET), failed=len(BUGGY))
    found: dict[str, tuple[str, list[str]]] = {}
    for finding in json.loads(report.read_text())["findings"]:
        for test in finding["tests"]:
            found[test.split("::")[1]] = (finding["variable"], finding["kinds"])
    assert {test: variable for test, (variable, _) in found.items()} == BUGGY
    assert all("stale-read" in kinds for _, kinds in found.values())
    result.stdout.fnmatch_lines(["*fix: bind the value when the closure is made, e.g. `a function that takes what "
                                 "it needs and returns the def (so its walk is its own)`"])
