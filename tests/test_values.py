"""What the recorder remembers of a value: held, weakly referenced, item by item, or by address."""

from __future__ import annotations

import gc
import json
import math
import weakref

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_latebind._values import (
    Address,
    Items,
    Weak,
    describe,
    holdable,
    keep_text,
    matches,
    remember,
    same,
    short_repr,
)

atoms = st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=5), st.binary(max_size=5),
                  st.booleans(), st.none(), st.complex_numbers(allow_nan=False))
immutables = st.recursive(atoms, lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(atoms, max_size=3)),
                          max_leaves=6)


def _copy(value: object) -> object:
    """An equal value built anew, as a loop that recomputes it each round makes it."""
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_copy(v) for v in value)
    if isinstance(value, (int, float, complex, str, bytes)) and not isinstance(value, bool):
        return type(value)(value)  # a new object where the type makes one
    return value


@given(immutables)
def test_an_equal_immutable_built_anew_is_the_same_value(value: object) -> None:
    remembered = remember(value)
    assert remembered is value  # held as it is: nothing a program can watch dies with it
    assert matches(remembered, _copy(value))
    assert same(remembered, remember(_copy(value)))


def test_equal_values_of_other_types_are_not_the_same() -> None:
    assert not matches(remember(1), True)
    assert not matches(remember(1), 1.0)
    assert not matches(remember((1, 2)), [1, 2])
    assert matches(remember(math.nan), float("nan"))


class Obj:
    pass


def test_an_object_is_weakly_referenced_and_compared_by_identity() -> None:
    first, twin = Obj(), Obj()
    remembered = remember(first)
    assert isinstance(remembered, Weak)
    assert matches(remembered, first) and not matches(remembered, twin)
    assert same(remembered, remember(first)) and not same(remembered, remember(twin))
    freed = weakref.ref(first)
    del first
    gc.collect()
    assert freed() is None  # the record kept nothing alive
    assert not matches(remembered, twin)
    assert repr(remembered) == "<Obj object, freed>"


def test_a_freed_object_stays_told_apart_from_one_at_its_address() -> None:
    remembered = [remember(Obj()) for _ in range(3)]  # each freed at once: addresses reused
    assert not any(same(a, b) for i, a in enumerate(remembered) for b in remembered[i + 1:])


def test_a_tuple_of_objects_is_remembered_item_by_item() -> None:
    a, b = Obj(), Obj()
    remembered = remember((a, 1))
    assert isinstance(remembered, Items)
    assert matches(remembered, (a, 1)) and not matches(remembered, (b, 1)) and not matches(remembered, (a, 2))


def test_values_that_cannot_be_held_or_referenced_are_remembered_by_address() -> None:
    errors = [remember(ValueError(k)) for k in range(2)]  # builtin exceptions: no weak references
    assert all(isinstance(e, Address) for e in errors)
    # The second error may sit at the first one's address; its args still tell them apart.
    assert not same(errors[0], errors[1])
    assert repr(errors[0]) == "ValueError(0)"
    items = [1]
    listed = remember(items)
    assert not holdable(items) and isinstance(listed, Address)
    assert matches(listed, items) and not matches(listed, [1])
    keep_text(listed, items)
    assert describe(listed) == "[1]"


# -- the text of a value: one line, bounded, its type named ----------------------------------
class Lines:
    def __repr__(self) -> str:
        return "request_id: 1\ntime_limit: 2000\r\n\tend"


class Long:
    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return "Long(" + "x" * self.size + ")"


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Outer:
    class Inner:
        pass


def test_a_repr_with_newlines_is_one_line() -> None:
    assert short_repr(Lines()) == "request_id: 1\\ntime_limit: 2000\\r\\n\\tend"
    assert short_repr(Lines()).splitlines() == [short_repr(Lines())]
    # Every line break str.splitlines knows, inside a container too.
    text = short_repr([Lines(), "a\u2028b"])
    assert len(text.splitlines()) == 1 and "\\u2028" in text


@pytest.mark.parametrize("size", [100, 10_000])
def test_a_very_long_repr_is_cut_in_the_middle(size: int) -> None:
    text = short_repr(Long(size))
    assert len(text) <= 100 and "..." in text
    assert text.startswith("Long(xxx") and text.endswith("xxx)")  # the type's name, and its end


def test_a_long_text_in_all_is_bounded() -> None:
    # Each part is bounded by reprlib; the whole is bounded too, its ends kept.
    text = short_repr({f"key{k}": Long(100) for k in range(4)})
    assert len(text) <= 100 and text.startswith("{'key0': Long(") and text.endswith(")}")
    text = short_repr("a\nb" * 1000)  # a string: reprlib's 40 characters, escaped by repr
    assert len(text) <= 40 and "..." in text and text.startswith("'a\\nb") and "\n" not in text


def test_a_default_repr_keeps_the_type_name() -> None:
    # Never cut, without the module's path; the address tells two objects apart.
    first, second = Outer.Inner(), Outer.Inner()
    assert short_repr(first) == f"<Outer.Inner object at {id(first):#x}>"
    assert short_repr(first) != short_repr(second)
    assert short_repr([first]) == f"[<Outer.Inner object at {id(first):#x}>]"
    fn = test_a_default_repr_keeps_the_type_name
    assert short_repr(fn) == repr(fn)  # "<function test_a_default_repr_... at 0x...>": not cut either


def test_a_repr_that_raises_names_the_type() -> None:
    broken = Broken()
    assert short_repr(broken) == f"<Broken instance at {id(broken):#x}>"  # as reprlib says it
    assert short_repr([broken, 1]) == f"[<Broken instance at {id(broken):#x}>, 1]"


def test_a_module_shows_its_name_not_its_path() -> None:
    assert short_repr(json) == "<module 'json'>"


def test_a_kept_text_is_shown_as_it_was_kept() -> None:
    # The recorder keeps a value's text (keep_text), the finding shows it: cut once, not twice.
    for value in (Lines(), Long(10_000), Outer.Inner()):
        remembered = remember(value)
        keep_text(remembered, value)
        assert describe(remembered) == short_repr(remembered) == short_repr(value)


@pytest.mark.parametrize("recompute", [
    "f'host-{1}'", "(1000, 2000)", "2 ** 70", "frozenset({'a', 'b'})", "b'x' * 3", "1e300 * 10",
])
def test_equal_immutables_recomputed_each_round_are_no_finding(pytester: pytest.Pytester, recompute: str) -> None:
    pytester.makepyfile(mod=f"""
        def make():
            out = []
            for _ in range(3):
                value = {recompute}
                out.append(lambda: value)
            return out
    """, test_mod="""
        import mod

        KEPT = []

        def test_recomputed():
            fs = mod.make()
            [f() for f in fs]
            KEPT.extend(fs)  # alive after the test: a shared binding, if values differed
    """)
    report = pytester.path / "r.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(passed=1)
    assert json.loads(report.read_text())["findings"] == []


def test_different_immutables_each_round_are_found(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="""
        def make():
            out = []
            for k in range(3):
                value = (1000 + k, "x")
                out.append(lambda: value)
            return out
    """, test_mod="""
        import mod

        def test_different():
            assert [f() for f in mod.make()][0] == (1000, "x")
    """)
    report = pytester.path / "r.json"
    result = pytester.runpytest("-p", "no:cacheprovider", "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(failed=1)
    [finding] = json.loads(report.read_text())["findings"]
    assert (finding["variable"], finding["created_with"], finding["seen"]) == (
        "value", ["(1000, 'x')", "(1001, 'x')", "(1002, 'x')"], "(1002, 'x')")


def test_values_hidden_means_no_repr_is_taken(pytester: pytest.Pytester) -> None:
    """With show-values off the plugin never calls a value's __repr__ (it may be slow, or
    have effects); with it on, it does, for the values a message lists."""
    pytester.makepyfile(mod="""
        CALLS = []

        class Secret:
            def __repr__(self):
                CALLS.append(1)
                return "Secret()"

        def make():
            out = []
            for s in (Secret(), Secret()):
                out.append(lambda: s)
            return out
    """, test_mod="""
        import mod

        def test_late():
            [f() for f in mod.make()]

        def test_reprs_taken():
            with open("calls.txt", "w") as out:
                out.write(str(len(mod.CALLS)))
    """)
    def reprs_taken(show: str) -> int:
        pytester.runpytest("-p", "no:cacheprovider", "--latebind", f"--latebind-show-values={show}")
        return int((pytester.path / "calls.txt").read_text())

    assert reprs_taken("no") == 0
    assert reprs_taken("yes") > 0
