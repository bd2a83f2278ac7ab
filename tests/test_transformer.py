"""Instrumented code behaves exactly as the original: results, names, tracebacks, lines."""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
import textwrap
import traceback
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_latebind._recorder import Window, record_of
from pytest_latebind._transformer import instrument

from .helpers import load


def both(tmp_path: Path, source: str) -> tuple[types.ModuleType, types.ModuleType]:
    return load(tmp_path, source, instrumented=False), load(tmp_path, source)


@pytest.fixture(autouse=True)
def _recording(window: Window) -> Window:
    """Every test here runs with a window open, as a watched test does."""
    return window


NAMES = """
    def build(xs):
        out = []
        for x in xs:
            def handler(a, b=2, *args, c=3, **kw) -> int:
                "Handle one."
                def inner():
                    return x
                return inner
            out.append(handler)
            out.append(lambda y=1: x)
            out.append(list(i * x for i in range(2)) and (i * x for i in range(2)))
        return out
"""


def test_names_docs_signatures_and_defaults(tmp_path: Path) -> None:
    plain, inst = both(tmp_path, NAMES)
    for p, i in zip(plain.build([1]), inst.build([1]), strict=True):
        assert i.__name__ == p.__name__
        assert i.__qualname__ == p.__qualname__
        if isinstance(p, types.FunctionType):
            assert i.__doc__ == p.__doc__
            assert inspect.signature(i) == inspect.signature(p)
            assert i.__defaults__ == p.__defaults__
            assert i.__kwdefaults__ == p.__kwdefaults__
            assert i.__annotations__ == p.__annotations__
            assert (i.__module__, p.__module__) == (inst.__name__, plain.__name__)
            assert record_of(i) is not None
    handler_p, handler_i = plain.build([1])[0], inst.build([1])[0]
    assert handler_i(0).__qualname__ == handler_p(0).__qualname__ == "build.<locals>.handler.<locals>.inner"


def test_results_are_the_same_including_the_late_binding_bug(tmp_path: Path) -> None:
    plain, inst = both(tmp_path, """
        def build(n):
            return [lambda x: x * i for i in range(n)]
    """)
    assert [f(10) for f in inst.build(3)] == [f(10) for f in plain.build(3)] == [20, 20, 20]


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.integers() | st.text(max_size=3) | st.none(), min_size=1, max_size=6))
def test_property_results_unchanged_for_any_loop_values(tmp_path_factory: Any, values: list[Any]) -> None:
    tmp_path = tmp_path_factory.mktemp("prop")
    plain, inst = both(tmp_path, """
        def build(values):
            out = []
            for v in values:
                def f(k=0):
                    return (v, k)
                out.append(f)
                out.append(lambda: repr(v))
            return [g() for g in out] + [tuple(repr(v) for _ in range(2))]
    """)
    assert inst.build(values) == plain.build(values)


def test_tracebacks_keep_lines_and_names(tmp_path: Path) -> None:
    source = """
        def build(xs):
            out = []
            for x in xs:
                def boom():
                    y = 1
                    raise ValueError(x)
                out.append(boom)
                out.append(lambda: 1 / (x - x))
            return out
    """

    def frames(module: types.ModuleType, k: int) -> list[tuple[int | None, str]]:
        with pytest.raises(Exception) as excinfo:
            module.build([1])[k]()
        return [(f.lineno, f.name) for f in traceback.extract_tb(excinfo.value.__traceback__)][1:]

    plain, inst = both(tmp_path, source)
    assert frames(inst, 0) == frames(plain, 0) == [(7, "boom")]
    assert frames(inst, 1) == frames(plain, 1) == [(9, "<lambda>")]


def test_decorators_apply_in_order_and_evaluate_first(tmp_path: Path) -> None:
    source = """
        log = []
        def deco(tag):
            log.append(("eval", tag))
            def apply(f):
                log.append(("apply", tag, f.__name__))
                f.tags = getattr(f, "tags", ()) + (tag,)
                return f
            return apply
        def default(tag):
            log.append(("default", tag))
            return tag
        fs = []
        for i in range(2):
            @deco("outer")
            @deco("inner")
            def f(a=default(i)):
                return (a, i)
            fs.append(f)
    """
    plain, inst = both(tmp_path, source)
    assert inst.log == plain.log
    assert [f() for f in inst.fs] == [f() for f in plain.fs] == [(0, 1), (1, 1)]
    assert inst.fs[0].tags == ("inner", "outer")
    assert "@latebind_f0" not in vars(inst) and "f" in vars(inst)


def test_getsource_of_a_decorated_site(tmp_path: Path) -> None:
    plain, inst = both(tmp_path, """
        import functools
        fs = []
        for i in range(2):
            @functools.lru_cache
            def f():
                return i
            fs.append(f)
    """)
    assert inspect.getsource(inst.fs[0].__wrapped__) == inspect.getsource(plain.fs[0].__wrapped__)
    assert inspect.getsource(inst.fs[0].__wrapped__).startswith("    @functools.lru_cache")


def test_generators_coroutines_and_async_generators(tmp_path: Path) -> None:
    source = """
        import asyncio
        def build(xs):
            out = []
            for x in xs:
                def gen():
                    yield x
                    yield x + 1
                async def coro():
                    await asyncio.sleep(0)
                    return x
                async def agen():
                    yield x
                out.append((gen, coro, agen))
            return out
        async def collect(agen):
            return [v async for v in agen()]
    """
    plain, inst = both(tmp_path, source)
    for module in (plain, inst):
        gen, coro, agen = module.build([5])[0]
        assert list(gen()) == [5, 6]
        assert asyncio.run(coro()) == 5
        assert asyncio.run(module.collect(agen)) == [5]
        assert inspect.isgeneratorfunction(gen) and inspect.iscoroutinefunction(coro)
        assert inspect.isasyncgenfunction(agen)


def test_nonlocal_global_and_super_in_a_class_made_in_a_loop(tmp_path: Path) -> None:
    source = """
        class Base:
            def hello(self):
                return "base"
        made = []
        def build(xs):
            count = 0
            global last
            for x in xs:
                def bump():
                    nonlocal count
                    count += 1
                    return count, x
                def last():
                    return x
                class Child(Base):
                    def hello(self):
                        return super().hello() + str(x)
                made.append((bump, Child))
            return made
    """
    plain, inst = both(tmp_path, source)
    for module in (plain, inst):
        (bump0, child0), (bump1, _) = module.build([1, 2])
        assert bump0() == (1, 2) and bump1() == (2, 2)
        assert child0().hello() == "base2"
        assert module.last() == 2  # the def bound the global, not a local of a factory


def test_genexp_first_iterable_is_evaluated_at_once_in_its_scope(tmp_path: Path) -> None:
    source = """
        def build(rows):
            out = []
            for i in rows:
                try:
                    out.append(x * i for x in None)
                except TypeError as exc:
                    out.append(str(exc))
                out.append(x * i for x in [1, 2])
            return out
    """
    plain, inst = both(tmp_path, source)
    p, i = plain.build([3]), inst.build([3])
    assert i[0] == p[0]
    assert list(i[1]) == list(p[1]) == [3, 6]


@pytest.mark.parametrize("binding", ["", "iter = iter", "from os import *", "def f(iter): pass",
                                     "import iter", "for iter in []: pass", "class C:\n    iter = 1"])
def test_a_genexp_over_a_non_iterable_fails_in_the_users_frame(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, binding: str) -> None:
    """iter() of the first iterable runs in the enclosing frame (issue 16, point 4): its
    TypeError's traceback is the same as plain, unless the module may rebind ``iter``
    (then the plain name could mean something else, and iter() stays in the factory)."""
    (tmp_path / "iter.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = binding + textwrap.dedent("""
        import traceback
        def build(rows):
            for i in rows:
                try:
                    return (x * i for x in None)
                except TypeError as exc:
                    return str(exc), [(f.name, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
    """)
    plain, inst = both(tmp_path, source)
    line = binding.count("\n") + 6
    expected = ("'NoneType' object is not iterable", [("build", line)])
    assert plain.build([3]) == expected
    if binding:
        assert inst.build([3])[0] == expected[0]
    else:
        assert inst.build([3]) == expected


def test_module_docstring_and_future_import_stay_first(tmp_path: Path) -> None:
    module = load(tmp_path, '''
        """The doc."""
        from __future__ import annotations
        fs = [lambda: i for i in range(2)]
        def f(x: Undefined) -> Undefined:
            return x
    ''')
    assert module.__doc__ == "The doc."
    assert module.f.__annotations__ == {"x": "Undefined", "return": "Undefined"}


def test_module_level_loop_reads_globals(tmp_path: Path, window: Window) -> None:
    module = load(tmp_path, """
        callbacks = []
        for i in range(3):
            callbacks.append(lambda x: x * i)
    """)
    infos = {record.info for record in map(record_of, module.callbacks) if record is not None}
    [info] = infos
    assert info.site.variables == ("i",)
    assert [f(10) for f in module.callbacks] == [20, 20, 20]
    stale = window.take_stale()
    assert [(e.info.site.line, e.calls) for e in stale] == [(4, 2)]


def _inner_def_annotations(source: str, **kwargs: Any) -> dict[str, str]:
    """The annotations the inner def of the one def site keeps in the instrumented tree."""
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    assert instrument(tree, source.splitlines(), **kwargs)
    [inner] = [node for node in ast.walk(tree)
               if isinstance(node, ast.FunctionDef) and node.name.startswith("@latebind_n")]
    kept = {arg.arg: ast.unparse(arg.annotation) for arg in inner.args.args if arg.annotation is not None}
    if inner.returns is not None:
        kept["return"] = ast.unparse(inner.returns)
    return kept


LOOP_DEF = """
    def labels(names):
        out = []
        for name in names:
            def label(x: int, y: {y} = 0) -> str:
                return f"{{name}}{{x}}"
            out.append(label)
        return out
"""


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14 defers annotations: none are hoisted")
def test_annotations_stay_in_the_def_for_a_transform_after_ours() -> None:
    # typeguard reads a def's annotations from the tree it is given, after our transform.
    assert _inner_def_annotations(LOOP_DEF.format(y="list[int]"), another_transform=True) == {
        "x": "int", "y": "list[int]", "return": "str"}
    # Alone, they are evaluated where Python evaluates them: hoisted, after the default.
    assert _inner_def_annotations(LOOP_DEF.format(y="list[int]")) == {
        "x": "@latebind_d1", "y": "@latebind_d2", "return": "@latebind_d3"}


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14 defers annotations: none are hoisted")
@pytest.mark.parametrize("y", ["(t := int)", "(yield)"])
def test_annotations_that_bind_or_suspend_are_all_hoisted_even_for_another_transform(y: str) -> None:
    # A walrus would bind in the factory, a yield make it a generator; all are hoisted, so the
    # order of evaluation stays the compiler's.
    assert _inner_def_annotations(LOOP_DEF.format(y=y), another_transform=True) == {
        "x": "@latebind_d1", "y": "@latebind_d2", "return": "@latebind_d3"}


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14 defers annotations: none are hoisted")
@pytest.mark.parametrize(("annotation", "kept"), [
    ("Result", {"x": "@latebind_d0", "return": "@latebind_d1"}),  # the class body's name
    ("list[Result]", {"x": "@latebind_d0", "return": "@latebind_d1"}),
    ("str", {"x": "int", "return": "str"}),  # a global: the same name in the factory
    ("inside", {"x": "int", "return": "inside"}),  # bound only inside a method of the class
])
def test_annotations_naming_a_class_body_binding_are_hoisted_even_for_another_transform(
        annotation: str, kept: dict[str, str]) -> None:
    source = f"""
        def handlers(tags):
            for tag in tags:
                class Handler:
                    Result = dict
                    def helper(self):
                        inside = 1
                        return inside
                    def handle(self, x: int) -> {annotation}:
                        return tag
                yield Handler
    """
    assert _inner_def_annotations(source, another_transform=True) == kept
