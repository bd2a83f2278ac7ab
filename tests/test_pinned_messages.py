"""Pinned message texts (issue 22, theme 4): whole messages, compared as golden texts.

The message is the product: a substring check lets a wrong word, count or value through.
One corpus run writes the terminal output, JUnit XML and SARIF; each test compares one
finding's texts in each of them, whole.  The call paths avoid comprehensions, whose frames
differ between Python versions (PEP 709), so the stacks are the same everywhere.
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import pytest_latebind

from .helpers import load
from .pinned_helpers import LatebindRun, marked_line, run_latebind_in, source, write_project

MODULE = """
    KEPT = []


    def single():
        f = None
        for i in range(3):
            if i == 0:
                f = lambda: i  # SITE:single
        return f()  # SITE:single_call


    def many(n):
        fs = []
        for i in range(n):
            fs.append(lambda: i)  # SITE:many
        return fs[0]()  # SITE:many_call


    def deep(names):
        fs = []
        for name in names:
            fs.append(lambda: name)  # SITE:deep
        return one(fs[0])  # SITE:deep_call


    def one(f):
        return two(f)  # SITE:one


    def two(f):
        return three(f)  # SITE:two


    def three(f):
        return f()  # SITE:three


    def scaled(rows, factors):
        gens = []
        for k in factors:
            gens.append(r * k for r in rows)  # SITE:genexp
        out = []
        for g in gens:
            out.append(list(g))  # SITE:genexp_call
        return out


    def both(xs):
        for x in xs:
            KEPT.append(lambda: x)  # SITE:both
        return KEPT[0]()  # SITE:both_call
    """

TESTS = """
    import msgs


    def test_single():
        assert msgs.single() == 2  # SITE:test_single


    def test_many():
        assert msgs.many(10) == 9  # SITE:test_many


    def test_deep():
        assert msgs.deep("abc") == "c"  # SITE:test_deep


    def test_genexp():
        assert msgs.scaled([1, 2], [1, 10]) == [[10, 20], [10, 20]]  # SITE:test_genexp


    def test_both():
        assert msgs.both("ab") == "b"  # SITE:test_both
    """

FIX_TAIL = "       or functools.partial(...)"


def at(label: str) -> int:
    return marked_line(MODULE, label)


def in_test(label: str) -> int:
    return marked_line(TESTS, label)


def column(label: str, text: str) -> int:
    """The 1-based column of ``text`` on the line marked ``label``."""
    return source(MODULE).splitlines()[at(label) - 1].index(text) + 1


class Outputs:
    """What the corpus run wrote: terminal text, JUnit XML, SARIF results, by finding."""

    def __init__(self, run: LatebindRun, root: Path) -> None:
        self.run = run
        self.junit = ET.parse(root / "junit.xml").getroot()
        self.sarif = json.loads((root / "latebind.sarif").read_text())["runs"][0]["results"]

    def junit_failure(self, test: str) -> str:
        (case,) = [c for c in self.junit.iter("testcase") if c.get("name") == test]
        failure = case.find("failure")
        assert failure is not None
        assert failure.text == failure.get("message"), "the failure's text and message say the same"
        return failure.get("message") or ""

    def junit_property(self, line: int) -> dict[str, Any]:
        """The ``latebind.finding`` suite property of the finding at ``msgs.py:line``, parsed,
        with its raw text under ``"raw"``."""
        for prop in self.junit.iter("property"):
            if prop.get("name") == "latebind.finding":
                raw = prop.get("value") or ""
                value = json.loads(raw)
                if value["file"] == "msgs.py" and value["line"] == line:
                    return {**value, "raw": raw}
        raise AssertionError(f"no latebind.finding property for msgs.py:{line}")

    def sarif_text(self, line: int) -> str:
        (result,) = [r for r in self.sarif
                     if r["locations"][0]["physicalLocation"]["region"]["startLine"] == line]
        return str(result["message"]["text"])


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    root = tmp_path_factory.mktemp("messages")
    (root / "pytest.ini").write_text("[pytest]\n")
    write_project(root, msgs=MODULE, test_msgs=TESTS)
    run = run_latebind_in(root, "--junitxml=junit.xml", "--latebind-sarif=latebind.sarif")
    assert run.ret == 1
    return Outputs(run, root)


def test_single_closure_message(outputs: Outputs) -> None:
    message = "\n".join([
        f"a closure created at msgs.py:{at('single')} reads the loop variable 'i' after the loop rebound it",
        f"  created with i=0; the closure made with i=0 read i=2 at msgs.py:{at('single')} (1 stale read)",
        "  fix: bind the value when the closure is made, e.g. `lambda i=i: ...`",
        FIX_TAIL,
        "  first stale read:",
        f"    test_msgs.py:{in_test('test_single')} in test_single",
        f"    msgs.py:{at('single_call')} in single",
        f"    msgs.py:{at('single')} in <lambda>",
    ])
    assert outputs.run.failure_text("test_single") == f"LateBindingError: {message}"
    assert outputs.junit_failure("test_single") == f"LateBindingError: {message}"
    assert outputs.sarif_text(at("single")) == (
        "A closure made here reads the loop variable 'i' (1 stale read): created with i=0; the closure made with "
        f"i=0 read i=2 at msgs.py:{at('single')}. "
        "Fix: bind the value when the closure is made, e.g. `lambda i=i: ...`.")
    line, call, test, col = at("single"), at("single_call"), in_test("test_single"), column("single", "lambda")
    assert outputs.junit_property(line)["raw"] == (
        f'{{"file":"msgs.py","line":{line},"column":{col},"variable":"i","kinds":["stale-read"],'
        f'"created_with":["0"],"more_values":false,"seen":"2","made_with":"0","closures":1,"stale_reads":1,"tests":["test_msgs.py::test_single"],'
        f'"outside_tests":false,"site":{{"kind":"lambda","name":"<lambda>"}},"fix":"lambda i=i: ...","thread":null,'
        f'"first_stale_read":[{{"file":"test_msgs.py","line":{test},"function":"test_single"}},'
        f'{{"file":"msgs.py","line":{call},"function":"single"}},'
        f'{{"file":"msgs.py","line":{line},"function":"<lambda>"}}]}}')


def test_more_than_eight_values_end_with_an_ellipsis(outputs: Outputs) -> None:
    assert outputs.run.failure_text("test_many").splitlines()[:2] == [
        f"LateBindingError: 10 closures created at msgs.py:{at('many')} share the loop variable 'i'",
        f"  created with i=0, 1, 2, 3, 4, 5, 6, 7, ...; the closure made with i=0 read i=9 at msgs.py:{at('many')} "
        "(1 stale read)",
    ]


def test_more_than_eight_values_list_the_first_eight(outputs: Outputs) -> None:
    # What holds whether or not the "..." comes: the count, the first 8 values in order, the 9th not.
    title, values = outputs.run.failure_text("test_many").splitlines()[:2]
    assert title == f"LateBindingError: 10 closures created at msgs.py:{at('many')} share the loop variable 'i'"
    assert values.startswith("  created with i=0, 1, 2, 3, 4, 5, 6, 7")
    assert values.endswith(f"; the closure made with i=0 read i=9 at msgs.py:{at('many')} (1 stale read)")
    assert ", 8" not in values
    finding = outputs.run.one("msgs.py", at("many"), "i")
    assert (finding["closures"], finding["created_with"]) == (10, [str(v) for v in range(8)])


def test_more_than_four_frames_show_the_four_innermost(outputs: Outputs) -> None:
    message = "\n".join([
        f"3 closures created at msgs.py:{at('deep')} share the loop variable 'name'",
        f"  created with name='a', 'b', 'c'; the closure made with name='a' read name='c' at msgs.py:{at('deep')} "
        "(1 stale read)",
        "  fix: bind the value when the closure is made, e.g. `lambda name=name: ...`",
        FIX_TAIL,
        "  first stale read:",
        f"    msgs.py:{at('one')} in one",
        f"    msgs.py:{at('two')} in two",
        f"    msgs.py:{at('three')} in three",
        f"    msgs.py:{at('deep')} in <lambda>",
    ])
    assert outputs.run.failure_text("test_deep") == f"LateBindingError: {message}"
    assert outputs.junit_failure("test_deep") == f"LateBindingError: {message}"
    # The JSON report (and the JUnit property, which is its finding) keeps all six frames.
    frames = [(f["file"], f["line"], f["function"]) for f in outputs.run.one("msgs.py", at("deep"), "name")
              ["first_stale_read"]]
    assert frames == [("test_msgs.py", in_test("test_deep"), "test_deep"), ("msgs.py", at("deep_call"), "deep"),
                      ("msgs.py", at("one"), "one"), ("msgs.py", at("two"), "two"),
                      ("msgs.py", at("three"), "three"), ("msgs.py", at("deep"), "<lambda>")]
    assert outputs.junit_property(at("deep"))["first_stale_read"] == outputs.run.one(
        "msgs.py", at("deep"), "name")["first_stale_read"]


def test_generator_expression_fix_hint(outputs: Outputs) -> None:
    hint = "bind the value when the closure is made, e.g. `a function that takes k and returns the generator`"
    message = "\n".join([
        f"2 closures created at msgs.py:{at('genexp')} share the loop variable 'k'",
        f"  created with k=1, 10; the closure made with k=1 read k=10 at msgs.py:{at('genexp')} (2 stale reads)",
        f"  fix: {hint}",
        FIX_TAIL,
        "  first stale read:",
        f"    test_msgs.py:{in_test('test_genexp')} in test_genexp",
        f"    msgs.py:{at('genexp_call')} in scaled",
        f"    msgs.py:{at('genexp')} in <genexpr>",
    ])
    assert outputs.run.failure_text("test_genexp") == f"LateBindingError: {message}"
    assert outputs.sarif_text(at("genexp")) == (
        "2 closures made here share the loop variable 'k' (2 stale reads): created with k=1, 10; "
        f"the closure made with k=1 read k=10 at msgs.py:{at('genexp')}. Fix: {hint}.")


def test_both_kinds_in_one_message(outputs: Outputs) -> None:
    message = "\n".join([
        f"2 closures created at msgs.py:{at('both')} share the loop variable 'x'",
        f"  created with x='a', 'b'; the closure made with x='a' read x='b' at msgs.py:{at('both')} "
        "(1 stale read; shared binding)",
        "  fix: bind the value when the closure is made, e.g. `lambda x=x: ...`",
        FIX_TAIL,
        "  first stale read:",
        f"    test_msgs.py:{in_test('test_both')} in test_both",
        f"    msgs.py:{at('both_call')} in both",
        f"    msgs.py:{at('both')} in <lambda>",
    ])
    assert outputs.run.failure_text("test_both") == f"LateBindingError: {message}"
    assert outputs.junit_failure("test_both") == f"LateBindingError: {message}"
    assert outputs.sarif_text(at("both")) == (
        "2 closures made here share the loop variable 'x' (1 stale read, shared binding): created with x='a', 'b'; "
        f"the closure made with x='a' read x='b' at msgs.py:{at('both')}. "
        "Fix: bind the value when the closure is made, e.g. `lambda x=x: ...`.")
    assert outputs.junit_property(at("both"))["kinds"] == ["stale-read", "shared-binding"]


def test_terminal_summary_section(outputs: Outputs) -> None:
    lines = outputs.run.output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.strip("= ") == "late-binding closures") + 1
    end = next(n for n in range(start, len(lines)) if lines[n].startswith(("=", "-")))
    tests = "    tests: test_msgs.py::test_{}"
    assert lines[start:end] == [
        f"msgs.py:{at('single')}: lambda <lambda>, loop variable 'i' (1 stale read)",
        f"    1 closure: created with i=0; the closure made with i=0 read i=2 at msgs.py:{at('single')}",
        tests.format("single"),
        f"msgs.py:{at('many')}: lambda <lambda>, loop variable 'i' (1 stale read)",
        f"    10 closures: created with i=0, 1, 2, 3, 4, 5, 6, 7, ...; the closure made with i=0 read i=9 at "
        f"msgs.py:{at('many')}", tests.format("many"),
        f"msgs.py:{at('deep')}: lambda <lambda>, loop variable 'name' (1 stale read)",
        f"    3 closures: created with name='a', 'b', 'c'; the closure made with name='a' read name='c' at "
        f"msgs.py:{at('deep')}", tests.format("deep"),
        f"msgs.py:{at('genexp')}: genexp <genexpr>, loop variable 'k' (2 stale reads)",
        f"    2 closures: created with k=1, 10; the closure made with k=1 read k=10 at msgs.py:{at('genexp')}",
        tests.format("genexp"),
        f"msgs.py:{at('both')}: lambda <lambda>, loop variable 'x' (1 stale read, shared binding)",
        f"    2 closures: created with x='a', 'b'; the closure made with x='a' read x='b' at msgs.py:{at('both')}",
        tests.format("both"),
        "latebind: 2 modules watched, 5 closure sites, 5 run"
        " (5 buggy, 0 clean, 0 trivial), 0 not run; 5 late-binding closures",  # issue 12: what was watched
    ]


def test_no_values_message_of_check_on_uninstrumented_closures(tmp_path: Path) -> None:
    module = load(tmp_path, textwrap.dedent("""
        def make():
            fs = []
            for i in range(3):
                fs.append(lambda: i)
            return fs
        """).lstrip("\n"), instrumented=False)
    with pytest.raises(pytest_latebind.LateBindingError) as raised:
        pytest_latebind.check(module.make())
    path = Path(module.__file__ or "").as_posix()
    assert str(raised.value) == "\n".join([
        f"3 closures created at {path}:4 share the loop variable 'i'",
        "  all of them now see i=2 (shared binding)",
        "  fix: bind the value when the closure is made, e.g. `lambda i=i: ...`",
        FIX_TAIL,
    ])
