"""Corners a mutation run found no test stating (issue 22): how far ``check()`` unwraps, what
its no-source error lists, which site a closure's code is matched to, and how findings merge.
"""

from __future__ import annotations

import functools
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

import pytest_latebind
from pytest_latebind._findings import Finding

from .helpers import load

SHARED = """
    def make(names):
        fs = []
        for name in names:
            fs.append(lambda: name)
        return fs

    def not_in_a_loop(x):
        return [f for f in [(lambda: x)] * 2]  # one closure twice: x is no loop variable

    def later(xs):
        fs = []
        for x in xs:
            fs.append(lambda: x)  # a site reading x, further down
        return fs
"""


def plain(tmp_path: Path) -> types.ModuleType:
    return load(tmp_path, textwrap.dedent(SHARED).lstrip("\n"), instrumented=False)


def wrapped(func: Any, levels: int) -> Any:
    """``func`` under ``levels`` functools.wraps wrappers."""
    for _ in range(levels):
        func = functools.wraps(func)(lambda *args, _inner=func: _inner(*args))
    return func


@pytest.mark.parametrize("levels", [0, 1, 20])
def test_check_unwraps_wrappers_up_to_twenty_deep(tmp_path: Path, levels: int) -> None:
    module = plain(tmp_path)
    with pytest.raises(pytest_latebind.LateBindingError, match=r"2 closures created at .* share the loop variable"):
        pytest_latebind.check([wrapped(f, levels) for f in module.make("ab")])


def test_check_stops_unwrapping_past_twenty(tmp_path: Path) -> None:
    module = plain(tmp_path)
    pytest_latebind.check([wrapped(f, 21) for f in module.make("ab")])  # not reached: the bound ends cycles


def test_check_of_a_wrapper_that_wraps_itself_ends(tmp_path: Path) -> None:
    module = plain(tmp_path)
    first, second = module.make("ab")

    def loop() -> None: ...

    loop.__wrapped__ = loop  # type: ignore[attr-defined]
    pytest_latebind.check([loop, loop])  # terminates, and there is nothing to find
    with pytest.raises(pytest_latebind.LateBindingError):
        pytest_latebind.check([first, second, loop])


def test_no_source_error_names_every_shared_variable() -> None:
    namespace: dict[str, Any] = {}
    source = "def make(pairs):\n    fs = []\n    for a, b in pairs:\n        fs.append(lambda: (a, b))\n    return fs\n"
    exec(compile(source, "<generated>", "exec"), namespace)
    with pytest.raises(pytest_latebind.LateBindingError) as raised:
        pytest_latebind.check(namespace["make"]([(1, 2), (3, 4)]))
    assert "the 2 closures given share 'a', 'b'. check() reads the source" in str(raised.value)


def test_a_closure_that_is_no_site_is_not_matched_to_a_later_site(tmp_path: Path) -> None:
    module = plain(tmp_path)
    pytest_latebind.check(module.not_in_a_loop(1))  # sharing x is the program's intent
    with pytest.raises(pytest_latebind.LateBindingError):
        pytest_latebind.check(module.later([1, 2]))


def finding(**changes: Any) -> Finding:
    base = Finding(file="m.py", line=3, column=9, variable="i", site_kind="lambda", site_name="<lambda>",
                   fix="lambda i=i: ...", created_with=["0"], seen="0")
    return base.copy(**changes)


def test_merging_takes_the_later_seen_value_unless_it_is_unknown() -> None:
    first = finding(seen="1")
    first.merge(finding(seen="2"))
    assert first.seen == "2"
    first.merge(finding(seen=None))
    assert first.seen == "2"


def test_merging_lists_each_value_and_test_once() -> None:
    first = finding(created_with=["'a'"], tests=["t::one"])
    first.merge(finding(created_with=["'b'", "'b'", "'a'"], tests=["t::two", "t::two"]))
    assert (first.created_with, first.tests) == (["'a'", "'b'"], ["t::one", "t::two"])
