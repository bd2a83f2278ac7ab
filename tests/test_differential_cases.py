"""Hand-written programs for the differential harness (issue 16): each runs plain and
instrumented in fresh interpreters, and everything it can observe must be the same
(``tests/differential_harness.py`` lists what is compared).

Cases named ``point_N_...`` pin issue 16's numbered points; while a point is open on a
version, its case is a strict xfail there, so it fails the day the point is fixed (remove the
mark then).  Cases named ``new_...`` pin differences the harness found beyond the issue's list.
The other cases are the shapes that held up; they must stay the same.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import pytest

from .differential_harness import (
    EVERYWHERE,
    Program,
    assert_same,
    compare,
    differential,
    has_coverage,
    run,
    target_version,
)

Version = tuple[int, int]
ALL: tuple[Version, Version] = ((3, 0), (4, 0))
FIXED: tuple[Version, Version] = ((0, 0), (0, 0))  # the point is fixed: the case must pass


class KnownDifference(AssertionError):
    """The differences a case pins, all where it says they are."""


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    others: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    # The known difference it pins: "point N" of issue 16 or "new: ...", its reason, and the
    # versions [from, until) where it still differs.
    point: str | None = None
    reason: str = ""
    fails: tuple[Version, Version] = ALL
    # Where its differences are (prefixes of the comparison's paths): a difference elsewhere
    # is a failure even while the case is an xfail.
    expect: tuple[str, ...] = (".",)
    since: Version = (3, 10)
    until: Version | None = None
    sites: bool = True  # it has closure sites: the instrumented run must make closures
    warns: bool = False  # the import hook may warn (a source it cannot instrument)
    coverage: bool = False  # about coverage: needs coverage.py in the interpreter that runs the programs
    measure: bool = True  # compare coverage lines (when coverage.py is there)

    def program(self) -> Program:
        return Program({name: textwrap.dedent(text) for name, text in {"prog": self.source, **self.others}.items()},
                       coverage=self.measure, files=self.files)

    def known_here(self) -> bool:
        return self.point is not None and self.fails[0] <= target_version() < self.fails[1]

    def param(self) -> Any:
        version = target_version()
        marks: list[Any] = []
        if version < self.since or (self.until is not None and version >= self.until):
            marks.append(pytest.mark.skip(reason=f"not a case for Python {version[0]}.{version[1]}"))
        elif self.coverage and not has_coverage():
            marks.append(pytest.mark.skip(reason="coverage.py is not installed"))
        elif self.known_here():
            marks.append(pytest.mark.xfail(strict=True, raises=KnownDifference,
                                           reason=f"issue 16 {self.point}: {self.reason}"))
        return pytest.param(self, id=self.name, marks=marks)

    @property
    def unmasked(self) -> tuple[str, ...]:
        return (self.point,) if self.point in EVERYWHERE else ()


CASES = [
    # -- point 1: annotations are evaluated inside the factory ----------------------------------
    Case("point_1_class_attribute_in_annotation", """
        import difftools
        def main():
            out = []
            for tag in ["a", "b"]:
                class Handler:
                    Result = dict
                    def handle(self) -> Result:
                        return tag
                out.append(Handler().handle())
                difftools.note(difftools.describe(Handler))
            return out
        """, point="point 1", fails=FIXED, expect=(".result", ".notes", ".coverage"),
        reason="3.14: the method's __annotate__ was compiled in its factory, where the class body's "
               "names are out of reach (before 3.14 the annotations are hoisted with the defaults)"),
    Case("point_1_method_annotations_read_the_class_body", """
        import sys, typing
        import difftools
        def deco(func):
            return func
        def main():
            out = []
            for tag in ["a", "b"]:
                class Handler:
                    Result = dict
                    __Secret = tuple
                    @deco
                    def handle(self, raw: Result, *rest: __Secret, flag: bool = False, **kw: "Result") -> Result:
                        return tag
                    @staticmethod
                    async def fetch(x: Result) -> None:
                        return tag
                    @property
                    def value(self) -> Result:
                        return tag
                out.append((Handler().handle(None), typing.get_type_hints(Handler.handle, localns=vars(Handler)),
                            typing.get_type_hints(Handler.fetch), Handler.value.fget.__annotations__))
                if sys.version_info >= (3, 14):
                    import annotationlib
                    out.append([annotationlib.get_annotations(Handler.handle, format=form) for form in (
                        annotationlib.Format.VALUE, annotationlib.Format.FORWARDREF, annotationlib.Format.STRING)])
                    out.append(Handler.handle.__annotate__.__qualname__)
                difftools.note(difftools.describe(Handler))
            return out
        """),
    Case("new_coverage_of_a_method_with_stacked_decorators", """
        def deco(func):
            return func
        def main():
            out = []
            for tag in ["a", "b"]:
                class Handler:
                    Item = int
                    @deco
                    @deco
                    def handle(self, raw: Item) -> str:
                        return tag
                    @deco

                    # a comment between a decorator and its def
                    @staticmethod
                    def pick[T: Item](x: T) -> list[T]:
                        return [x, tag]
                out.append((Handler().handle(1), Handler.pick(2), Handler.handle.__annotations__))
            return out
        """, coverage=True, since=(3, 12), point="new: coverage of stacked decorators", fails=FIXED,
        expect=(".coverage",),
        reason="3.14: a method's factory is on its def line, so that the __annotate__ it carries has the def's "
               "first line, but the method made in it starts on the first decorator: an instruction more than one "
               "line above its code's first line was a LINE event on line -1 (sys.monitoring), which coverage.py "
               "recorded as a line the file does not have"),
    Case("point_1_bad_annotation_frames", """
        import difftools
        def main():
            for tag in ["a"]:
                try:
                    def handle(x: undefined_name) -> int:
                        return tag
                except NameError as exc:
                    difftools.note(difftools.exception(exc))
                else:
                    difftools.note("deferred", handle.__name__)
        """, measure=False,  # point 6: the def is never called (its last line)
        point="point 1", fails=FIXED, expect=(".notes[0][0]", ".namespaces.prog.described.main"),
        reason="the NameError of a bad annotation carries the plugin's made() and factory frames"),
    Case("point_1_walrus_in_annotation", """
        def main():
            for tag in ["a", "b"]:
                def handle(x: (seen := tag)) -> int:
                    return tag
            return seen, handle("x")
        """, point="point 1", fails=FIXED, until=(3, 14),
        expect=(".result", ".namespaces.prog.described.main"),
        reason="a walrus in an annotation binds in the factory, not in the function"),

    Case("point_1_annotation_order_and_yield", """
        LOG = []
        def t(x):
            LOG.append(x)
            return x
        def gen():
            for tag in ["a", "b"]:
                def f(a: t("a_a") = t("d_a"), /, b: t("a_b") = t("d_b"), *c: t("a_c"),
                      d: t("a_d") = t("k_d"), **e: (yield tag)) -> t("ret"):
                    return tag
                yield f.__annotations__, f()
        def main():
            g = gen()
            out = [next(g), g.send("sent"), next(g), g.send("again")]
            return out, LOG
        """, point="point 1", fails=FIXED, until=(3, 14),
        reason="annotations are evaluated after the defaults, in the compiler's order, in the enclosing frame"),
    Case("held_generic_def_annotations", """
        def main():
            out = []
            for tag in ["a", "b"]:
                class Box:
                    Item = int
                    def get[T](self, x: T, y: Item = 0) -> list[T]:
                        return [x, tag]
                out.append((Box().get(1), Box.get.__annotations__["x"].__name__))
            return out
        """, since=(3, 12)),
    Case("new_generic_method_bound_names_the_class_body", """
        import traceback
        import difftools
        def deco(func):
            return func
        def lazy(func):
            out = []
            for param in func.__type_params__:
                for attr in ("__bound__", "__constraints__"):  # a TypeVarTuple has neither
                    try:
                        out.append((param.__name__, attr, getattr(param, attr, "-")))
                    except NameError as exc:
                        out.append((param.__name__, attr, str(exc),
                                    [(frame.name, frame.lineno) for frame in traceback.extract_tb(exc.__traceback__)]))
            return out
        def main():
            out = []
            for tag in ["a", "b"]:
                class Box:
                    Item = int
                    __Secret = str
                    @deco
                    def get[T: Item, *Ts](self, x: T, y: Item = 0) -> T:
                        return tag
                    @staticmethod
                    def pick[K: (Item, __Secret), **P](k: K, *args: P.args, **kwargs: P.kwargs) -> list[K]:
                        return [k, tag]
                    @classmethod
                    def bad[B: Missing](cls) -> B:
                        return tag
                out.append((Box().get(1), Box.pick(2), Box.bad(), lazy(Box.get), lazy(Box.pick), lazy(Box.bad),
                            Box.get.__annotations__["x"] is Box.get.__type_params__[0]))
                difftools.note(difftools.describe(Box))
            return out
        """, since=(3, 12), point="new: type parameter bounds", fails=FIXED, expect=(".result",),
        reason="3.12-3.13: a generic method's type parameters were made in its factory, where the class body's "
               "names are out of reach, so a bound, constraint or default that names one raised NameError when "
               "evaluated (from 3.14 they were made in the class body, with its annotations)"),
    Case("new_generic_method_annotation_names_a_type_parameter_and_the_class_body", """
        def main():
            out = []
            for tag in ["a", "b"]:
                class Box:
                    Item = int
                    def get[T](self, x: dict[T, Item]) -> T:
                        return tag
                out.append((Box().get(1), Box.get.__annotations__))
            return out
        """, since=(3, 12), point="new: generic annotations", fails=((3, 12), (3, 14)), expect=(".result", ".coverage"),
        reason="3.12-3.13: a generic method's annotation that names a type parameter is evaluated in its "
               "factory, where the type parameters are but the class body's names are out of reach (the other "
               "annotations are hoisted; from 3.14 the factory carries them all)"),
    Case("held_generic_method_type_param_defaults", """
        from __future__ import annotations
        import difftools
        def main():
            out = []
            for tag in ["a", "b"]:
                class Box:
                    Item = int
                    def get[T: Item = Item, *Ts = *tuple[Item, ...]](self, x: T) -> list[T]:
                        return tag
                [param, rest] = Box.get.__type_params__
                out.append((Box().get(1), param.__bound__, param.__default__, rest.__default__,
                            Box.get.__annotations__))
                difftools.note(difftools.describe(Box))
            return out
        """, since=(3, 13)),
    # -- point 2: a walrus in a generator expression --------------------------------------------
    Case("point_2_walrus_in_genexp", """
        def main():
            gens = []
            last = None
            for k in [2, 3]:
                gens.append((last := v * k) for v in [1, 2])
                gens.append(v * k for v in [5])
            return [list(g) for g in gens], last
        """),
    Case("point_2_walrus_in_class_body_comprehension", """
        class Table:
            for k in [1, 2]:
                rows = [(last := v) for v in range(k)]
        def main():
            return Table.rows
        """, sites=False, warns=True, point="new: loader frames", fails=FIXED,
        expect=(".import",),
        reason="the SyntaxError has the plugin loader's get_code and _plain frames, and importlib's "
               "frames above them, which CPython trims only from a chunk of its own frames"),

    # -- point 3: the module-global handle --------------------------------------------------------
    Case("point_3_module_namespace", """
        fs = [lambda: i for i in range(2)]
        def main():
            return sorted(n for n in dir() + list(globals()) if not n.startswith("__"))
        """, point="point 3", fails=FIXED, reason="dir(module) and vars(module) list @latebind and @latebind_register"),
    Case("point_3_star_import_of_an_instrumented_module", """
        from helper import *
        def main():
            mine = [lambda: i * 10 for i in range(3)]
            return [f() for f in made_there()], [f() for f in mine]
        """, others={"helper": """
            def made_there():
                return [lambda: i for i in range(2)]
            """}, point="point 3", fails=FIXED,
        reason="from m import * copies @latebind into the importing module, whose sites then reach the wrong table"),
    Case("point_3_module_deletes_its_helpers", """
        import sys
        for _name in [n for n in globals() if not n.startswith("__")]:
            del globals()[_name]
        del _name
        def main():
            return [f() for f in [lambda: i for i in range(2)]]
        """, point="point 3", fails=FIXED,
        reason="a module that deletes its helper globals gets NameError: '@latebind'"),
    Case("point_3_class_namespace_missing", """
        class Namespace(dict):
            def __missing__(self, key):
                MISSED.append(key)
                raise KeyError(key)
        class Meta(type):
            @classmethod
            def __prepare__(mcs, name, bases):
                return Namespace()
        MISSED = []
        class Table(metaclass=Meta):
            rows = []
            for k in [1, 2]:
                rows.append(lambda k=k: k)
            makers = [lambda: j for j in range(2)]
        def main():
            return MISSED, [f() for f in Table.makers]
        """, point="point 3", fails=FIXED, reason="a class namespace's __missing__ is asked for '@latebind'"),
    Case("held_star_import_with_all", """
        from helper import *
        def main():
            mine = [lambda: i * 10 for i in range(3)]
            return ([f() for f in made_there()], [f() for f in mine],
                    sorted(n for n in globals() if not n.startswith("__")))
        """, others={"helper": """
            __all__ = ["made_there"]
            def made_there():
                return [lambda: i for i in range(2)]
            """}),

    # -- point 4: frames of a failure while making a closure -------------------------------------
    Case("point_4_genexp_over_a_non_iterable", """
        import difftools
        def main():
            for k in [3]:
                try:
                    gen = (x * k for x in None)
                except TypeError as exc:
                    difftools.note(difftools.exception(exc))
        """, point="point 4", fails=FIXED, expect=(".notes[0][0]",),
        reason="the TypeError of iter() raised in the factory shows made() and the factory"),
    Case("point_4_genexp_over_a_failing_iterable", """
        import difftools
        class NotIterable:
            def __iter__(self):
                raise ValueError("no")
        class Items:
            def __getitem__(self, i):
                if i > 2:
                    raise IndexError(i)
                return i
        def main():
            gens = []
            for k in [3, 4]:
                for bad in [NotIterable(), 5]:
                    try:
                        gens.append((x * k
                                     for x in bad))
                    except (ValueError, TypeError) as exc:
                        difftools.note(difftools.exception(exc))
                gens.append((x * k for x in Items()))
                gens.append((x * k for x in iter([1, 2])))
                gens.append((x * y for x in [k] for y in None))
            out = []
            for g in gens:
                try:
                    out.append(list(g))
                except TypeError as exc:
                    difftools.note(difftools.exception(exc))
            return out
        """, point="point 4", fails=FIXED, reason="iter() of a genexp's first iterable runs in the user's frame"),
    Case("held_genexp_with_iter_bound_by_the_module", """
        import difftools
        CALLS = []
        def iter(x):
            CALLS.append(x)
            return __builtins__["iter"](x) if isinstance(__builtins__, dict) else __builtins__.iter(x)
        def main():
            gens = []
            for k in [3]:
                gens.append(x * k for x in [1, 2])
                try:
                    gens.append(x * k for x in None)
                except TypeError as exc:
                    difftools.note(type(exc).__name__)
            return [list(g) for g in gens], CALLS
        """),
    Case("held_failing_default_and_decorator", """
        import difftools
        def bad(func):
            raise ValueError("decorator")
        def main():
            for i in range(2):
                try:
                    @bad
                    def f():
                        return i
                except ValueError as exc:
                    difftools.note(difftools.exception(exc))
                try:
                    g = lambda x=1 / 0: i
                except ZeroDivisionError as exc:
                    difftools.note(difftools.exception(exc))
                try:
                    def h(x=[][i]):
                        return i
                except IndexError as exc:
                    difftools.note(difftools.exception(exc))
        """, measure=False,  # point 6: the closures whose decorator or default failed are never called
        point="point 5", fails=FIXED, expect=(".notes",),
        reason="on 3.10 the frame of a failing decorator is on the @ line, plain Python's on the def line"),

    # -- point 6: coverage ---------------------------------------------------------------------
    Case("point_6_coverage_of_a_never_called_closure", """
        def main():
            fs = []
            for i in range(2):
                def never():
                    a = i
                    return a
                fs.append(never)
            return len(fs)
        """, coverage=True, point="point 6", fails=FIXED, expect=(".coverage",),
        reason="coverage.py counts the never-called def's last line as run"),
    Case("held_coverage_of_called_closures", """
        def main():
            fs = []
            for i in range(2):
                fs.append(lambda: i)
                def called(x=1):
                    y = x + i
                    return y
                fs.append(called)
            return [f() for f in fs]
        """, coverage=True),

    # -- point 7: the loader -----------------------------------------------------------------------
    Case("point_7_spec_loader", """
        import importlib.machinery
        fs = [lambda: i for i in range(2)]
        def main():
            loader = __spec__.loader
            return type(loader).__name__, type(__loader__).__name__, loader is __loader__
        """, point="point 7", expect=(".result",),
        reason="__spec__.loader is the plugin's InstrumentingLoader"),
    Case("point_7_spec_equals_a_fresh_spec", """
        import importlib.machinery, importlib.util, pydoc, sys
        fs = [lambda: i for i in range(2)]
        def main():
            fresh = importlib.util.spec_from_file_location(__name__, __file__)
            plain = importlib.machinery.SourceFileLoader(__name__, __file__)
            other = importlib.machinery.SourceFileLoader(__name__ + "x", __file__)
            again = pydoc.importfile(__file__)
            return (fresh == __spec__, __spec__ == fresh, __loader__ == plain, plain == __loader__,
                    __loader__ != plain, hash(__loader__) == hash(plain), __loader__ == other,
                    sorted(vars(__loader__)), again.__spec__ == __spec__, [f() for f in again.fs])
        """),
    Case("point_7_loader_apis", """
        import importlib, importlib.resources, inspect, pkgutil, sys
        import difftools
        fs = [lambda: i for i in range(2)]
        def main():
            me = sys.modules[__name__]
            difftools.note(pkgutil.get_data(__name__, "data.txt"))
            difftools.note(__loader__.get_source(__name__).splitlines()[2])
            difftools.note(inspect.getsource(me).splitlines()[2])
            difftools.note(__loader__.get_filename(__name__), __loader__.is_package(__name__))
            difftools.note(__spec__.origin, __spec__.cached, __spec__.has_location, __spec__.parent)
            again = importlib.reload(me)
            difftools.note(again is me, [f() for f in again.fs])
            return "ok"
        """, files={"data.txt": "some data\\n"}),
    Case("point_7_runpy_and_resources", """
        import importlib.resources, runpy, sys
        import difftools
        fs = [lambda: i for i in range(2)]
        def main():
            ns = runpy.run_module("other", run_name="not_main")
            difftools.note(sorted(k for k in ns if not k.startswith("__")), [f() for f in ns["fs"]])
            difftools.note(importlib.resources.files("pkg").joinpath("data.txt").read_text())
            import pkg
            return [f() for f in pkg.fs]
        """, others={"other": "fs = [lambda: i for i in range(2)]\n",
                     "pkg/__init__": "fs = [lambda: i + 1 for i in range(2)]\n"},
        files={"pkg/data.txt": "package data\n"}),

    # -- point 8: recursion headroom -----------------------------------------------------------
    Case("point_8_recursion_headroom_when_making_closures", """
        def main():
            def deep(n):
                for i in range(1):
                    f = lambda: i
                try:
                    return deep(n + 1)
                except RecursionError:
                    return n
            return deep(0)
        """, point="point 8", expect=(".result",),
        reason="making a closure needs two frames more (made(), the factory): documented, and pinned "
               "exactly in tests/test_recorder.py"),
    Case("held_recursion_headroom_inside_closures", """
        import difftools
        def main():
            out = []
            for i in range(2):
                def probe():
                    return difftools.headroom() + i
                out.append(probe())
                out.append((lambda: difftools.headroom() - i)())
            return out
        """),

    # -- point 9: extra cells --------------------------------------------------------------------
    Case("point_9_closure_cells", """
        import difftools, inspect
        def main():
            fs = [lambda: i for i in range(2)]
            def show():
                return sorted(locals())
            out = []
            for k in [1]:
                def inner():
                    return sorted(locals()), k
                out.append(inner())
            difftools.note([difftools.describe(f) for f in fs], out)
            return inspect.getclosurevars(fs[0]).nonlocals
        """, point="point 9", expect=(".result", ".notes"),
        reason="co_freevars, __closure__, locals() and getclosurevars show the token and baselines"),

    # -- new: the enclosing function's code object ----------------------------------------------
    Case("new_enclosing_code_names", """
        import difftools, inspect
        def main():
            fs = []
            for i in range(2):
                def f():
                    return i
                fs.append(f)
                fs.append((x + i for x in [1]).__next__)
            return [f() for f in fs]
        def show():
            return main.__code__.co_varnames, main.__code__.co_nlocals, main.__code__.co_names
        """, point="new: enclosing code", expect=(".namespaces.prog.described.main",),
        reason="the enclosing function's co_varnames has the def factory's '@latebind_f<i>', co_names "
               "and getclosurevars' unbound the 'made' it calls, co_names and builtins the 'iter' it "
               "calls on a generator expression's first iterable"),

    Case("new_code_flags", """
        import difftools
        for suffix in ["!"]:
            def shout(text):
                return text + suffix
            class Point:
                def tag(self):
                    return suffix
        def main():
            return (shout("a"), Point().tag(), difftools.describe(shout)["co_flags"],
                    difftools.describe(Point)["members"]["tag"]["co_flags"])
        """, point="new: code flags", expect=(".result", ".namespaces.prog.described"),
        reason="a site's code is compiled in its factory: CO_NESTED at module level and in class bodies, "
               "CO_METHOD (3.14) lost, CO_NOFREE (3.10) lost"),
    Case("held_class_static_attributes", """
        import difftools
        def main():
            out = []
            for n in [1, 2]:
                class Point:
                    def __init__(self):
                        self.x = n
                    def move(self):
                        self.y = self.x + n
                        return self.y
                out.append((Point().move(), getattr(Point, "__static_attributes__", None)))
            return out
        """),

    # -- the shapes that held up -----------------------------------------------------------------
    Case("held_tracebacks_inside_closures", """
        import difftools
        def main():
            fs = []
            for d in [1, 0]:
                fs.append(lambda x: x / d)
                def g(key, d=d):
                    return {"a": d}[key] + d
                fs.append(g)
            for f, arg in zip(fs, [1, "a", 1, "b"]):
                try:
                    difftools.note(f(arg))
                except Exception as exc:
                    difftools.note(difftools.exception(exc))
            del d
            try:
                fs[0](1)
            except NameError as exc:
                difftools.note(difftools.exception(exc))
            fs[0](1)
        """),
    Case("held_super_and_class", """
        class Base:
            def hello(self):
                return "base"
        def main():
            out = []
            for tag in ["x", "y"]:
                class Child(Base):
                    def hello(self):
                        return super().hello() + tag + __class__.__name__
                    @classmethod
                    def kind(cls):
                        return cls.__qualname__ + tag
                    @property
                    def prop(self):
                        return tag * 2
                out.append((Child().hello(), Child.kind(), Child().prop))
            return out
        """, measure=False),  # the decorated defs' lines: new_coverage_of_a_decorated_def_line
    Case("new_coverage_of_a_decorated_def_line", """
        def main():
            out = []
            for tag in ["x", "y"]:
                @staticmethod
                def kind():
                    return tag
                out.append(kind())
            return out
        """, coverage=True, point="new: coverage of a decorated def", fails=FIXED, expect=(".coverage",),
        reason="coverage.py does not see the def line of a decorated def site run (its factory is on the "
               "decorator's line)"),
    Case("held_nonlocal_global_del", """
        COUNT = 0
        def main():
            total = 0
            fs = []
            for w in [1, 2]:
                def add(n):
                    nonlocal total
                    global COUNT
                    COUNT += 1
                    total += n * w
                    return total
                fs.append(add)
            results = [f(3) for f in fs]
            for v in [5]:
                g = lambda: v
                del v
                try:
                    g()
                except NameError as exc:
                    results.append(str(exc))
            return results, total, COUNT
        """),
    Case("held_source_signature_pickle_hints", """
        import inspect, pickle, typing
        for suffix in ["!"]:
            def shout(text: str, *, times: int = 1) -> str:
                \"\"\"Shout.\"\"\"
                return (text.upper() + suffix) * times
            class Point:
                def __init__(self, x: int) -> None:
                    self.x = x
                def tag(self):
                    return suffix
        def main():
            again = pickle.loads(pickle.dumps(shout))
            point = pickle.loads(pickle.dumps(Point(3)))
            return (inspect.getsource(shout), str(inspect.signature(shout)), again("a", times=2),
                    typing.get_type_hints(shout), point.x, point.tag(), shout.__doc__,
                    inspect.getsourcelines(Point.tag)[1])
        """),
    Case("held_dataclasses_in_a_loop", """
        import dataclasses
        def main():
            out = []
            for default in [1, 2]:
                @dataclasses.dataclass(frozen=True)
                class Row:
                    a: int = default
                    b: list = dataclasses.field(default_factory=lambda: [default])
                    def total(self):
                        return self.a + default
                out.append((Row(), Row().total(), dataclasses.fields(Row)[1].name, repr(Row(5))))
            return out
        """),
    Case("held_generators_and_async", """
        import difftools
        def main():
            out = []
            for start in [5, 7]:
                def count(n):
                    received = yield start
                    for k in range(n):
                        received = yield (start + k, received)
                    return "done"
                gen = count(2)
                out.append([next(gen), gen.send("a"), gen.send("b")])
                try:
                    gen.send("c")
                except StopIteration as stop:
                    out.append(stop.value)
                async def wait(result):
                    return result + start
                out.append(difftools.drive(wait(1)))
                async def ticks(n):
                    for i in range(n):
                        yield i * start
                agen = ticks(2)
                out.append([difftools.drive(agen.__anext__()), difftools.drive(agen.__anext__())])
                lam = lambda: (yield start)
                out.append(list(lam()))
            return out
        """),
    Case("held_match_in_closures", """
        def main():
            out = []
            for shape in [(1, 2), [3], {"k": 4}, "s"]:
                def classify():
                    match shape:
                        case (a, b):
                            return ("pair", a, b)
                        case [a]:
                            return ("one", a)
                        case {"k": v}:
                            return ("map", v)
                        case _:
                            return ("other", shape)
                out.append(classify())
            return out
        """),
    Case("held_pep_695", """
        import difftools
        def main():
            out = []
            for n in [1, 2]:
                def first[T](xs: list[T]) -> T:
                    return xs[0] * n
                class Box[T]:
                    def get(self, x: T) -> T:
                        return x * n
                type Alias[T] = list[T]
                out.append((first([3]), Box().get(2), first.__type_params__[0].__name__,
                            Box.__type_params__[0].__name__, Alias.__value__))
                difftools.note(difftools.describe(first), difftools.describe(Box))
            return out
        """, since=(3, 12)),
    Case("held_exception_groups", """
        import difftools
        def main():
            fs = []
            for code in [1, 2]:
                def fail():
                    raise ExceptionGroup("g", [ValueError(code), KeyError(code)])
                fs.append(fail)
            for f in fs:
                try:
                    f()
                except* ValueError as group:
                    difftools.note(difftools.exception(group))
                except* KeyError as group:
                    difftools.note(str(group.exceptions))
        """, since=(3, 11)),
    Case("held_finalizer_and_del_order", """
        import gc, weakref
        class Thing:
            def __init__(self, name):
                self.name = name
            def __del__(self):
                print("del", self.name)
        def main():
            keep = []
            for n in range(3):
                thing = Thing(n)
                weakref.finalize(thing, print, "finalize", n)
                keep.append(lambda: thing.name)
                def holder(t=thing):
                    return t.name, n
                keep.append(holder)
            print([f() for f in keep])
            keep.pop()
            gc.collect()
            print("dropped one")
            del keep[:2]
            gc.collect()
            print("dropped two")
            return len(keep)
        LATE = [Thing("module-level")]
        """),
    Case("held_decorators_defaults_order", """
        import functools
        LOG = []
        def deco(name):
            LOG.append(f"eval {name}")
            def apply(func):
                LOG.append(f"apply {name}")
                @functools.wraps(func)
                def wrapper(*args, **kwargs):
                    return (name, func(*args, **kwargs))
                return wrapper
            return apply
        def default(value):
            LOG.append(f"default {value}")
            return value
        def main():
            out = []
            for tag in ["t", "u"]:
                @deco("outer")
                @deco("inner")
                def decorated(a, b=default("b"), *, c=default("c"), **rest):
                    return (tag, a, b, c, rest)
                out.append(decorated(1, d=2))
                out.append(decorated.__wrapped__.__code__.co_firstlineno)
            return out, LOG
        """),
    Case("held_module_level_loop_and_comprehensions", """
        import difftools
        handlers = {}
        for name in ["a", "b"]:
            handlers[name] = lambda x: f"{name}:{x}"
        squares = [lambda: k * k for k in range(3)]
        table = {k: (lambda: k) for k in "xy"}
        gen = list(x * k for k in [2] for x in range(2))
        def main():
            difftools.note(difftools.describe(handlers["a"]))
            return ([h(1) for h in handlers.values()], [f() for f in squares], [f() for f in table.values()],
                    gen, name, k if "k" in globals() else None)
        """),
    Case("new_import_time_traceback", """
        fs = []
        for i in range(2):
            fs.append(lambda: 1 / (i - 1))
        value = fs[0]()
        """, point="new: loader frames", fails=FIXED, expect=(".import",),
        reason="an exception raised while an instrumented module is imported has the plugin loader's "
               "exec_module frame in its traceback"),
]


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_plain_and_instrumented_observe_the_same(case: Case) -> None:
    program = case.program()
    outcome = differential(program, unmasked=case.unmasked, warns=case.warns)
    if case.sites:
        assert outcome.instrumented.meta["sites"].get("prog"), "the case has no closure site to instrument"
        if case.point is None:  # a known difference may be that making the closure fails
            assert outcome.instrumented.meta.get("made", 1), "the instrumented run made no closure at a site"
    if case.coverage:
        assert outcome.plain.observed["coverage"], "coverage.py measured nothing"
    if case.known_here() and outcome.differences:
        elsewhere = [line for line in outcome.differences if not line.startswith(case.expect)]
        assert not elsewhere, f"differences beyond the known ones ({case.expect}):\n" + "\n".join(elsewhere)
        raise KnownDifference(outcome.report())
    assert not outcome.differences, outcome.report()


# -- the harness finds what it is meant to find ----------------------------------------------------
BASE = """
import difftools, weakref
class Thing:
    def __init__(self, name):
        self.name = name
def main():
    fs = [lambda: i for i in range(2)]
    print("hello")
    a, b = Thing("a"), Thing("b")
    weakref.finalize(a, print, "a"); weakref.finalize(b, print, "b")
    del a; del b
    difftools.note(difftools.describe(fs[0]))
    try:
        raise ValueError(1)
    except ValueError as exc:
        difftools.note(difftools.exception(exc))
    if fs[0]() == 1:
        return [f() for f in fs]
    return None
"""

# One change each, and where the comparison must see it.
PLANTED = {
    "result": (("return [f() for f in fs]", "return [f() + 1 for f in fs]"), ".result.value"),
    "stdout": (('print("hello")', 'print("hullo")'), ".stdout"),
    "finalizer_order": (("del a; del b", "del b; del a"), ".stdout"),
    "traceback_column": (("raise ValueError(1)", "raise  ValueError(1)"), ".notes[1][0].chain[0].frames"),
    "exception_type": (("raise ValueError(1)\n    except ValueError", "raise KeyError(1)\n    except KeyError"),
                       ".notes[1][0].chain[0].type"),
    "names": (("class Thing:", "extra = 1\nclass Thing:"), ".namespaces.prog.dir"),
    "signature": (("lambda: i for", "lambda x=0: i for"), ".notes[0][0].signature"),
    "free_variables": (("lambda: i for", "lambda: (i, difftools) for"), ".notes[0][0].co_names"),
    "coverage": (("if fs[0]() == 1:", "if fs[0]() == 2:"), ".coverage"),
}


@pytest.mark.parametrize("channel", sorted(PLANTED))
def test_the_comparison_sees_a_planted_difference(channel: str, tmp_path: Any) -> None:
    (old, new), where = PLANTED[channel]
    if channel == "coverage" and not has_coverage():
        pytest.skip("coverage.py is not installed")
    assert old in BASE
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    same = run(Program.of(BASE), "plain", tmp_path / "a").observed
    again = run(Program.of(BASE), "plain", tmp_path / "b").observed
    assert compare(same, again, unmasked=()) == []  # deterministic: the same program twice
    (tmp_path / "c").mkdir()
    changed = run(Program.of(BASE.replace(old, new)), "plain", tmp_path / "c").observed
    differences = compare(same, changed)
    assert any(line.startswith(where) for line in differences), differences


def test_the_instrumented_run_is_instrumented() -> None:
    """A program that looks for the plugin's cells sees them only when instrumented, and the
    recorder sees its stale read: the instrumented run ran the plugin's code in a window."""
    outcome = differential(Program.of("""
        def main():
            fs = [lambda: i for i in range(2)]
            return [f() for f in fs], any(n.startswith("@latebind") for n in fs[0].__code__.co_freevars)
        """))
    assert outcome.plain.observed["result"] == {"value": "([1, 1], False)"}
    assert outcome.instrumented.observed["result"] == {"value": "([1, 1], True)"}
    assert outcome.differences == ['.result.value: plain \'([1, 1], False)\' != instrumented \'([1, 1], True)\'']
    assert outcome.instrumented.meta["made"] == 2
    assert outcome.instrumented.meta["stale_reads"] == 1


def test_the_masks_drop_only_the_plugins_names() -> None:
    """The masks of the differences every instrumented program shows keep the program's own."""
    plain = {"namespaces": {"m": {"dir": ["a", "b"], "vars": ["a", "b"], "types": {"a": "int", "b": "int"}}},
             "f": {"co_freevars": ["i"], "closure_len": 1, "co_names": ["read"], "co_varnames": ["x"],
                   "closurevars": {"nonlocals": ["i"], "unbound": ["read"]}}}
    same = {"namespaces": {"m": {"dir": ["@latebind", "a", "b"], "vars": ["a", "@latebind", "b"],
                                 "types": {"a": "int", "@latebind": "ModuleSites", "b": "int"}}},
            "f": {"co_freevars": ["i", "@latebind_token0"], "closure_len": 2, "co_names": ["read"],
                  "co_varnames": ["x"], "closurevars": {"nonlocals": ["@latebind_token0", "i"], "unbound": ["read"]}}}
    assert compare(plain, same) == []
    other = {"namespaces": {"m": {"dir": ["a"], "vars": ["a", "b"], "types": {"a": "int", "b": "int"}}},
             "f": {"co_freevars": ["j", "@latebind_token0"], "closure_len": 2, "co_names": ["read"],
                   "co_varnames": ["x"], "closurevars": {"nonlocals": ["@latebind_token0", "j"], "unbound": ["read"]}}}
    assert {line.split(":")[0] for line in compare(plain, other)} == {
        ".namespaces.m.dir", ".f.co_freevars[0]", ".f.closurevars.nonlocals[0]"}
    assert compare(plain, same, unmasked=("point 3",)) != []


def test_assert_same_fails_on_a_difference() -> None:
    with pytest.raises(AssertionError, match=r"\.result\.value"):
        assert_same(Program.of("""
            def main():
                fs = [lambda: i for i in range(2)]
                return "@latebind_token0" in fs[0].__code__.co_freevars
            """))
