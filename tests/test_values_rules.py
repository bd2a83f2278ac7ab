"""The remembering rules of ``_values`` at their bounds (issue 22: a mutation run found them
unstated): how deep and how long a tuple is held, how a tuple holding objects is remembered
item by item, and when two remembered values are one.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_latebind._values import (
    _MAX_ITEMS,
    Address,
    Items,
    Weak,
    describe,
    holdable,
    keep_text,
    matches,
    remember,
    same,
)


class Host:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Host({self.name!r})"


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = (value,)
    return value


def test_tuples_of_atoms_are_held_three_deep_and_64_long() -> None:
    assert holdable(nested(3)) and not holdable(nested(4))
    assert holdable(tuple(range(_MAX_ITEMS))) and not holdable(tuple(range(_MAX_ITEMS + 1)))
    assert holdable(frozenset({1, "a"})) and not holdable([1]) and not holdable((1, [2]))
    assert remember(nested(3)) is not None and remember(nested(3)) == nested(3)
    assert isinstance(remember(nested(4)), Items)  # walked item by item instead


def test_a_tuple_holding_objects_is_remembered_item_by_item() -> None:
    a, b = Host("a"), Host("b")
    remembered = remember((a, 1))
    assert isinstance(remembered, Items) and isinstance(remembered.items[0], Weak) and remembered.items[1] == 1
    assert matches(remembered, (a, 1)) and not matches(remembered, (b, 1)) and not matches(remembered, (a, 2))
    assert not matches(remembered, (a, 1, 2)) and not matches(remembered, [a, 1])
    assert same(remembered, remember((a, 1))) and not same(remembered, remember((b, 1)))
    assert not same(remembered, remember((a, 1, 1))) and not same(remembered, remember((a, 2)))
    # Deeper than three, or longer than 64, it is an address.
    assert remember((nested(2), a)).items[0] == nested(2)  # an atoms-only item is held as it is
    assert isinstance(remember((((((a,),),),),)).items[0].items[0].items[0], Address)
    assert isinstance(remember((a,) * (_MAX_ITEMS + 1)), Address)
    assert isinstance(remember((a,) * _MAX_ITEMS), Items)


def test_a_tuple_holding_objects_shows_its_first_four_items() -> None:
    hosts = [Host(name) for name in "abcde"]
    for value in (hosts[:1], hosts[:4], hosts):
        remembered = remember(tuple(value))
        keep_text(remembered, tuple(value))
        shown = ", ".join(repr(h) for h in value[:4])
        assert describe(remembered) == f"({shown}{', ...' if len(value) > 4 else ''}{',' if len(value) == 1 else ''})"


def test_values_of_different_kinds_are_never_one() -> None:
    host = Host("a")
    assert not same(remember(host), remember((host,)))
    assert not same(remember(1), remember(1.5)) and not same(remember(1), remember(True))
    assert same(remember(float("nan")), remember(float("nan")))


@pytest.mark.parametrize("args", [("boom",), ("boom", 2)])
def test_an_exception_is_told_apart_by_its_args(args: tuple[Any, ...]) -> None:
    error = ValueError(*args)
    remembered = remember(error)
    assert isinstance(remembered, Address) and matches(remembered, error)
    error.args = ("other",)
    assert not matches(remembered, error)  # the same address, other args: another exception
    twin = remember(error)
    assert not same(remembered, twin)
