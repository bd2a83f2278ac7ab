"""--latebind-fix (issue 20): the fix per closure form, verified in a child run, as a patch
that ``git apply`` takes; the forms that must keep their signature keep it; no-fix cases."""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import jsonschema
import pytest

from pytest_latebind import _fixes, _fixverify
from pytest_latebind._reporting import json_report

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _fixed(kind: str, source: str, line: int, column: int, variables: list[str]) -> str:
    fix = _fixes.propose("/m.py", line, column, kind, variables, textwrap.dedent(source))
    assert fix.ok, fix.reason
    return _fixes.apply(textwrap.dedent(source), fix.replacements)


def _run(code: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(code, "m.py", "exec"), namespace)
    return namespace


def test_lambda_keyword_only_keeps_positional_arity() -> None:
    code = _fixed("lambda", """\
        fs = []
        for i in range(3):
            fs.append(lambda x: (x, i))  # keep me
        """, 3, 15, ["i"])
    assert "# keep me" in code
    fs = _run(code)["fs"]
    assert [f(0) for f in fs] == [(0, 0), (0, 1), (0, 2)]  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        fs[0](0, 9)  # type: ignore[index]  # one more positional argument: an error, as before


@pytest.mark.parametrize(("source", "line", "column", "kind"), [
    ("for i in range(3):\n    fs.append(lambda *a, **k: (a, k, i))\n", 2, 15, "lambda"),
    ("for i in range(3):\n    @deco\n    def f(*a, **k):\n        return (a, k, i)\n    fs.append(f)\n", 3, 5, "def"),
])
def test_signature_kept_exactly(source: str, line: int, column: int, kind: str) -> None:
    code = "fs = []\ndef deco(f):\n    return f\n" + source
    plain = _run(code)["fs"]
    fixed = _run(_fixed(kind, code, line + 3, column, ["i"]))["fs"]
    for before, after in zip(plain, fixed, strict=True):  # type: ignore[call-overload]
        assert inspect.signature(before) == inspect.signature(after)
        assert after.__name__ == before.__name__
    assert [f(1, i=5) for f in fixed] == [((1,), {"i": 5}, n) for n in range(3)]  # type: ignore[attr-defined]


def test_genexp_bound_and_still_lazy() -> None:
    code = _fixed("genexp", """\
        gs = []
        for i in range(3):
            gs.append(x + i for x in range(2))
        """, 3, 14, ["i"])  # the genexp's span is the call's parentheses
    assert [list(g) for g in _run(code)["gs"]] == [[0, 1], [1, 2], [2, 3]]  # type: ignore[attr-defined]


def test_no_fix_when_the_closure_assigns_the_variable() -> None:
    fix = _fixes.propose("/m.py", 3, 9, "def", ["i"],
                         "def m():\n    for i in range(3):\n        def f():\n            nonlocal i\n"
                         "            i += 1\n")
    assert not fix.ok and "nonlocal" in fix.reason


PROJECT = {
    "alerts.py": """\
        def make(channels):
            out = []
            for channel in channels:
                out.append(lambda msg: f"{channel}: {msg}")  # send it
            return out
        """,
    "test_alerts.py": """\
        from alerts import make

        def test_send():
            a, b = make(["x", "y"])
            assert a("hi") == "x: hi"
        """,
}


def _git(pytester: pytest.Pytester, *args: str) -> None:
    subprocess.run(["git", *args], cwd=pytester.path, check=True, capture_output=True)


def test_patch_verified_applies_and_fixes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in PROJECT.items():
        pytester.makepyfile(**{name.removesuffix(".py"): textwrap.dedent(text)})
    _git(pytester, "init", "-q")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch", "--latebind-report=r.json",
                                           "--latebind-sarif=r.sarif", "-p", "no:randomly")
    assert any(line.startswith("::error ") and "A verified fix is available: git apply" in line
               for line in result.outlines)
    [sarif_result] = json.loads((pytester.path / "r.sarif").read_text())["runs"][0]["results"]
    [change] = sarif_result["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "alerts.py"
    # The insertion after `msg` (1-based column 30 on line 4): an empty region, the new text.
    assert change["replacements"] == [{"deletedRegion": {"startLine": 4, "startColumn": 30, "endLine": 4,
                                                         "endColumn": 30},
                                       "insertedContent": {"text": ", *, channel=channel"}}]
    result.assert_outcomes(failed=1)  # the user's run keeps its outcome
    result.stdout.fnmatch_lines(["alerts.py:4 'channel': fixed (keyword-only default), verified by 1 test "
                                 "(failed -> passed)"])
    data = json.loads((pytester.path / "r.json").read_text())
    jsonschema.validate(data, json.loads(json_report.SCHEMA.read_text()))
    [fix] = data["fixes"]
    assert fix["status"] == "fixed" and fix["tests"] == [
        {"nodeid": "test_alerts.py::test_send", "before": "failed", "after": "passed"}]
    assert "channel=channel" not in (pytester.path / "alerts.py").read_text()  # never edited in place
    _git(pytester, "apply", "fix.patch")
    assert "# send it" in (pytester.path / "alerts.py").read_text()
    pytester.runpytest_subprocess("--latebind", "-p", "no:randomly").assert_outcomes(passed=1)


def test_no_finding_no_patch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    assert [f() for f in [lambda: 1]] == [1]\n")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["no findings: nothing to fix, no patch written"])
    assert not (pytester.path / "fix.patch").exists()


def test_unverifiable_fix_not_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def make():\n    out = []\n    for i in range(2):\n        def f():\n"
                            "            global i\n            return i\n        out.append(f)\n    return out\n",
                        test_mod="from mod import make\n\ndef test_it():\n    assert make()\n")
    pytester.makepyfile(mod2="fs = []\nfor k in range(2):\n    fs.append(lambda: k)\n",
                        test_mod2="import mod2\n\ndef test_k():\n    assert [f() for f in mod2.fs] == [1, 1]\n")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch", "-p", "no:randomly")
    # The test expects the late value: with the fix it fails, so the fix is not kept.
    result.stdout.fnmatch_lines(["mod2.py:3 'k': not fixed: test_mod2.py::test_k fails with the fix*",
                                 "no verified fix: no patch written"])
    assert not (pytester.path / "fix.patch").exists()


def test_xdist_gives_the_same_patch(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    for name, text in PROJECT.items():
        pytester.makepyfile(**{name.removesuffix(".py"): textwrap.dedent(text)})
    pytester.runpytest_subprocess("--latebind", "--latebind-fix=one.patch", "-p", "no:randomly")
    pytester.runpytest_subprocess("--latebind", "--latebind-fix=two.patch", "-p", "no:randomly", "-n", "2")
    one = (pytester.path / "one.patch").read_text()
    assert one and one == (pytester.path / "two.patch").read_text()


FORMS = {
    "nested-loops-two-variables": ("""\
        def make():
            out = []
            for a in "xy":
                for b in "12":
                    def f():
                        return a + b
                    out.append(f)
            return out
        """, 'assert [f() for f in make()] == ["x1", "x2", "y1", "y2"]'),
    "decorated-def-args": ("""\
        import functools

        def deco(f):
            @functools.wraps(f)
            def wrapper(*a, **k):
                return f(*a, **k)
            return wrapper

        def make():
            out = []
            for i in range(3):
                @deco
                def f(*args):  # kept
                    return (args, i)
                out.append(f)
            return out
        """, "assert [f(7) for f in make()] == [((7,), 0), ((7,), 1), ((7,), 2)]"),
    "async-def": ("""\
        def make():
            out = []
            for i in range(3):
                async def f():
                    return i
                out.append(f)
            return out
        """, "import asyncio\n    assert [asyncio.run(f()) for f in make()] == [0, 1, 2]"),
    "genexp": ("""\
        def make():
            out = []
            for i in range(3):
                out.append(x + i for x in range(2))
            return out
        """, "assert [list(g) for g in make()] == [[0, 1], [1, 2], [2, 3]]"),
    "while-loop": ("""\
        def make():
            out, i = [], 0
            while i < 3:
                out.append(lambda: i)
                i += 1
            return out
        """, "assert [f() for f in make()] == [0, 1, 2]"),
    "module-level-loop": ("""\
        fs = []
        for k in range(3):
            fs.append(lambda: k)

        def make():
            return fs
        """, "assert [f() for f in make()] == [0, 1, 2]"),
    "with-target": ("""\
        import contextlib

        def make():
            out = []
            for n in range(3):
                with contextlib.nullcontext(n * 10) as value:
                    out.append(lambda: value)
            return out
        """, "assert [f() for f in make()] == [0, 10, 20]"),
    "walrus-target": ("""\
        def make():
            out = []
            for n in range(3):
                if (double := n * 2) >= 0:
                    out.append(lambda: double)
            return out
        """, "assert [f() for f in make()] == [0, 2, 4]"),
    "lambda-in-comprehension": ("""\
        def make():
            return [lambda: i * 10 for i in range(3)]
        """, "assert [f() for f in make()] == [0, 10, 20]"),
    # `except ... as err` unbinds err when its handler ends: plain, a closure that reads it
    # later raises NameError, so the test keeps them alive and the finding is a shared binding.
    "except-target": ("""\
        KEEP = []

        def make():
            out = []
            for n in range(3):
                try:
                    raise ValueError(n)
                except ValueError as err:
                    out.append(lambda: err.args[0])
            KEEP.extend(out)
            return out
        """, "assert [f() for f in make()] == [0, 1, 2]"),
}


@pytest.mark.parametrize("form", FORMS)
def test_each_form_fixed_end_to_end(pytester: pytest.Pytester, form: str) -> None:
    source, check = FORMS[form]
    pytester.makepyfile(mod=textwrap.dedent(source),
                        test_mod=f"from mod import make\n\ndef test_it():\n    {check}\n")
    _git(pytester, "init", "-q")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["mod.py:* fixed (*), verified by 1 test (failed -> passed)"])
    _git(pytester, "apply", "fix.patch")
    fixed = pytester.runpytest_subprocess("--latebind", "-p", "no:randomly")
    fixed.assert_outcomes(passed=1)
    fixed.stdout.fnmatch_lines(["latebind: *; no findings"])


def test_two_sites_in_one_file_one_diff(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod=textwrap.dedent("""\
        def make():
            out = []
            for i in range(3):
                def f():
                    return i
                out.append(f)
            for j in range(3):
                out.append(lambda: j)
            return out
        """), test_mod="from mod import make\n\ndef test_it():\n    assert [f() for f in make()] == [0, 1, 2] * 2\n")
    _git(pytester, "init", "-q")
    pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch", "-p", "no:randomly")
    assert (pytester.path / "fix.patch").read_text().count("--- a/mod.py") == 1
    _git(pytester, "apply", "fix.patch")
    pytester.runpytest_subprocess("--latebind", "-p", "no:randomly").assert_outcomes(passed=1)


# -- the re-runs' bounds: --latebind-fix-max, --latebind-fix-timeout, --latebind-fix-budget --
def _bounded_fixes(tmp_path: Path, tests: list[list[str]]) -> list[_fixes.Fix]:
    """One fixable site per entry of ``tests`` (the tests that hit it), each in its own file."""
    fixes = []
    for number, hit in enumerate(tests):
        source = "fs = []\nfor i in range(3):\n    fs.append(lambda: i)\n"
        (tmp_path / f"m{number}.py").write_text(source)
        fix = _fixes.propose(str(tmp_path / f"m{number}.py"), 3, 15, "lambda", ["i"], source)
        assert fix.ok, fix.reason
        fix.tests = hit
        fixes.append(fix)
    return fixes


class _Child:
    """Stands in for the child pytest run: every re-run test passes and nothing is found, after
    ``seconds`` (or a timeout, when the run's limit is shorter)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.timeouts: list[float] = []

    def __call__(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> None:
        self.timeouts.append(timeout)
        if self.seconds > timeout:
            time.sleep(timeout)
            raise subprocess.TimeoutExpired(args, timeout)
        time.sleep(self.seconds)
        tests = [arg for arg in args if "::" in arg]
        Path(env[_fixverify._OUTCOMES]).write_text(json.dumps(dict.fromkeys(tests, "passed")))
        [report] = [arg.split("=", 1)[1] for arg in args if arg.startswith("--latebind-report=")]
        Path(report).write_text(json.dumps({"findings": []}))


def test_at_most_max_fixes_are_re_run_and_the_rest_name_the_option(tmp_path: Path) -> None:
    # The first site has no test to re-run: it costs no re-run, so it does not count.
    fixes = _bounded_fixes(tmp_path, [[], ["t.py::a"], ["t.py::b"]])
    child = _Child()
    limits = _fixverify.Limits(max_fixes=1, max_fixes_option="--latebind-fix-max")
    _fixverify.verify(fixes, tmp_path, tmp_path, {"t.py::a": "failed", "t.py::b": "failed"}, child, limits)
    assert len(child.timeouts) == 1
    assert [fix.status for fix in fixes] == ["not verified", "fixed", "not verified"]
    assert fixes[0].why.startswith("no test hit the site")
    assert fixes[2].why == ("at most 1 fix is verified per run, set by --latebind-fix-max; "
                            "raise it, or run again once the patch is applied")


def test_a_re_run_past_its_timeout_is_not_verified(tmp_path: Path) -> None:
    fixes = _bounded_fixes(tmp_path, [["t.py::a"], ["t.py::b"]])
    child = _Child(seconds=0.2)
    _fixverify.verify(fixes, tmp_path, tmp_path, {}, child, _fixverify.Limits(timeout=0.05))
    assert child.timeouts == [0.05, 0.05]  # one slow re-run does not stop the next
    assert [fix.why for fix in fixes] == ["the re-run took longer than 0.05 s, the limit for "
                                          "one re-run set by latebind_fix_timeout (ini); raise it"] * 2


def test_the_budget_bounds_all_re_runs_together(tmp_path: Path) -> None:
    fixes = _bounded_fixes(tmp_path, [["t.py::a"], ["t.py::b"]])
    child = _Child(seconds=5)
    _fixverify.verify(fixes, tmp_path, tmp_path, {}, child,
                      _fixverify.Limits(budget=0.2, budget_option="--latebind-fix-budget"))
    [timeout] = child.timeouts  # the first re-run gets what is left of the budget, not TIMEOUT
    assert timeout <= 0.2
    assert re.fullmatch(r"the re-run took longer than the 0\.\d+ s left of the 0\.2 s for all "
                        r"re-runs, set by --latebind-fix-budget; raise it", fixes[0].why), fixes[0].why
    assert fixes[1].why == ("the 0.2 s for all re-runs, set by --latebind-fix-budget, were spent "
                            "on the fixes before it; raise it, or run again once the patch is applied")


@pytest.mark.parametrize(("args", "ini", "error"), [
    (["--latebind-fix-max=0"], "", "argument --latebind-fix-max: expected a whole number of fixes, 1 or more "
                                   "(e.g. 20), got '0'"),
    (["--latebind-fix-max=2.5"], "", "argument --latebind-fix-max: expected a whole number*got '2.5'"),
    (["--latebind-fix-timeout=-1"], "", "argument --latebind-fix-timeout: expected a number of seconds "
                                        "greater than 0 (e.g. 300 or 0.5), got '-1'"),
    (["--latebind-fix-budget=soon"], "", "argument --latebind-fix-budget: expected a number of seconds*"
                                         "got 'soon'"),
    (["--latebind-fix-budget=nan"], "", "argument --latebind-fix-budget: expected a number of seconds*got 'nan'"),
    ([], "latebind_fix_max = -3", "ERROR: ini option latebind_fix_max in */tox.ini: expected a whole number "
                                  "of fixes, 1 or more (e.g. 20), got '-3'"),
    ([], "latebind_fix_timeout = 5m", "ERROR: ini option latebind_fix_timeout in */tox.ini: expected a number "
                                      "of seconds greater than 0 (e.g. 300 or 0.5), got '5m'"),
    ([], "latebind_fix_budget = inf", "ERROR: ini option latebind_fix_budget in */tox.ini: expected a number "
                                      "of seconds*got 'inf'"),
])
def test_a_bad_bound_is_a_usage_error_naming_it(pytester: pytest.Pytester, args: list[str], ini: str,
                                                error: str) -> None:
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", "--latebind-fix=fix.patch",
                                           *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{error}*"])
    if ini:
        assert "--latebind-fix" not in result.stderr.str()


TWO_SITES = {
    "alpha": "def make():\n    return [lambda: i for i in range(2)]\n",
    "beta": "def make():\n    return [lambda: j for j in range(2)]\n",
    "test_alpha": "from alpha import make\n\ndef test_alpha():\n    assert [f() for f in make()] == [0, 1]\n",
    "test_beta": "from beta import make\n\ndef test_beta():\n    assert [f() for f in make()] == [0, 1]\n",
}


@pytest.mark.parametrize(("args", "ini", "named"), [
    (["--latebind-fix-max=1"], "", "--latebind-fix-max"),
    ([], "latebind_fix_max = 1", "latebind_fix_max (ini)"),
])
def test_fix_max_one_of_two_findings(pytester: pytest.Pytester, args: list[str], ini: str, named: str) -> None:
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(**TWO_SITES)
    _git(pytester, "init", "-q")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch", "--latebind-report=r.json",
                                           "-p", "no:randomly", *args)
    result.assert_outcomes(failed=2)  # the user's run keeps its outcome
    result.stdout.fnmatch_lines([
        "alpha.py:2 'i': fixed (keyword-only default), verified by 1 test (failed -> passed)",
        f"beta.py:2 'j': not verified: at most 1 fix is verified per run, set by {named}; raise it, or run "
        "again once the patch is applied",
        "patch with 1 verified fix: * (apply it with: git apply)",
    ])
    assert [fix["status"] for fix in json.loads((pytester.path / "r.json").read_text())["fixes"]] == [
        "fixed", "not verified"]
    _git(pytester, "apply", "fix.patch")
    pytester.runpytest_subprocess("--latebind", "-p", "no:randomly").assert_outcomes(passed=1, failed=1)


def test_fix_timeout_and_budget_reach_the_re_runs(pytester: pytest.Pytester) -> None:
    # No child pytest run starts in 10 ms: each re-run is cut short by the bound it names.
    pytester.makepyfile(**TWO_SITES)
    result = pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch", "-p", "no:randomly",
                                           "--latebind-fix-timeout=0.01")
    result.stdout.fnmatch_lines([
        "alpha.py:2 'i': not verified: the re-run took longer than 0.01 s, the limit for one re-run set by "
        "--latebind-fix-timeout; raise it",
        "beta.py:2 'j': not verified: the re-run took longer than 0.01 s*",
        "no verified fix: no patch written",
    ])
    result = pytester.runpytest_subprocess("--latebind", "--latebind-fix=fix.patch", "-p", "no:randomly",
                                           "-o", "latebind_fix_budget=0.01")
    result.stdout.fnmatch_lines([
        "alpha.py:2 'i': not verified: the re-run took longer than the * s left of the 0.01 s for all re-runs, "
        "set by latebind_fix_budget (ini); raise it",
        "beta.py:2 'j': not verified: the 0.01 s for all re-runs, set by latebind_fix_budget (ini), were spent "
        "on the fixes before it; raise it, or run again once the patch is applied",
    ])
    assert not (pytester.path / "fix.patch").exists()
