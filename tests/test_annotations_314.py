"""A method's deferred annotations (3.14, PEP 649) in a class built in a loop (issue 16 point 1).

Plain Python compiles a method's ``__annotate__`` in the class scope, where it reads the class
body's names through ``__classdict__``.  A def site is made by a factory, a function, whose
nested code cannot see them; the transformer makes the method's annotations (and a generic
method's type parameters) in the class body instead, with a def of its signature, and the
factory gives them to the method.  The late read of a loop variable in them is still a stale
read (issue 21).

A generic method's type parameters (3.12, PEP 695) are evaluated lazily in the class scope
too: when its annotations are not carried (before 3.14, or strings), its factory is generic
and carries them only.
"""

from __future__ import annotations

import ast
import json
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from pytest_latebind._recorder import Window, bind_sites
from pytest_latebind._transformer import _lines_from, compile_module, instrument

from .helpers import load, run

deferred = pytest.mark.skipif(sys.version_info < (3, 14), reason="annotations are deferred from 3.14 (PEP 649)")
generic = pytest.mark.skipif(sys.version_info < (3, 12), reason="type parameters are from 3.12 (PEP 695)")

HANDLERS = """
    import typing

    def deco(func):
        return func

    def handler_classes(kinds):
        out = []
        for kind in kinds:
            class Handler:
                Result = dict
                __Secret = tuple
                @deco
                def handle(self, raw: Result, *rest: __Secret, flag: bool = False, **options: "Result") -> Result:
                    return kind
                @staticmethod
                def typed(raw) -> kind:  # its annotations read the loop variable
                    return raw
                def pick[T: Result](self, x: T) -> list[T]:
                    return [x, kind, T]
                def early(self) -> kind:  # read in its round: no stale read
                    return kind
                hints_in_round = typing.get_type_hints(early)["return"]
            out.append(Handler)
        return out
"""

TESTS = """
    import typing

    import annotationlib
    import handlers

    def test_class_body_names_resolve():
        classes = handlers.handler_classes([int, str])
        values = {"raw": dict, "rest": tuple, "flag": bool, "options": "Result", "return": dict}
        for handler in classes:
            # A string is evaluated in the function's globals, as typing always does.
            assert typing.get_type_hints(handler.handle, localns=vars(handler)) == {**values, "options": dict}
            assert handler.handle.__annotations__ == values
            assert annotationlib.get_annotations(handler.handle, format=annotationlib.Format.STRING) == {
                "raw": "Result", "rest": "_Handler__Secret", "flag": "bool", "options": "Result", "return": "Result"}
            assert annotationlib.get_annotations(handler.handle, format=annotationlib.Format.FORWARDREF)["raw"] is dict
            assert handler.handle.__annotate__.__qualname__ == "handler_classes.<locals>.Handler.handle.__annotate__"
            [param] = handler.pick.__type_params__
            assert param.__bound__ is dict
            assert typing.get_type_hints(handler.pick) == {"x": param, "return": list[param]}
        assert [handler.hints_in_round for handler in classes] == [int, str]

    def test_hints_read_after_the_loop():
        classes = handlers.handler_classes([int, str])
        assert [typing.get_type_hints(handler.typed)["return"] for handler in classes] == [str, str]
"""


@deferred
def test_a_methods_annotations_read_the_class_body_and_stay_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(handlers=textwrap.dedent(HANDLERS), test_handlers=textwrap.dedent(TESTS))
    plain = run(pytester)
    plain.assert_outcomes(passed=2)
    report = pytester.path / "latebind.json"
    result = run(pytester, "--latebind", f"--latebind-report={report}")
    # The class body's names resolve as in plain Python; the stale read is the one plain
    # Python makes too (str for both rounds), reported.
    result.assert_outcomes(passed=1, failed=1)
    [finding] = json.loads(report.read_text())["findings"]
    source = (pytester.path / "handlers.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if text.endswith("# its annotations read the loop variable"))
    assert (finding["variable"], finding["line"], finding["tests"]) == (
        "kind", line, ["test_handlers.py::test_hints_read_after_the_loop"])
    assert (finding["created_with"], finding["seen"]) == (["<class 'int'>", "<class 'str'>"], "<class 'str'>")
    assert finding["first_stale_read"][-1] == {"file": "handlers.py", "line": line, "function": "__annotate__"}


@deferred
def test_annotations_of_a_method_made_in_a_function_loop(tmp_path: Path) -> None:
    source = """
        import typing

        def make(kinds):
            out = []
            for kind in kinds:
                class Box:
                    Item = list
                    def get(self, x: Item) -> kind:
                        return kind
                    async def fetch(self) -> Item:
                        return kind
                    def outer(self):
                        def inner(y: kind) -> "Item":  # not in the class body: a name of its own
                            return kind
                        return inner
                out.append(Box)
            return out
    """
    modules = [load(tmp_path, source, instrumented=flag) for flag in (False, True)]
    seen = []
    for module in modules:
        boxes = module.make([int, str])
        seen.append([(typing_hints(box.get), box.fetch.__annotations__, box().outer().__annotations__,
                      box.get.__annotate__.__qualname__) for box in boxes])
    assert seen[0] == seen[1] == [
        ({"x": list, "return": str}, {"return": list}, {"y": str, "return": "Item"},
         "make.<locals>.Box.get.__annotate__")] * 2


def typing_hints(func: object) -> dict[str, object]:
    import typing

    return typing.get_type_hints(func)


def _compiled(tmp_path: Path, source: str, **kwargs: Any) -> dict[str, Any]:
    """Execute ``source`` instrumented (``kwargs`` go to ``instrument``); its namespace."""
    source = textwrap.dedent(source)
    path = tmp_path / f"m{len(list(tmp_path.iterdir()))}.py"
    path.write_text(source)
    tree = ast.parse(source)
    sites = instrument(tree, source.splitlines(), **kwargs)
    assert sites
    namespace: dict[str, Any] = {"__name__": path.stem, "__file__": str(path)}
    exec(bind_sites(compile_module(tree, str(path), sites), str(path)), namespace)
    return namespace


def _shape(source: str, **kwargs: Any) -> tuple[int, int, int]:
    """(factories carrying annotations, donor defs, inner defs keeping annotations)."""
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    instrument(tree, source.splitlines(), **kwargs)
    defs = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]

    def annotated(node: ast.FunctionDef) -> bool:
        return node.returns is not None or bool(getattr(node, "type_params", ())) or any(
            arg.annotation is not None for arg in ast.walk(node.args) if isinstance(arg, ast.arg))
    return (sum(annotated(d) for d in defs if d.name.startswith("@latebind_f")),
            sum(d.name.startswith("@latebind_a") for d in defs),
            sum(annotated(d) for d in defs if d.name.startswith("@latebind_n")))


@deferred
@pytest.mark.parametrize(("source", "shape"), [
    ("""
        for k in range(2):
            class C:
                def m(self) -> int:
                    return k
     """, (1, 0, 0)),
    ("""
        for k in range(2):
            class C:
                def m[T](self, x):  # type parameters only: their bounds may name the class's names
                    return k
     """, (1, 0, 0)),
    ("""
        for k in range(2):
            class C:
                def m(self, x):  # no annotations: nothing to evaluate
                    return k
     """, (0, 0, 0)),
    ("""
        for k in range(2):
            def m(self) -> int:  # not in a class body: the factory sees what the def would
                return k
     """, (0, 0, 1)),
    ("""
        from __future__ import annotations
        for k in range(2):
            class C:
                def m(self) -> Result:  # strings: nothing to evaluate
                    return k
     """, (0, 0, 1)),
    ("""
        def make():
            for k in range(2):
                class C:
                    def m(self, k: k = None) -> int:  # a parameter named as the loop variable read
                        return 0
     """, (0, 1, 1)),
])
def test_where_a_methods_annotations_are_compiled(source: str, shape: tuple[int, int, int]) -> None:
    assert _shape(source) == shape


@deferred
def test_a_transform_after_ours_keeps_the_methods_annotations_and_gets_a_donor(tmp_path: Path) -> None:
    source = """
        def make(kinds):
            out = []
            for kind in kinds:
                class Box:
                    Item = list
                    def get(self, x: Item, *rest: int) -> kind:
                        return kind
                    def pick[T: Item](self, x: T) -> T:
                        return kind
                out.append(Box)
            return out
    """
    # typeguard reads a method's annotations from the tree, and would check a factory's.
    assert _shape(source, another_transform=True) == (0, 2, 2)
    boxes = _compiled(tmp_path, source, another_transform=True)["make"]([int, str])
    assert [box.get.__annotations__ for box in boxes] == [{"x": list, "rest": int, "return": str}] * 2
    assert [box.get.__annotate__.__qualname__ for box in boxes] == ["make.<locals>.Box.get.__annotate__"] * 2
    for box in boxes:
        [param] = box.pick.__type_params__
        assert (param.__bound__, box.pick.__annotations__) == (list, {"x": param, "return": param})


@deferred
def test_a_late_read_in_a_methods_annotations_is_still_stale(tmp_path: Path, window: Window) -> None:
    source = """
        def make(kinds):
            out = []
            for kind in kinds:
                class Box:
                    Item = list
                    def carried(self, x: Item) -> kind:
                        return 0
                    def clashing(self, kind: kind = None) -> Item:
                        return 0
                out.append(Box)
            return out
    """
    boxes = _compiled(tmp_path, source)["make"]([int, str])
    assert not window.take_stale()
    assert [box.carried.__annotations__ for box in boxes] == [{"x": list, "return": str}] * 2
    assert [box.clashing.__annotations__ for box in boxes] == [{"kind": str, "return": list}] * 2
    stale = window.take_stale()
    assert sorted((event.info.site.name, event.info.site.line, event.calls) for event in stale) == [
        ("carried", 7, 1), ("clashing", 9, 1)]


@deferred
def test_a_class_attribute_named_as_the_loop_variable_is_the_classs_in_annotations(
        tmp_path: Path, window: Window) -> None:
    source = """
        def make(kinds):
            out = []
            for kind in kinds:
                class Box:
                    kind = list
                    def get(self, x: kind) -> kind:  # the class's kind: no loop variable read
                        return kind
                out.append(Box)
            return out
    """
    plain = load(tmp_path, source, instrumented=False).make([int, str])
    boxes = _compiled(tmp_path, source)["make"]([int, str])
    assert [box.get.__annotations__ for box in boxes] == [box.get.__annotations__ for box in plain] == [
        {"x": list, "return": list}] * 2
    assert not window.take_stale()
    assert [box().get(None) for box in boxes] == [str, str]  # the body reads the loop's, late
    assert [(event.info.site.name, event.calls) for event in window.take_stale()] == [("get", 1)]


GENERIC = """
    def make(kinds):
        out = []
        for kind in kinds:
            class Box:
                Item = list
                __Secret = tuple
                def get[T: Item, U: (Item, __Secret), *Ts, **P](self, x: T, y: Item = None) -> U:
                    return kind
            out.append(Box)
        return out
"""


def _type_params(func: Any) -> list[tuple[str, object, object]]:
    return [(param.__name__, getattr(param, "__bound__", "-"), getattr(param, "__constraints__", "-"))
            for param in func.__type_params__]


@generic
@pytest.mark.parametrize("future", [False, True], ids=["evaluated", "strings"])
@pytest.mark.parametrize("another_transform", [False, True], ids=["alone", "another-transform"])
def test_a_generic_methods_type_parameters_read_the_class_body(
        tmp_path: Path, future: bool, another_transform: bool) -> None:
    source = ("from __future__ import annotations\n" if future else "") + textwrap.dedent(GENERIC)
    plain = load(tmp_path, source, instrumented=False).make([int, str])
    boxes = _compiled(tmp_path, source, another_transform=another_transform)["make"]([int, str])
    expected = [("T", list, ()), ("U", None, (list, tuple)), ("Ts", "-", "-"), ("P", None, "-")]
    assert [_type_params(box.get) for box in plain] == [_type_params(box.get) for box in boxes] == [expected] * 2
    assert [box().get(1) for box in boxes] == [str, str]
    for box in boxes:
        [t, u, _, _] = box.get.__type_params__
        annotations = box.get.__annotations__
        assert annotations == ({"x": "T", "y": "Item", "return": "U"} if future else {"x": t, "y": list, "return": u})
    # The type parameters are made once per def statement, by the def that carries them (a
    # donor's on 3.14 for a transform after ours), never inside the factory.
    tree = ast.parse(source)
    instrument(tree, source.splitlines(), another_transform=another_transform)
    carriers = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.type_params]
    donor = sys.version_info >= (3, 14) and not future and another_transform
    assert carriers == ["@latebind_a0" if donor else "@latebind_f0"]


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(_code_objects(const))
    return found


@deferred
def test_no_instruction_is_more_than_a_line_above_its_codes_first_line() -> None:
    # A method made in a carrying factory starts on its first decorator, above the factory's
    # def line; sys.monitoring reports an instruction further than one line up as line -1.
    source = textwrap.dedent("""
        def deco(func):
            return func
        for tag in "ab":
            class Handler:
                @deco

                @deco
                def handle(self, raw: int) -> str:
                    return tag
    """)
    tree = ast.parse(source)
    sites = instrument(tree, source.splitlines())
    codes = _code_objects(compile_module(tree, "m.py", sites))
    assert {code.co_firstlineno for code in codes if code.co_qualname == "Handler.handle"} == {6, 9}
    assert all(line is None or line >= code.co_firstlineno - 1 for code in codes for _, _, line in code.co_lines())


@deferred
def test_a_location_table_written_again_is_the_same() -> None:
    import inspect

    for code in _code_objects(compile(Path(inspect.__file__).read_text(), inspect.__file__, "exec")):
        again = code.replace(co_linetable=_lines_from(code, -1))
        assert list(again.co_positions()) == list(code.co_positions())
        assert list(again.co_lines()) == list(code.co_lines())
