"""``check(callables)``: cell inspection of any callbacks, instrumented or not."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import pytest_latebind
from pytest_latebind import LateBindingError
from pytest_latebind._cells import check
from pytest_latebind._recorder import RECORDER, Window

from .helpers import load

SOURCE = """
    import functools

    class Menu:
        def __init__(self, labels):
            self.clicked = []
            self.actions = []
            for label in labels:
                self.actions.append(lambda: self.clicked.append(label))

        def method(self):
            return 1

    def fallbacks(n, default):
        out = []
        for _ in range(n):
            value = default
            out.append(lambda: value)
        return out

    def wrapped(values):
        out = []
        for v in values:
            @functools.wraps(print)
            def handler():
                return v
            out.append(handler)
        return out

    module_level = [lambda: i for i in range(2)]
    for j in range(2):
        module_level.append(lambda: j)
"""


@pytest.fixture(params=["plain", "instrumented"])
def module(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with RECORDER.recording(Window("t::t") if request.param == "instrumented" else None):
        yield load(tmp_path, SOURCE, instrumented=request.param == "instrumented")


def test_shared_loop_variable_cell_but_not_self(module: Any) -> None:
    [finding] = check(module.Menu(["open", "save"]).actions)
    assert (finding.variable, finding.line, finding.closures) == ("label", 9, 2)
    assert finding.seen == "'save'"


def test_values_are_known_when_instrumented(tmp_path: Path) -> None:
    module = load(tmp_path, SOURCE)
    [finding] = check(module.Menu(["open", "save"]).actions)
    assert finding.created_with == ["'open'", "'save'"]
    # Identical values every round: harmless, and the instrumentation can tell.
    assert check(module.fallbacks(3, "x")) == []


def test_globals_of_a_module_level_loop(module: Any) -> None:
    findings = check(module.module_level)
    # i: the comprehension's cell; j: the module global the for loop rebinds.
    assert sorted(f.variable for f in findings) == ["i", "j"]


def test_wrappers_partials_and_methods_are_unwrapped(module: Any) -> None:
    [finding] = check(module.wrapped([1, 2]))
    assert finding.variable == "v"
    actions = module.Menu(["a", "b"]).actions
    [finding] = check([functools.partial(actions[0]), functools.partial(functools.partial(actions[1]))])
    assert finding.variable == "label"
    menu = module.Menu([])
    assert check([menu.method, module.Menu([]).method]) == []  # same function, no shared loop cell


def test_things_without_cells_are_accepted(module: Any) -> None:
    class Callable:
        def __call__(self) -> None:
            pass

    assert check([print, len, Callable(), Callable(), int, lambda: 1, lambda: 2]) == []
    assert check({"a": print}) == []


def test_mapping_values_are_checked(module: Any) -> None:
    actions = module.Menu(["a", "b"]).actions
    assert len(check({"first": actions[0], "second": actions[1]})) == 1


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(TypeError, match=r"item 1 is not callable: 42 \(int\)"):
        check([print, 42])
    with pytest.raises(TypeError, match=r"takes an iterable of callables, got .*function.*check\(\[callback\]\)"):
        check(print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of callables"):
        check(3)  # type: ignore[arg-type]


def test_code_without_source_is_a_clear_error() -> None:
    namespace: dict[str, Any] = {}
    exec("fs = []\ndef g():\n    for i in range(2):\n        fs.append(lambda: i)\ng()\n", namespace)
    with pytest.raises(LateBindingError, match="its source is not available"):
        check(namespace["fs"])


def test_public_check_raises(module: Any) -> None:
    with pytest.raises(LateBindingError, match="share the loop variable 'label'") as excinfo:
        pytest_latebind.check(module.Menu(["open", "save"]).actions)
    assert [f.variable for f in excinfo.value.findings] == ["label"]
    pytest_latebind.check([lambda: 1])
