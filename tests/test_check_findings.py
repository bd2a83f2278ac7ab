"""The whole finding ``check()`` builds, field by field (issue 22: a mutation run found fields no
test stated): what is known of closures that were not instrumented (no values, no stale reads,
no stack, no tests), what the instrumentation adds (the values), and which binding's value is
read now.  ``check()`` runs in this process; its findings are the ones a test would see raised.
"""

from __future__ import annotations

import functools
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from pytest_latebind._cells import check
from pytest_latebind._findings import Finding
from pytest_latebind._recorder import RECORDER, Window

from .helpers import load

SOURCE = """
    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)
        return fs

    def pairs(items):
        fs = []
        for a, b in items:
            fs.append(lambda: (a, b))
        return fs

    HANDLERS = []
    for i in range(3):
        HANDLERS.append(lambda: i)
"""

LAMBDA_LINE = 4  # "fs.append(lambda: name)", its lambda at column 19


def plain(tmp_path: Path) -> types.ModuleType:
    return load(tmp_path, textwrap.dedent(SOURCE).lstrip("\n"), instrumented=False)


def fields(finding: Finding) -> dict[str, Any]:
    """Everything but the file (a temporary path) and the fix hint (its own tests)."""
    data = finding.to_dict()
    del data["file"], data["fix"]
    return data


def test_uninstrumented_closures_give_a_finding_without_values_or_reads(tmp_path: Path) -> None:
    module = plain(tmp_path)
    [finding] = check(module.make(["a", "b", "c"]))
    assert fields(finding) == {
        "line": LAMBDA_LINE, "column": 19, "variable": "name", "site_kind": "lambda", "site_name": "<lambda>",
        "kinds": ["shared-binding"], "created_with": [], "more_values": False, "made_with": None, "thread": None,
        "seen": "'c'", "closures": 3, "stale_reads": 0, "tests": [], "stack": [], "outside_tests": False,
        "qualname": "make.<locals>.<lambda>",
    }
    assert finding.file == module.__file__


def test_each_variable_of_a_closure_is_its_own_finding(tmp_path: Path) -> None:
    module = plain(tmp_path)
    found = check(module.pairs([(1, 2), (3, 4)]))
    assert [(f.variable, f.seen, f.closures, f.created_with) for f in found] == [("a", "3", 2, []), ("b", "4", 2, [])]


def test_a_module_level_loop_variable_is_read_from_the_closures_globals(tmp_path: Path) -> None:
    module = plain(tmp_path)
    [finding] = check(module.HANDLERS)
    assert (finding.variable, finding.seen, finding.closures) == ("i", "2", 3)
    module.i = "later"
    [finding] = check(module.HANDLERS)
    assert finding.seen == "'later'"
    # Siblings made on other globals (the same code): the first callable's globals are read.
    elsewhere = types.FunctionType(module.HANDLERS[0].__code__, {"i": "elsewhere"})
    [finding] = check([module.HANDLERS[0], elsewhere])
    assert (finding.seen, finding.closures) == ("'later'", 2)
    [finding] = check([elsewhere, module.HANDLERS[0]])
    assert finding.seen == "'elsewhere'"


def test_two_bindings_of_one_site_are_two_findings_each_with_its_count(tmp_path: Path) -> None:
    module = plain(tmp_path)
    first, second = module.make("ab"), module.make("xyz")
    found = check([*first, *second])
    assert [(f.seen, f.closures) for f in found] == [("'b'", 2), ("'z'", 3)]
    assert check([first[0], second[0]]) == []  # one closure on each binding: nothing shared


def test_the_same_callable_twice_is_one_closure(tmp_path: Path) -> None:
    module = plain(tmp_path)
    first, second = module.make("ab")
    assert check([first, first, functools.partial(first)]) == []
    [finding] = check([first, first, second])
    assert finding.closures == 2


@pytest.fixture
def instrumented(tmp_path: Path) -> Any:
    with RECORDER.recording(Window("t::t")):
        yield load(tmp_path, textwrap.dedent(SOURCE).lstrip("\n"), instrumented=True)


def test_instrumented_closures_give_their_values_and_nothing_else(instrumented: Any) -> None:
    [finding] = check(instrumented.make(["a", "b", "c"]))
    assert fields(finding) == {
        "line": LAMBDA_LINE, "column": 19, "variable": "name", "site_kind": "lambda", "site_name": "<lambda>",
        "kinds": ["shared-binding"], "created_with": ["'a'", "'b'", "'c'"], "more_values": False,
        "made_with": None, "thread": None, "seen": "'c'", "closures": 3, "stale_reads": 0, "tests": [],
        "stack": [], "outside_tests": False, "qualname": "make.<locals>.<lambda>",
    }


def test_instrumented_closures_of_two_bindings_are_two_findings(instrumented: Any) -> None:
    first, second = instrumented.make("ab"), instrumented.make("xyz")
    found = check([*first, *second])
    assert [(f.created_with, f.seen, f.closures) for f in found] == [
        (["'a'", "'b'"], "'b'", 2), (["'x'", "'y'", "'z'"], "'z'", 3)]
    assert check([first[0], second[0]]) == []


def test_instrumented_closures_made_with_one_value_are_no_finding(instrumented: Any) -> None:
    assert check(instrumented.make(["a", "a"])) == []
    [finding] = check(instrumented.make(["a", "a", "b"]))
    assert (finding.created_with, finding.closures) == (["'a'", "'b'"], 3)
