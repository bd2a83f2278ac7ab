"""Unit tests for the scope analysis: which closures are sites, reading which loop variables."""

from __future__ import annotations

import ast
import sys
import textwrap

import pytest

from pytest_latebind._scopes import Site, find_sites


def sites(source: str) -> list[tuple[str, str, int, tuple[str, ...]]]:
    source = textwrap.dedent(source)
    found = find_sites(ast.parse(source), source.splitlines())
    return [(s.kind, s.name, s.line, s.variables) for s, _ in found]


def variables(source: str) -> list[tuple[str, ...]]:
    return [v for *_, v in sites(source)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("""
            for i in range(3):
                f = lambda: i
            """, [("i",)], id="module-level-for"),
        pytest.param("""
            def g(xs):
                for i, (a, *rest) in enumerate(xs):
                    fs.append(lambda: (i, a, rest))
            """, [("i", "a", "rest")], id="tuple-unpacking-enumerate-starred"),
        pytest.param("""
            def g(q):
                while q:
                    item = q.pop()
                    jobs.append(lambda: item)
            """, [("item",)], id="while-body-assignment"),
        pytest.param("""
            def g(f):
                while (line := f.readline()):
                    cbs.append(lambda: line)
            """, [("line",)], id="walrus-in-while-test"),
        pytest.param("""
            def g(paths):
                for p in paths:
                    with open(p) as fh:
                        cbs.append(lambda: fh)
                    try:
                        pass
                    except Exception as exc:
                        cbs.append(lambda: exc)
            """, [("fh",), ("exc",)], id="with-as-and-except-as"),
        pytest.param("""
            def g(names):
                for name in names:
                    import importlib as mod
                    cbs.append(lambda: mod)
            """, [("mod",)], id="import-in-loop"),
        pytest.param("""
            def g(names):
                return [lambda event: (name, event) for name in names]
            """, [("name",)], id="listcomp"),
        pytest.param("""
            def g(names):
                return {n: (lambda: n) for n in names}, {lambda: n for n in names}
            """, [("n",), ("n",)], id="dict-and-set-comprehensions"),
        pytest.param("""
            def g(xs):
                return [lambda: last for x in xs if (last := x)]
            """, [("last",)], id="walrus-in-comprehension-binds-outside"),
        pytest.param("""
            async def g(xs):
                async for x in xs:
                    cbs.append(lambda: x)
            """, [("x",)], id="async-for"),
        pytest.param("""
            def g(rows, data):
                for i in rows:
                    gens.append(x * i for x in data)
            """, [("i",)], id="genexp-reads-loop-variable-lazily"),
        pytest.param("""
            def g(rows):
                for i in rows:
                    for j in rows:
                        cbs.append(lambda: (i, j))
            """, [("i", "j")], id="nested-loops"),
        pytest.param("""
            def g(rows):
                for i in rows:
                    fs = [lambda: (i, j) for j in rows]
            """, [("i", "j")], id="comprehension-inside-for"),
        pytest.param("""
            class C:
                def __init__(self, labels):
                    for label in labels:
                        self.actions.append(lambda: self.click(label))
            """, [("label",)], id="method-reads-self-and-label"),
        pytest.param("""
            def g(xs):
                for x in xs:
                    match x:
                        case {"k": value}:
                            cbs.append(lambda: value)
            """, [("value",)], id="match-capture"),
        pytest.param("""
            def g():
                counter = 0
                def h(xs):
                    nonlocal counter
                    for x in xs:
                        counter += 1
                        cbs.append(lambda: counter)
                return h
            """, [("counter",)], id="nonlocal-rebound-by-the-loop"),
        pytest.param("""
            def g(xs):
                for x in xs:
                    @register
                    def handler():
                        return x
            """, [("x",)], id="decorated-def"),
    ],
)
def test_sites_and_their_loop_variables(source: str, expected: list[tuple[str, ...]]) -> None:
    assert variables(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("""
            def g(xs):
                for i in xs:
                    cbs.append(lambda x, i=i: x * i)
            """, id="default-argument-binds-early"),
        pytest.param("""
            def make(k):
                return lambda x: x * k
            def g(n):
                return [make(i) for i in range(n)]
            """, id="factory-function"),
        pytest.param("""
            def g(xs, seen):
                for x in xs:
                    cbs.append(lambda: seen.append(1))
            """, id="reads-nothing-the-loop-rebinds"),
        pytest.param("""
            def g():
                state = 0
                def h(xs):
                    nonlocal state
                    for x in xs:
                        cbs.append(lambda: state)
                return h
            """, id="nonlocal-state-not-rebound"),
        pytest.param("""
            class C:
                for i in range(3):
                    f = lambda self: i
            """, id="class-body-loop-invisible-to-closures"),
        pytest.param("""
            def g(xs):
                for x in xs:
                    pass
                return lambda: x
            """, id="made-after-the-loop"),
        pytest.param("""
            def g(xs):
                for x in xs:
                    def outer():
                        return lambda: 1
            """, id="nested-function-reads-nothing"),
        pytest.param("""
            def g(rows):
                for i in rows:
                    gens.append(x for x in range(i))
            """, id="genexp-reads-loop-variable-only-in-first-iterable"),
    ],
)
def test_not_sites(source: str) -> None:
    assert sites(source) == []


def test_a_def_that_calls_itself_by_name_reads_its_own_name_deferred() -> None:
    # The def statement binds walk after making the function: the round's walk is the one
    # the round ends with, and a later round's is judged by behaviour (Site.own).
    source = textwrap.dedent("""
        def g(xs):
            for x in xs:
                def walk(n):
                    return walk(n - 1) if n else 0
                handler = lambda: handler
        """)
    found = [site for site, _ in find_sites(ast.parse(source), source.splitlines())]
    walk, handler = found
    assert (walk.name, walk.variables, walk.deferred, walk.own) == ("walk", ("walk",), ("walk",), ("walk",))
    assert (handler.variables, handler.deferred, handler.own) == (("handler",), ("handler",), ("handler",))
    assert walk.fix_hint("walk") == "a function that takes what it needs and returns the def (so its walk is its own)"


def test_only_the_outermost_closure_made_in_the_loop_is_a_site() -> None:
    found = sites("""
        def g(xs):
            for i in xs:
                def outer():
                    return lambda: i
    """)
    assert found == [("def", "outer", 4, ("i",))]


def test_a_site_inside_a_site_is_its_own_site() -> None:
    # The lambda is made by outer's own loop, which rebinds j but not i: all lambdas made by
    # one call of outer see that call's i, so i is no loop variable of theirs.
    found = sites("""
        def g(xs):
            for i in xs:
                def outer(ys):
                    for j in ys:
                        cbs.append(lambda: (i, j))
    """)
    assert found == [("def", "outer", 4, ("i",)), ("lambda", "<lambda>", 6, ("j",))]


def test_positions_and_fix_hints() -> None:
    source = "def g(xs):\n    for é in xs:\n        cbs.append(lambda a, *b, c=1: (a, é))\n"
    [(site, _)] = find_sites(ast.parse(source), source.splitlines())
    assert (site.line, site.column) == (3, 20)  # 1-based, in characters
    assert site.params == "a, *b, c=1"
    assert site.fix_hint("é") == "lambda a, *b, c=1, é=é: ..."
    defsite = Site("async def", "check", 1, 1, ("host",), "")
    assert defsite.fix_hint("host") == "async def check(host=host):"
    kwargs = Site("def", "handler", 1, 1, ("i",), "a, *args, **kw")
    assert kwargs.fix_hint("i") == "def handler(a, *args, i=i, **kw):"
    compile(kwargs.fix_hint("i") + " pass", "<hint>", "exec")


def test_a_class_made_in_a_loop_does_not_hide_it() -> None:
    assert variables("""
        def g(xs):
            for i in xs:
                class A:
                    f = lambda self: i
    """) == [("i",)]


def test_global_declared_in_function_loop() -> None:
    assert variables("""
        def g(xs):
            global current
            for current in xs:
                cbs.append(lambda: current)
    """) == [("current",)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("""
            def g(s):
                while any(c == s for c in "ab"):
                    s = s[1:]
            """, [("genexp", "s")], id="genexp-in-while-test"),
        pytest.param("""
            def g(xs):
                for i in xs:
                    class A:
                        def f(self):
                            return i
            """, [("def", "i")], id="def-in-class-in-loop"),
        pytest.param("""
            def g(xs):
                return {k: (lambda: v) for k, v in xs}
            """, [("lambda", "v")], id="lambda-in-dict-comprehension-value"),
        pytest.param("""
            def g(xs):
                for i in xs:
                    def f(key=lambda: i):
                        return key
            """, [("lambda", "i")], id="lambda-in-default-of-def-in-loop"),
        pytest.param("""
            def g(xss):
                return [y for xs in xss for y in map(lambda: xs, xs)]
            """, [("lambda", "xs")], id="lambda-in-later-iterable"),
        pytest.param("""
            for i in range(3):
                for j in [k for k in range(i)]:
                    cbs.append(lambda: j)
            """, [("lambda", "j")], id="module-level-nested-loops"),
        pytest.param("""
            def g(xs, ys):
                for i in xs:
                    def f():
                        for j in ys:
                            cbs.append(lambda: j)
            """, [("lambda", "j")], id="loop-in-a-def-made-in-a-loop"),
    ],
)
def test_forms_the_pre_check_must_not_skip(source: str, expected: list[tuple[str, str]]) -> None:
    # The symbol table runs only where the pre-check sees a closure made in a loop: each form
    # here must still be found.
    assert [(kind, *vs) for kind, _, _, vs in sites(source)] == expected


def test_pre_check_skips_modules_without_a_closure_in_a_loop_reading_its_names() -> None:
    from pytest_latebind._scopes import _may_have_sites

    source = textwrap.dedent("""
        f = lambda x: [y for y in x]
        def g(xs, key=lambda v: v):
            for x in sorted(xs, key=key):
                print({x: [y * 2 for y in x]})
            while xs:
                xs.pop()
            return (x for x in xs)
        class C:
            h = [n for n in range(3)]
    """)
    assert not _may_have_sites(ast.parse(source))
    # A closure in a loop that reads nothing the loop binds cannot be a site either.
    assert not _may_have_sites(ast.parse(source + "for i in x:\n    f = lambda: j\n"))
    assert _may_have_sites(ast.parse(source + "for i in x:\n    f = lambda: i\n"))
    assert _may_have_sites(ast.parse(source + "for i in x:\n    import os.path\n    f = lambda: os\n"))
    assert not _may_have_sites(ast.parse(source + "z = [(y for y in x) for x in xs]\n"))  # x: its first iterable
    assert _may_have_sites(ast.parse(source + "z = [(y + x for y in ys) for x in xs]\n"))


@pytest.mark.skipif(sys.version_info < (3, 14), reason="annotations are deferred from 3.14 (PEP 649)")
def test_a_methods_annotations_read_the_class_bodys_names() -> None:
    """A method's lazy annotations, and a generic one's type parameters, are annotation scopes
    of the class body, which read its names (through ``__classdict__``): there a class
    attribute named as the loop variable around the class is the class's, while the body,
    even a generic method's, still reads the loop's."""
    source = textwrap.dedent("""
        def make(rows):
            for kind, tag in rows:
                class H:
                    kind = int
                    def shadowed(self) -> kind:
                        return 0
                    def both(self, x: kind) -> kind:
                        return kind
                    def generic[T](self, x: T) -> kind:
                        return kind
                    def tagged(self) -> list[kind, tag]:
                        return 0
    """)
    found = find_sites(ast.parse(source), source.splitlines())
    assert [(site.name, site.variables, site.annotated) for site, _ in found] == [
        ("both", ("kind",), ()), ("generic", ("kind",), ()), ("tagged", ("tag",), (("tag", 12),))]
