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


# -- the bounds as numbers, and the texts of values remembered without one (issue 22) ------
def test_the_bounds_are_three_deep_and_64_long_as_documented() -> None:
    # Literal numbers: the docs and the trade-off for users state them, not the constant's name.
    assert holdable(tuple(range(64))) is True and holdable(tuple(range(65))) is False
    assert holdable(frozenset(range(64))) is True and holdable(frozenset(range(65))) is False
    assert holdable(((((1,),),),)) is False and holdable([1]) is False and holdable((1, [2])) is False
    assert isinstance(remember((Host("a"),) * 64), Items) and isinstance(remember((Host("a"),) * 65), Address)


def test_a_value_remembered_without_its_text_is_shown_by_type_and_address() -> None:
    value = [1, 2]
    assert describe(remember(value)) == f"<list object at {id(value):#x}>"
    assert describe(1) == "1" and describe("a") == "'a'" and describe(None) == "None"


def test_an_exception_remembered_without_its_text_is_shown_with_its_args() -> None:
    assert describe(remember(ValueError("boom", 2))) == "ValueError('boom', 2)"
    host = Host("a")
    assert describe(remember(KeyError(host, 1))) == "KeyError(Host('a'), 1)"  # its args item by item


def test_a_tuples_items_keep_their_texts_after_the_objects_die() -> None:
    import gc

    value: Any = (Host("a"), Host("b"), 1)
    remembered = remember(value)
    keep_text(remembered, value)
    del value
    gc.collect()
    assert describe(remembered) == "(Host('a'), Host('b'), 1)"
    untold = remember((Host("c"),))  # no text kept, and freed at once
    assert describe(untold) == "(<Host object, freed>,)"


def test_two_records_of_one_unreferenceable_value_are_one_value() -> None:
    value = [1]
    assert same(remember(value), remember(value)) is True
    assert same(remember(value), remember([1])) is False  # another list, alive at another address
    error = ValueError("boom")
    first = remember(error)
    error.args = tuple(["boom"])  # equal args, a tuple built anew: still the same exception
    assert same(first, remember(error)) is True and matches(first, error)
    assert same(remember(1), remember("1")) is False


def test_under_python_bb_a_str_and_a_bytes_item_are_two_values() -> None:
    # python -bb makes comparing str with bytes raise: the values stay apart, no error escapes.
    import subprocess
    import sys

    code = ("from pytest_latebind._values import same, remember\n"
            "print(same(remember(('x',)), remember((b'x',))), same(remember(('x', 1)), remember(('x', 1))))")
    out = subprocess.run([sys.executable, "-bb", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
