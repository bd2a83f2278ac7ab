"""End to end: ``latebind.check(callables)``, the fixture's way to inspect callbacks directly.

The API cases run as one inner test suite without ``--latebind`` (check() needs no
instrumentation); how check() plays with ``--latebind`` and the JSON report is tested apart.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import pytest_latebind
from pytest_latebind import LateBindingError

from .helpers import report_findings

CALLBACKS = """
import functools


def lambdas(n=3):
    return [lambda: i for i in range(n)]  # line 5


def functions(names):
    out = []
    for name in names:
        def greet():  # line 11
            return "hi " + name
        out.append(greet)
    return out


class Widget:
    def __init__(self, label):
        self.label = label

    def click(self):
        return self.label

    def __call__(self):
        return self.label


def methods_made_in_loop(widget, n):
    out = []
    for i in range(n):
        def method(self):  # line 31
            return (self.label, i)
        out.append(method.__get__(widget))
    return out


def partials(n):
    return [functools.partial(lambda x: x + i, 1) for i in range(n)]  # line 38


def show(i):
    return i


def fixed(n):
    return [lambda i=i: i for i in range(n)] + [functools.partial(show, i) for i in range(n)]


HANDLERS = {}
for event in ("created", "deleted"):
    HANDLERS[event] = lambda payload: (event, payload)  # line 51


def same_value(n):
    out = []
    for _ in range(n):
        prefix = "log:"
        out.append(lambda msg: prefix + msg)  # line 58
    return out
"""

CHECK_TESTS = """
import functools

import pytest

import callbacks
from pytest_latebind import LateBindingError


def test_error_is_late_binding_error(latebind):
    assert latebind.error is LateBindingError


def test_lambdas(latebind):
    with pytest.raises(latebind.error) as info:
        latebind.check(callbacks.lambdas())
    message = str(info.value)
    assert message.startswith("3 closures created at callbacks.py:5 share the loop variable 'i'")
    assert "fix: bind the value when the closure is made, e.g. `lambda i=i: ...`" in message
    (finding,) = info.value.findings
    assert (finding.line, finding.variable, finding.closures) == (5, "i", 3)


def test_functions(latebind):
    with pytest.raises(latebind.error, match="2 closures created at callbacks.py:11 share the loop variable 'name'"):
        latebind.check(callbacks.functions(["a", "b"]))


def test_dict_values(latebind):
    funcs = callbacks.functions(["a", "b"])
    with pytest.raises(latebind.error, match="callbacks.py:11 share the loop variable 'name'"):
        latebind.check({"first": funcs[0], "second": funcs[1]})


def test_bound_methods_of_a_plain_class(latebind):
    # One function, many instances: self differs, but self is no loop variable.
    latebind.check([callbacks.Widget(label).click for label in "abc"])


def test_bound_methods_made_in_a_loop(latebind):
    with pytest.raises(latebind.error, match="callbacks.py:31 share the loop variable 'i'"):
        latebind.check(callbacks.methods_made_in_loop(callbacks.Widget("w"), 2))


def test_partials_are_unwrapped(latebind):
    with pytest.raises(latebind.error, match="callbacks.py:38 share the loop variable 'i'"):
        latebind.check(callbacks.partials(2))


def test_fixed_closures_pass(latebind):
    latebind.check(callbacks.fixed(3))


def test_callable_objects_builtins_and_classes_pass(latebind):
    latebind.check([callbacks.Widget("a"), callbacks.Widget("b"), len, print, dict, str.upper,
                    functools.partial(print, 1)])


def test_mixed_with_one_bad_pair(latebind):
    with pytest.raises(latebind.error, match="callbacks.py:5"):
        latebind.check([len, callbacks.Widget("x"), *callbacks.lambdas(2), *callbacks.fixed(2)])


def test_single_closure_passes(latebind):
    latebind.check(callbacks.lambdas(1))


def test_module_level_loop(latebind):
    with pytest.raises(latebind.error) as info:
        latebind.check(callbacks.HANDLERS)
    assert str(info.value).startswith("2 closures created at callbacks.py:51 share the loop variable 'event'")


def test_not_callable_item(latebind):
    with pytest.raises(TypeError, match=r"item 1 is not callable: 3 \\(int\\)"):
        latebind.check([len, 3])


def test_not_callable_value_in_dict(latebind):
    with pytest.raises(TypeError, match=r"item 1 is not callable: 'text' \\(str\\)"):
        latebind.check({"a": len, "b": "text"})


def test_a_single_callable_is_not_an_iterable(latebind):
    with pytest.raises(TypeError, match="iterable of callables"):
        latebind.check(len)


def test_generator_of_callables(latebind):
    with pytest.raises(latebind.error):
        latebind.check(f for f in callbacks.lambdas())
"""

CHECK_CASES = [
    "test_error_is_late_binding_error", "test_lambdas", "test_functions", "test_dict_values",
    "test_bound_methods_of_a_plain_class", "test_bound_methods_made_in_a_loop", "test_partials_are_unwrapped",
    "test_fixed_closures_pass", "test_callable_objects_builtins_and_classes_pass", "test_mixed_with_one_bad_pair",
    "test_single_closure_passes", "test_module_level_loop", "test_not_callable_item",
    "test_not_callable_value_in_dict", "test_a_single_callable_is_not_an_iterable", "test_generator_of_callables",
]


@pytest.fixture(scope="module")
def check_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("check")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "callbacks.py").write_text(CALLBACKS.lstrip("\n"))
    (root / "test_check.py").write_text(CHECK_TESTS.lstrip("\n"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--junitxml=junit.xml"],
                          cwd=root, capture_output=True, text=True, timeout=300)
    outcomes = {}
    for case in ET.parse(root / "junit.xml").getroot().iter("testcase"):
        element = next((e for e in case if e.tag in ("failure", "error", "skipped")), None)
        outcomes[case.get("name", "")] = "passed" if element is None else f"{element.tag}: {element.text}"
    outcomes["<output>"] = proc.stdout + proc.stderr
    return outcomes


@pytest.mark.parametrize("case", CHECK_CASES)
def test_check_without_latebind(check_run: dict[str, str], case: str) -> None:
    assert case in check_run, check_run["<output>"][-3000:]
    assert check_run[case] == "passed"


def test_check_outside_pytest() -> None:
    # The same function, for scripts: pytest_latebind.check() reads this file's source.
    funcs = []
    for i in range(2):
        funcs.append(lambda: i)
    with pytest.raises(LateBindingError, match="share the loop variable 'i'"):
        pytest_latebind.check(funcs)
    pytest_latebind.check([functools.partial(int, "1"), len])


CAUGHT_TEST = """
import pytest

import callbacks


def test_caught(latebind):
    with pytest.raises(latebind.error):
        latebind.check(callbacks.lambdas())


def test_uncaught(latebind):
    latebind.check(callbacks.functions(["a", "b"]))
"""


@pytest.mark.parametrize("flag", [[], ["--latebind"]], ids=["plain", "latebind"])
def test_check_findings_go_into_the_report(pytester: pytest.Pytester, flag: list[str]) -> None:
    # The closures die inside the helpers, so only check() can have seen them.
    pytester.makepyfile(callbacks=CALLBACKS.lstrip("\n"), test_caught=CAUGHT_TEST)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *flag, f"--latebind-report={report}", "-rA",
                                           timeout=300)
    # With --latebind, HANDLERS (made at import time) also fails the session: latebind::import-time.
    result.assert_outcomes(passed=1, failed=2 if flag else 1)
    result.stdout.fnmatch_lines(["FAILED test_caught.py::test_uncaught - *LateBindingError*"])
    result.stdout.fnmatch_lines(["*LateBindingError: 2 closures created at callbacks.py:11 share the loop variable "
                                 "'name'"])
    got = sorted((f["file"], f["line"], f["variable"], tuple(f["tests"]))  # type: ignore[arg-type]
                 for f in report_findings(report) if f["line"] != 51)  # 51: HANDLERS, made at import time
    assert got == [("callbacks.py", 5, "i", ("test_caught.py::test_caught",)),
                   ("callbacks.py", 11, "name", ("test_caught.py::test_uncaught",))]


def test_caught_check_error_does_not_fail_the_test_under_latebind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(callbacks=CALLBACKS.lstrip("\n"), test_caught="""
        import pytest

        import callbacks


        def test_expects_the_error(latebind):
            with pytest.raises(latebind.error):
                latebind.check(callbacks.lambdas())
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", "--latebind-test-modules=no",
                                           timeout=300)
    # The test asked for the error and got it: reporting the finding is right, failing the
    # test a second time for it is not. (The failure: CALLBACKS' HANDLERS, made at import time,
    # fails the session as latebind::import-time.)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED latebind::import-time *"])


def test_identical_values_are_no_finding_with_latebind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(callbacks=CALLBACKS.lstrip("\n"), test_same="""
        import callbacks

        def test_same(latebind):
            latebind.check(callbacks.same_value(3))  # instrumented: made with one value
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", timeout=300)
    result.assert_outcomes(passed=1, failed=1)  # the failure: HANDLERS, at import time (latebind::import-time)
    result.stdout.fnmatch_lines(["FAILED latebind::import-time *"])


def test_check_message_without_instrumentation_is_well_formed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(callbacks=CALLBACKS.lstrip("\n"), test_msg="""
        import callbacks

        def test_msg(latebind):
            latebind.check(callbacks.lambdas())
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   *LateBindingError: 3 closures created at callbacks.py:5 share the loop "
                                 "variable 'i'"])
    # Without instrumentation the creation values are unknown: say so, not "i=;".
    result.stdout.no_fnmatch_line("*created with i=;*")
    result.stdout.fnmatch_lines(["E  *now see i=2*"])


def test_a_bad_argument_fails_at_the_users_line(pytester: pytest.Pytester) -> None:
    # The TypeError names what was wrong; its traceback is the user's call, not our frames.
    pytester.makepyfile(test_bad="""
        def test_bad(latebind):
            latebind.check([len, 3])
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*latebind.check([[]len, 3[]])*", "E   *TypeError: latebind.check(): item 1 is "
                                 "not callable: 3 (int)*"])
    assert "_cells.py" not in result.stdout.str() and "_fixture.py" not in result.stdout.str()
