"""End to end: which closures ``pytest --latebind`` reports, and which it leaves alone.

Every case is a module ``mod_<name>.py`` and a test ``test_<name>.py`` that passes without
the plugin (the bug is invisible to it) in one corpus project.  The corpus runs twice in a
subprocess, once plain and once with ``--latebind``, and each case below checks its own
test's outcome, failure text and JSON findings.  One run for all cases keeps the suite fast;
a case still fails on its own.

Lines are not hard-coded: ``# SITE`` marks the line of the lambda, def or generator
expression that a finding must name.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pytest_latebind._recorder as recorder_module


@dataclass(frozen=True)
class Expected:
    variable: str
    kinds: tuple[str, ...]
    created_with: tuple[str, ...] | None = None  # None: not checked (long reprs)
    seen: str | None = None
    fix: str | None = None  # the suggested fix, as the message shows it


@dataclass(frozen=True)
class Case:
    name: str
    module: str
    test: str
    findings: tuple[Expected, ...] = field(default=())

    @property
    def module_source(self) -> str:
        return textwrap.dedent(self.module).lstrip("\n")

    @property
    def site_line(self) -> int:
        lines = [n for n, text in enumerate(self.module_source.splitlines(), 1) if "# SITE" in text]
        assert len(lines) == 1, f"case {self.name}: mark exactly one line with # SITE"
        return lines[0]

    @property
    def nodeid(self) -> str:
        return f"test_{self.name}.py::test_{self.name}"


STALE = ("stale-read",)
SHARED = ("shared-binding",)
BOTH = ("stale-read", "shared-binding")

FOUND = [
    Case("for_lambda", """
        def make():
            fs = []
            for i in range(3):
                fs.append(lambda: i)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make()] == [2, 2, 2]
        """, (Expected("i", STALE, ("0", "1", "2"), "2", "lambda i=i: ..."),)),
    Case("for_lambda_kept_alive", """
        def make():
            fs = []
            for i in range(3):
                fs.append(lambda: i)  # SITE
            return fs
        KEPT = []
        """, """
        mod.KEPT.extend(mod.make())  # never called: the bug is waiting
        """, (Expected("i", SHARED, ("0", "1", "2"), "2"),)),
    Case("for_def", """
        def make(names):
            out = []
            for name in names:
                def greet():  # SITE
                    return "hi " + name
                out.append(greet)
            return out
        """, """
        assert [g() for g in mod.make(["ann", "bob"])] == ["hi bob", "hi bob"]
        """, (Expected("name", STALE, ("'ann'", "'bob'"), "'bob'", "def greet(name=name):"),)),
    Case("for_async_def", """
        import asyncio

        def make(hosts):
            checks = []
            for host in hosts:
                async def check():  # SITE
                    await asyncio.sleep(0)
                    return host
                checks.append(check)
            return checks

        async def run(checks):
            return await asyncio.gather(*(c() for c in checks))
        """, """
        import asyncio
        assert asyncio.run(mod.run(mod.make(["db", "cache", "api"]))) == ["api"] * 3
        """, (Expected("host", STALE, ("'db'", "'cache'", "'api'"), "'api'", "async def check(host=host):"),)),
    Case("genexp_lazy", """
        def make():
            gens = []
            for k in (1, 2, 3):
                gens.append(x * k for x in (1, 10))  # SITE
            return gens
        """, """
        assert [list(g) for g in mod.make()] == [[3, 30]] * 3
        """, (Expected("k", STALE, ("1", "2", "3"), "3"),)),
    Case("while_loop", """
        def make():
            fs = []
            n = 0
            while n < 3:
                fs.append(lambda: n)  # SITE
                n += 1
            return fs
        """, """
        assert [f() for f in mod.make()] == [3, 3, 3]
        """, (Expected("n", STALE, ("0", "1", "2"), "3"),)),
    Case("while_walrus", """
        def make(lines):
            it = iter(lines)
            fs = []
            while (line := next(it, None)) is not None:
                fs.append(lambda: line.strip())  # SITE
            return fs
        """, """
        import pytest
        fs = mod.make([" a ", " b "])
        with pytest.raises(AttributeError):  # every callback reads the final None
            fs[0]()
        """, (Expected("line", STALE, ("' a '", "' b '"), "None"),)),
    Case("read_in_a_nested_function", """
        def make():
            fs = []
            for i in range(2):
                def outer():  # SITE
                    def inner():
                        return i * 10
                    return inner()
                fs.append(outer)
            return fs
        """, """
        assert [f() for f in mod.make()] == [10, 10]
        """, (Expected("i", STALE, ("0", "1"), "1", "def outer(i=i):"),)),
    Case("default_and_body", """
        def make():
            fs = []
            for i in range(2):
                fs.append(lambda x=i: x + i)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make()] == [1, 2]
        """, (Expected("i", STALE, ("0", "1"), "1", "lambda x=i, i=i: ..."),)),
    Case("async_for", """
        async def ticks():
            for t in ("a", "b"):
                yield t

        async def make():
            fs = []
            async for t in ticks():
                fs.append(lambda: t)  # SITE
            return fs
        """, """
        import asyncio
        assert [f() for f in asyncio.run(mod.make())] == ["b", "b"]
        """, (Expected("t", STALE, ("'a'", "'b'"), "'b'"),)),
    Case("listcomp", """
        def make():
            return [lambda: i for i in range(3)]  # SITE
        """, """
        assert [f() for f in mod.make()] == [2, 2, 2]
        """, (Expected("i", STALE, ("0", "1", "2"), "2"),)),
    Case("setcomp", """
        def make():
            return {lambda: i for i in range(3)}  # SITE
        """, """
        assert {f() for f in mod.make()} == {2}
        """, (Expected("i", STALE, None, "2"),)),
    Case("dictcomp", """
        def make():
            return {k: (lambda: k.upper()) for k in "ab"}  # SITE
        """, """
        assert [f() for f in mod.make().values()] == ["B", "B"]
        """, (Expected("k", STALE, ("'a'", "'b'"), "'b'"),)),
    Case("nested_loops", """
        def make():
            fs = []
            for i in range(2):
                for j in range(2):
                    fs.append(lambda: (i, j))  # SITE
            return fs
        """, """
        assert [f() for f in mod.make()] == [(1, 1)] * 4
        """, (Expected("i", STALE, ("0", "1"), "1"), Expected("j", STALE, ("0", "1"), "1"))),
    Case("method", """
        class Menu:
            def __init__(self, labels):
                self.actions = []
                for label in labels:
                    self.actions.append(lambda: self.select(label))  # SITE
            def select(self, label):
                return label
        """, """
        assert [a() for a in mod.Menu(["open", "save"]).actions] == ["save", "save"]
        """, (Expected("label", STALE, ("'open'", "'save'"), "'save'"),)),
    Case("module_level_made_in_test", """
        HANDLERS = {}
        for event in ("created", "deleted"):
            HANDLERS[event] = lambda payload: (event, payload)  # SITE
        """, """
        import importlib
        handlers = importlib.import_module("mod_module_level_made_in_test_impl").HANDLERS
        assert handlers["created"](1) == ("deleted", 1)
        """, (Expected("event", BOTH, ("'created'", "'deleted'"), "'deleted'"),)),
    Case("tuple_unpacking", """
        def make(table):
            fs = []
            for key, value in table.items():
                fs.append(lambda: f"{key}={value}")  # SITE
            return fs
        """, """
        assert [f() for f in mod.make({"a": 1, "b": 2})] == ["b=2", "b=2"]
        """, (Expected("key", STALE, ("'a'", "'b'"), "'b'"), Expected("value", STALE, ("1", "2"), "2"))),
    Case("enumerate_target", """
        def make(names):
            fs = []
            for index, name in enumerate(names):
                fs.append(lambda: index)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make("xyz")] == [2, 2, 2]
        """, (Expected("index", STALE, ("0", "1", "2"), "2"),)),
    Case("body_assigned", """
        def make(prices):
            fs = []
            for p in prices:
                taxed = p * 2
                fs.append(lambda: taxed)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make([1, 2])] == [4, 4]
        """, (Expected("taxed", STALE, ("2", "4"), "4"),)),
    Case("walrus", """
        def make(words):
            fs = []
            for w in words:
                if (n := len(w)) > 1:
                    fs.append(lambda: n)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make(["ab", "abc"])] == [3, 3]
        """, (Expected("n", STALE, ("2", "3"), "3"),)),
    Case("with_as", """
        import contextlib

        @contextlib.contextmanager
        def opened(name):
            yield name.upper()

        def make(names):
            fs = []
            for name in names:
                with opened(name) as handle:
                    fs.append(lambda: handle)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make(["a", "b"])] == ["B", "B"]
        """, (Expected("handle", STALE, ("'A'", "'B'"), "'B'"),)),
    Case("except_as", """
        ERRORS = []

        def collect(values):
            for v in values:
                try:
                    raise ValueError(v)
                except ValueError as exc:
                    ERRORS.append(lambda: str(exc))  # SITE
        """, """
        mod.collect([1, 2])
        assert len(mod.ERRORS) == 2  # `exc` is unbound after the except block: both would raise
        """, (Expected("exc", SHARED, ("ValueError(1)", "ValueError(2)"), "<unbound>"),)),
    Case("global_declared_loop_variable", """
        HANDLERS = []

        def setup(names):
            global current
            for current in names:
                HANDLERS.append(lambda: current)  # SITE
        """, """
        mod.setup(["a", "b"])
        assert [h() for h in mod.HANDLERS] == ["b", "b"]
        """, (Expected("current", BOTH, ("'a'", "'b'"), "'b'"),)),
    Case("match_capture", """
        def make(commands):
            fs = []
            for command in commands:
                match command:
                    case {"run": target}:
                        fs.append(lambda: "run " + target)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make([{"run": "a"}, {"run": "b"}])] == ["run b", "run b"]
        """, (Expected("target", STALE, ("'a'", "'b'"), "'b'"),)),
    Case("starred_target", """
        def make(rows):
            fs = []
            for head, *rest in rows:
                fs.append(lambda: len(rest))  # SITE
            return fs
        """, """
        assert [f() for f in mod.make([(1, 2), (3, 4, 5)])] == [2, 2]
        """, (Expected("rest", STALE, ("[2]", "[4, 5]"), "[4, 5]"),)),
    Case("import_in_loop", """
        def make():
            fs = []
            for name in ("json", "math"):
                if name == "json":
                    import json as codec
                else:
                    import math as codec
                fs.append(lambda: codec.__name__)  # SITE
            return fs
        """, """
        assert [f() for f in mod.make()] == ["math", "math"]
        """, (Expected("codec", STALE),)),
    Case("escape_lazy_map", """
        def scaled(data, factors):
            out = []
            for factor in factors:
                out.append(map(lambda x: x * factor, data))  # SITE
            return out
        """, """
        assert [list(m) for m in mod.scaled([1, 2], [1, 10])] == [[10, 20], [10, 20]]
        """, (Expected("factor", STALE, ("1", "10"), "10"),)),
    Case("escape_generator", """
        def handlers():
            for level in ("info", "error"):
                yield lambda msg: f"{level}: {msg}"  # SITE
        """, """
        handlers = list(mod.handlers())  # the generator ran to its end first
        assert [h("x") for h in handlers] == ["error: x", "error: x"]
        """, (Expected("level", STALE, ("'info'", "'error'"), "'error'"),)),
    Case("escape_registering_decorator", """
        ROUTES = {}

        def route(path):
            def register(func):
                ROUTES[path] = func
                return func
            return register

        def setup(paths):
            for path in paths:
                @route(path)
                def handler():  # SITE
                    return path
        """, """
        mod.setup(["/a", "/b"])
        assert mod.ROUTES["/a"]() == "/b"
        """, (Expected("path", BOTH, ("'/a'", "'/b'"), "'/b'", "def handler(path=path):"),)),
]

NOT_FOUND = [
    Case("key_function", """
        def sort_by_each(rows, columns):
            out = []
            for col in columns:
                out.append(sorted(rows, key=lambda r: r[col]))
            return out
        """, """
        assert mod.sort_by_each([(2, 1), (1, 2)], [0, 1]) == [[(1, 2), (2, 1)], [(2, 1), (1, 2)]]
        """),
    Case("immediate_call", """
        def doubled(n):
            out = []
            for i in range(n):
                out.append((lambda: i * 2)())
            return out
        """, """
        assert mod.doubled(3) == [0, 2, 4]
        """),
    Case("def_called_in_iteration", """
        def run(items):
            out = []
            for item in items:
                def work():
                    return item * 2
                out.append(work())
            return out
        """, """
        assert mod.run([1, 2, 3]) == [2, 4, 6]
        """),
    Case("thread_joined_in_iteration", """
        import threading

        def run(items):
            out = []
            for item in items:
                t = threading.Thread(target=lambda: out.append(item))
                t.start()
                t.join()
            return out
        """, """
        assert mod.run([1, 2, 3]) == [1, 2, 3]
        """),
    Case("forward_reference_in_iteration", """
        def run(jobs):
            out = []
            for job in jobs:
                def report():
                    return f"{job}: {status}"
                status = len(job)  # bound after report() is made, in the same iteration
                out.append(report())
            return out
        """, """
        assert mod.run(["a", "bb"]) == ["a: 1", "bb: 2"]
        """),
    Case("coroutine_awaited_in_iteration", """
        async def run(items):
            out = []
            for item in items:
                async def job():
                    return item
                out.append(await job())
            return out
        """, """
        import asyncio
        assert asyncio.run(mod.run("abc")) == ["a", "b", "c"]
        """),
    Case("generator_consumed_lazily", """
        def handlers():
            for level in ("info", "error"):
                yield lambda msg: f"{level}: {msg}"
        """, """
        assert [h("x") for h in mod.handlers()] == ["info: x", "error: x"]
        """),
    Case("genexp_loop_variable_only_in_first_iterable", """
        def make(rows):
            gens = []
            for row in rows:
                gens.append(cell * 2 for cell in row)  # the first iterable is evaluated at once
            return gens
        """, """
        assert [list(g) for g in mod.make([[1], [2, 3]])] == [[2], [4, 6]]
        """),
    Case("made_once", """
        def first_long(words):
            found = None
            for w in words:
                if len(w) > 2:
                    found = lambda: w
                    break
            return found
        KEPT = []
        """, """
        mod.KEPT.append(mod.first_long(["a", "abc", "abcd"]))
        assert mod.KEPT[0]() == "abc"
        """),
    Case("identical_values", """
        def make(n):
            fs = []
            for _ in range(n):
                prefix = "log:"
                fs.append(lambda msg: prefix + msg)
            return fs
        KEPT = []
        """, """
        mod.KEPT.extend(mod.make(3))  # alive at the end of the test, all made with one value
        assert [f("x") for f in mod.KEPT] == ["log:x"] * 3
        """),
    Case("default_arg_fix", """
        def make():
            fs = []
            for i in range(3):
                fs.append(lambda i=i: i)
            return fs
        KEPT = []
        """, """
        mod.KEPT.extend(mod.make())
        assert [f() for f in mod.KEPT] == [0, 1, 2]
        """),
    Case("partial_fix", """
        import functools

        def show(i):
            return i

        def make():
            fs = []
            for i in range(3):
                fs.append(functools.partial(show, i))
            return fs
        KEPT = []
        """, """
        mod.KEPT.extend(mod.make())
        assert [f() for f in mod.KEPT] == [0, 1, 2]
        """),
    Case("factory_function", """
        def make_one(i):
            return lambda: i

        def make():
            fs = []
            for i in range(3):
                fs.append(make_one(i))
            return fs
        KEPT = []
        """, """
        mod.KEPT.extend(mod.make())
        assert [f() for f in mod.KEPT] == [0, 1, 2]
        """),
    Case("reference_cycle_dropped", """
        class Menu:
            def __init__(self, labels):
                self.actions = []
                for label in labels:
                    self.actions.append(lambda: self.select(label))
            def select(self, label):
                return label
        """, """
        menu = mod.Menu(["open", "save"])  # menu -> actions -> closures -> self: a cycle
        assert len(menu.actions) == 2
        del menu  # unreachable now: dead at the end of the test, though not yet collected
        """),
    Case("nonlocal_state_not_rebound", """
        def counters(n):
            count = 0
            incs = []
            for _ in range(n):
                def inc():
                    nonlocal count
                    count += 1
                    return count
                incs.append(inc)
            return incs
        KEPT = []
        """, """
        mod.KEPT.extend(mod.counters(3))
        assert [f() for f in mod.KEPT] == [1, 2, 3]
        """),
]

CASES = FOUND + NOT_FOUND


def _write_corpus(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    for case in CASES:
        module = f"mod_{case.name}"
        if case.name == "module_level_made_in_test":
            # Imported inside the test, so the module-level loop runs during the test.
            (root / f"{module}_impl.py").write_text(case.module_source)
            (root / f"{module}.py").write_text("")
        else:
            (root / f"{module}.py").write_text(case.module_source)
        body = textwrap.indent(textwrap.dedent(case.test).strip("\n"), "    ")
        (root / f"test_{case.name}.py").write_text(f"import {module} as mod\n\n\ndef test_{case.name}():\n{body}\n")


@dataclass
class CorpusRun:
    returncode: int
    output: str
    outcomes: dict[str, tuple[str, str]]  # node id -> (passed/failed/error/skipped, failure text)
    findings: list[dict[str, object]]


def _run(root: Path, name: str, *args: str, env: dict[str, str] | None = None) -> CorpusRun:
    junit = root / f"{name}.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}", *args],
        cwd=root, capture_output=True, text=True, timeout=600, env=env)
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        nodeid = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        state, text = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                state = {"failure": "failed"}.get(tag, tag)
                text = f"{element.get('message', '')}\n{element.text or ''}"
                break
        outcomes[nodeid] = (state, text)
    report = root / f"{name}.json"
    findings = json.loads(report.read_text())["findings"] if report.exists() else []
    return CorpusRun(proc.returncode, proc.stdout + proc.stderr, outcomes, findings)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CorpusRun]:
    root = tmp_path_factory.mktemp("corpus")
    _write_corpus(root)
    return {
        "plain": _run(root, "plain"),
        "latebind": _run(root, "latebind", "--latebind", f"--latebind-report={root / 'latebind.json'}"),
    }


def _outcome(run: CorpusRun, case: Case) -> tuple[str, str]:
    assert case.nodeid in run.outcomes, f"{case.nodeid} did not run:\n{run.output}"
    return run.outcomes[case.nodeid]


def _findings_for(run: CorpusRun, case: Case) -> list[dict[str, object]]:
    files = {f"mod_{case.name}.py", f"mod_{case.name}_impl.py", f"test_{case.name}.py"}
    return [f for f in run.findings if f["file"] in files]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_passes_without_the_plugin(corpus: dict[str, CorpusRun], case: Case) -> None:
    state, text = _outcome(corpus["plain"], case)
    assert state == "passed", text


@pytest.mark.parametrize("case", FOUND, ids=[c.name for c in FOUND])
def test_late_binding_is_found(corpus: dict[str, CorpusRun], case: Case) -> None:
    run = corpus["latebind"]
    state, text = _outcome(run, case)
    assert state == "failed", f"expected a LateBindingError:\n{text}\n{run.output[-3000:]}"
    assert "LateBindingError" in text, text
    findings = _findings_for(run, case)
    module_file = f"mod_{case.name}_impl.py" if case.name == "module_level_made_in_test" else f"mod_{case.name}.py"
    got = {(f["file"], f["line"], f["variable"]) for f in findings}
    want = {(module_file, case.site_line, e.variable) for e in case.findings}
    assert got == want, f"findings {findings}"
    by_variable = {f["variable"]: f for f in findings}
    for expected in case.findings:
        finding = by_variable[expected.variable]
        assert tuple(finding["kinds"]) == expected.kinds, finding
        assert case.nodeid in finding["tests"], finding  # type: ignore[operator]
        if expected.created_with is not None:
            assert tuple(finding["created_with"]) == expected.created_with, finding  # type: ignore[arg-type]
        if expected.seen is not None:
            assert finding["seen"] == expected.seen, finding
        # The failure text names the place, the variable, the values and the fix.
        assert f"{module_file}:{case.site_line}" in text
        assert f"the loop variable {expected.variable!r}" in text
        created = ", ".join(finding["created_with"])  # type: ignore[arg-type]
        if "stale-read" in expected.kinds:
            var = expected.variable
            assert finding["made_with"] in finding["created_with"], finding  # type: ignore[operator]
            assert f"created with {var}={created}; the closure made with {var}={finding['made_with']} read " \
                   f"{var}={finding['seen']} at " in text, text
        else:
            assert f"created with {expected.variable}={created}; all of them now see " \
                   f"{expected.variable}={finding['seen']} (shared binding)" in text, text
        assert "fix: bind the value when the closure is made, e.g. `" in text
        if expected.fix is not None:
            assert f"e.g. `{expected.fix}`" in text, text


@pytest.mark.parametrize("case", NOT_FOUND, ids=[c.name for c in NOT_FOUND])
def test_no_false_alarm(corpus: dict[str, CorpusRun], case: Case) -> None:
    run = corpus["latebind"]
    state, text = _outcome(run, case)
    assert state == "passed", text
    assert _findings_for(run, case) == []


def test_instrumented_corpus_really_was_instrumented(corpus: dict[str, CorpusRun]) -> None:
    # The no-finding cases mean something only if their modules went through the hook:
    # every one of them has a site, and the header says which modules are watched.
    assert "latebind: every test, mode=fail, watching modules under the rootdir and test modules" \
        in corpus["latebind"].output
    assert "latebind: every test" not in corpus["plain"].output
    assert corpus["plain"].findings == []
    assert corpus["plain"].returncode == 0, corpus["plain"].output[-3000:]


def test_stale_read_message_shows_where_it_happened(corpus: dict[str, CorpusRun]) -> None:
    case = FOUND[0]
    _, text = _outcome(corpus["latebind"], case)
    lines = text.splitlines()
    start = lines.index("  first stale read:")
    frames = [line.strip() for line in lines[start + 1:] if line.startswith("    ")]
    # The innermost frame is the closure itself; the test that called it comes before it.
    assert frames[-1] == f"mod_{case.name}.py:{case.site_line} in <lambda>", frames
    assert any(f.startswith(f"test_{case.name}.py:") and f.endswith(f"in test_{case.name}") for f in frames), frames
    assert not any("pytest_latebind" in f or "_pytest" in f or "pluggy" in f for f in frames), frames
    finding = _findings_for(corpus["latebind"], case)[0]
    assert finding["first_stale_read"][-1] == {  # type: ignore[index]
        "file": f"mod_{case.name}.py", "line": case.site_line, "function": "<lambda>"}


def test_terminal_summary_lists_every_finding(corpus: dict[str, CorpusRun]) -> None:
    output = corpus["latebind"].output
    assert re.search(r"^=+ late-binding closures =+$", output, re.MULTILINE), output[-3000:]
    for case in FOUND:
        module_file = f"mod_{case.name}_impl.py" if case.name == "module_level_made_in_test" else f"mod_{case.name}.py"
        for expected in case.findings:
            assert f"{module_file}:{case.site_line}: " in output
            assert f"loop variable {expected.variable!r}" in output


# -- threads, and many closures ---------------------------------------------------------

THREADS_MODULE = """
import threading

def make(n):
    fs = []
    for i in range(n):
        fs.append(lambda: i)  # SITE
    return fs

def make_fixed(n):
    fs = []
    for i in range(n):
        fs.append(lambda i=i: i)
    return fs

def in_threads(work, threads=8):
    results = [None] * threads
    barrier = threading.Barrier(threads)
    def run(k):
        barrier.wait()
        results[k] = work()
    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results
"""

THREADS_TEST = """
import threads_mod as mod

def test_stale_from_threads():
    results = mod.in_threads(lambda: [f() for f in mod.make(200)])
    assert results == [[199] * 200] * 8

def test_fixed_from_threads():
    results = mod.in_threads(lambda: [f() for f in mod.make_fixed(200)])
    assert results == [list(range(200))] * 8

KEPT = []

def test_kept_from_threads():
    KEPT.extend(mod.in_threads(lambda: mod.make(200)))
    assert len(KEPT) == 8
"""


def test_closures_made_in_many_threads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(threads_mod=THREADS_MODULE, test_threads=THREADS_TEST)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", f"--latebind-report={report}",
                                           "-rA", "-W", "error::pytest_latebind.LatebindPluginWarning", timeout=300)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "FAILED test_threads.py::test_stale_from_threads - LateBindingError*",
        "FAILED test_threads.py::test_kept_from_threads - LateBindingError*",
    ], consecutive=False)
    result.stdout.fnmatch_lines(["LateBindingError: * closures created at threads_mod.py:6 share the loop variable 'i'",
                                 "  created with i=*; the closure made with i=* read i=199 at threads_mod.py:6 "
                                 "(* stale reads)"])
    result.stdout.fnmatch_lines(["  first stale read (in thread 'Thread-*'):"])
    result.stdout.no_fnmatch_line("*internal error*")
    line = THREADS_MODULE.lstrip("\n").splitlines().index("        fs.append(lambda: i)  # SITE") + 1
    findings = json.loads(report.read_text())["findings"]
    assert [(f["file"], f["line"], f["variable"]) for f in findings] == [("threads_mod.py", line, "i")]
    (finding,) = findings
    assert finding["kinds"] == ["stale-read", "shared-binding"]
    assert finding["tests"] == ["test_threads.py::test_kept_from_threads", "test_threads.py::test_stale_from_threads"]
    # 8 threads x 199 stale reads each: every one counted, none lost to a race.
    assert finding["stale_reads"] == 8 * 199
    assert finding["seen"] == "199"
    assert set(finding["created_with"]) <= {str(i) for i in range(200)}


MANY_MODULE = """
def make(n):
    fs = []
    for i in range(n):
        fs.append(lambda: i)  # SITE
    return fs
"""

MANY_TEST = """
import gc
import tracemalloc

import many_mod
from pytest_latebind._recorder import MAX_TRACKED_PER_SITE, RECORDER

KEPT = []

def retained_after(n):
    # Memory still held once n closures made at one site are dropped.
    gc.collect()
    tracemalloc.start()
    fs = many_mod.make(n)
    del fs
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current

def test_ten_thousand_closures_at_one_site():
    KEPT.extend(many_mod.make(10_000))
    window = RECORDER.window
    assert window is not None and window.label.endswith("test_ten_thousand_closures_at_one_site")
    (site,) = [info for info in window.tracked if info.file.endswith("many_mod.py")]
    assert window.made_count[site] == 10_000
    # What the recorder keeps for a site is bounded, whatever the site makes.
    assert len(window.tracked[site]) <= MAX_TRACKED_PER_SITE
    assert len(window.creations[site]) <= 8

def test_memory_left_behind_is_bounded():
    # Dropped closures leave (at most) a capped list of dead weak references behind: the
    # recorder holds no more after 10,000 closures than after 1,000 (one weakref each, if it
    # did not cap, would be some 700 kB more).
    small = retained_after(1_000)
    large = retained_after(10_000)
    assert large < small + 64 * 1024, (small, large)
"""


def test_ten_thousand_closures_at_one_site(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(many_mod=MANY_MODULE, test_many=MANY_TEST)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", f"--latebind-report={report}",
                                           "-rA", timeout=300)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["PASSED test_many.py::test_memory_left_behind_is_bounded"])
    findings = json.loads(report.read_text())["findings"]
    assert [(f["file"], f["line"], f["variable"], f["kinds"]) for f in findings] == [
        ("many_mod.py", 4, "i", ["shared-binding"])]
    (finding,) = findings
    assert finding["tests"] == ["test_many.py::test_ten_thousand_closures_at_one_site"]
    assert finding["seen"] == "9999"
    # A finding stays short however many closures there are: a few values, and the count.
    assert finding["created_with"][:3] == ["0", "1", "2"]
    assert len(finding["created_with"]) <= recorder_module.MAX_VALUES, finding["created_with"]
    assert finding["closures"] == 10_000
    message = next(line for line in result.outlines if line.startswith("LateBindingError: "))
    assert re.match(r"LateBindingError: 10,?000 closures created at many_mod.py:4 share the loop variable 'i'$",
                    message), message
    created = next(line for line in result.outlines if line.startswith("  created with i=0, 1, 2"))
    assert len(created) < 200, created
