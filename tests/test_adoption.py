"""Adopting the plugin on a real codebase (issue 12), as a team meets it in CI: the summary
says what was watched, import-time findings are counted where CI looks, values hidden are
hidden everywhere, option errors name the setting, and reports that cannot be written fail.

Real pytest runs in pytester's temporary directories, in a subprocess (the import hook is
process-wide), several under ``-n 2`` too.
"""

from __future__ import annotations

import os
import stat
import textwrap
import xml.etree.ElementTree as ET

import pytest

from .helpers import read_report

XDIST = {"plain": (), "xdist": ("-n", "2")}

# A package of two modules with two closure sites, one of which the tests run; none buggy.
APP = {
    "app/__init__.py": "",
    "app/jobs.py": """
        def labels(names):
            return [(lambda: name.upper())() for name in names]  # called on the spot

        def adders(ns):
            out = []
            for n in ns:
                out.append(lambda x, n=n: x + n)  # bound: a default argument
            return out
    """,
    "app/unused.py": """
        def never(items):
            return [lambda: item for item in items]
    """,
}
TEST_APP = """
    from app import jobs, unused

    def test_labels():
        assert jobs.labels(["a", "b"]) == ["A", "B"]

    def test_adders():
        assert [f(10) for f in jobs.adders([1, 2])] == [11, 12]
"""
IMPORT_TIME = """
    HANDLERS = {}
    for name in ["open", "save"]:
        HANDLERS[name] = lambda: name
"""


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "PYTEST_ADDOPTS", "CI"):
        monkeypatch.delenv(name, raising=False)


def _files(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


def _app(pytester: pytest.Pytester) -> None:
    _files(pytester, {**APP, "tests/test_app.py": TEST_APP})
    pytester.makeini("[pytest]\npythonpath = .\ntestpaths = tests\n")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)


# -- 1. the summary says what was watched ---------------------------------------------------
@pytest.mark.parametrize("mode", XDIST)
def test_summary_says_what_was_watched_when_nothing_is_found(pytester: pytest.Pytester, mode: str) -> None:
    _app(pytester)
    result = _run(pytester, "--latebind", *XDIST[mode])
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    # app/__init__, app.jobs, app.unused and the test module; 2 sites (the lambda called on the
    # spot is none), 1 of which made closures.
    result.stdout.fnmatch_lines(["*= late-binding closures =*",
                                 "latebind: 4 modules watched, 2 closure sites, 1 run"
                                 " (0 buggy, 1 clean, 0 trivial), 1 not run; no findings"])


@pytest.mark.parametrize("mode", XDIST)
def test_quiet_summary_is_one_line(pytester: pytest.Pytester, mode: str) -> None:
    _app(pytester)
    result = _run(pytester, "--latebind", "-q", *XDIST[mode])
    assert [line for line in result.outlines if "latebind" in line] == [
        "latebind: 4 modules watched, 2 closure sites, 1 run (0 buggy, 1 clean, 0 trivial), 1 not run; no findings"]
    assert "late-binding closures =" not in result.stdout.str()


@pytest.mark.parametrize("mode", XDIST)
def test_verbose_lists_the_watched_modules(pytester: pytest.Pytester, mode: str) -> None:
    _app(pytester)
    result = _run(pytester, "--latebind", "-v", "--latebind-modules=app", *XDIST[mode])
    result.stdout.fnmatch_lines(["*= late-binding closures =*", "watched modules:", "  app", "  app.jobs",
                                 "  app.unused", "  test_app",
                                 "latebind: 4 modules watched, 2 closure sites, 1 run"
                                 " (0 buggy, 1 clean, 0 trivial), 1 not run; no findings"])


def test_summary_counts_findings_and_known_ones(pytester: pytest.Pytester) -> None:
    _app(pytester)
    _files(pytester, {"app/handlers.py": IMPORT_TIME, "tests/test_handlers.py": "import app.handlers\n"})
    result = _run(pytester, "--latebind", "--latebind-baseline=baseline.json", "--latebind-update-baseline")
    assert result.ret == pytest.ExitCode.OK
    result = _run(pytester, "--latebind", "--latebind-baseline=baseline.json")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["latebind: 6 modules watched, 3 closure sites, 2 run"
                                 " (1 buggy, 1 clean, 0 trivial), 1 not run; no findings, "
                                 "1 known (in the baseline)"])


def test_no_summary_line_without_the_plugin_in_use(pytester: pytest.Pytester) -> None:
    _app(pytester)
    result = _run(pytester)
    assert "modules watched" not in result.stdout.str()


@pytest.mark.parametrize("mode", XDIST)
@pytest.mark.parametrize("where", ["ini", "cli"])
def test_a_typo_in_latebind_modules_warns(pytester: pytest.Pytester, mode: str, where: str) -> None:
    _app(pytester)
    if where == "ini":
        pytester.makeini("[pytest]\npythonpath = .\ntestpaths = tests\nlatebind_modules = ap\n    app.jobz\n")
        args: tuple[str, ...] = ()
    else:
        args = ("--latebind-modules=ap,app.jobz",)
    result = _run(pytester, "--latebind", *args, *XDIST[mode])
    result.assert_outcomes(passed=2, warnings=2)
    option = "latebind_modules (ini)" if where == "ini" else "--latebind-modules"
    out = result.stdout.str()
    assert (f"LatebindPluginWarning: pytest-latebind: {option} names 'ap', but no module 'ap' can be "
            "imported (did you mean 'app'?), so nothing of it was watched: check the spelling") in out
    assert (f"LatebindPluginWarning: pytest-latebind: {option} names 'app.jobz', but no module of it was "
            "imported during the run, so nothing of it was watched: check the spelling") in out
    # The module the test imported through a name that was right: nothing of the typo.
    result.stdout.fnmatch_lines(["latebind: 1 module watched, 0 closure sites, 0 run"
                                 " (0 buggy, 0 clean, 0 trivial), 0 not run; no findings"])


def test_a_right_name_does_not_warn(pytester: pytest.Pytester) -> None:
    _app(pytester)
    result = _run(pytester, "--latebind", "--latebind-modules=app.jobs", "-W", "error::pytest.PytestWarning")
    result.assert_outcomes(passed=2)
    assert "names 'app" not in result.stdout.str()


def test_a_module_imported_before_the_hook_is_named_with_the_fix(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _app(pytester)
    (pytester.path / "early_plugin.py").write_text("import app.jobs\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    result = _run(pytester, "-p", "early_plugin", "--latebind", "--latebind-modules=app")
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: 2 watched module(s) were imported "
                                 "before the import hook was installed and are not instrumented: app, app.jobs. "
                                 "They were imported by a plugin loaded before pytest-latebind (-p, or a "
                                 "pytest11 entry point); import them from tests or conftest.py instead.*"])


# -- 2. import-time findings counted where CI looks -------------------------------------------
@pytest.mark.parametrize("mode", XDIST)
def test_import_time_finding_agrees_in_summary_junit_and_exit_status(pytester: pytest.Pytester, mode: str) -> None:
    _app(pytester)
    _files(pytester, {"app/handlers.py": IMPORT_TIME,
                      "tests/test_handlers.py": "from app.handlers import HANDLERS\n\n"
                                                "def test_menu():\n    assert sorted(HANDLERS) == ['open', 'save']\n"})
    result = _run(pytester, "--latebind", "--junitxml=junit.xml", *XDIST[mode])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED latebind::import-time - latebind: the session fails*"])
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "0")
    [case] = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert (case.get("classname"), case.get("name")) == ("latebind", "import-time")
    failure = case.find("failure")
    assert failure is not None
    assert "2 closures created at app/handlers.py:4 share the loop variable 'name'" in (failure.text or "")


@pytest.mark.parametrize("args", [("--latebind-mode=warn",), ("--co",)], ids=["warn", "collect-only"])
def test_no_session_case_when_the_session_does_not_fail(pytester: pytest.Pytester, args: tuple[str, ...]) -> None:
    _app(pytester)
    _files(pytester, {"app/handlers.py": IMPORT_TIME, "tests/test_handlers.py": "import app.handlers\n"})
    result = _run(pytester, "--latebind", "--junitxml=junit.xml", *args)
    assert result.ret == pytest.ExitCode.OK
    assert "latebind::import-time" not in result.stdout.str()


def test_a_known_import_time_finding_adds_no_failure(pytester: pytest.Pytester) -> None:
    _app(pytester)
    _files(pytester, {"app/handlers.py": IMPORT_TIME, "tests/test_handlers.py": "import app.handlers\n"})
    _run(pytester, "--latebind", "--latebind-baseline=b.json", "--latebind-update-baseline")
    result = _run(pytester, "--latebind", "--latebind-baseline=b.json", "--junitxml=junit.xml")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2)
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"


# -- 3. values hidden means hidden everywhere ------------------------------------------------
# The secret is put together at run time, so that no source line shown in a traceback holds it.
SECRETS = """
    def tokens():
        return ["".join(["sk-", "SEC", "RET-", str(n) * 3]) for n in (1, 2)]
"""
SECRET_CODE = """
    from secrets_src import tokens

    CLIENTS = []
    for token in tokens():  # import time: a shared binding nobody calls
        CLIENTS.append(lambda: "Bearer " + token)

    def make(values):
        out = []
        for v in values:
            out.append(lambda *args: v)
        return out
"""
SECRET_TESTS = """
    import pytest
    from hypothesis import strategies as st
    from secrets_src import tokens
    import creds

    def test_stale_read():
        fs = creds.make(tokens())
        assert fs[0]().startswith("sk")

    def test_check(latebind):
        latebind.check(creds.make(tokens()))

    def test_distinct_args(latebind):  # (a local of the test's own would be shown by --showlocals)
        latebind.assert_distinct(lambda loop: [lambda s: s for _ in loop], args=(tokens()[0],))

    def test_distinct_values(latebind):
        latebind.assert_distinct(creds.make, values=st.sampled_from(tokens()))

    def test_distinct_expected(latebind):
        latebind.assert_distinct(creds.make, values=st.sampled_from(tokens()),
                                 expected=lambda k, value, result: result == "nope")
"""


def _all_output(pytester: pytest.Pytester, result: pytest.RunResult) -> dict[str, str]:
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in pytester.path.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".sarif", ".xml", ".txt"):
            outputs[str(path.relative_to(pytester.path))] = path.read_text()
    return outputs


@pytest.mark.parametrize("mode", XDIST)
@pytest.mark.parametrize("extra", [("--showlocals", "--tb=long"), ("--latebind-mode=warn", "-W", "error"),
                                   ("-W", "error", "--showlocals", "-vv")],
                         ids=["showlocals", "warn-W-error", "W-error"])
def test_a_secret_never_appears_with_values_hidden(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                   mode: str, extra: tuple[str, ...]) -> None:
    _files(pytester, {"secrets_src.py": SECRETS, "creds.py": SECRET_CODE, "test_creds.py": SECRET_TESTS})
    pytester.makeini("[pytest]\nlatebind_show_values = false\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = _run(pytester, "--latebind", "--latebind-report=r.json", "--latebind-sarif=r.sarif",
                  "--junitxml=j.xml", "--latebind-explain", "-rA", *extra, *XDIST[mode])
    assert result.ret != pytest.ExitCode.OK
    outputs = _all_output(pytester, result)
    assert {"r.json", "r.sarif", "j.xml"} <= set(outputs)
    for name, text in outputs.items():
        for fragment in ("SECRET", "sk-S", "RET-111", "RET-222"):  # not even the first characters
            assert fragment not in text, f"{fragment!r} leaked into {name}"
    # The findings are all there, without values.
    assert {f["variable"] for f in read_report(pytester.path / "r.json")["findings"]} == {"token", "v"}


def test_the_same_run_with_values_shown_shows_them(pytester: pytest.Pytester) -> None:
    # The test above would pass if nothing ran: with values shown, the secret is there.
    _files(pytester, {"secrets_src.py": SECRETS, "creds.py": SECRET_CODE, "test_creds.py": SECRET_TESTS})
    result = _run(pytester, "--latebind", "--latebind-report=r.json")
    assert "sk-SECRET-111" in result.stdout.str()
    assert "sk-SECRET-111" in (pytester.path / "r.json").read_text()


RAISING_FACTORY = """
from hypothesis import strategies as st

def make(names):
    out = []
    for name in names:
        if name.startswith("sk-"):
            raise ValueError("bad name")
        out.append(lambda name=name: name)
    return out

def test_factory_raises(latebind):
    latebind.assert_distinct(make, values=st.sampled_from(["sk-SECRET-333", "a", "b"]))
"""


@pytest.mark.parametrize("shown", [False, True])
def test_hypothesis_does_not_print_a_hidden_value_of_a_raising_factory(pytester: pytest.Pytester,
                                                                       shown: bool) -> None:
    # The factory's own error propagates through Hypothesis, whose "Failing test case" note and
    # reproduce blob would name the drawn loop values; with values hidden neither is printed.
    _files(pytester, {"test_raise.py": RAISING_FACTORY})
    pytester.makeini(f"[pytest]\nlatebind_show_values = {str(shown).lower()}\n")
    result = _run(pytester, "--tb=short")  # short: no funcargs of the user's own factory frame
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "ValueError: bad name" in out
    assert ("'sk-SECRET-333'" in out) is shown
    assert ("Failing test case" in out) is shown


def test_reports_get_the_usual_permissions(pytester: pytest.Pytester) -> None:
    _files(pytester, {"test_ok.py": "def test_ok():\n    pass\n"})
    pytester.makeini("[pytest]\nlatebind_baseline = base.json\n")
    (pytester.path / "old.sarif").write_text("{}")
    os.chmod(pytester.path / "old.sarif", 0o640)
    old = os.umask(0o022)
    try:
        result = _run(pytester, "--latebind", "--latebind-report=new.json", "--latebind-sarif=old.sarif",
                      "--latebind-update-baseline")
    finally:
        os.umask(old)
    assert result.ret == pytest.ExitCode.OK

    def mode(name: str) -> int:
        return stat.S_IMODE((pytester.path / name).stat().st_mode)
    assert mode("new.json") == 0o644  # as open() would make it under the umask, not mkstemp's 0600
    assert mode("base.json") == 0o644
    assert mode("old.sarif") == 0o640  # an existing file keeps its permissions


# -- 4. option errors that name the setting -------------------------------------------------
def _usage_error(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    return result.stderr.str()


@pytest.mark.parametrize("key", ["latebind", "latebind_show_values", "latebind_test_modules"])
def test_a_bad_ini_bool_names_the_ini_key_not_the_flag(pytester: pytest.Pytester, key: str) -> None:
    pytester.makeini(f"[pytest]\n{key} = maybe\n")
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    err = _usage_error(_run(pytester))
    assert f"ERROR: ini option {key} in {pytester.path / 'tox.ini'}: invalid truth value 'maybe'; expected " \
           "true or false" in err
    assert "--latebind" not in err


def test_a_bad_flag_names_the_flag(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    err = _usage_error(_run(pytester, "--latebind-show-values=maybe"))
    assert "argument --latebind-show-values: expected yes or no, got 'maybe'" in err


def test_an_ini_mode_error_does_not_name_the_flag(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlatebind_mode = fial\n")
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    err = _usage_error(_run(pytester))
    assert "ini option latebind_mode" in err and "expected one of fail, warn, got 'fial'" in err
    assert "--latebind-mode" not in err


@pytest.mark.parametrize("option", ["--latebind-report", "--latebind-sarif", "--latebind-baseline"])
def test_an_empty_path_is_rejected(pytester: pytest.Pytester, option: str) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    err = _usage_error(_run(pytester, f"{option}="))
    assert f"{option}= is an empty path: give the file to write" in err


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_a_path_under_a_regular_file_is_rejected(pytester: pytest.Pytester, where: str) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    (pytester.path / "afile").write_text("")
    if where == "ini":
        pytester.makeini("[pytest]\nlatebind_report = afile/sub/r.json\n")
        err = _usage_error(_run(pytester))
        assert "ini option latebind_report = afile/sub/r.json: " in err and "--latebind" not in err
    else:
        err = _usage_error(_run(pytester, "--latebind-report=afile/sub/r.json"))
        assert "--latebind-report=afile/sub/r.json: " in err
    assert f"{pytester.path / 'afile'} is a file, not a directory, so nothing can be written under it" in err


@pytest.mark.parametrize("args", [("--latebind-report=out.json", "--latebind-sarif=./out.json"),
                                  ("--latebind-report=out.json", "--junitxml=out.json")], ids=["sarif", "junit"])
def test_one_path_for_two_reports_is_an_error(pytester: pytest.Pytester, args: tuple[str, ...]) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    err = _usage_error(_run(pytester, *args))
    other = args[1].split("=")[0]
    assert f"--latebind-report and {other} both name {pytester.path / 'out.json'}" in err
    assert not (pytester.path / "out.json").exists()


@pytest.mark.parametrize("mode", XDIST)
def test_a_report_that_cannot_be_written_fails_the_run(pytester: pytest.Pytester, mode: str) -> None:
    (pytester.path / "out").mkdir()
    pytester.makepyfile(test_ok="import shutil\n\ndef test_ok():\n    shutil.rmtree('out')\n")
    result = _run(pytester, "--latebind", "--latebind-report=out/r.json", "-p", "no:randomly", *XDIST[mode])
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["ERROR: pytest-latebind: could not write the JSON report to *r.json: No such "
                                 "file or directory; the run fails*"])


# -- 5. --latebind-explain: the evidence of each verdict ---------------------------------------
EXPLAINED = """
    KEEP = []

    def make(values):
        out = []
        for v in values:
            out.append(lambda: v)
        return out
"""
EXPLAINED_TESTS = """
    import mod

    def test_dropped():
        assert len(mod.make([1, 2, 3])) == 3

    def test_stale():
        assert mod.make([1, 2])[0]() == 2

    def test_kept():
        mod.KEEP.extend(mod.make([1, 2]))

    def test_same_value():
        mod.KEEP.extend(mod.make([7, 7]))
"""
EXPLAINED_OUT = [
    "*- latebind: why each closure site that ran is or is not a finding -*",
    "mod.py:7: lambda <lambda>, loop variable 'v', in test_mod.py::test_dropped",
    "    3 closures made with v=1, 2, 3, on 1 binding; 0 of them alive at the end",
    "    no finding: no closure read 'v' late, and 0 of them sharing a binding were alive at the end of the test "
    "(a shared binding needs two)",
    "mod.py:7: lambda <lambda>, loop variable 'v', in test_mod.py::test_kept",
    "    2 closures made with v=1, 2, on 1 binding; 2 of them alive at the end",
    "    a finding: 2 closures made with different values were alive at the end of the test, sharing one binding",
    "mod.py:7: lambda <lambda>, loop variable 'v', in test_mod.py::test_same_value",
    "    2 closures made with v=7, on 1 binding; 2 of them alive at the end",
    "    no finding: every closure was made with the same value, so a late read sees the value it was made with",
    "mod.py:7: lambda <lambda>, loop variable 'v', in test_mod.py::test_stale",
    "    2 closures made with v=1, 2, on 1 binding; 0 of them alive at the end; a stale read saw v=2",
    "    a finding: 1 stale read: a closure read 'v' while it held another value than the one the closure was "
    "made with",
]


@pytest.mark.parametrize("mode", XDIST)
def test_explain_gives_the_evidence_of_each_verdict(pytester: pytest.Pytester, mode: str) -> None:
    _files(pytester, {"mod.py": EXPLAINED, "test_mod.py": EXPLAINED_TESTS})
    result = _run(pytester, "--latebind", "--latebind-explain", *XDIST[mode])
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(EXPLAINED_OUT, consecutive=True)


def test_explain_covers_import_time_closures_and_has_an_ini_twin(pytester: pytest.Pytester) -> None:
    _files(pytester, {"handlers.py": IMPORT_TIME, "test_h.py": "import handlers\n\ndef test_h():\n    pass\n"})
    pytester.makeini("[pytest]\nlatebind_explain = true\n")
    result = _run(pytester, "--latebind", "-n", "2")
    result.stdout.fnmatch_lines([
        "handlers.py:4: lambda <lambda>, loop variable 'name', outside any test (at import time or between tests)",
        "    2 closures made with name='open', 'save', on 1 binding; 2 of them alive at the end",
        "    a finding: 2 closures made with different values were alive at the end of the session, sharing one "
        "binding"], consecutive=True)
    # Both workers imported handlers: one explanation, not two.
    assert result.stdout.str().count("handlers.py:4: lambda <lambda>, loop variable 'name', outside") == 1


def test_explain_with_values_hidden_gives_counts(pytester: pytest.Pytester) -> None:
    _files(pytester, {"mod.py": EXPLAINED, "test_mod.py": EXPLAINED_TESTS})
    result = _run(pytester, "--latebind", "--latebind-explain", "--latebind-show-values=no")
    result.stdout.fnmatch_lines([
        "mod.py:7: lambda <lambda>, loop variable 'v', in test_mod.py::test_stale",
        "    2 closures made with 2 distinct values (values hidden), on 1 binding; 0 of them alive at the end",
        "    a finding: 1 stale read: *"], consecutive=True)


def test_no_explanation_without_the_option(pytester: pytest.Pytester) -> None:
    _files(pytester, {"mod.py": EXPLAINED, "test_mod.py": EXPLAINED_TESTS})
    result = _run(pytester, "--latebind")
    assert "why each closure site" not in result.stdout.str()
