"""``pytest_latebind.strategies``: the loops Hypothesis draws, as properties and shrink targets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from pytest_latebind.strategies import DEFAULT_MAX_SIZE, loop_ranges, loop_values

bounds = st.one_of(st.none(), st.integers(-50, 50))
SEARCH = settings(database=None, max_examples=1000)  # for find(): nothing written to disk


@st.composite
def range_arguments(draw: st.DrawFn) -> dict[str, Any]:
    """Valid arguments for loop_ranges: sizes, bounds with room for min_size, steps."""
    min_size = draw(st.integers(0, 5))
    max_size = draw(st.integers(min_size, 12))
    min_value, max_value = draw(bounds), draw(bounds)
    if min_value is not None and max_value is not None:
        min_value, max_value = sorted((min_value, max_value))
        if max_value - min_value + 1 < min_size:
            max_value = min_value + min_size - 1 + draw(st.integers(0, 5))
    return {"min_size": min_size, "max_size": max_size, "min_value": min_value,
            "max_value": max_value, "max_step": draw(st.none() | st.integers(1, 5)),
            "negative_steps": draw(st.booleans())}


@settings(max_examples=50, deadline=None)
@given(st.data(), range_arguments())
def test_ranges_keep_every_bound(data: st.DataObject, arguments: dict[str, Any]) -> None:
    r = data.draw(loop_ranges(**arguments))
    assert isinstance(r, range)
    assert arguments["min_size"] <= len(r) <= arguments["max_size"]
    assert all(arguments["min_value"] is None or v >= arguments["min_value"] for v in r)
    assert all(arguments["max_value"] is None or v <= arguments["max_value"] for v in r)
    if len(r) >= 2:
        assert arguments["max_step"] is None or abs(r.step) <= arguments["max_step"]
        assert arguments["negative_steps"] or r.step > 0
    # One spelling per range: the stop is exactly one step past the last value.
    assert r.stop == r.start + len(r) * r.step or len(r) == 0


@settings(max_examples=50, deadline=None)
@given(loop_ranges())
def test_default_ranges_hold_two_to_eight_different_values(r: range) -> None:
    assert 2 <= len(r) <= DEFAULT_MAX_SIZE
    assert len(set(r)) == len(r)


def test_ranges_shrink_to_two_from_zero() -> None:
    assert find(loop_ranges(), lambda r: True, settings=SEARCH) == range(0, 2)


@pytest.mark.parametrize(("condition", "smallest"), [
    (lambda r: len(r) >= 4, range(0, 4)),
    (lambda r: r.step >= 3, range(0, 6, 3)),
    (lambda r: r.step < 0, range(0, -2, -1)),
    (lambda r: r.start >= 7, range(7, 9)),
])
def test_each_part_shrinks_on_its_own(condition: Any, smallest: range) -> None:
    assert find(loop_ranges(), condition, settings=SEARCH) == smallest


def test_ranges_shrink_to_the_bound_nearest_zero() -> None:
    assert find(loop_ranges(min_value=5, max_value=9), lambda r: True, settings=SEARCH) == range(5, 7)
    assert find(loop_ranges(min_value=-9, max_value=-5), lambda r: True, settings=SEARCH) == range(-6, -4)


def test_ranges_vary_in_start_step_and_direction() -> None:
    seen: list[range] = []

    @settings(max_examples=100, database=None, deadline=None)
    @given(loop_ranges())
    def collect(r: range) -> None:
        seen.append(r)

    collect()
    assert {r.step > 0 for r in seen} == {True, False}
    assert len({abs(r.step) for r in seen}) > 3
    assert len({r.start for r in seen}) > 10
    assert len({len(r) for r in seen}) > 3


def test_bounds_too_tight_for_min_size() -> None:
    with pytest.raises(InvalidArgument, match="only 2 integers lie between the bounds"):
        loop_ranges(min_size=3, min_value=0, max_value=1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"min_size": -1}, "min_size=-1"),
    ({"min_size": 3, "max_size": 2}, "max_size must be at least min_size"),
    ({"min_size": 2.0}, "expected an int"),
    ({"max_step": 0}, "a step must be at least 1"),
    ({"min_value": "0"}, "expected an int or None"),
    ({"min_size": 0, "min_value": 1, "max_value": 0}, "max_value must be at least min_value"),
])
def test_bad_range_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        loop_ranges(**kwargs)


@settings(max_examples=50, deadline=None)
@given(loop_values(st.integers(0, 3) | st.lists(st.integers(0, 1), max_size=2)))
def test_values_are_pairwise_different_even_when_unhashable(values: list[Any]) -> None:
    assert 2 <= len(values) <= DEFAULT_MAX_SIZE
    assert all(values[i] != values[j] for i in range(len(values)) for j in range(i))


def test_values_shrink_to_the_two_simplest() -> None:
    assert find(loop_values(st.text()), lambda v: True, settings=SEARCH) == ["", "0"]


def test_values_unique_by() -> None:
    @settings(max_examples=30, database=None, deadline=None)
    @given(loop_values(st.text(), unique_by=str.lower, max_size=4))
    def check(names: list[str]) -> None:
        assert len({name.lower() for name in names}) == len(names)

    check()


def test_values_need_a_strategy() -> None:
    with pytest.raises(InvalidArgument, match=r"takes a Hypothesis strategy .* got \[1, 2\] \(list\)"):
        loop_values([1, 2])  # type: ignore[arg-type]
