"""``latebind.assert_distinct()``: Hypothesis confirms that a factory's callbacks behave apart.

The first half calls the fixture's object in this process (fast, and the errors can be
inspected); the second runs real pytest sessions with ``pytester`` for what only a run
shows: the failure text, the JSON report, the example database across runs, settings
profiles, ``derandomize``, statistics, and a call from inside ``@given``.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from pytest_latebind import LateBindingError
from pytest_latebind._fixture import Latebind

# No database (nothing written to the working directory) and no deadline (a loaded CI
# machine must not turn a slow example into a failure); everything else is the default.
QUIET = settings(database=None, deadline=None)


def confirm(factory: Any, **kwargs: Any) -> None:
    kwargs.setdefault("settings", QUIET)
    Latebind().assert_distinct(factory, **kwargs)


def failure(factory: Any, **kwargs: Any) -> str:
    with pytest.raises(LateBindingError) as excinfo:
        confirm(factory, **kwargs)
    return str(excinfo.value)


# -- factories: each makes one callback per loop value -------------------------------------

def buggy(values: Any) -> list[Any]:
    out = []
    for v in values:
        out.append(lambda x: x * v)  # BUGGY
    return out


def fixed(values: Any) -> list[Any]:
    out = []
    for v in values:
        out.append(lambda x, v=v: x * v)
    return out


def buggy_from_three(values: Any) -> list[Any]:
    """Correct for two values, late-binding from three on: the smallest failure is len 3."""
    values = list(values)
    if len(values) < 3:
        return [lambda x, v=v: x * v for v in values]
    out = []
    for v in values:
        out.append(lambda x: x * v)
    return out


def buggy_line() -> int:
    lines, first = inspect.getsourcelines(buggy)
    return first + next(k for k, text in enumerate(lines) if "# BUGGY" in text)


# -- the failure and its message -------------------------------------------------------

def test_buggy_factory_fails_with_the_smallest_loop_and_the_shared_variable() -> None:
    text = failure(buggy, args=(10,))
    first, second = text.splitlines()[:2]
    assert first == "callbacks 0 and 1 of buggy(range(0, 2)) both returned 10 for (10,)"
    assert second.startswith(f"  they share the loop variable 'v' created at {__file__}:{buggy_line()} ")
    # "created with" only when this module is instrumented (the suite's own run may do so).
    assert second.endswith(("(now v=1)", "(created with v=0, 1; now v=1)"))
    assert "fix: bind the value when the closure is made, e.g. `lambda x, v=v: ...`" in text


def test_the_error_carries_check_findings() -> None:
    with pytest.raises(LateBindingError) as excinfo:
        confirm(buggy, args=(10,))
    [finding] = excinfo.value.findings
    assert (finding.file, finding.line, finding.variable) == (__file__, buggy_line(), "v")


def test_shrinks_to_the_smallest_failing_length() -> None:
    text = failure(buggy_from_three, args=(1,))
    assert text.startswith("callbacks 0 and 1 of buggy_from_three(range(0, 3)) both returned 2 for (1,)")


def test_findings_go_to_the_report_callback() -> None:
    reported: list[Any] = []
    with pytest.raises(LateBindingError):
        Latebind(report=reported.extend).assert_distinct(buggy, args=(3,), settings=QUIET)
    assert [(f.line, f.variable) for f in reported] == [(buggy_line(), "v")]


def test_fixed_factory_passes_and_reports_nothing() -> None:
    reported: list[Any] = []
    Latebind(report=reported.extend).assert_distinct(fixed, args=(10,), settings=QUIET)
    assert reported == []


def test_rootdir_makes_paths_relative_and_values_can_be_hidden() -> None:
    latebind = Latebind(rootdir=os.path.dirname(__file__), show_values=False)
    with pytest.raises(LateBindingError) as excinfo:
        latebind.assert_distinct(buggy, args=(10,), settings=QUIET)
    second = str(excinfo.value).splitlines()[1]
    assert second == f"  they share the loop variable 'v' created at test_distinct.py:{buggy_line()}"


def test_agreement_without_a_shared_variable_says_so() -> None:
    text = failure(lambda values: [lambda v=v: v // 2 for v in values])
    assert text.splitlines()[0].endswith("(range(0, 2)) both returned 0")
    assert "latebind.check() finds no loop variable they share" in text


# -- what the factory may return, and how results are compared ----------------------------

@pytest.mark.parametrize("shape", [list, tuple, iter, lambda cbs: dict(enumerate(cbs))])
def test_any_iterable_or_a_dict_of_callbacks(shape: Any) -> None:
    confirm(lambda values: shape(fixed(values)), args=(10,))
    text = failure(lambda values: shape(buggy(values)), args=(10,))
    assert "both returned 10 for (10,)" in text


def test_a_generator_factory() -> None:
    calls: list[Any] = []

    def generate(values: Any) -> Any:
        for v in values:
            yield lambda v=v: calls.append(v) or v

    confirm(generate)
    assert calls, "the generator's callbacks were called"

    def generate_late(values: Any) -> Any:
        for v in values:
            yield lambda: v  # all read the last value once the generator is read to its end

    text = failure(generate_late)
    assert text.startswith("callbacks 0 and 1 of ") and "they share the loop variable 'v'" in text


def test_unhashable_results_are_compared_by_equality() -> None:
    confirm(lambda values: [lambda v=v: [v, {"v": v}] for v in values])
    text = failure(lambda values: [lambda v=v: [v % 2] for v in values])
    # Equal results need two values of one parity: the smallest such range has step 2.
    assert text.splitlines()[0] == ("callbacks 0 and 1 of test_unhashable_results_are_compared_by_"
                                    "equality.<locals>.<lambda>(range(0, 4, 2)) both returned [0]")


class Incomparable:
    """Hashable alike, and == raises: as unhelpful as a NumPy array."""

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        raise ValueError("the truth value of an array is ambiguous")


def test_results_that_cannot_be_compared_ask_for_a_key() -> None:
    with pytest.raises(TypeError, match=r"cannot tell whether the results of callbacks 0 and 1 .* "
                                        r"\(ValueError: the truth value .*\); pass key="):
        confirm(lambda values: [lambda: Incomparable() for _ in values])
    confirm(lambda values: [lambda v=v: Incomparable() for v in values], key=lambda r: id(r))


class Elementwise:
    """What == between two arrays gives: one answer per element, and no truth value."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers

    def __bool__(self) -> bool:
        raise ValueError("The truth value of an array with more than one element is ambiguous")

    def __repr__(self) -> str:
        return f"Elementwise({self.answers})"


class Array:
    """As unhelpful as a NumPy array: unhashable, and == answers element by element."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, *items: int) -> None:
        self.items = list(items)

    def __eq__(self, other: object) -> Any:
        assert isinstance(other, Array)
        return Elementwise([a == b for a, b in zip(self.items, other.items, strict=True)])

    def __repr__(self) -> str:
        return f"Array({self.items})"


class ListEq(Array):
    """Hashable, and == returns a list: truthy even when no element is equal."""

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> Any:
        assert isinstance(other, Array)
        return [a == b for a, b in zip(self.items, other.items, strict=True)]


class Scalar:
    """A 0-d truth value, as numpy.bool_ is: not a bool, yet one answer."""

    shape = ()

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value


class ScalarEq:
    def __init__(self, value: int) -> None:
        self.value = value

    def __hash__(self) -> int:
        return 0  # every comparison is made

    def __eq__(self, other: object) -> Any:
        return Scalar(isinstance(other, ScalarEq) and other.value == self.value)


def array_buggy(values: Any) -> list[Any]:
    out = []
    for v in values:
        out.append(lambda: Array(v, 0))  # BUGGY
    return out


def array_fixed(values: Any) -> list[Any]:
    return [lambda v=v: Array(v, 0) for v in values]


@pytest.mark.parametrize("factory", [array_buggy, array_fixed])
def test_array_like_results_are_a_clear_error_that_asks_for_a_key(factory: Any) -> None:
    # Buggy or not, == gives no verdict: the error says so and what to pass.
    with pytest.raises(TypeError) as excinfo:
        confirm(factory)
    message = str(excinfo.value)
    assert message.startswith("latebind.assert_distinct(): cannot tell whether the results of "
                              f"callbacks 0 and 1 of {factory.__name__}(range(0, 2)) are equal: "
                              "`==` between them returned Elementwise([")
    assert "not True or False, as NumPy arrays and other array-like objects do" in message
    assert "Pass key= a function that maps each result to a value that == compares with one " \
           "answer, e.g. key=lambda a: a.tolist()" in message


class Secretive:
    """An == that raises with a value in its text, and one that answers element-wise."""

    def __init__(self, raises: bool) -> None:
        self.raises = raises

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> Any:
        if self.raises:
            raise ValueError("sk-SECRET-444 is not comparable")
        return Elementwise(["sk-SECRET-555"])  # type: ignore[list-item]  # its repr shows it

    def __repr__(self) -> str:
        return "Secretive('sk-SECRET-555')"


@pytest.mark.parametrize("raises", [True, False])
def test_cannot_tell_equal_shows_no_value_when_values_are_hidden(raises: bool) -> None:
    for show in (True, False):
        with pytest.raises(TypeError) as excinfo:
            Latebind(show_values=show).assert_distinct(
                lambda values: [lambda: Secretive(raises) for _ in values], settings=QUIET)
        message = str(excinfo.value)
        assert "cannot tell whether the results of callbacks 0 and 1" in message
        assert ("SECRET" in message) is show, message
        if not show:
            assert "<hidden>" in message


def test_array_like_results_with_a_key() -> None:
    confirm(array_fixed, key=lambda a: a.items)
    text = failure(array_buggy, key=lambda a: a.items)
    assert text.splitlines()[0] == ("callbacks 0 and 1 of array_buggy(range(0, 2)) both returned "
                                    "Array([1, 0]), both of key [1, 0]")
    assert "they share the loop variable 'v'" in text


def test_a_truthy_non_bool_from_eq_is_not_taken_for_equal() -> None:
    # A dict would take the truthy list [False, True] for "equal" and report a false bug.
    with pytest.raises(TypeError, match=r"`==` between them returned \[False, True\] \(list\), not "
                                        r"True or False.*pass key=|Pass key="):
        confirm(lambda values: [lambda v=v: ListEq(v, 0) for v in values])


def test_a_scalar_truth_value_from_eq_is_a_verdict() -> None:
    # numpy.bool_ is not a bool, but is one answer (shape ()): it decides, both ways.
    confirm(lambda values: [lambda v=v: ScalarEq(v) for v in values])
    text = failure(lambda values: [lambda v=v: ScalarEq(v // 2) for v in values])
    assert re.match(r"callbacks 0 and 1 of .*\(range\(0, 2\)\) returned <ScalarEq object at .*> and "
                    r"<ScalarEq object at .*>$", text.splitlines()[0])


def test_expected_returning_an_array_like_is_a_clear_error() -> None:
    with pytest.raises(TypeError) as excinfo:
        confirm(array_fixed, expected=lambda k, v, r: r == Array(v, 0))
    message = str(excinfo.value)
    assert re.match(r"latebind\.assert_distinct\(\): expected\(0, \S+, Array\(\[\S+, 0\]\)\), for "
                    r"callback 0 of array_fixed\(range\(.*\)\), returned Elementwise\(\[True, True\]\) "
                    r"\(Elementwise\), whose truth value cannot be read \(ValueError: The truth value", message)
    assert message.endswith("expected= must return true or false (or fail an assert), e.g. "
                            "`(result == want).all()` for an array")
    # Its fix: one truth value.
    confirm(array_fixed, expected=lambda k, v, r: r.items == [v, 0])


def test_key_compares_what_it_returns() -> None:
    factory = functools.partial(lambda values, suffix: [lambda v=v: f"{v}{suffix}" for v in values],
                                suffix="ms")
    confirm(factory)
    text = failure(factory, key=len)
    assert "returned '0ms' and '1ms', both of key 3" in text


def test_kwargs_reach_every_callback() -> None:
    confirm(lambda values: [lambda *, scale, v=v: scale * v for v in values], kwargs={"scale": 3})
    text = failure(buggy, args=(), kwargs={"x": 5})
    assert "both returned 5 for (x=5)" in text


def test_expected_states_each_result() -> None:
    confirm(fixed, args=(10,), expected=lambda k, v, r: r == 10 * v)
    text = failure(lambda values: [lambda x, v=v: x * abs(v) for v in values], args=(10,),
                   expected=lambda k, v, r: r == 10 * v)
    # The smallest failing loop has one negative value: range(-1, 1) or range(0, -2, -1).
    assert re.fullmatch(r"callback (0|1) of test_expected_states_each_result\.<locals>\.<lambda>"
                        r"\(range\(\S+, \S+(, -1)?\)\) returned 10 for \(10,\), but "
                        r"expected\((0|1), -1, 10\) is False", text.splitlines()[0])


def test_expected_may_assert_and_none_passes() -> None:
    def expected(index: int, value: int, result: int) -> None:
        assert result == value * 10, f"callback {index} is off"

    confirm(fixed, args=(10,), expected=expected)
    text = failure(buggy, args=(10,), expected=expected)
    assert text.splitlines()[0].endswith("but expected(0, 0, 10) failed: callback 0 is off")
    assert "they share the loop variable 'v'" in text


def test_expected_allows_a_single_value() -> None:
    seen: list[int] = []
    confirm(lambda values: [seen.append(len(values)) or (lambda v=v: v) for v in values],
            min_size=1, max_size=1, expected=lambda k, v, r: r == v)
    assert set(seen) == {1}


def test_expected_with_a_single_callback_needs_no_min_size() -> None:
    # With expected=, min_size defaults to 1: max_size=1 alone means one callback per loop.
    seen: set[int] = set()
    confirm(lambda values: [seen.add(len(values)) or (lambda x, v=v: x * v) for v in values],
            args=(10,), max_size=1, expected=lambda k, v, r: r == 10 * v)
    assert seen == {1}
    text = failure(lambda values: [lambda x, v=v: x * (v + 1) for v in values], args=(10,),
                   max_size=1, expected=lambda k, v, r: r == 10 * v)
    assert re.fullmatch(r"callback 0 of .*\(range\(0, 1\)\) returned 10 for \(10,\), but "
                        r"expected\(0, 0, 10\) is False", text.splitlines()[0])
    # Without expected=, one callback says nothing: min_size stays at least 2.
    with pytest.raises(InvalidArgument, match=r"max_size=1: needs None or an int of at least min_size \(2\)"):
        confirm(fixed, args=(1,), max_size=1)


def scaled(values: Any) -> list[Any]:
    return [lambda x, i=i: x * i for i in values]


@pytest.mark.parametrize(("args", "kwargs", "passed"), [
    ((10,), {"i": 3}, "args=(10,) and kwargs={'i': 3}"),
    ((10, 3), {}, "args=(10, 3)"),
])
def test_args_that_replace_the_defaults_that_tell_callbacks_apart(args: Any, kwargs: Any, passed: str) -> None:
    with pytest.raises(TypeError) as excinfo:
        confirm(scaled, args=args, kwargs=kwargs)
    message = str(excinfo.value)
    assert message.startswith(f"latebind.assert_distinct(): {passed} give every callback of "
                              "scaled(range(0, 2)) its i, replacing the default value each callback "
                              "was made with (i=0, 1); the callbacks then all compute with the same i")
    assert message.endswith("Pass args= and kwargs= only for the parameters the callbacks take "
                            "without a default; to try other values of i, change the loop's values "
                            "(values=)")
    confirm(scaled, args=(10,))  # the correct call of the same, correct factory


def test_args_that_replace_a_default_with_expected() -> None:
    with pytest.raises(TypeError, match=r"kwargs=\{'i': 3\} give every callback of scaled\(range\(0, 1\)\) "
                                        r"its i, replacing the default value each callback was made with \(i=0\)"):
        confirm(scaled, args=(10,), kwargs={"i": 3}, max_size=1, expected=lambda k, v, r: r == 10 * v)


def test_replacing_a_default_that_all_callbacks_share_is_fine() -> None:
    # scale= has one default for all: passing it is an ordinary argument, both ways.
    confirm(lambda values: [lambda x, scale=1, v=v: x * v * scale for v in values],
            args=(10,), kwargs={"scale": 3})
    text = failure(buggy_scaled, args=(10,), kwargs={"scale": 3})
    assert text.splitlines()[0] == "callbacks 0 and 1 of buggy_scaled(range(0, 2)) both returned 30 for (10, scale=3)"
    assert "they share the loop variable 'v'" in text


def buggy_scaled(values: Any) -> list[Any]:
    out = []
    for v in values:
        out.append(lambda x, scale=1: x * v * scale)
    return out


def test_values_strategy_draws_distinct_elements() -> None:
    drawn: list[list[str]] = []

    def greeters(names: list[str]) -> list[Any]:
        drawn.append(list(names))
        return [lambda name=name: f"hello {name}" for name in names]

    confirm(greeters, values=st.text(max_size=3), max_size=4)
    assert drawn and all(2 <= len(names) <= 4 and len(set(names)) == len(names) for names in drawn)
    text = failure(lambda names: [lambda: "hi" for _ in names], values=st.text())
    assert "(['', '0']) both returned 'hi'" in text


def test_max_size_bounds_the_loops() -> None:
    sizes: set[int] = set()
    confirm(lambda values: sizes.add(len(values)) or fixed(values), args=(1,), min_size=3, max_size=4)
    assert sizes <= {3, 4} and sizes


# -- bad input: each error names the problem ------------------------------------------------

def test_factory_exception_is_raised_as_the_users_own_with_a_note() -> None:
    def factory(values: Any) -> list[Any]:
        for v in values:
            if v < 0:
                raise ValueError(f"negative id {v}")
        return fixed(values)

    with pytest.raises(ValueError, match="negative id") as excinfo:
        confirm(factory, args=(1,))
    notes = excinfo.value.__notes__
    assert any(n.startswith("raised by ") and ".factory(range(" in n for n in notes)
    # The innermost frame is the user's raise, and pytest shows none of ours.
    shown = excinfo.traceback.filter(excinfo)
    assert shown[-1].name == "factory"
    assert [entry.name for entry in shown if entry.path.name == "_distinct.py"] == []


def test_callback_exception_is_the_users_own_with_a_note() -> None:
    with pytest.raises(ZeroDivisionError) as excinfo:
        confirm(lambda values: [lambda x, v=v: x / v for v in values], args=(1,))
    assert any("raised by callback 0 of " in note and "called with (1,)" in note
               for note in excinfo.value.__notes__)


@pytest.mark.parametrize(("factory", "error", "message"), [
    (lambda values: None, TypeError, r"returned None, not the callbacks.*`return` missing"),
    (lambda values: (lambda: 1), TypeError, r"returned <function .* not an iterable of callbacks"),
    (lambda values: "ab", TypeError, r"returned 'ab' \(str\), not an iterable of callbacks"),
    (lambda values: [1, 2], TypeError, r"item 0 of what .* returned is 1 \(int\), not callable"),
    (lambda values: [lambda: 1], ValueError, r"returned 1 callback\(s\) for 2 loop values"),
])
def test_bad_factories(factory: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        confirm(factory)


def test_more_callbacks_than_values_are_compared_but_expected_needs_one_each() -> None:
    confirm(lambda values: [*fixed(values), lambda x: "extra"], args=(1,))
    with pytest.raises(ValueError, match="expected= pairs callback k with value k"):
        confirm(lambda values: [*fixed(values), lambda x: "extra"], args=(1,), expected=lambda *a: True)


def test_args_that_do_not_fit() -> None:
    with pytest.raises(TypeError) as excinfo:
        confirm(lambda values: [lambda x, y, v=v: v for v in values], args=(1,))
    message = str(excinfo.value)
    assert message.startswith("latebind.assert_distinct(): args=(1,) do not fit callback 0 of ")
    assert "missing a required argument: 'y'" in message


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"args": 10}, r"args= takes a tuple .* got 10 \(int\); e\.g\. args=\(10,\)"),
    ({"kwargs": [1]}, r"kwargs= takes a dict"),
    ({"values": [1, 2]}, r"values= takes a Hypothesis strategy"),
    ({"key": "len"}, r"key= takes a function"),
    ({"min_size": 1}, r"min_size=1: needs an int of at least 2"),
    ({"max_size": 1}, r"max_size=1: needs None or an int of at least min_size"),
    ({"settings": {"max_examples": 5}}, r"settings= takes a hypothesis.settings object"),
])
def test_bad_arguments_are_invalid_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        confirm(fixed, **kwargs)


def test_a_factory_that_is_not_callable() -> None:
    with pytest.raises(InvalidArgument, match=r"the factory must be a callable .* got \[1\] \(list\)"):
        confirm([1])


def test_inside_given_one_loop_is_drawn_per_example() -> None:
    loops: list[Any] = []

    @settings(database=None, deadline=None, max_examples=20)
    @given(st.integers(1, 9))
    def outer(n: int) -> None:
        Latebind().assert_distinct(lambda values: loops.append(values) or fixed(values), args=(n,))

    outer()
    assert len(loops) == 20  # one loop per outer example, not an inner test of 100

    @settings(database=None, deadline=None)
    @given(st.integers(1, 9))
    def outer_buggy(n: int) -> None:
        Latebind().assert_distinct(buggy, args=(n,))

    with pytest.raises(LateBindingError) as excinfo:
        outer_buggy()
    # The outer test shrinks its own argument and the loop together.
    assert str(excinfo.value).splitlines()[0] == "callbacks 0 and 1 of buggy(range(0, 2)) both returned 1 for (1,)"
    assert "they share the loop variable 'v'" in str(excinfo.value)


def test_inside_find_the_loop_is_drawn_from_find() -> None:
    from hypothesis import find

    found = find(st.integers(0, 5), lambda n: _raises(lambda: Latebind().assert_distinct(
        lambda values: [lambda x: x * n for _ in values], args=(1,))), settings=QUIET)
    assert found == 0


def _raises(call: Any) -> bool:
    try:
        call()
    except LateBindingError:
        return True
    return False


def test_inside_given_without_a_way_to_draw_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_latebind import _hypothesis_compat

    monkeypatch.setattr(_hypothesis_compat, "draw", lambda strategy: _hypothesis_compat.NO_DRAW)

    @settings(database=None, max_examples=1)
    @given(st.integers())
    def inner(n: int) -> None:
        Latebind().assert_distinct(fixed, args=(n,))

    with pytest.raises(InvalidArgument, match=r"called inside a Hypothesis test .* gives no way to draw"):
        inner()


# -- real pytest runs ---------------------------------------------------------------------

MULTS = """
def make_multipliers(values):
    out = []
    for v in values:
        out.append(lambda x: x * v)
    return out


def make_multipliers_fixed(values):
    out = []
    for v in values:
        out.append(lambda x, v=v: x * v)
    return out
"""

MULTS_TEST = """
from mults import make_multipliers, make_multipliers_fixed


def test_buggy(latebind):
    latebind.assert_distinct(make_multipliers, args=(10,))


def test_fixed(latebind):
    latebind.assert_distinct(make_multipliers_fixed, args=(10,))
"""

# Writes each loop a factory is called with to calls-<test>.log, then fails from len 3 on.
LOGGED = """
import os


def log(values):
    with open(f"calls-{os.environ['PYTEST_CURRENT_TEST'].split('::')[1].split(' ')[0]}.log", "a") as f:
        f.write(repr(values) + "\\n")


def from_three(values):
    log(values)
    values = list(values)
    if len(values) < 3:
        return [lambda x, v=v: x * v for v in values]
    out = []
    for v in values:
        out.append(lambda x: x * v)
    return out


def good(values):
    log(values)
    return [lambda x, v=v: x * v for v in values]
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Where CI=true, Hypothesis loads its own "ci" profile (no database, derandomized): pin the
    # default one, which a test's own --hypothesis-profile (given later) still overrides.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hypothesis-profile=default", *args,
                                         timeout=300)


def line_of(pytester: pytest.Pytester, name: str, needle: str) -> int:
    text = (pytester.path / name).read_text()
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def calls(pytester: pytest.Pytester, test: str) -> list[str]:
    path = pytester.path / f"calls-{test}.log"
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return lines


@pytest.mark.parametrize("watch", [[], ["--latebind"]], ids=["plain", "latebind"])
def test_run_fails_the_buggy_factory_and_passes_the_fixed(pytester: pytest.Pytester, watch: list[str]) -> None:
    pytester.makepyfile(mults=MULTS, test_mults=MULTS_TEST)
    report = pytester.path / "report.json"
    result = run(pytester, *watch, f"--latebind-report={report}")
    result.assert_outcomes(failed=1, passed=1)
    values = "(created with v=0, 1; now v=1)" if watch else "(now v=1)"
    line = line_of(pytester, "mults.py", "lambda x: x * v")
    # Raised in the test by the user's call: pytest's own display, pointing at that line.
    result.stdout.fnmatch_lines([
        "E   *pytest_latebind.LateBindingError: callbacks 0 and 1 of make_multipliers(range(0, 2)) both returned "
        "10 for (10,)",
        f"E     *they share the loop variable 'v' created at mults.py:{line} {values}",
        "test_mults.py:*: LateBindingError",
        "FAILED test_mults.py::test_buggy - pytest_latebind.LateBindingError: *",
    ])
    [finding] = json.loads(report.read_text())["findings"]
    assert (finding["file"], finding["line"], finding["variable"]) == ("mults.py", line, "v")
    assert finding["tests"] == ["test_mults.py::test_buggy"]
    # One loop's values (the smallest example's), not every loop Hypothesis tried.
    assert finding["created_with"] == (["0", "1"] if watch else [])


def test_watched_report_holds_the_smallest_examples_values(pytester: pytest.Pytester) -> None:
    # The first failing loop Hypothesis draws is a long one with large values; the report
    # must show the loop the message shows, not every loop the examples ran.
    pytester.makepyfile(logged=LOGGED, test_three="""
        from logged import from_three

        def test_three(latebind):
            latebind.assert_distinct(from_three, args=(10,))
    """)
    report = pytester.path / "report.json"
    result = run(pytester, "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(failed=1)
    # check() looks at the two callbacks that agreed: made with 0 and 1, both seeing 2 now.
    result.stdout.fnmatch_lines(["*callbacks 0 and 1 of from_three(range(0, 3)) both returned 20 for (10,)",
                                 "*(created with v=0, 1; now v=2)"])
    [finding] = json.loads(report.read_text())["findings"]
    assert (finding["created_with"], finding["seen"], finding["closures"]) == (["0", "1"], "2", 2)


def test_expected_error_caught_in_a_watched_test_passes_and_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mults=MULTS, test_caught="""
        import pytest
        from mults import make_multipliers

        def test_caught(latebind):
            with pytest.raises(latebind.error, match="make_multipliers.range.0, 2.. both returned 10"):
                latebind.assert_distinct(make_multipliers, args=(10,))
    """)
    report = pytester.path / "report.json"
    result = run(pytester, "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(passed=1)
    [finding] = json.loads(report.read_text())["findings"]
    assert (finding["file"], finding["variable"]) == ("mults.py", "v")


def test_a_stale_call_in_distinct_callbacks_fails_a_watched_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(labels="""
        def labelled(values):
            out = []
            for v in values:
                label = f"#{v}"
                out.append(lambda x, v=v: (x * v, label))
            return out
    """, test_labels="""
        from labels import labelled

        def test_labels(latebind):
            latebind.assert_distinct(labelled, args=(10,))
    """)
    assert run(pytester).ret == 0  # results differ: without the recorder, nothing to see
    result = run(pytester, "--latebind")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*the callbacks that labelled makes return different results, but some read a loop variable late:",
        f"*closures created at labels.py:{line_of(pytester, 'labels.py', 'lambda')} share the loop "
        "variable 'label'",
    ])


def test_database_replays_the_failure_first_per_node_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(logged=LOGGED, test_db="""
        from logged import from_three

        def test_first(latebind):
            latebind.assert_distinct(from_three, args=(10,))

        def test_second(latebind):
            latebind.assert_distinct(from_three, args=(10,))
    """)
    result = run(pytester, "test_db.py::test_first")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*callbacks 0 and 1 of from_three(range(0, 3)) both returned 20 for (10,)"])
    first_run = calls(pytester, "test_first")
    assert first_run[0] == "range(0, 2)"  # Hypothesis starts from the simplest loop
    assert (pytester.path / ".hypothesis" / "examples").is_dir()

    result = run(pytester)
    result.assert_outcomes(failed=2)
    assert calls(pytester, "test_first")[0] == "range(0, 3)"  # replayed from the database
    assert calls(pytester, "test_second")[0] == "range(0, 2)"  # another node id: a new search


def test_fixed_factory_passes_after_a_failure_was_saved(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mults=MULTS, test_fix="""
        from mults import make_multipliers

        def test_fix(latebind):
            latebind.assert_distinct(make_multipliers, args=(10,))
    """)
    run(pytester).assert_outcomes(failed=1)
    pytester.makepyfile(mults=MULTS.replace("lambda x: x * v", "lambda x, v=v: x * v"))
    run(pytester).assert_outcomes(passed=1)


PROFILES = """
from hypothesis import settings

settings.register_profile("five", max_examples=5, deadline=None)
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
"""


def test_settings_profiles_apply(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PROFILES)
    pytester.makepyfile(logged=LOGGED, test_p="""
        from hypothesis import settings
        from logged import good

        def test_default(latebind):
            latebind.assert_distinct(good, args=(10,))

        def test_explicit(latebind):
            latebind.assert_distinct(good, args=(10,), settings=settings(max_examples=3))
    """)
    run(pytester, "--hypothesis-profile=five").assert_outcomes(passed=2)
    assert len(calls(pytester, "test_default")) == 5
    assert len(calls(pytester, "test_explicit")) == 3
    run(pytester).assert_outcomes(passed=2)
    assert len(calls(pytester, "test_default")) == 100  # Hypothesis's default profile


def test_derandomize_repeats_the_same_examples(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PROFILES)
    pytester.makepyfile(logged=LOGGED, test_d="""
        from logged import good

        def test_d(latebind):
            latebind.assert_distinct(good, args=(10,))
    """)
    runs = []
    for _ in range(2):
        run(pytester, "--hypothesis-profile=ci").assert_outcomes(passed=1)
        runs.append(calls(pytester, "test_d"))
    assert len(runs[0]) == 100
    assert runs[0] == runs[1]


def test_statistics_are_shown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mults=MULTS, test_mults=MULTS_TEST + """

def test_twice(latebind):
    latebind.assert_distinct(make_multipliers_fixed, args=(1,))
    latebind.assert_distinct(make_multipliers_fixed, args=(2,))
""")
    result = run(pytester, "--hypothesis-show-statistics")
    result.stdout.fnmatch_lines([
        "*Hypothesis Statistics*",
        "test_mults.py::test_buggy (assert_distinct of make_multipliers):",
        "*, [1-9]* failing*",  # Hypothesis's wording varies between versions
        "test_mults.py::test_fixed (assert_distinct of make_multipliers_fixed):",
        "*100 passing*, 0 failing*",
        "test_mults.py::test_twice (assert_distinct of make_multipliers_fixed):",
        "*100 passing*, 0 failing*",
        "test_mults.py::test_twice (assert_distinct of make_multipliers_fixed):",
        "*100 passing*, 0 failing*",
    ])
    assert run(pytester).stdout.str().count("assert_distinct of") == 0  # only when asked


def test_call_inside_given_checks_one_loop_per_example(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mults=MULTS, test_nested="""
        from hypothesis import HealthCheck, given, settings, strategies as st
        from mults import make_multipliers, make_multipliers_fixed

        # The latebind fixture keeps nothing per example: this health check is safe to suppress.
        @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
        @given(st.integers(1, 100))
        def test_nested_fixed(latebind, n):
            latebind.assert_distinct(make_multipliers_fixed, args=(n,))

        @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.integers(1, 100))
        def test_nested_buggy(latebind, n):
            latebind.assert_distinct(make_multipliers, args=(n,))
    """)
    report = pytester.path / "report.json"
    result = run(pytester, "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "E*LateBindingError: callbacks 0 and 1 of make_multipliers(range(0, 2)) both returned 1 for (1,)",
        f"E*they share the loop variable 'v' created at mults.py:{line_of(pytester, 'mults.py', 'lambda x: x * v')} "
        "(created with v=0, 1; now v=1)",
        "E*n=1,*",  # the outer test's own falsifying example, shrunk with the loop
    ])
    result.stdout.no_fnmatch_line("*FailedHealthCheck*")
    result.stdout.no_fnmatch_line("*nested_given*")
    # Only the final replay's finding is reported, with its loop's values.
    [finding] = json.loads(report.read_text())["findings"]
    assert (finding["created_with"], finding["tests"]) == (["0", "1"], ["test_nested.py::test_nested_buggy"])


def test_given_with_the_fixture_meets_hypothesis_function_scoped_health_check(pytester: pytest.Pytester) -> None:
    # Hypothesis's own check, before any of ours runs: what the docs tell users to do about it.
    pytester.makepyfile(mults=MULTS, test_hc="""
        from hypothesis import given, strategies as st
        from mults import make_multipliers_fixed

        @given(st.integers())
        def test_hc(latebind, n):
            latebind.assert_distinct(make_multipliers_fixed, args=(n,))
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E*FailedHealthCheck: *uses a function-scoped fixture 'latebind'*"])


def test_factory_traceback_is_the_users(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ids="""
        def by_id(values):
            out = []
            for v in values:
                if v < 0:
                    raise ValueError(f"negative id {v}")
                out.append(lambda v=v: v)
            return out
    """, test_ids="""
        from ids import by_id

        def test_ids(latebind):
            latebind.assert_distinct(by_id)
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ">*raise ValueError(f\"negative id {v}\")",
        "E*ValueError: negative id -1",
        "E*raised by by_id(range(*)): latebind.assert_distinct() called your factory*",
        f"ids.py:{line_of(pytester, 'ids.py', 'raise ValueError')}: ValueError",
    ])
    result.stdout.no_fnmatch_line("*_distinct.py*")


@pytest.mark.parametrize("own_values", [False, True], ids=["ranges", "values="])
def test_too_slow_is_not_checked_for_our_own_ranges(own_values: bool) -> None:
    # Drawing a range is trivial: "input generation is slow" can only be a loaded machine
    # (seen in CI), and must not fail the user's test.  A strategy of theirs keeps the check.
    from hypothesis import HealthCheck

    from pytest_latebind._distinct import _Example, _inner_test, _strategy

    example = _Example(lambda values: [], "make", (), {}, None, None, own_values=own_values)
    strategy = _strategy(st.integers() if own_values else None, 2, None)
    # A parent that suppresses nothing (this suite's CI profile suppresses too_slow itself).
    test = _inner_test(example, strategy, settings(suppress_health_check=[]), b"key")
    suppressed = test._hypothesis_internal_use_settings.suppress_health_check  # type: ignore[attr-defined]
    assert (HealthCheck.too_slow in suppressed) is not own_values
