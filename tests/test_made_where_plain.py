"""End to end (issue 16, points 1 and 4): what Python evaluates when a closure is made is
evaluated where it would be without the plugin, in the user's frame, not in the plugin's
factory.  A failure there shows the same traceback entries, and a name there means the same.

Each test runs one project twice, plain and with ``--latebind``, in subprocesses (the import
hook is process-wide), and compares what its tests saw.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from .helpers import run

# The subject's test writes what it observed to a JSON file named by the environment; the
# closures are made in loops and read their loop variable, so each one is a site.
CONFTEST = """
import json, os, traceback

def record(**seen):
    path = os.environ["OBSERVED"]
    with open(path, "w") as out:
        json.dump(seen, out)

def frames(exc):
    return [(f.name, f.lineno, f.line) for f in traceback.extract_tb(exc.__traceback__)]
"""


def observe(pytester: pytest.Pytester, source: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the test module ``source`` records, plain and instrumented (must be the same)."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_subject=source)
    seen: dict[str, Any] = {}
    for mode, args in (("plain", ()), ("latebind", ("--latebind",))):
        path = pytester.path / f"{mode}.json"
        monkeypatch.setenv("OBSERVED", str(path))
        result = run(pytester, *args)
        result.assert_outcomes(passed=1)
        seen[mode] = json.loads(path.read_text())
    # The names of a closure's cells: the instrumented one has the plugin's too (point 9).
    assert any(n.startswith("@latebind") for n in seen["latebind"].pop("made_by")), "not instrumented"
    assert not any(n.startswith("@latebind") for n in seen["plain"].pop("made_by"))
    assert seen["latebind"] == seen["plain"]
    return seen["plain"]  # type: ignore[no-any-return]


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14 defers annotations (PEP 649): `bad`'s NameError "
                    "is deferred, so the plain program does not raise it either")
def test_annotation_with_a_class_attribute_in_a_class_made_in_a_loop(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = observe(pytester, """
        from conftest import record, frames

        def test_it():
            out = []
            for tag in ["a", "b"]:
                class Handler:
                    Result = dict
                    def handle(self, x: Result = None) -> Result:
                        return tag
                out.append((Handler().handle(), Handler.handle.__annotations__["return"].__name__))
            try:
                for tag in ["c"]:
                    def bad(x: undefined_name) -> int:
                        return tag
            except NameError as exc:
                error = (str(exc), frames(exc))
            record(out=out, error=error, made_by=list(Handler.handle.__code__.co_freevars))
    """, monkeypatch)
    assert seen["out"] == [["a", "dict"], ["b", "dict"]]
    assert seen["error"][0] == "name 'undefined_name' is not defined"
    assert [name for name, _, _ in seen["error"][1]] == ["test_it"]


def test_a_failing_genexp_shows_the_same_traceback_entries(pytester: pytest.Pytester) -> None:
    """Point 4: a test that fails with the TypeError of a generator expression over a
    non-iterable, made in a loop, reports the same traceback entries with and without
    --latebind (no made() or factory frame)."""
    pytester.makepyfile(test_failing="""
        def collect(rows):
            gens = []
            for k in rows:
                gens.append(x * k for x in None)
            return gens

        def test_it():
            collect([1, 2])
    """)
    outputs = {}
    for mode, args in (("plain", ()), ("latebind", ("--latebind",))):
        result = run(pytester, *args, "--tb=long", "-o", "console_output_style=classic")
        result.assert_outcomes(failed=1)
        lines = result.stdout.lines
        start = next(n for n, line in enumerate(lines) if "test_it" in line and "___" in line)
        end = next(n for n, line in enumerate(lines) if line.startswith("test_failing.py:4: "))
        outputs[mode] = lines[start:end + 1]
    assert "E           TypeError: 'NoneType' object is not iterable" in outputs["plain"]
    assert [line for line in outputs["plain"] if line.startswith("test_failing.py:")] == [
        "test_failing.py:8: ", "test_failing.py:4: TypeError"]
    assert outputs["latebind"] == outputs["plain"]


def test_an_instrumented_modules_spec_equals_a_fresh_one(pytester: pytest.Pytester) -> None:
    """Point 7: ``__spec__`` (and ``__loader__``) of an instrumented module equal the ones
    Python makes afresh for its file, as CPython's test_pydoc.test_importfile checks; the
    module's loader-based APIs answer as without the plugin."""
    # A site whose closures are called at once: the run has no finding.
    pytester.makepyfile(subject="values = [(lambda: i)() for i in range(2)]\n")
    pytester.makepyfile(test_spec="""
        import importlib, importlib.machinery, importlib.util, pkgutil, pydoc
        import subject

        def test_instrumented():  # first: pydoc.importfile re-executes the module, plainly
            def names(code):
                yield from code.co_freevars
                for const in code.co_consts:
                    if hasattr(const, "co_freevars"):
                        yield from names(const)
            code = subject.__loader__.get_code("subject")
            assert any(n.startswith("@latebind") for n in names(code))

        def test_it():
            fresh = importlib.util.spec_from_file_location("subject", subject.__file__)
            assert subject.__spec__ == fresh and fresh == subject.__spec__
            plain = importlib.machinery.SourceFileLoader("subject", subject.__file__)
            assert subject.__loader__ == plain and plain == subject.__loader__
            assert hash(subject.__loader__) == hash(plain)
            with open(subject.__file__, "rb") as source:
                text = source.read()
            assert subject.__loader__.get_source("subject") == text.decode()
            assert pkgutil.get_data("subject", "subject.py") == text
            assert importlib.reload(subject) is subject and subject.values == [0, 1]
            # Last: it replaces sys.modules["subject"] with a module of its own.
            assert pydoc.importfile(subject.__file__).__spec__ == subject.__spec__
    """)
    run(pytester).assert_outcomes(passed=1, failed=1)  # plain: not instrumented
    run(pytester, "--latebind").assert_outcomes(passed=2)
