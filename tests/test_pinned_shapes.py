"""Pinned closure shapes (issue 22, themes 1, 2 and 7): which closures ``pytest --latebind``
reports, at which line and for which variable, and which twin it leaves alone.

Every shape is a module ``shape_<name>.py`` with the bug (a test that passes without the
plugin: the bug is invisible to it) and its correct twin, and a test file calling both.  The
whole corpus runs once with ``--latebind``; each test below reads its own shape's findings
from the JSON report, so a shape still fails on its own.  The site finder's view of shapes
whose runs cannot tell a site from a non-site is pinned by unit tests of ``find_sites``.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_latebind._scopes import find_sites

from .pinned_helpers import LatebindRun, marked_line, run_latebind, run_latebind_in, source, write_project

# name -> (module source, test source).  The test source imports the module as ``mod``.
SHAPES: dict[str, tuple[str, str]] = {}


def shape(name: str, module: str, tests: str) -> str:
    SHAPES[name] = (module, tests)
    return module


# -- theme 1: closure shapes -------------------------------------------------------------------
KEYWORD = shape("keyword", """
    class Button:
        def __init__(self, callback):
            self.callback = callback

    def bug(labels):
        buttons = []
        for label in labels:
            buttons.append(Button(callback=lambda: label))  # SITE:bug
        return [b.callback() for b in buttons]

    def twin(rows):
        out = []
        for i in range(3):
            out.append(sorted(rows, key=lambda x: abs(x - i))[0])  # SITE:twin
        return out
    """, """
    def test_bug():
        assert mod.bug(["ok", "cancel"]) == ["cancel", "cancel"]

    def test_twin():
        assert mod.twin([0, 1, 2]) == [0, 1, 2]
    """)

TWICE = shape("twice", """
    PREFIX = "#"

    def bug(items):
        fs = []
        for item in items:
            fs.append(lambda: PREFIX + PREFIX + item)  # SITE:bug
        return [f() for f in fs]

    def twin(items):
        fs = []
        for item in items:
            fs.append(lambda item=item: PREFIX + PREFIX + item)
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug(["a", "b"]) == ["##b", "##b"]

    def test_twin():
        assert mod.twin(["a", "b"]) == ["##a", "##b"]
    """)

EARLIER_DEF = shape("earlier_def", """
    def bug(xs):
        fs = []
        for x in xs:
            def double():  # SITE:double
                return x * 2
            fs.append(lambda: double())  # SITE:bug
        return [f() for f in fs]

    def twin(xs):
        fs = []
        for x in xs:
            def double(x=x):
                return x * 2
            fs.append(lambda double=double: double())
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug([1, 5]) == [10, 10]

    def test_twin():
        assert mod.twin([1, 5]) == [2, 10]
    """)

ITERABLE = shape("iterable", """
    def bug(ks):
        fs = []
        for k in ks:
            for f in [lambda: k]:  # SITE:bug
                fs.append(f)
        return [f() for f in fs]

    def twin(ks):
        fs = []
        for k in ks:
            for f in [lambda k=k: k]:
                fs.append(f)
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug([1, 2, 3]) == [3, 3, 3]

    def test_twin():
        assert mod.twin([1, 2, 3]) == [1, 2, 3]
    """)

DEFAULT = shape("default", """
    def bug(xs):
        handlers = []
        for x in xs:
            def handler(get=lambda: x):  # SITE:bug
                return get()
            handlers.append(handler)
        return [h() for h in handlers]

    def twin(xs):
        handlers = []
        for x in xs:
            def handler(value=x):
                return value
            handlers.append(handler)
        return [h() for h in handlers]
    """, """
    def test_bug():
        assert mod.bug("ab") == ["b", "b"]

    def test_twin():
        assert mod.twin("ab") == ["a", "b"]
    """)

DECORATOR = shape("decorator", """
    def on(registry, callback):
        def register(func):
            registry.append(callback)
            return func
        return register

    def bug(names):
        registry = []
        for name in names:
            @on(registry, lambda: name)  # SITE:bug
            def handler():
                return "handled"
        return [cb() for cb in registry]

    def twin(names):
        registry = []
        for name in names:
            @on(registry, lambda name=name: name)
            def handler():
                return "handled"
        return [cb() for cb in registry]
    """, """
    def test_bug():
        assert mod.bug(["x", "y"]) == ["y", "y"]

    def test_twin():
        assert mod.twin(["x", "y"]) == ["x", "y"]
    """)

ELSE = shape("else", """
    def bug(groups):
        fs = []
        for group in groups:
            for item in group:
                pass
            else:
                fs.append(lambda: group)  # SITE:bug
        return [f() for f in fs]

    def twin_for(items):
        for item in items:
            pass
        else:
            get = lambda: item
        item = "after the loop"
        return get()

    def twin_while(n):
        while n > 0:
            n -= 1
        else:
            get = lambda: n
        n = -1
        return get()
    """, """
    def test_bug():
        assert mod.bug(["a", "b"]) == ["b", "b"]

    def test_twin():
        assert mod.twin_for("ab") == "after the loop"
        assert mod.twin_while(3) == -1
    """)

WALRUS = shape("walrus", """
    def bug(xs):
        fs = []
        for x in xs:
            fs.append(again := lambda n: again(n - 1) if n else x)  # SITE:bug
        return [f(0) for f in fs] + [f(1) for f in fs]

    def twin(xs):
        fs = []
        for x in xs:
            fs.append(get := lambda x=x: x)
        return [f() for f in fs] + [get()]
    """, """
    def test_bug():
        assert mod.bug("ab") == ["b", "b", "b", "b"]

    def test_twin():
        assert mod.twin("ab") == ["a", "b", "b"]
    """)

COMPREHENSION_WALRUS = shape("comprehension_walrus", """
    def bug(rows):
        fs = []
        for row in rows:
            [last := cell for cell in row]
            fs.append(lambda: last)  # SITE:bug
        return [f() for f in fs]

    def twin(rows):
        fs = []
        for row in rows:
            [last := cell for cell in row]
            fs.append(lambda last=last: last)
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug([[1, 2], [3, 4]]) == [4, 4]

    def test_twin():
        assert mod.twin([[1, 2], [3, 4]]) == [2, 4]
    """)

NONLOCAL_COUNTER = shape("nonlocal_counter", """
    KEPT = []

    def bug(ks):
        for k in ks:
            t = k * 10
            def bump():  # SITE:bug
                nonlocal t
                t += 1
            KEPT.append(bump)

    def twin(ks):
        t = 0
        for k in ks:
            def bump():
                nonlocal t
                t += 1
            KEPT.append(bump)
        for b in KEPT[-len(ks):]:
            b()
        return t
    """, """
    def test_bug():
        mod.bug([1, 2, 3])

    def test_twin():
        assert mod.twin([1, 2, 3]) == 3
    """)

ANNOTATED = shape("annotated", """
    def bug(xs):
        fs = []
        for x in xs:
            scaled: int = x * 10
            fs.append(lambda: scaled)  # SITE:bug
        return [f() for f in fs]

    def twin(xs):
        fs = []
        for x in xs:
            scaled: int = x * 10
            fs.append(lambda scaled=scaled: scaled)
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug([1, 2]) == [20, 20]

    def test_twin():
        assert mod.twin([1, 2]) == [10, 20]
    """)

PARAMETER = shape("parameter", """
    def bug(n):
        fs = []
        for _ in range(3):
            fs.append(lambda: n)  # SITE:bug
            n = n + 1
        return [f() for f in fs]

    def twin(n):
        out = []
        for _ in range(3):
            get = lambda: n  # SITE:twin
            n = n + 1
            out.append(get())
        return out
    """, """
    def test_bug():
        assert mod.bug(10) == [13, 13, 13]

    def test_twin():
        assert mod.twin(10) == [11, 12, 13]
    """)

CLASS_BODY = shape("class_body", """
    def bug(xs):
        fs = []
        for x in xs:
            class Box:
                x = "class attribute"
                get = staticmethod(lambda: x)  # SITE:bug
            fs.append(Box.get)
        return [f() for f in fs] + [Box.x]

    def twin(xs):
        fs = []
        for x in xs:
            class Box:
                get = staticmethod(lambda x=x: x)
            fs.append(Box.get)
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug("ab") == ["b", "b", "class attribute"]

    def test_twin():
        assert mod.twin("ab") == ["a", "b"]
    """)

GLOBAL = shape("global", """
    current = "module"

    def bug(xs):
        global current
        fs = []
        for current in xs:
            fs.append(lambda: current)  # SITE:bug
        return [f() for f in fs]

    def twin(xs):
        fs = []
        for current in xs:
            def get():
                global current
                return current
            fs.append(get)
        return [f() for f in fs]
    """, """
    def test_twin():
        assert mod.twin("ab") == ["module", "module"]

    def test_bug():
        assert mod.bug("ab") == ["b", "b"]
    """)

NONLOCAL = shape("nonlocal", """
    def bug(xs):
        fs = []
        v = None
        def fill():
            nonlocal v
            for v in xs:
                fs.append(lambda: v)  # SITE:bug
        fill()
        return [f() for f in fs]

    def twin(xs):
        fs = []
        v = "outer"
        def fill():
            nonlocal v
            for x in xs:
                fs.append(lambda x=x: (v, x))
            v = "after"
        fill()
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug("ab") == ["b", "b"]

    def test_twin():
        assert mod.twin("ab") == [("after", "a"), ("after", "b")]
    """)

CLASS_GLOBAL = shape("class_global", """
    i = "module"

    def bug(n):
        fs = []
        for i in range(n):
            class C:
                global i
                get = staticmethod(lambda: i)  # SITE:bug
            fs.append(C.get)
        return [f() for f in fs]
    """, """
    def test_bug():
        assert mod.bug(3) == [2, 2, 2]
    """)

# -- theme 2: where the transformer puts things --------------------------------------------------
DOCSTRING = shape("docstring", """
    def bug(xs):
        fs = []
        for x in xs:
            def get():  # SITE:bug
                \"\"\"The value of this round.\"\"\"
                return x
            fs.append(get)
        return [f() for f in fs], [f.__doc__ for f in fs]
    """, """
    def test_bug():
        assert mod.bug("ab") == (["b", "b"], ["The value of this round."] * 2)
    """)

NESTED = shape("nested", """
    def bug(n):
        makers = []
        for i in range(n):
            makers.append(lambda: [  # SITE:outer
                lambda: (i, j)  # SITE:inner
                for j in range(2)])
        return [g() for m in makers for g in m()]

    def bug_genexp(ks):
        gens = []
        for k in ks:
            gens.append((  # SITE:genexp
                lambda: x * k  # SITE:genexp_inner
                for x in range(2)))
        return [g() for gen in gens for g in list(gen)]
    """, """
    def test_bug():
        assert mod.bug(2) == [(1, 1)] * 4

    def test_bug_genexp():
        assert mod.bug_genexp([1, 10]) == [10, 10, 10, 10]
    """)

IMPORT_SITE = shape("import_site", '''
    """A module whose first statement makes a site at import."""
    HANDLERS = [lambda: n for n in range(3)]  # SITE:bug
    ''', """
    def test_bug():
        assert [h() for h in mod.HANDLERS] == [2, 2, 2]
        assert mod.__doc__ == "A module whose first statement makes a site at import."
    """)

# -- theme 7: shapes nobody covered --------------------------------------------------------------
ASYNC_GENEXP = shape("async_genexp", """
    import asyncio

    async def numbers(n):
        for k in range(n):
            yield k

    async def twin(scales):
        out = []
        for scale in scales:
            gen = (k * scale async for k in numbers(2))
            out.append([v async for v in gen])
        return out

    def bug(scales):
        tasks = []
        for scale in scales:
            async def times(v):  # SITE:bug
                return v * scale
            tasks.append(times)
        return [asyncio.run(t(1)) for t in tasks]
    """, """
    import asyncio

    def test_twin():
        assert asyncio.run(mod.twin([1, 10])) == [[0, 1], [0, 10]]

    def test_bug():
        assert mod.bug([1, 10]) == [10, 10]
    """)


# -- the run -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> LatebindRun:
    root: Path = tmp_path_factory.mktemp("shapes")
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, (module, tests) in SHAPES.items():
        write_project(root, **{f"shape_{name}": module,
                               f"test_shape_{name}": f"import shape_{name} as mod\n\n{source(tests)}"})
    return run_latebind_in(root)


def check_shape(corpus: LatebindRun, name: str, found: list[tuple[str, str]], *,
                quiet: tuple[str, ...] = ("test_twin",)) -> None:
    """Exactly ``found`` ((mark, variable) pairs) in the shape's module; its bug tests fail
    with a LateBindingError and its ``quiet`` tests pass."""
    module = SHAPES[name][0]
    expected = sorted((marked_line(module, mark), variable) for mark, variable in found)
    assert corpus.in_file(f"shape_{name}.py") == expected, corpus.summary()
    tests = [line.split("(")[0][4:] for line in source(SHAPES[name][1]).splitlines() if line.startswith("def test_")]
    for test in tests:
        nodeid = f"test_shape_{name}.py::{test}"
        if test in quiet:
            assert corpus.outcome(nodeid) == "passed", nodeid
        else:  # by the plugin's verdict: the test's own assertions (what the bug does) held
            assert corpus.failed_by_latebind(nodeid), (nodeid, corpus.reason(nodeid))


# -- theme 1 ---------------------------------------------------------------------------------------
def test_keyword_argument_closure_is_a_site(corpus: LatebindRun) -> None:
    check_shape(corpus, "keyword", [("bug", "label")])
    assert find_site_variables(KEYWORD) == [("bug", ("label",)), ("twin", ("i",))]


def test_closure_reading_another_name_twice_before_the_loop_variable(corpus: LatebindRun) -> None:
    check_shape(corpus, "twice", [("bug", "item")])
    finding = corpus.one("shape_twice.py", marked_line(TWICE, "bug"), "item")
    assert (finding["created_with"], finding["seen"]) == (["'a'", "'b'"], "'b'")


def test_closure_calling_a_def_made_earlier_in_its_round(corpus: LatebindRun) -> None:
    # The lambda reads `double` late: the last round's function (which reads its own x).
    check_shape(corpus, "earlier_def", [("bug", "double")])
    assert find_site_variables(EARLIER_DEF)[:2] == [("double", ("x",)), ("bug", ("double",))]
    finding = corpus.one("shape_earlier_def.py", marked_line(EARLIER_DEF, "bug"), "double")
    assert finding["kinds"] == ["stale-read"] and finding["closures"] == 2


def test_closure_in_a_loops_iterable_belongs_to_the_loop_around_it(corpus: LatebindRun) -> None:
    check_shape(corpus, "iterable", [("bug", "k")])
    # Evaluated once, before its own loop runs: not a site of that loop.
    assert find_site_variables("""
        def f(xs):
            for x in map(lambda v: v + x, xs):
                pass
        """) == []


def test_closure_in_a_default_value_is_a_site(corpus: LatebindRun) -> None:
    check_shape(corpus, "default", [("bug", "x")])
    finding = corpus.one("shape_default.py", marked_line(DEFAULT, "bug"), "x")
    assert finding["site"] == {"kind": "lambda", "name": "<lambda>"}  # not the def around it


def test_closure_in_a_decorator_expression_is_a_site(corpus: LatebindRun) -> None:
    check_shape(corpus, "decorator", [("bug", "name")])


def test_closure_in_a_loops_else_block_is_not_in_that_loop(corpus: LatebindRun) -> None:
    check_shape(corpus, "else", [("bug", "group")])
    assert find_site_variables("""
        def f(xs, n):
            for x in xs:
                pass
            else:
                a = lambda: x
            while n:
                n -= 1
            else:
                b = lambda: n
        """) == []


def test_closure_in_a_walrus_value_does_not_read_its_own_name_late(corpus: LatebindRun) -> None:
    check_shape(corpus, "walrus", [("bug", "x")])  # `again` is its own name, not a loop variable


def test_walrus_in_a_comprehension_rebinds_for_a_later_closure(corpus: LatebindRun) -> None:
    check_shape(corpus, "comprehension_walrus", [("bug", "last")])
    finding = corpus.one("shape_comprehension_walrus.py", marked_line(COMPREHENSION_WALRUS, "bug"), "last")
    assert (finding["created_with"], finding["seen"]) == (["2", "4"], "4")


def test_augmented_assignment_in_a_nonlocal_def_reads_the_loop_variable(corpus: LatebindRun) -> None:
    # `t += 1` is bump's only read of t; the twin's counter is never rebound by its loop.
    assert find_site_variables(NONLOCAL_COUNTER) == [("bug", ("t",))]
    assert corpus.outcome("test_shape_nonlocal_counter.py::test_twin") == "passed"


def test_nonlocal_def_assigning_its_loop_variable_kept_alive_is_a_shared_binding(corpus: LatebindRun) -> None:
    # Three bumps alive, made with t=10, 20, 30, share make's one t: the first bump adds to 30.
    check_shape(corpus, "nonlocal_counter", [("bug", "t")])
    finding = corpus.one("shape_nonlocal_counter.py", marked_line(NONLOCAL_COUNTER, "bug"), "t")
    assert finding["kinds"] == ["shared-binding"]
    assert (finding["created_with"], finding["closures"]) == (["10", "20", "30"], 3)


def test_annotated_assignment_in_the_loop_rebinds(corpus: LatebindRun) -> None:
    check_shape(corpus, "annotated", [("bug", "scaled")])
    finding = corpus.one("shape_annotated.py", marked_line(ANNOTATED, "bug"), "scaled")
    assert (finding["created_with"], finding["seen"]) == (["10", "20"], "20")


def test_parameter_reassigned_after_the_closure(corpus: LatebindRun) -> None:
    # Bound before the loop (a parameter), so the closure's value is the one at creation,
    # not the round's end; a call in its own round, after the reassignment, is quiet.
    check_shape(corpus, "parameter", [("bug", "n")])
    finding = corpus.one("shape_parameter.py", marked_line(PARAMETER, "bug"), "n")
    assert (finding["created_with"], finding["seen"]) == (["10", "11", "12"], "13")


def test_class_body_rebinding_the_loop_variables_name(corpus: LatebindRun) -> None:
    # The lambda skips the class body: it reads the function's x, not the class attribute.
    check_shape(corpus, "class_body", [("bug", "x")])
    # So a class attribute rebound each round is no loop variable of a lambda in the class.
    assert find_site_variables("""
        def f(xs):
            x = "function"
            for item in xs:
                class Box:
                    x = item
                    get = staticmethod(lambda: x)
        """) == []


def test_global_declaration_in_the_loops_function_is_found(corpus: LatebindRun) -> None:
    check_shape(corpus, "global", [("bug", "current")])


def test_global_declaration_in_the_closure_is_not_the_loop_variable(corpus: LatebindRun) -> None:
    # get() reads the module's `current`, which the loop (a local `current`) never rebinds.
    assert corpus.outcome("test_shape_global.py::test_twin") == "passed"
    assert find_site_variables("""
        def f(xs):
            for current in xs:
                def get():
                    global current
                    return current
        """) == []


def test_nonlocal_declaration_in_the_loops_function_is_found(corpus: LatebindRun) -> None:
    check_shape(corpus, "nonlocal", [("bug", "v")])


def test_global_declaration_in_a_class_body_does_not_hide_the_loop_variable(corpus: LatebindRun) -> None:
    check_shape(corpus, "class_global", [("bug", "i")])


# -- theme 2 ---------------------------------------------------------------------------------------
def test_stale_read_inside_a_def_with_a_docstring(corpus: LatebindRun) -> None:
    check_shape(corpus, "docstring", [("bug", "x")])  # the test also pins __doc__


def test_site_nested_inside_another_sites_lambda(corpus: LatebindRun) -> None:
    found = corpus.in_file("shape_nested.py")
    expected = [(marked_line(NESTED, "outer"), "i"), (marked_line(NESTED, "inner"), "j")]
    assert [f for f in found if f in expected] == expected
    assert corpus.failed_by_latebind("test_shape_nested.py::test_bug")


def test_site_nested_inside_another_sites_generator_expression(corpus: LatebindRun) -> None:
    check_shape(corpus, "nested", [("outer", "i"), ("inner", "j"), ("genexp", "k"), ("genexp_inner", "x")])
    finding = corpus.one("shape_nested.py", marked_line(NESTED, "genexp"), "k")
    assert finding["site"] == {"kind": "genexp", "name": "<genexpr>"}


def test_site_in_a_modules_first_statement_after_its_docstring(corpus: LatebindRun) -> None:
    check_shape(corpus, "import_site", [("bug", "n")])
    finding = corpus.one("shape_import_site.py", marked_line(IMPORT_SITE, "bug"), "n")
    assert (finding["created_with"], finding["seen"], finding["closures"]) == (["0", "1", "2"], "2", 3)
    assert finding["tests"] == ["test_shape_import_site.py::test_bug"]


# -- theme 7 ---------------------------------------------------------------------------------------
def test_async_generator_expression_is_left_alone_and_runs(corpus: LatebindRun) -> None:
    check_shape(corpus, "async_genexp", [("bug", "scale")])  # the async def beside it is a site
    assert find_site_variables(source(ASYNC_GENEXP).split("def bug")[0]) == []


def test_bare_annotation_in_a_loop_binds_nothing() -> None:
    assert find_site_variables("""
        def f(xs):
            x = "before"
            for i in xs:
                x: str
                fs.append(lambda: x)
        """) == []
    assert find_site_variables("""
        def f(xs):
            for i in xs:
                x: str
                x = i  # SITE:x
                fs.append(lambda: x)  # SITE:site
        """) == [("site", ("x",))]


PEP695 = pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695 syntax needs Python 3.12")


@PEP695
def test_type_parameter_named_like_the_loop_variable_is_its_own() -> None:
    assert find_site_variables("""
        def f(types):
            for T in types:
                def first[T](xs: list[T]) -> T:  # SITE:def
                    return xs[0]
                class Box[T]:
                    def get(self) -> T:  # SITE:method
                        return T
                fs.append(lambda: T)  # SITE:lambda
        """) == [("lambda", ("T",))]


@PEP695
def test_type_statement_in_a_loop_rebinds_its_name() -> None:
    assert find_site_variables("""
        def f(kinds):
            for kind in kinds:
                type Row = tuple[int, str]
                fs.append(lambda: Row)  # SITE:site
        """) == [("site", ("Row",))]


@PEP695
def test_generic_def_made_in_a_loop_reads_the_loop_variable(pytester: pytest.Pytester) -> None:
    module = """
        def make(xs):
            fs = []
            for x in xs:
                def get[T](default: T) -> T:  # SITE:bug
                    return x
                fs.append(get)
            return [f(None) for f in fs]
        """
    write_project(pytester.path, generic=module,
                  test_generic="import generic\n\ndef test_bug():\n    assert generic.make('ab') == ['b', 'b']\n")
    found = run_latebind(pytester)
    assert found.in_file("generic.py") == [(marked_line(module, "bug"), "x")]


# -- the site finder ------------------------------------------------------------------------------
def find_site_variables(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(mark, variables) of every site ``find_sites`` finds, the mark being the ``# SITE:``
    label on its line (or its line number when unmarked)."""
    text = source(text)
    lines = text.splitlines()
    marks = {n: line.split("# SITE:")[1].split()[0] for n, line in enumerate(lines, 1) if "# SITE:" in line}
    return [(marks.get(site.line, str(site.line)), site.variables)
            for site, _ in find_sites(ast.parse(textwrap.dedent(text)), lines)]
