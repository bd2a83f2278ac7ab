"""Pinned: functions of one site that reach each other by their own name, kept alive (issue 22).

A ``def`` in a loop that calls itself by its name reads a name the loop rebinds: after the
loop every round's function reaches the last one.  Kept alive to the end of a test, they
share that binding, which is a shared binding only if the functions differ (other defaults,
other cell values); functions alike in all but identity are none, as the recursion into
another round's function is no change then (``tests/test_own_name.py`` has the stale reads).
A mutation run found no test keeping such functions alive, so the judge's own-name rule was
never reached.  Each binding (one call of ``make``) is judged on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from .pinned_helpers import LatebindRun, marked_line, run_latebind_in, write_project

MODULE = """
    KEPT = []


    def make(ends):
        out = []
        for end in ends:
            def countdown(n, end=end):  # SITE:site
                return countdown(n - 1) if n else end
            out.append(countdown)
        KEPT.extend(out)
        return out
    """

# Each scenario is its own module (its own site: findings merge by site) and test: the calls
# of ``make``, each one binding of ``countdown``.
SCENARIOS = {
    "alike": "own.make([1, 1])",
    "differ": "own.make([1, 2])",
    "last_apart": "own.make([1, 1, 2])",
    "first_apart": "own.make([2, 1, 1])",
    "two_bindings": "own.make([1, 1])\n        own.make([3, 4])",
}

TESTS = """
    import pytest

    import own_{name} as own


    @pytest.fixture
    def kept():
        yield  # the plugin judges the test's call before this teardown: they are alive then
        own.KEPT.clear()


    def test_{name}(kept):
        {calls}
    """


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> LatebindRun:
    root = tmp_path_factory.mktemp("own")
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, calls in SCENARIOS.items():
        write_project(root, **{f"own_{name}": MODULE, f"test_own_{name}": TESTS.format(name=name, calls=calls)})
    return run_latebind_in(root)


def of(corpus: LatebindRun, name: str) -> list[dict[str, Any]]:
    """The findings of scenario ``name``: all at its site, of its test."""
    found = [f for f in corpus.findings if f["file"] == f"own_{name}.py"]
    assert all((f["line"], f["variable"], f["tests"]) == (marked_line(MODULE, "site"), "countdown",
                                                           [f"test_own_{name}.py::test_{name}"])
               for f in found), corpus.summary()
    return found


def test_functions_alike_in_all_but_identity_are_no_shared_binding(corpus: LatebindRun) -> None:
    assert of(corpus, "alike") == []
    assert corpus.outcome("test_own_alike.py::test_alike") == "passed"


def shared(finding: dict[str, Any]) -> tuple[list[str], int, int]:
    assert finding["kinds"] == ["shared-binding"]
    assert all(value.startswith("<function make.<locals>.countdown at 0x") for value in finding["created_with"])
    return finding["kinds"], len(finding["created_with"]), finding["closures"]


def test_functions_with_other_defaults_are_a_shared_binding(corpus: LatebindRun) -> None:
    [finding] = of(corpus, "differ")
    assert shared(finding) == (["shared-binding"], 2, 2)
    assert corpus.failed_by_latebind("test_own_differ.py::test_differ")


@pytest.mark.parametrize("name", ["last_apart", "first_apart"])
def test_one_function_apart_makes_the_whole_binding_shared(corpus: LatebindRun, name: str) -> None:
    # Alike means every function like the first, not some pair alike: [1, 1, 2] and [2, 1, 1]
    # both have one that behaves differently.
    [finding] = of(corpus, name)
    assert shared(finding) == (["shared-binding"], 3, 3)
    assert corpus.failed_by_latebind(f"test_own_{name}.py::test_{name}")


def test_an_alike_binding_does_not_hide_the_next_binding_of_its_site(corpus: LatebindRun) -> None:
    [finding] = of(corpus, "two_bindings")
    assert shared(finding) == (["shared-binding"], 2, 2)
    assert corpus.failed_by_latebind("test_own_two_bindings.py::test_two_bindings")
