"""Hypothesis strategies for the values a loop runs over.

``latebind.assert_distinct()`` draws from these; they are public so that you can write your
own ``@given`` tests of the code that makes closures in a loop::

    from hypothesis import given
    from pytest_latebind.strategies import loop_ranges

    @given(loop_ranges())
    def test_each_route_multiplies_by_its_index(values):
        results = [route(10) for route in build_callbacks(values)]
        assert results == [10 * v for v in values]

Every strategy here shrinks towards the smallest loop that can show a late-binding bug:
two iterations over simple values (``range(0, 2)`` for :func:`loop_ranges`).  A loop over
fewer than two values cannot show one, which is why ``min_size`` defaults to 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

__all__ = ["DEFAULT_MAX_SIZE", "loop_ranges", "loop_values"]

T = TypeVar("T")

# Longer loops find no bug that two or three iterations miss, and cost time on each example.
DEFAULT_MAX_SIZE = 8


def loop_ranges(
    min_size: int = 2,
    max_size: int = DEFAULT_MAX_SIZE,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    max_step: int | None = None,
    negative_steps: bool = True,
) -> st.SearchStrategy[range]:
    """``range`` objects of ``min_size`` to ``max_size`` elements, all between ``min_value``
    and ``max_value`` (inclusive; ``None`` is unbounded), with varied start, stop and step.

    Steps run from 1 to ``max_step`` (``None``: unbounded) and, unless ``negative_steps`` is
    false, their negatives too: a loop that counts down is still a loop.  The stop is always
    ``start + len * step``, so each range has one spelling.  Shrinks towards ``range(0, 2)``
    (towards the bound nearest 0 when 0 is out of bounds).
    """
    _check_sizes("loop_ranges", min_size, max_size, minimum=0)
    for name, value in (("min_value", min_value), ("max_value", max_value), ("max_step", max_step)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidArgument(f"loop_ranges({name}={value!r}): expected an int or None")
    if max_step is not None and max_step < 1:
        raise InvalidArgument(f"loop_ranges(max_step={max_step!r}): a step must be at least 1")
    if min_value is not None and max_value is not None:
        if max_value < min_value:
            raise InvalidArgument(f"loop_ranges(min_value={min_value}, max_value={max_value}): "
                                  "max_value must be at least min_value")
        room = max_value - min_value + 1
        if room < min_size:
            raise InvalidArgument(
                f"loop_ranges(min_size={min_size}, min_value={min_value}, max_value={max_value}): "
                f"only {max(room, 0)} integers lie between the bounds; widen them or lower min_size")
        max_size = min(max_size, room)
    return _ranges(min_size, max_size, min_value, max_value, max_step, negative_steps)


@st.composite
def _ranges(
    draw: st.DrawFn,
    min_size: int,
    max_size: int,
    lo: int | None,
    hi: int | None,
    max_step: int | None,
    negative_steps: bool,
) -> range:
    # Drawn in this order so that each part shrinks on its own: the length to min_size, the
    # step to 1, the direction to upwards, then the start to 0 (or the bound nearest it).
    # No branch depends on what was drawn: Hypothesis's explain phase reports the lines
    # that only failing examples run, and they should be the user's, never these.
    size = draw(_integers(min_size, max_size))
    fits = None if lo is None or hi is None else max((hi - lo) // max(size - 1, 1), 1)
    caps = [cap for cap in (max_step, fits) if cap is not None]
    step = draw(_integers(1, min(caps) if caps else None))
    sign = -1 if negative_steps and draw(_BOOLEANS) else 1
    span = (size - 1) * step if size > 0 else 0
    # Upwards the first value is the lowest; downwards, the highest.
    first_lo = None if lo is None else lo + (span if sign < 0 else 0)
    first_hi = None if hi is None else hi - (span if sign > 0 else 0)
    start = draw(_integers(first_lo, first_hi))
    return range(start, start + sign * size * step, sign * step)


_BOOLEANS = st.booleans()


@functools.lru_cache(maxsize=256)
def _integers(lo: int | None, hi: int | None) -> st.SearchStrategy[int]:
    # Made once per bounds, not once per draw: a third of the time of an example otherwise.
    return st.integers(lo, hi)


def loop_values(
    elements: st.SearchStrategy[T],
    *,
    min_size: int = 2,
    max_size: int = DEFAULT_MAX_SIZE,
    unique_by: Callable[[T], Hashable] | None = None,
) -> st.SearchStrategy[list[T]]:
    """Lists of ``min_size`` to ``max_size`` pairwise different values drawn from ``elements``:
    the values of a loop over names, hosts, events, or anything your factory takes.

    Different, because callbacks made for equal values may rightly agree.  Values are
    compared by ``unique_by(value)`` when given, else by equality (by ``repr`` for unhashable
    values such as lists and dicts).
    """
    if not isinstance(elements, st.SearchStrategy):
        raise InvalidArgument(
            f"loop_values() takes a Hypothesis strategy for the loop's elements, got "
            f"{elements!r} ({type(elements).__name__}); e.g. loop_values(st.text())")
    _check_sizes("loop_values", min_size, max_size, minimum=0)
    return st.lists(elements, min_size=min_size, max_size=max_size,
                    unique_by=unique_by if unique_by is not None else identity_key)


def identity_key(value: Any) -> Hashable:
    """What tells two loop values apart: the value itself, or its repr when unhashable."""
    try:
        hash(value)
    except TypeError:
        return (type(value).__qualname__, repr(value))
    return (0, value)


def _check_sizes(func: str, min_size: Any, max_size: Any, *, minimum: int) -> None:
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidArgument(f"{func}({name}={value!r}): expected an int")
    if min_size < minimum:
        raise InvalidArgument(f"{func}(min_size={min_size}): must be at least {minimum}")
    if max_size < min_size:
        raise InvalidArgument(f"{func}(min_size={min_size}, max_size={max_size}): "
                              "max_size must be at least min_size")
