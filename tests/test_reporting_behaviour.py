"""How the reports behave: exit status, quiet and silent runs, hidden values, the JUnit
property placements and families, and pytest-xdist merging, crashes and usage errors.

Real pytest runs in pytester's temporary directories, in a subprocess: they import user
modules through the import hook, and several run under ``-n 2``.
"""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest

from pytest_latebind._reporting import json_report

from .helpers import parse_workflow_command, read_report, sarif_validator

XDIST = {"plain": (), "xdist": ("-n", "2")}

# A module-level loop run at import (collection) time: the closures live on in HANDLERS,
# sharing the global `name`, and no test ever calls them.
IMPORT_TIME = """
    HANDLERS = {}
    for name in ["open", "save"]:
        HANDLERS[name] = lambda: name
"""
# A stale read inside a test.
IN_TEST = """
    def make(values):
        fs = []
        for v in values:
            fs.append(lambda: v)
        return fs
"""


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite itself may run on GitHub Actions: its runs here must not think they do.
    for name in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)


def _write(pytester: pytest.Pytester, **files: str) -> None:
    pytester.makepyfile(**{name: textwrap.dedent(source) for name, source in files.items()})


def _report(pytester: pytest.Pytester, name: str = "report.json") -> dict[str, Any]:
    return read_report(pytester.path / name)


# -- exit status ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", XDIST)
def test_import_time_finding_fails_the_session_with_the_reason(pytester: pytest.Pytester, mode: str) -> None:
    _write(pytester, handlers=IMPORT_TIME, test_menu="""
        from handlers import HANDLERS

        def test_menu():
            assert sorted(HANDLERS) == ["open", "save"]
    """)
    result = pytester.runpytest_subprocess("--latebind", "--latebind-report=report.json", *XDIST[mode])
    # The summary line counts the session's failure, as the exit status does (issue 12).
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*= late-binding closures =*",
        "handlers.py:3: lambda <lambda>, loop variable 'name' (shared binding)",
        "    2 closures: created with name='open', 'save'; all of them now see name='save'",
        "    outside any test: at import time or between tests",
        "latebind: * modules watched, 1 closure site, 1 run"
        " (1 buggy, 0 clean, 0 trivial), 0 not run; 1 late-binding closure",
        "latebind: the session fails: 1 late-binding closure found outside any test (at import time),"
        " where no test can fail for it; fix it, or set latebind_mode = warn to report without failing",
    ])
    [finding] = _report(pytester)["findings"]
    assert (finding["file"], finding["outside_tests"], finding["tests"]) == ("handlers.py", True, [])


@pytest.mark.parametrize("mode", XDIST)
def test_warn_mode_leaves_the_exit_status_alone(pytester: pytest.Pytester, mode: str) -> None:
    _write(pytester, handlers=IMPORT_TIME, mod=IN_TEST, test_menu="""
        from handlers import HANDLERS
        from mod import make

        def test_menu():
            assert sorted(HANDLERS) == ["open", "save"]

        def test_make():
            assert make([1, 2])[0]() == 2
    """)
    result = pytester.runpytest_subprocess("--latebind", "--latebind-mode=warn", "--latebind-report=report.json",
                                           *XDIST[mode])
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    assert "the session fails" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*LateBindingWarning: 2 closures created at mod.py:4*"])
    findings = _report(pytester)["findings"]
    assert [(f["file"], f["tests"], f["outside_tests"]) for f in findings] == [
        ("handlers.py", [], True), ("mod.py", ["test_menu.py::test_make"], False)]


def test_fail_mode_fails_the_test_that_hit_it(pytester: pytest.Pytester) -> None:
    _write(pytester, mod=IN_TEST, test_mod="""
        from mod import make

        def test_make():
            assert make([1, 2])[0]() == 2

        def test_fine():
            assert make([1])[0]() == 1
    """)
    result = pytester.runpytest_subprocess("--latebind")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "the session fails" not in result.stdout.str()


# -- terminal: quiet, off, header -----------------------------------------------------
def test_quiet_run_gets_one_line(pytester: pytest.Pytester) -> None:
    _write(pytester, handlers=IMPORT_TIME, mod=IN_TEST, test_mod="""
        import handlers
        from mod import make

        def test_make():
            make([1, 2])[0]()
    """)
    result = pytester.runpytest_subprocess("--latebind", "-q", "--latebind-report=report.json")
    # (The session's failure is also a failed case, latebind::import-time, whose text comes first.)
    lines = [line for line in result.outlines if line.startswith("latebind:")][-1:]
    assert lines == ["latebind: 2 late-binding closures: handlers.py:3 'name', mod.py:4 'v'; latebind: the "
                     "session fails: 1 late-binding closure found outside any test (at import time), where no "
                     "test can fail for it; fix it, or set latebind_mode = warn to report without failing"]
    assert "late-binding closures =" not in result.stdout.str()


@pytest.mark.parametrize("args", [(), ("-p", "no:latebind")], ids=["not-enabled", "disabled"])
def test_nothing_when_off(pytester: pytest.Pytester, args: tuple[str, ...]) -> None:
    _write(pytester, handlers=IMPORT_TIME, mod=IN_TEST, test_mod="""
        import handlers
        from mod import make

        def test_make():
            assert make([1, 2])[0]() == 2
    """)
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.OK
    shown = [line for line in result.outlines if not line.startswith("plugins:")]
    assert not [line for line in shown if "latebind" in line.lower() or "late-binding" in line.lower()]


def test_header_says_what_is_watched(pytester: pytest.Pytester) -> None:
    _write(pytester, test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-mode=warn", "--latebind-modules=pkg",
                                           "--latebind-show-values=no")
    result.stdout.fnmatch_lines(["latebind: every test, mode=warn, watching pkg and test modules, values hidden"])
    # Nothing found: the section still says what was watched (issue 12).
    result.stdout.fnmatch_lines(["*= late-binding closures =*",
                                 "latebind: 1 module watched, 0 closure sites, 0 run"
                                 " (0 buggy, 0 clean, 0 trivial), 0 not run; no findings"])


# -- values hidden everywhere ---------------------------------------------------------
@pytest.mark.parametrize("mode", XDIST)
def test_hidden_values_reach_no_output(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                       mode: str) -> None:
    pytester.makeini("[pytest]\nlatebind_show_values = false\n")
    _write(pytester, creds="""
        def clients(tokens):
            out = []
            for token in tokens:
                out.append(lambda: "Bearer " + token)
            return out
    """, test_creds="""
        from creds import clients

        def test_clients():
            assert clients(["hunter2-alpha", "hunter2-omega"])[0]().startswith("Bearer")
    """)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-report=report.json",
                                           "--latebind-sarif=report.sarif", "--junitxml=junit.xml",
                                           "--latebind-junit-properties=suite", *XDIST[mode])
    result.assert_outcomes(failed=1)
    outputs = {"terminal": result.stdout.str() + result.stderr.str()}
    outputs.update({name: (pytester.path / name).read_text() for name in ("report.json", "report.sarif", "junit.xml")})
    for name, text in outputs.items():
        assert "hunter2" not in text, f"a value leaked into the {name}"
    # ...and the findings are all there, without values.
    [finding] = _report(pytester)["findings"]
    assert (finding["variable"], finding["created_with"], finding["seen"], finding["made_with"]) == (
        "token", None, None, None)
    assert "createdWith" not in json.loads(outputs["report.sarif"])["runs"][0]["results"][0]["properties"]
    result.stdout.fnmatch_lines(["  values hidden (latebind_show_values = false); read late at creds.py:4 "
                                 "(1 stale read)",
                                 "::error file=creds.py,line=4,col=20,title=late-binding closure%3A 'token'*"])


# -- JUnit: where the properties go, in both families ----------------------------------
def _junit(pytester: pytest.Pytester, *args: str, family: str) -> tuple[pytest.RunResult, ET.Element]:
    pytester.makeini(f"[pytest]\njunit_family = {family}\n")
    _write(pytester, handlers=IMPORT_TIME, mod=IN_TEST, test_mod="""
        import handlers
        from mod import make

        def test_make():
            assert make([1, 2])[0]() == 2

        def test_fine():
            pass
    """)
    result = pytester.runpytest_subprocess("--latebind", "--junitxml=junit.xml", "--latebind-report=report.json",
                                           *args)
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    return result, suite


def _props(element: ET.Element | None) -> list[tuple[str | None, Any]]:
    if element is None:
        return []
    found: list[tuple[str | None, Any]] = []
    for prop in element.findall("properties/property"):
        value = prop.get("value") or ""
        found.append((prop.get("name"), value if prop.get("name") == "latebind.findings" else json.loads(value)))
    return found


def _check_xunit2_shape(suite: ET.Element) -> None:
    """What the xunit2 schema (junit-10.xsd) demands of what we add: properties only on the
    suite, before the test cases, each with a name and a value."""
    assert not suite.findall("testcase/properties")
    children = [child.tag for child in suite]
    assert children.count("properties") <= 1
    if "properties" in children:
        assert children[0] == "properties"
    for prop in suite.iter("property"):
        assert set(prop.attrib) == {"name", "value"}


@pytest.mark.parametrize("family", ["xunit1", "xunit2"])
def test_junit_suite_properties_in_both_families(pytester: pytest.Pytester, family: str) -> None:
    result, suite = _junit(pytester, family=family)
    result.assert_outcomes(passed=1, failed=2)  # test_make, and the session for handlers.py
    _check_xunit2_shape(suite)
    findings = _report(pytester)["findings"]
    assert _props(suite) == [("latebind.findings", "2"), *(("latebind.finding", f) for f in findings)]
    failure = suite.find("testcase[@name='test_make']/failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("LateBindingError: 2 closures created at mod.py:4 share the "
                                                     "loop variable 'v'")
    if family == "xunit1":
        assert suite.find("testcase").get("file") == "test_mod.py"  # type: ignore[union-attr]
    assert "incompatible" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("mode", XDIST)
def test_junit_testcase_properties_travel_from_workers(pytester: pytest.Pytester, mode: str) -> None:
    result, suite = _junit(pytester, "--latebind-junit-properties=testcase", *XDIST[mode], family="xunit1")
    result.assert_outcomes(passed=1, failed=2)
    assert _props(suite) == []
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    [(name, finding)] = _props(cases["test_make"])
    assert name == "latebind.finding"
    assert (finding["file"], finding["variable"], finding["tests"]) == ("mod.py", "v", ["test_mod.py::test_make"])
    assert _props(cases["test_fine"]) == []
    # The import-time finding fails the session's own test case (no properties: it has no test).
    assert cases["import-time"].find("failure") is not None
    assert _props(cases["import-time"]) == []
    assert [f["file"] for f in _report(pytester)["findings"]] == ["handlers.py", "mod.py"]


def test_junit_testcase_properties_with_xunit2_warn(pytester: pytest.Pytester) -> None:
    result, suite = _junit(pytester, "--latebind-junit-properties=testcase", family="xunit2")
    result.stdout.fnmatch_lines(["*latebind_junit_properties = testcase writes <properties> inside <testcase>, "
                                 "which junit_family = xunit2 does not allow*"])
    assert suite.findall("testcase/properties")  # as asked: the user chose it


def test_junit_no_properties(pytester: pytest.Pytester) -> None:
    _, suite = _junit(pytester, "--latebind-junit-properties=none", family="xunit2")
    assert not list(suite.iter("property"))
    assert suite.find("testcase[@name='test_make']/failure") is not None


# -- pytest-xdist: one finding from two workers, a crashed worker -----------------------
def _on_workers(result: pytest.RunResult) -> dict[str, str]:
    return {m.group(2): m.group(1) for m in re.finditer(r"^\[(gw\d+)\] \[[ \d]+%\] \w+ (\S+)",
                                                        result.stdout.str(), re.M)}


def test_finding_from_two_workers_is_one_finding(pytester: pytest.Pytester) -> None:
    _write(pytester, mod=IN_TEST,
           test_a="from mod import make\n\ndef test_a():\n    assert make([1, 2])[0]() == 2\n",
           test_b="from mod import make\n\ndef test_b():\n    assert make([3, 4])[0]() == 4\n")
    xdist = pytester.runpytest_subprocess("--latebind", "--latebind-report=xdist.json", "--latebind-sarif=x.sarif",
                                          "-n", "2", "--dist", "loadfile", "-v")
    workers = _on_workers(xdist)
    assert len(set(workers.values())) == 2, f"precondition: the tests ran on two workers: {workers}"
    plain = pytester.runpytest_subprocess("--latebind", "--latebind-report=plain.json", "--latebind-sarif=p.sarif")
    xdist.assert_outcomes(failed=2)
    plain.assert_outcomes(failed=2)
    [finding] = _report(pytester, "xdist.json")["findings"]
    assert finding["tests"] == ["test_a.py::test_a", "test_b.py::test_b"]
    assert finding["created_with"] == ["1", "2", "3", "4"]
    assert finding["stale_reads"] == 2
    assert _report(pytester, "xdist.json") == _report(pytester, "plain.json")
    assert (pytester.path / "x.sarif").read_text() == (pytester.path / "p.sarif").read_text()


def test_crashed_worker_loses_no_other_finding(pytester: pytest.Pytester) -> None:
    _write(pytester, mod=IN_TEST, handlers=IMPORT_TIME,
           test_bug="import handlers\nfrom mod import make\n\ndef test_bug():\n    assert make([1, 2])[0]() == 2\n",
           test_crash="import os\n\ndef test_crash():\n    os._exit(3)\n")
    result = pytester.runpytest_subprocess("--latebind", "--latebind-report=report.json", "-n", "2")
    # test_bug, test_crash as xdist reports a crash, and the session for handlers' import-time finding
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running 'test_crash.py::test_crash'*"])
    result.stdout.fnmatch_lines(["worker gw* went down before reporting: closures it found outside tests "
                                 "(at import time) are missing; its tests' findings are above"])
    report = _report(pytester)
    jsonschema.validate(report, json.loads(json_report.SCHEMA.read_text()))
    # The test's finding came with its report; the import-time one from the other worker.
    assert [(f["file"], f["tests"], f["outside_tests"]) for f in report["findings"]] == [
        ("handlers.py", [], True), ("mod.py", ["test_bug.py::test_bug"], False)]


# -- options ---------------------------------------------------------------------------
def test_sarif_path_checked_before_the_run(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--latebind-sarif=missing/report.sarif")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--latebind-sarif=missing/report.sarif: the directory * does not exist; "
                                 "create it or choose another path*"])


def test_junit_properties_choice_is_checked(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--latebind-junit-properties=everywhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expected one of suite, testcase, none, got 'everywhere'*"])


def test_sarif_from_ini_with_no_findings_is_valid_and_empty(pytester: pytest.Pytester) -> None:
    """An empty SARIF log is what tells code scanning that fixed alerts are gone."""
    pytester.makeini("[pytest]\nlatebind = true\nlatebind_sarif = out.sarif\n")
    _write(pytester, test_ok="def test_ok():\n    assert [f(2) for f in [lambda x, i=i: x * i for i in range(3)]]\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    log = json.loads((pytester.path / "out.sarif").read_text())
    assert log["runs"][0]["results"] == []
    assert [rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]] == ["stale-read", "shared-binding"]
    sarif_validator().validate(log)


def test_annotations_parse_as_the_runner_does(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path with a comma and a colon, a value with a percent sign and a newline."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    sub = pytester.mkpydir("odd_pkg")
    (sub / "a,b.py").write_text(textwrap.dedent(IN_TEST).lstrip("\n"))
    _write(pytester, test_odd="""
        import importlib
        make = importlib.import_module("odd_pkg.a,b").make

        def test_odd():
            assert make(["100%", "a:b\\nc"])[0]() == "a:b\\nc"
    """)
    result = pytester.runpytest_subprocess("--latebind")
    [line] = [line for line in result.outlines if line.startswith("::")]
    command, props, message = parse_workflow_command(line)
    assert (command, props["file"], props["line"], props["col"]) == ("error", "odd_pkg/a,b.py", "4", "19")
    assert message.splitlines()[1] == ("  created with v='100%', 'a:b\\nc'; the closure made with v='100%' "
                                       "read v='a:b\\nc' at odd_pkg/a,b.py:4 (1 stale read)")


def test_unwritable_report_fails_the_run_not_a_crash(pytester: pytest.Pytester) -> None:
    (pytester.path / "out").mkdir()
    _write(pytester, test_mod="""
        import shutil

        def test_fine():
            shutil.rmtree("out")  # the report's directory is gone when the run ends
    """)
    result = pytester.runpytest_subprocess("--latebind", "--latebind-sarif=out/report.sarif")
    result.assert_outcomes(passed=1)
    # CI would go on without the report: the run fails (issue 12), after the summary.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["ERROR: pytest-latebind: could not write the SARIF report to "
                                 "*out/report.sarif: No such file or directory; the run fails so that CI does "
                                 "not go on without it*", "*= 1 passed in *"])
    result.stdout.no_fnmatch_line("*internal error*")
    result.stdout.no_fnmatch_line("*generated latebind SARIF report*")
