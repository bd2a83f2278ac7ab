"""Site coverage (issue 13): every closure site of the watched modules gets a status at the
end of a --latebind run (buggy, clean, trivial, not run), counted on the summary line, listed
by --latebind-sites, in the JSON report and as SARIF notes, merged across xdist workers.

Real pytest runs in pytester's temporary directories, in a subprocess (the import hook is
process-wide).
"""

from __future__ import annotations

import json
import textwrap

import pytest

from pytest_latebind import _sitecoverage
from pytest_latebind._sitecoverage import BUGGY, CLEAN, NOT_RUN, TRIVIAL, SiteStatus

XDIST = {"plain": (), "xdist": ("-n", "2")}

# One site of each status: buggy (line 4), clean (line 10), trivial (line 18), not run (line 23).
APP = """\
def buggy(names):
    out = []
    for name in names:
        out.append(lambda: name)
    return out

def clean(ns):
    out = []
    for n in ns:
        def double():
            return n * 2
        out.append(double())
    return out

def trivial(ns):
    out = []
    for n in ns:
        out.append(lambda: n)
    return out

def never(items):
    for item in items:
        yield lambda: item
"""
# Each test in its own module, so that -n 2 spreads the sites over two workers.
TESTS = {
    "tests/test_a.py": """
        from app import mod

        def test_buggy():
            assert [f() for f in mod.buggy(["a", "b"])] == ["b", "b"]
    """,
    "tests/test_b.py": """
        from app import mod

        def test_clean():
            assert mod.clean([1, 2]) == [2, 4]

        def test_trivial():
            assert [f() for f in mod.trivial([7])] == [7]
    """,
}


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "PYTEST_ADDOPTS", "CI"):
        monkeypatch.delenv(name, raising=False)


def _app(pytester: pytest.Pytester, ini: str = "") -> None:
    (pytester.path / "app").mkdir()
    (pytester.path / "app/__init__.py").write_text("")
    (pytester.path / "app/mod.py").write_text(APP)
    (pytester.path / "tests").mkdir()
    for name, source in TESTS.items():
        (pytester.path / name).write_text(textwrap.dedent(source))
    pytester.makeini("[pytest]\npythonpath = .\ntestpaths = tests\nlatebind_test_modules = false\n"
                     "latebind_mode = warn\n" + ini)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind", *args, timeout=300)


@pytest.mark.parametrize("mode", XDIST)
def test_summary_line_counts_each_status(pytester: pytest.Pytester, mode: str) -> None:
    _app(pytester)
    result = _run(pytester, *XDIST[mode])
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(["latebind: 2 modules watched, 4 closure sites, 3 run "
                                 "(1 buggy, 1 clean, 1 trivial), 1 not run; 1 late-binding closure"])


@pytest.mark.parametrize("mode", XDIST)
def test_sites_table_sorted_by_file_and_line(pytester: pytest.Pytester, mode: str) -> None:
    _app(pytester)
    result = _run(pytester, "--latebind-sites", *XDIST[mode])
    result.stdout.fnmatch_lines(["*latebind: closure sites*",
                                 "site * status",
                                 "app/mod.py:4:20 * buggy",
                                 "app/mod.py:10:9 * clean",
                                 "app/mod.py:18:20 * trivial",
                                 "app/mod.py:23:15 * not run",
                                 "total 4 * 1 buggy, 1 clean, 1 trivial, 1 not run"])


def test_sites_table_from_the_ini_and_not_without_it(pytester: pytest.Pytester) -> None:
    _app(pytester, "latebind_sites = true\n")
    assert "app/mod.py:23:15" in _run(pytester).stdout.str()
    pytester.makeini("[pytest]\npythonpath = .\ntestpaths = tests\n")
    assert "app/mod.py:23:15" not in _run(pytester).stdout.str()


def test_silenced_and_known_sites_stay_buggy(pytester: pytest.Pytester) -> None:
    _app(pytester)
    source = APP.replace("out.append(lambda: name)", "out.append(lambda: name)  # latebind: ignore[name] demo")
    (pytester.path / "app/mod.py").write_text(source)
    result = _run(pytester)
    result.stdout.fnmatch_lines(["latebind: * 3 run (1 buggy, 1 clean, 1 trivial), 1 not run; "
                                 "no findings, 1 silenced"])


@pytest.mark.parametrize("mode", XDIST)
def test_json_report_and_sarif_notes(pytester: pytest.Pytester, mode: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    _app(pytester)
    _run(pytester, "--latebind-report=r.json", "--latebind-sarif=r.sarif", *XDIST[mode])
    report = json.loads((pytester.path / "r.json").read_text())
    from pytest_latebind._reporting import json_report
    jsonschema.validate(report, json.loads(json_report.SCHEMA.read_text()))
    assert report["sites"]["counts"] == {"buggy": 1, "clean": 1, "trivial": 1, "not run": 1}
    assert [(s["line"], s["status"]) for s in report["sites"]["sites"]] == [
        (4, "buggy"), (10, "clean"), (18, "trivial"), (23, "not run")]
    sarif = json.loads((pytester.path / "r.sarif").read_text())
    run = sarif["runs"][0]
    notes = [r for r in run["results"] if r["level"] == "note"]
    assert [(n["ruleId"], n["locations"][0]["physicalLocation"]["region"]["startLine"]) for n in notes] == [
        ("not-run", 23)]
    assert notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("app/mod.py")
    assert run["tool"]["driver"]["rules"][notes[0]["ruleIndex"]]["id"] == "not-run"
    assert [r["ruleId"] for r in run["results"] if r["level"] != "note"] == ["stale-read"]


# -- the core -------------------------------------------------------------------------------
def test_statuses_precedence_and_order() -> None:
    a, b, c, d = ("m.py", 9, 1), ("m.py", 2, 5), ("a.py", 30, 1), ("m.py", 2, 1)
    rows = _sitecoverage.statuses([a, b, c, d], ran=[a, b, c], varied=[a, b], buggy=[a])
    assert rows == [SiteStatus("a.py", 30, 1, TRIVIAL), SiteStatus("m.py", 2, 1, NOT_RUN),
                    SiteStatus("m.py", 2, 5, CLEAN), SiteStatus("m.py", 9, 1, BUGGY)]
    assert _sitecoverage.summary(rows) == "1 buggy, 1 clean, 1 trivial, 1 not run"
