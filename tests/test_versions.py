"""Version-sensitive syntax and semantics: the same sites, behaviour and findings on 3.10-3.14.

CPython changed exactly what the plugin reads between versions: comprehensions are inlined
into their function from 3.12 (PEP 709), type parameters get annotation scopes from 3.12
(PEP 695), ``except*`` exists from 3.11, annotations are deferred from 3.14 (PEP 649/749),
and 3.10 code objects have no ``co_qualname``.  Every case below is checked three ways:

* static: :func:`find_sites` finds the sites written in the case, on every version;
* run time: the instrumented module behaves exactly as the plain one (results, exceptions,
  ``__name__``, ``__qualname__``, code names, line numbers);
* findings: the recorder and the judge report the findings written in the case, and
  ``check()`` on the plain closures reports the same shared bindings, on every version.

Sources that older versions cannot parse live in strings, so this module imports on 3.10.
"""

from __future__ import annotations

import ast
import json
import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_latebind._cells import check
from pytest_latebind._judge import judge
from pytest_latebind._recorder import RECORDER, Window, record_of
from pytest_latebind._scopes import find_sites
from pytest_latebind._transformer import TOKEN

from .helpers import load

Finding = tuple[int, str, tuple[str, ...], str]  # line, variable, created_with, seen


@dataclass(frozen=True)
class Case:
    """A module defining ``make()`` (the closures, made in a loop) and ``observe(fs)``.

    ``observe`` turns the closures into plain data: what calling them returns or raises,
    and their names.  ``stale`` are the stale reads ``observe`` makes; ``shared`` the shared
    bindings among the closures ``make()`` returns (judged while they are alive).
    """

    name: str
    source: str
    sites: list[tuple[str, str, int, tuple[str, ...]]]
    shared: set[Finding] = field(default_factory=set)
    stale: set[Finding] = field(default_factory=set)
    since: tuple[int, int] = (3, 10)
    until: tuple[int, int] | None = None  # first version the case no longer describes
    checkable: bool = True  # make() returns the closures themselves, for check()

    def runs_here(self) -> bool:
        return sys.version_info >= self.since and (self.until is None or sys.version_info < self.until)

    def param(self) -> Any:
        marks = []
        if sys.version_info < self.since:
            marks.append(pytest.mark.skip(reason=f"needs Python {'.'.join(map(str, self.since))}+ syntax"))
        elif not self.runs_here():
            marks.append(pytest.mark.skip(reason=f"Python {'.'.join(map(str, self.until or ()))}+ "
                                                 "behaves differently: see the case's twin"))
        return pytest.param(self, id=self.name, marks=marks)


# The default ``observe``: call every closure without arguments.
OBSERVE = """
def observe(fs):
    out = []
    for f in fs:
        try:
            result = f()
        except Exception as exc:
            result = (type(exc).__name__, str(exc))
        out.append((f.__name__, f.__qualname__, f.__code__.co_name, result))
    return out
"""

GROUPS = ("ExceptionGroup('g', [ValueError(1)])", "ExceptionGroup('g', [ValueError(2)])")

CASES = [
    Case("listcomp_in_function", """
        def make():
            return [lambda: i for i in range(3)]
        """,
        sites=[("lambda", "<lambda>", 2, ("i",))],
        shared={(2, "i", ("0", "1", "2"), "2")},
        stale={(2, "i", ("0", "1", "2"), "2")}),
    Case("listcomp_at_module_level", """
        kept = [lambda: i for i in range(3)]
        def make():
            return list(kept)
        """,
        sites=[("lambda", "<lambda>", 1, ("i",))],
        shared={(1, "i", ("0", "1", "2"), "2")},
        stale={(1, "i", ("0", "1", "2"), "2")}),
    Case("listcomp_in_class_body", """
        class Table:
            rows = [lambda: i * 10 for i in range(2)]
        def make():
            return list(Table.rows)
        """,
        sites=[("lambda", "<lambda>", 2, ("i",))],
        shared={(2, "i", ("0", "1"), "1")},
        stale={(2, "i", ("0", "1"), "1")}),
    Case("comprehension_keeps_the_outer_name", """
        def make():
            i = "outer"
            fs = [lambda: i for i in range(2)]
            fs.append(lambda: i)  # reads the function's own i: not a loop variable
            return fs
        """,
        sites=[("lambda", "<lambda>", 3, ("i",))],
        shared={(3, "i", ("0", "1"), "1")},
        stale={(3, "i", ("0", "1"), "1")}),
    Case("comprehension_inside_a_loop", """
        def make():
            fs = []
            for j in "ab":
                fs.extend([lambda: (j, i) for i in range(2)])
            return fs
        """,
        # Each run of the comprehension has a fresh cell for i (3.11: a new <listcomp>
        # frame; 3.12+: the inlined comprehension makes a new cell), while j is shared.
        sites=[("lambda", "<lambda>", 4, ("j", "i"))],
        shared={(4, "j", ("'a'", "'b'"), "'b'"), (4, "i", ("0", "1"), "1")},
        stale={(4, "j", ("'a'", "'b'"), "'b'"), (4, "i", ("0", "1"), "1")}),
    Case("set_dict_and_nested_comprehensions", """
        def make():
            by_key = {k: (lambda: k) for k in "xy"}
            pairs = [lambda: (a, b) for a in range(2) for b in range(2) if a == b]
            return [*by_key.values(), *pairs]
        """,
        sites=[("lambda", "<lambda>", 2, ("k",)), ("lambda", "<lambda>", 3, ("a", "b"))],
        shared={(2, "k", ("'x'", "'y'"), "'y'"), (3, "a", ("0", "1"), "1"), (3, "b", ("0", "1"), "1")},
        stale={(2, "k", ("'x'", "'y'"), "'y'"), (3, "a", ("0", "1"), "1"), (3, "b", ("0", "1"), "1")}),
    Case("generator_expression_in_a_loop", """
        def make():
            gens = []
            for n in (1, 2):
                gens.append(x * n for x in range(2))
            return [lambda g=g: list(g) for g in gens]
        """,
        sites=[("genexp", "<genexpr>", 4, ("n",))],
        # The generator runs (and reads n) when it is iterated, after the loop.
        shared={(4, "n", ("1", "2"), "2")},
        stale={(4, "n", ("1", "2"), "2")},
        checkable=False),
    Case("walrus_in_comprehension", """
        def make():
            fs = [(last := x) and (lambda: last) for x in range(1, 4)]
            assert last == 3  # the walrus bound make()'s own last
            return fs
        """,
        sites=[("lambda", "<lambda>", 2, ("last",))],
        shared={(2, "last", ("1", "2", "3"), "3")},
        stale={(2, "last", ("1", "2", "3"), "3")}),
    Case("walrus_in_comprehension_condition", """
        def make():
            return [lambda: (x, best) for x in range(4) if (best := x * x) % 2]
        """,
        sites=[("lambda", "<lambda>", 2, ("x", "best"))],
        shared={(2, "x", ("1", "3"), "3"), (2, "best", ("1", "9"), "9")},
        stale={(2, "x", ("1", "3"), "3"), (2, "best", ("1", "9"), "9")}),
    Case("async_comprehension", """
        import asyncio
        async def numbers(n):
            for k in range(n):
                await asyncio.sleep(0)
                yield k
        async def build():
            return [lambda: k async for k in numbers(3)]
        def make():
            return asyncio.run(build())
        """,
        sites=[("lambda", "<lambda>", 7, ("k",))],
        shared={(7, "k", ("0", "1", "2"), "2")},
        stale={(7, "k", ("0", "1", "2"), "2")}),
    Case("await_in_comprehension_over_async_defs", """
        import asyncio
        def make():
            handlers = []
            for name in ("db", "cache"):
                async def check():
                    await asyncio.sleep(0)
                    return name
                handlers.append(check)
            return handlers
        async def gather(fs):
            return [await f() for f in fs]
        def observe(fs):
            return [(f.__qualname__, r) for f, r in zip(fs, asyncio.run(gather(fs)))]
        """,
        sites=[("async def", "check", 5, ("name",))],
        shared={(5, "name", ("'db'", "'cache'"), "'cache'")},
        stale={(5, "name", ("'db'", "'cache'"), "'cache'")}),
    Case("match_case_bodies", """
        def make():
            fs = []
            for item in [("add", 1), ("mul", 2), {"op": "neg", "x": 1}, ("pow", 3)]:
                match item:
                    case ("add", n):
                        fs.append(lambda x: x + n)
                    case ("mul", n) if n > 1:
                        fs.append(lambda x: x * n)
                    case {"op": op, **rest}:
                        fs.append(lambda x: (op, sorted(rest), x))
                    case (other, _) as whole:
                        def power(x):
                            return (other, whole, x)
                        fs.append(power)
            return fs
        def observe(fs):
            return [(f.__qualname__, f(10)) for f in fs]
        """,
        sites=[("lambda", "<lambda>", 6, ("n",)), ("lambda", "<lambda>", 8, ("n",)),
               ("lambda", "<lambda>", 10, ("op", "rest")), ("def", "power", 12, ("other", "whole"))],
        # Made with n=1, called while n=2: the first case's lambda is stale; the others
        # were each made once and see their own values.  One closure per site: no siblings.
        stale={(6, "n", ("1",), "2")}),
    Case("except_star", """
        def make():
            fs = []
            for code in (1, 2):
                try:
                    raise ExceptionGroup("g", [ValueError(code)])
                except* ValueError as group:
                    fs.append(lambda: (code, group.exceptions[0].args))
            return fs
        """,
        # `except* ... as group` deletes `group` when the handler ends: every call raises
        # NameError, with and without the plugin; reading `code` late is stale.
        sites=[("lambda", "<lambda>", 7, ("code", "group"))],
        shared={(7, "code", ("1", "2"), "2"), (7, "group", GROUPS, "<unbound>")},
        stale={(7, "code", ("1", "2"), "2")},  # reading the deleted `group` raises: no value read
        since=(3, 11)),
    Case("pep695_generic_def_and_class", """
        def make():
            fs = []
            for tag in ("a", "b"):
                def ident[T](x: T) -> tuple[str, T]:
                    return (tag, x)
                class Box[V]:
                    def get(self) -> str:
                        return tag
                fs.append(ident)
                fs.append(Box().get)
            return fs
        def observe(fs):
            out = []
            for f in fs:
                params = getattr(f, "__type_params__", ())
                out.append((f.__qualname__, f.__code__.co_qualname, [p.__name__ for p in params],
                            f(1) if params else f()))
            return out
        """,
        sites=[("def", "ident", 4, ("tag",)), ("def", "get", 7, ("tag",))],
        shared={(4, "tag", ("'a'", "'b'"), "'b'"), (7, "tag", ("'a'", "'b'"), "'b'")},
        stale={(4, "tag", ("'a'", "'b'"), "'b'"), (7, "tag", ("'a'", "'b'"), "'b'")},
        since=(3, 12)),
    Case("type_statement", """
        def make():
            fs = []
            for size in (1, 2):
                type Row[T] = tuple[T, ...]
                fs.append(lambda: (Row.__name__, Row.__type_params__[0].__name__, size))
            return fs
        """,
        sites=[("lambda", "<lambda>", 5, ("Row", "size"))],
        # Row is rebound by every `type` statement: a new TypeAliasType each round.
        shared={(5, "Row", ("Row", "Row"), "Row"), (5, "size", ("1", "2"), "2")},
        stale={(5, "Row", ("Row", "Row"), "Row"), (5, "size", ("1", "2"), "2")},
        since=(3, 12)),
    Case("type_parameter_named_like_the_loop_variable", """
        def make():
            fs = []
            for T in (int, str):
                def first[T](xs: list[T]) -> T:
                    return T
                fs.append(first)
            return fs
        def observe(fs):
            return [(f.__qualname__, f([]).__name__) for f in fs]
        """,
        sites=[],  # the T that first() reads is its own type parameter, not the loop's T
        since=(3, 12)),
    Case("annotations_are_no_call_time_reads", """
        def make():
            fs = []
            for kind in (int, str):
                def convert(x: kind) -> kind:
                    return kind(x)
                def only_annotated(x: kind) -> None:
                    return None
                fs.append(convert)
                fs.append(only_annotated)
            return fs
        def observe(fs):
            return [(f.__qualname__, f("1"), f.__annotations__) for f in fs]
        """,
        # Before 3.14 annotations are evaluated when the def runs, so they hold int then str
        # and are no late read: the only call-time read of kind is in convert's body.
        sites=[("def", "convert", 4, ("kind",))],
        shared={(4, "kind", ("<class 'int'>", "<class 'str'>"), "<class 'str'>")},
        stale={(4, "kind", ("<class 'int'>", "<class 'str'>"), "<class 'str'>")},
        until=(3, 14)),
    Case("annotations_are_late_reads", """
        def make():
            fs = []
            for kind in (int, str):
                def convert(x: kind) -> kind:
                    return kind(x)
                def only_annotated(x: kind) -> None:
                    return None
                fs.append(convert)
                fs.append(only_annotated)
            return fs
        def observe(fs):
            return [(f.__qualname__, f("1"), f.__annotations__) for f in fs]
        """,
        # From 3.14 (PEP 649) annotations are evaluated when first asked for, so observe's
        # f.__annotations__ reads kind=str for both rounds: a stale read in only_annotated too.
        sites=[("def", "convert", 4, ("kind",)), ("def", "only_annotated", 6, ("kind",))],
        shared={(4, "kind", ("<class 'int'>", "<class 'str'>"), "<class 'str'>"),
                (6, "kind", ("<class 'int'>", "<class 'str'>"), "<class 'str'>")},
        stale={(4, "kind", ("<class 'int'>", "<class 'str'>"), "<class 'str'>"),
               (6, "kind", ("<class 'int'>", "<class 'str'>"), "<class 'str'>")},
        since=(3, 14)),
    Case("qualnames_of_code_nested_in_sites", """
        def make():
            fs = []
            for i in range(2):
                def outer():
                    def inner():
                        return i
                    return (inner.__qualname__, (lambda: i).__qualname__, inner())
                fs.append(outer)
                fs.append(lambda: (lambda: i).__qualname__)
            return fs
        """,
        sites=[("def", "outer", 4, ("i",)), ("lambda", "<lambda>", 9, ("i",))],
        shared={(4, "i", ("0", "1"), "1"), (9, "i", ("0", "1"), "1")},
        # The lambda at line 9 makes a lambda that reads i, but never calls it: no stale read.
        stale={(4, "i", ("0", "1"), "1")}),
]


def _source(case: Case) -> str:
    source = textwrap.dedent(case.source).lstrip("\n")
    return source if "def observe(" in source else source + OBSERVE


def _findings(found: list[Any]) -> set[Finding]:
    return {(f.line, f.variable, tuple(f.created_with), f.seen) for f in found}


@pytest.fixture
def window() -> Any:
    with RECORDER.recording(Window("tests/test_versions.py::case")) as window:
        yield window


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_sites_are_the_same_on_every_version(case: Case) -> None:
    source = _source(case)
    found = find_sites(ast.parse(source), source.splitlines())
    assert [(s.kind, s.name, s.line, s.variables) for s, _ in found] == case.sites


HINTS = {
    "match_case_bodies": ["lambda x, n=n: ...", "lambda x, n=n: ...", "lambda x, op=op: ...",
                          "def power(x, other=other):"],
    "await_in_comprehension_over_async_defs": ["async def check(name=name):"],
    "annotations_are_no_call_time_reads": ["def convert(x: kind, kind=kind):"],
    "annotations_are_late_reads": [
        "a function that takes kind and returns the def (its annotations read kind)"] * 2,
    "pep695_generic_def_and_class": ["def ident(x: T, tag=tag):", "def get(self, tag=tag):"],
}


@pytest.mark.parametrize("case", [c.param() for c in CASES if c.name in HINTS])
def test_fix_hints_read_the_same_on_every_version(case: Case) -> None:
    """The suggested fix is unparsed from the AST, whose classes changed up to 3.14."""
    source = _source(case)
    found = find_sites(ast.parse(source), source.splitlines())
    assert [site.fix_hint(site.variables[0]) for site, _ in found] == HINTS[case.name]


@pytest.mark.parametrize("case", [c.param() for c in CASES if c.sites])
def test_instrumented_code_behaves_as_before(tmp_path: Path, window: Window, case: Case) -> None:
    plain = load(tmp_path, _source(case), instrumented=False)
    inst = load(tmp_path, _source(case))
    assert inst.observe(inst.make()) == plain.observe(plain.make())


@pytest.mark.parametrize("case", [c.param() for c in CASES if c.sites])
def test_findings_are_the_same_on_every_version(tmp_path: Path, window: Window, case: Case) -> None:
    module = load(tmp_path, _source(case))
    fs = module.make()
    assert _findings(judge(window)) == case.shared
    module.observe(fs)
    stale = [f for f in judge(window, shared=False) if "stale-read" in f.kinds]
    assert _findings(stale) == case.stale


@pytest.mark.parametrize("case", [c.param() for c in CASES if c.sites and c.checkable])
def test_check_sees_the_same_shared_bindings_without_instrumentation(tmp_path: Path, case: Case) -> None:
    module = load(tmp_path, _source(case), instrumented=False)
    found = check(module.make())
    # Without instrumentation check() knows no creation values, only the shared cells.
    assert {(f.line, f.variable) for f in found} == {(line, var) for line, var, *_ in case.shared}


def _codes(code: types.CodeType, *, factories: bool) -> list[types.CodeType]:
    """``code`` and every code object compiled inside it; without the factories if asked."""
    factory = code.co_varnames[:1] != () and code.co_varnames[0].startswith(TOKEN)
    found = [] if not factories and factory else [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(_codes(const, factories=factories))
    return found


@pytest.mark.parametrize("case", [c.param() for c in CASES if c.sites])
def test_code_objects_keep_their_names(case: Case) -> None:
    """Every code object the user's source compiles to (the def, and from 3.12 its generic
    parameters, from 3.14 its ``__annotate__``) has its name, qualified name and first line;
    only the factories are new."""
    from pytest_latebind._transformer import compile_module, instrument_source

    source = _source(case)
    plain = compile(source, "m.py", "exec", dont_inherit=True)
    tree, sites = instrument_source(source.encode(), "m.py")
    inst = compile_module(tree, "m.py", sites)

    def names(code: types.CodeType, factories: bool) -> list[tuple[str, str, int]]:
        return sorted((c.co_name, getattr(c, "co_qualname", ""), c.co_firstlineno)
                      for c in _codes(code, factories=factories))

    assert names(inst, factories=False) == names(plain, factories=True)
    leftovers = [c.co_qualname if sys.version_info >= (3, 11) else c.co_name
                 for c in _codes(inst, factories=False)]
    assert not [name for name in leftovers if "@latebind" in name]


@pytest.mark.parametrize("instrumented", [False, True], ids=["plain", "instrumented"])
def test_comprehension_cells_before_and_after_pep_709(tmp_path: Path, window: Window, instrumented: bool) -> None:
    """3.11 runs a comprehension in a ``<listcomp>`` function whose cell holds ``i``; 3.12+
    inlines it into ``make`` (PEP 709), which then owns the cell.  Either way the recorder
    reads the very cell the closure reads, and a new run of the comprehension makes a new one."""
    module = load(tmp_path, """
        def make():
            return [lambda: i for i in range(3)]
    """, instrumented=instrumented)
    make_code = module.make.__code__
    nested = [c.co_name for c in make_code.co_consts if isinstance(c, types.CodeType)]
    if sys.version_info >= (3, 12):
        assert "i" in make_code.co_cellvars and "<listcomp>" not in nested
    else:
        assert "i" not in make_code.co_cellvars and "<listcomp>" in nested
    first, second = module.make(), module.make()
    cell = first[0].__closure__[first[0].__code__.co_freevars.index("i")]
    assert all(f.__closure__[f.__code__.co_freevars.index("i")] is cell for f in first)
    assert second[0].__closure__[second[0].__code__.co_freevars.index("i")] is not cell
    assert [f() for f in first] == [2, 2, 2]
    if instrumented:
        records = [record_of(f) for f in first]
        assert all(r is not None and r.refs == (cell,) for r in records)
        assert [r.values for r in records if r is not None] == [(0,), (1,), (2,)]


E2E_TEST = """
from mod_{name} import make, observe

def test_{name}():
    observe(make())
"""


def test_end_to_end_report_is_the_same_on_every_version(pytester: pytest.Pytester) -> None:
    """One real pytest run over every case this Python can parse: the stale reads each case
    makes fail its test with the same findings, messages and JSON on every version."""
    cases = [c for c in CASES if c.stale and c.runs_here()]
    for case in cases:
        pytester.makepyfile(**{f"mod_{case.name}": _source(case),
                               f"test_{case.name}": E2E_TEST.format(name=case.name)})
    report = pytester.path / "latebind.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind",
                                           f"--latebind-report={report}", timeout=300)
    result.assert_outcomes(failed=len(cases))
    result.stdout.no_fnmatch_line("*internal error*")
    # Only the stale reads: except*'s closures stay reachable through the exception group's
    # traceback after the test, so they are also reported as a shared binding.
    found = {(f["file"], f["line"], f["variable"], tuple(f["created_with"]), f["seen"])
             for f in json.loads(report.read_text())["findings"] if "stale-read" in f["kinds"]}
    assert found == {(f"mod_{c.name}.py", *finding) for c in cases for finding in c.stale}
    reported = {(f["file"], f["line"], f["variable"]): f for f in json.loads(report.read_text())["findings"]}
    for case in cases:
        for line, variable, created, seen in case.stale:
            finding = reported[f"mod_{case.name}.py", line, variable]
            assert finding["made_with"] in created, finding  # the first stale closure's own value
            read = finding["first_stale_read"][-1]
            assert read["file"] == f"mod_{case.name}.py", finding
            # One test per case: its failure states the stale reads the report counts, and no
            # shared binding (that one is found after the test, when found at all).
            reads = finding["stale_reads"]
            kinds = f"{reads} stale read{'' if reads == 1 else 's'}"
            values = ", ".join(created)
            expected = (f"  created with {variable}={values}; the closure made with {variable}={finding['made_with']} "
                        f"read {variable}={seen} at {read['file']}:{read['line']} ({kinds})")
            result.stdout.fnmatch_lines([
                f"*created at mod_{case.name}.py:{line} * loop variable '{variable}'*",
                expected.replace("[", "[[]"),  # fnmatch: a literal [
            ], consecutive=True)
