"""End to end: the plugin as a user meets it: packaging, options, the marker, modes, internal
errors, findings outside tests, and the JSON report.

Runs that import user modules go through ``runpytest_subprocess``: the import hook and the
recorder are process-wide, and a subprocess is what a user runs.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import pytest

import pytest_latebind
from pytest_latebind import LateBindingError

from .helpers import read_report, run

# Spelled in two pieces in this file's own source: the plugin installs its import hook for
# test files that name the marker, and this file must not look like one of them.
MARK = "pytest.mark." "latebind"

# A module with the seed's bug in a function, and a test that passes without the plugin.
BUGGY = """
def make_callbacks(n):
    callbacks = []
    for i in range(n):
        callbacks.append(lambda: i)  # the site: line 4
    return callbacks
"""
BUGGY_LINE = 4

BUGGY_TEST = """
import buggy

def test_buggy():
    assert [f() for f in buggy.make_callbacks(3)] == [2, 2, 2]
"""


# -- packaging --------------------------------------------------------------------------

def test_entry_point_names_the_plugin_module() -> None:
    (entry,) = [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "latebind"]
    assert entry.value == "pytest_latebind.plugin"
    assert entry.load() is sys.modules["pytest_latebind.plugin"]


def test_entry_point_loads_the_plugin_by_itself(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    # No -p, no conftest: pytest finds the plugin through its pytest11 entry point.
    result = run(pytester, "--latebind")
    result.stdout.fnmatch_lines(["latebind: every test, mode=fail, *", "plugins: *latebind-*"])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"LateBindingError: 3 closures created at buggy.py:{BUGGY_LINE} share the loop "
                                 "variable 'i'"])


def test_markers_lists_latebind(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:benchmark", "--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"@{MARK}: fail this test if a closure made in a loop*"])


def test_help_shows_every_option_and_ini_twin(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:benchmark", "--help")
    assert result.ret == 0
    text = result.stdout.str()
    assert "late-binding closures (pytest-latebind):" in text
    for option in ("--latebind ", "--latebind-mode=MODE", "--latebind-modules=PKG[,PKG...]",
                   "--latebind-test-modules=yes|no", "--latebind-report=PATH", "--latebind-show-values=yes|no"):
        assert f"\n  {option}" in text, option
    for ini in ("latebind (bool)", "latebind_mode (string)", "latebind_modules (args)",
                "latebind_test_modules (bool)", "latebind_report (string)", "latebind_show_values (bool)"):
        assert f"\n  {ini}:" in text, ini


NO_TRACE_TEST = """
import os
import sys

import buggy

def test_no_trace():
    assert "pytest_latebind" not in sys.modules
    assert not any(type(f).__module__.startswith("pytest_latebind") for f in sys.meta_path)
    assert not any(n.startswith("@latebind_token") for n in buggy.make_callbacks(1)[0].__code__.co_freevars)

def test_buggy():
    assert [f() for f in buggy.make_callbacks(3)] == [2, 2, 2]

def test_fixture(latebind):
    pass
"""


def test_disabled_with_p_no_leaves_no_trace(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(buggy=BUGGY, test_it=NO_TRACE_TEST)
    result = run(pytester, "-p", "no:latebind", "-rA")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'latebind' not found*"])
    result.stdout.no_fnmatch_line("latebind:*")
    result.stdout.no_fnmatch_line("plugins:*latebind*")
    assert not list(pytester.path.rglob("*latebind*.pyc"))
    # --latebind is no option any more either.
    result = run(pytester, "-p", "no:latebind", "--latebind")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: --latebind*"])


OFF_TEST = """
import sys

import buggy

def test_nothing_changed():
    assert "pytest_latebind" in sys.modules  # loaded, but idle
    assert not any(type(f).__module__.startswith("pytest_latebind") for f in sys.meta_path)
    assert not any(n.startswith("@latebind_token") for n in buggy.make_callbacks(1)[0].__code__.co_freevars)
    assert "@latebind" not in vars(buggy)

def test_buggy():
    assert [f() for f in buggy.make_callbacks(3)] == [2, 2, 2]
"""


def test_without_latebind_and_marker_nothing_is_instrumented(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # so a cache would be written
    pytester.makepyfile(buggy=BUGGY, test_off=OFF_TEST)
    report = pytester.path / "report.json"
    result = run(pytester, "-rA", f"--latebind-report={report}")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("latebind: every test*")
    assert read_report(report)["findings"] == []
    caches = [p.name for p in pytester.path.rglob("*.pyc")]
    assert caches, "bytecode should be written in this run"
    assert not [name for name in caches if "latebind" in name], caches


# -- the marker, the ini switch, the modes ----------------------------------------------

MARKED_TEST = f"""
import pytest

import buggy

@{MARK}
def test_marked():
    assert [f() for f in buggy.make_callbacks(3)] == [2, 2, 2]

def test_unmarked():
    assert [f() for f in buggy.make_callbacks(3)] == [2, 2, 2]
"""


def test_marker_alone_watches_only_marked_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(buggy=BUGGY, test_marked=MARKED_TEST)
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["PASSED test_marked.py::test_unmarked",
                                 "FAILED test_marked.py::test_marked - LateBindingError: *"], consecutive=False)
    result.stdout.fnmatch_lines([f"LateBindingError: 3 closures created at buggy.py:{BUGGY_LINE} share the loop "
                                 "variable 'i'"])
    result.stdout.no_fnmatch_line("*LatebindPluginWarning*")


def test_pytestmark_watches_the_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(buggy=BUGGY)
    pytester.makepyfile(test_a=f"import pytest\npytestmark = {MARK}\n" + BUGGY_TEST.replace("test_buggy", "test_a"),
                        test_b=BUGGY_TEST.replace("test_buggy", "test_b"))
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["PASSED test_b.py::test_b", "FAILED test_a.py::test_a - LateBindingError: *"],
                                consecutive=False)


def test_marker_in_a_later_file_still_sees_modules_imported_earlier(pytester: pytest.Pytester) -> None:
    # test_a.py imports buggy before test_b.py, the only file naming the marker, is seen.
    pytester.makepyfile(buggy=BUGGY, test_a=BUGGY_TEST.replace("test_buggy", "test_a"))
    pytester.makepyfile(test_b=MARKED_TEST.replace("test_unmarked", "test_b_unmarked"))
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_b.py::test_marked - LateBindingError: *"])


def test_marker_in_a_later_directory_warns_about_modules_imported_earlier(pytester: pytest.Pytester) -> None:
    # Directories are collected one after the other: a/ imports buggy before b/, the only
    # place naming the marker, is looked at.  A documented limit of marker-only runs
    # (README, "Use"): the module is not instrumented, and a warning names it.
    pytester.makepyfile(buggy=BUGGY)
    pytester.mkpydir("a").joinpath("test_a.py").write_text(BUGGY_TEST.replace("test_buggy", "test_a"))
    pytester.mkpydir("b").joinpath("test_b.py").write_text(MARKED_TEST)
    pytester.makeini("[pytest]\npythonpath = .\n")
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: * watched module(s) were imported before "
                                 "the import hook was installed and are not instrumented: *buggy*--latebind*"])
    # With --latebind the hook comes first, and the bug is found.
    run(pytester, "--latebind").assert_outcomes(failed=3)


def test_marker_added_by_a_hook_warns_that_nothing_was_instrumented(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    pytester.makeconftest("""
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker("latebind")
    """)
    result = run(pytester, "-rA")
    # The test module never names the marker, so no hook was installed before it was
    # imported: the test cannot fail for it, and the user is told why.
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: test_buggy.py::test_buggy is marked "
                                 "latebind, but*--latebind*"])


def test_ini_latebind_true_watches_every_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlatebind = true\n")
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["latebind: every test, mode=fail, *", "*LateBindingError: 3 closures created*"],
                                consecutive=False)


def test_warning_classes_are_pytest_warnings() -> None:
    assert issubclass(pytest_latebind.LateBindingWarning, pytest.PytestWarning)
    assert issubclass(pytest_latebind.LatebindPluginWarning, pytest.PytestWarning)
    assert not issubclass(pytest_latebind.LateBindingWarning, pytest_latebind.LatebindPluginWarning)


@pytest.mark.parametrize("how", ["ini", "cli"])
def test_warn_mode_passes_warns_and_reports(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    report = pytester.path / "report.json"
    args: list[str] = ["--latebind", f"--latebind-report={report}"]
    if how == "ini":
        pytester.makeini("[pytest]\nlatebind_mode = warn\n")
    else:
        pytester.makeini("[pytest]\nlatebind_mode = fail\n")  # the command line wins
        args.append("--latebind-mode=warn")
    result = run(pytester, *args)
    result.assert_outcomes(passed=1, warnings=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "*LateBindingWarning: 3 closures created at buggy.py:4 share the loop variable 'i'",
        f"    created with i=0, 1, 2; the closure made with i=0 read i=2 at buggy.py:{BUGGY_LINE} (2 stale reads)",
    ])
    (finding,) = read_report(report)["findings"]  # type: ignore[misc]
    assert (finding["file"], finding["line"], finding["variable"]) == ("buggy.py", BUGGY_LINE, "i")
    assert finding["tests"] == ["test_buggy.py::test_buggy"]


def test_warn_mode_warning_can_be_made_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    result = run(pytester, "--latebind", "--latebind-mode=warn", "-W", "error::pytest_latebind.LateBindingWarning")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*LateBindingWarning*3 closures created at buggy.py:4*"])


def test_bad_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlatebind_mode = loud\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*latebind_mode*loud*"])
    result = run(pytester, "--latebind-mode=loud")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--latebind-mode*expected one of fail, warn*loud*"])


def test_show_values_off_hides_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    report = pytester.path / "report.json"
    result = run(pytester, "--latebind", "--latebind-show-values=no", f"--latebind-report={report}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LateBindingError: 3 closures created at buggy.py:4 share the loop variable 'i'",
                                 f"  values hidden (latebind_show_values = false); read late at buggy.py:{BUGGY_LINE} "
                                 "(2 stale reads)"])
    result.stdout.no_fnmatch_line("*created with i=*")
    (finding,) = read_report(report)["findings"]  # type: ignore[misc]
    assert finding["created_with"] is None and finding["seen"] is None and finding["made_with"] is None


# -- the plugin's own errors never become the user's failures ----------------------------

# Replaces the judge wherever the plugin holds it (by module attribute or imported name).
BREAK_JUDGE = """
import sys

import pytest_latebind._judge

real = pytest_latebind._judge.judge

def broken(window, *args, **kwargs):
    if {condition}:
        raise RuntimeError("{message}")
    return real(window, *args, **kwargs)

for name, module in list(sys.modules.items()):
    if name.startswith("pytest_latebind") and getattr(module, "judge", None) is real:
        module.judge = broken
"""


def test_internal_error_becomes_one_warning_and_results_stand(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(BREAK_JUDGE.format(condition="True", message="judge is broken"))
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST + """

def test_second_buggy():
    assert [f() for f in buggy.make_callbacks(2)] == [1, 1]

def test_own_failure():
    assert 1 + 1 == 3
""")
    result = run(pytester, "--latebind", "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_buggy.py::test_own_failure - assert (1 + 1) == 3"])
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: internal error in *RuntimeError: "
                                 "judge is broken*your test results stand*"])
    assert result.stdout.str().count("pytest-latebind: internal error in") == 1
    result.stdout.no_fnmatch_line("*LateBindingError*")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_internal_error_at_session_end_keeps_the_exit_status(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(BREAK_JUDGE.format(condition="window.label is None", message="session judge is broken"))
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = run(pytester, "--latebind")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*internal error in *session judge is broken*"])


# -- findings outside any test ---------------------------------------------------------

IMPORT_TIME = """
HANDLERS = []
for event in ("created", "deleted"):
    HANDLERS.append(lambda payload: (event, payload))  # line 3
"""


@pytest.mark.parametrize("mode", ["fail", "warn"])
def test_findings_outside_tests_are_reported_at_the_end(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(handlers=IMPORT_TIME, test_handlers="""
        import handlers

        def test_count():
            assert len(handlers.HANDLERS) == 2
    """)
    report = pytester.path / "report.json"
    result = run(pytester, "--latebind", f"--latebind-mode={mode}", f"--latebind-report={report}")
    # In fail mode the session's failure is counted as one: latebind::import-time.
    result.assert_outcomes(passed=1, failed=1 if mode == "fail" else 0)
    result.stdout.fnmatch_lines([
        "*= late-binding closures =*",
        "handlers.py:3: lambda <lambda>, loop variable 'event' (shared binding)",
        "    2 closures: created with event='created', 'deleted'; *event='deleted'",
        "    outside any test*",
    ])
    # No test failed for it, so in fail mode the session does.
    expected = pytest.ExitCode.TESTS_FAILED if mode == "fail" else pytest.ExitCode.OK
    assert result.ret == expected
    (finding,) = read_report(report)["findings"]  # type: ignore[misc]
    assert finding["outside_tests"] is True
    assert finding["tests"] == []
    assert (finding["file"], finding["line"], finding["variable"], finding["kinds"]) == (
        "handlers.py", 3, "event", ["shared-binding"])


# -- the JSON report ------------------------------------------------------------------

REPORT_MODULE = """
def make(names):
    out = []
    for index, name in enumerate(names):
        def greet(greeting="hi"):  # line 4
            return f"{greeting} {name} #{index}"
        out.append(greet)
    return out
"""

REPORT_TEST = """
import report_mod

def test_one():
    assert [g() for g in report_mod.make(["a", "b"])] == ["hi b #1", "hi b #1"]

def test_two():
    assert [g() for g in report_mod.make(["x", "y", "z"])][0] == "hi z #2"

def test_clean():
    assert report_mod.make(["only"])[0]() == "hi only #0"
"""


def test_json_report_shape(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(report_mod=REPORT_MODULE)
    pytester.mkpydir("tests")
    pytester.path.joinpath("tests", "test_report.py").write_text(REPORT_TEST)
    out = pytester.mkdir("out")
    result = run(pytester, "--latebind", "--latebind-report=out/latebind.json")
    result.assert_outcomes(failed=2, passed=1)
    data = read_report(out / "latebind.json")
    assert data["version"] == 1
    findings = data["findings"]
    assert isinstance(findings, list)
    # One finding per (site, variable), whatever the number of tests that hit it.
    assert sorted((f["file"], f["line"], f["column"], f["variable"]) for f in findings) == [
        ("report_mod.py", 4, 9, "index"), ("report_mod.py", 4, 9, "name")]
    for finding in findings:
        assert {"file", "line", "column", "variable", "kinds", "created_with", "seen", "tests"} <= finding.keys()
        assert finding["kinds"] == ["stale-read"]
        assert sorted(finding["tests"]) == ["tests/test_report.py::test_one", "tests/test_report.py::test_two"]
    by_variable = {f["variable"]: f for f in findings}
    assert by_variable["name"]["created_with"][:2] == ["'a'", "'b'"]
    assert set(by_variable["name"]["created_with"]) == {"'a'", "'b'", "'x'", "'y'", "'z'"}
    assert set(by_variable["index"]["created_with"]) == {"0", "1", "2"}
    assert by_variable["name"]["seen"] in ("'b'", "'z'")
    # Written atomically: nothing else was left next to it.
    assert sorted(p.name for p in out.iterdir()) == ["latebind.json"]


def test_json_report_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlatebind_report = ini-report.json\n")
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    run(pytester, "--latebind")
    (finding,) = read_report(pytester.path / "ini-report.json")["findings"]  # type: ignore[misc]
    assert finding["file"] == "buggy.py"


def test_json_report_is_empty_but_written_without_findings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = run(pytester, "--latebind", "--latebind-report=r.json")
    result.assert_outcomes(passed=1)
    data = read_report(pytester.path / "r.json")
    assert data["version"] == 1 and data["findings"] == []


def test_report_into_a_missing_directory_is_a_usage_error_before_tests_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_side_effect="""
        import pathlib

        def test_runs():
            pathlib.Path("ran").write_text("yes")
    """)
    result = run(pytester, "--latebind", "--latebind-report=missing/dir/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --latebind-report=missing/dir/r.json: the directory * does not exist*"])
    assert not (pytester.path / "ran").exists()


def test_report_path_that_is_a_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.mkdir("adir")
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = run(pytester, "--latebind-report=adir")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --latebind-report=adir: * is a directory*"])


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root can write anywhere")
def test_report_into_a_read_only_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    locked = pytester.mkdir("locked")
    locked.chmod(0o555)
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    try:
        result = run(pytester, "--latebind-report=locked/r.json")
    finally:
        locked.chmod(0o755)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --latebind-report=locked/r.json: * not writable*"])


def test_late_binding_error_is_public() -> None:
    assert pytest_latebind.LateBindingError is LateBindingError
    assert issubclass(LateBindingError, Exception)
    assert LateBindingError("text").findings == []


def test_marker_with_arguments_is_a_clear_error(pytester: pytest.Pytester) -> None:
    # Spelled in two pieces: a test file of ours that spells the marker would switch the
    # import hook on for this project's own suite.
    mark = "mark." + "latebind"
    pytester.makepyfile(test_args=f"""
        import pytest

        def factory(values):
            return [lambda: v for v in values]

        @pytest.{mark}(factory=factory)
        def test_confirm():
            pass

        @pytest.{mark}("factory", args=(10,))
        def test_confirm_by_name():
            pass

        @pytest.{mark}
        def test_plain():
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2, passed=1)
    result.stdout.fnmatch_lines(["*TypeError: @pytest.mark.*latebind takes no arguments, got (factory=<function*",
                                 "*call latebind.assert_distinct(factory, ...) in the test body*"])
    result.stdout.fnmatch_lines(["*takes no arguments, got ('factory', args=(10,))*"])


def test_this_suite_never_spells_the_marker() -> None:
    # A test file whose source spells the marker makes a marker-only run install the import
    # hook, which would instrument this project's own tests (see _hookinstall.HookInstall.maybe_install_for).
    from pytest_latebind._hookinstall import _MARKER_IN_SOURCE

    here = Path(__file__).parent
    spelled = [p.name for p in [*here.glob("*.py"), here.parent / "conftest.py"]
               if _MARKER_IN_SOURCE.search(p.read_bytes())]
    assert spelled == []
