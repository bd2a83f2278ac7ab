"""The baseline (``--latebind-baseline``, ``--latebind-update-baseline``): known findings do
not fail, new ones do, entries no longer found are listed as fixed, only when the run covered
them; the same under pytest-xdist; the file, the JSON report and SARIF state it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_latebind import _baseline
from pytest_latebind._reporting import json_report

from .helpers import read_report, run, sarif_validator

OLD = """
def make_handlers(names):
    handlers = []
    for name in names:
        handlers.append(lambda: name)
    return handlers
"""

# A line above the old site moves it: the fingerprint does not care.
OLD_MOVED = "import os  # moved down a line\n" + OLD

NEW_BUG = OLD + """

def make_jobs(hosts):
    jobs = []
    for host in hosts:
        def job():
            return host
        jobs.append(job)
    return jobs
"""

FIXED = """
def make_handlers(names):
    return [lambda name=name: name for name in names]
"""

TESTS = """
import app

def test_handlers():
    handlers = app.make_handlers(["a", "b"])
    assert [h() for h in handlers][-1] == "b"

def test_jobs():
    if hasattr(app, "make_jobs"):
        assert [job() for job in app.make_jobs(["x", "y"])][-1] == "y"

def test_other():
    assert True
"""

BASELINE = "latebind-baseline.json"
OLD_ENTRY = {"path": "app.py", "qualname": "make_handlers.<locals>.<lambda>", "variable": "name",
             "kind": "stale-read", "tests": ["test_app.py::test_handlers"]}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=OLD, test_app=TESTS)
    return pytester


def _write_baseline(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = run(pytester, "--latebind", f"--latebind-baseline={BASELINE}", "--latebind-update-baseline", *args)
    result.assert_outcomes(passed=3)
    return result


def _entries(pytester: pytest.Pytester) -> list[dict[str, object]]:
    data = json.loads((pytester.path / BASELINE).read_text())
    jsonschema.validate(data, json.loads(_baseline.SCHEMA.read_text()))
    assert data["version"] == 1
    return list(data["findings"])


def test_update_writes_a_sorted_file_that_matches_its_schema(project: pytest.Pytester) -> None:
    result = _write_baseline(project)
    result.stdout.fnmatch_lines([f"baseline {BASELINE} written: 1 entry"])
    assert _entries(project) == [OLD_ENTRY]
    text = (project.path / BASELINE).read_text()
    assert text == json.dumps({"findings": [OLD_ENTRY], "version": 1}, indent=2, sort_keys=True) + "\n"


def test_known_passes_new_fails_fixed_is_listed(project: pytest.Pytester) -> None:
    _write_baseline(project)
    # The old bug, moved by an unrelated edit: known, the run passes.
    project.makepyfile(app=OLD_MOVED)
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}")
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"known (in the baseline {BASELINE}, not failing): 1 late-binding closure",
                                 "  *app.py:6*"])
    result.stdout.no_fnmatch_line("*fixed: remove*")
    # A new bug: its test fails; the old one stays known.
    project.makepyfile(app=NEW_BUG)
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}", "--latebind-report=r.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_app.py::test_jobs*"])
    states = {f["variable"]: f["baseline"] for f in read_report(project.path / "r.json")["findings"]}
    assert states == {"name": "known", "host": "new"}
    # The old one fixed: listed as fixed, nothing fails.
    project.makepyfile(app=FIXED)
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}", "--latebind-report=r.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        f"fixed: remove from the baseline {BASELINE} (or rewrite it with --latebind-update-baseline): 1 entry",
        "  app.py::make_handlers.<locals>.<lambda>:name (stale-read)"])
    report = read_report(project.path / "r.json")
    jsonschema.validate(report, json.loads(json_report.SCHEMA.read_text()))
    assert report["baseline"] == {"file": BASELINE, "fixed": [{k: v for k, v in OLD_ENTRY.items() if k != "tests"}]}
    # Rewriting it drops the fixed entry.
    result = _write_baseline(project)
    result.stdout.fnmatch_lines([f"baseline {BASELINE} written: 0 entries"])
    assert _entries(project) == []


def test_under_xdist(project: pytest.Pytester) -> None:
    _write_baseline(project, "-n", "2")
    assert _entries(project) == [OLD_ENTRY]
    project.makepyfile(app=NEW_BUG)
    result = run(project, "-n", "2", "--latebind", f"--latebind-baseline={BASELINE}")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*known (in the baseline*: 1 late-binding closure"])
    project.makepyfile(app=FIXED)
    result = run(project, "-n", "2", "--latebind", f"--latebind-baseline={BASELINE}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["fixed: remove from the baseline*: 1 entry",
                                 "  app.py::make_handlers.<locals>.<lambda>:name (stale-read)"])


def test_deselected_test_does_not_make_its_entry_fixed(project: pytest.Pytester) -> None:
    _write_baseline(project)
    project.makepyfile(app=FIXED)
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}", "-k", "not test_handlers")
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.no_fnmatch_line("*fixed: remove*")
    # Nor does updating under -k drop it.
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}", "--latebind-update-baseline",
                 "-k", "test_other")
    result.assert_outcomes(passed=1, deselected=2)
    assert _entries(project) == [OLD_ENTRY]
    # Running just the entry's test does: it ran and found nothing.
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}", "-k", "test_handlers")
    result.stdout.fnmatch_lines(["fixed: remove from the baseline*: 1 entry"])


def test_sarif_baseline_state(project: pytest.Pytester) -> None:
    _write_baseline(project)
    project.makepyfile(app=NEW_BUG)
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}", "--latebind-sarif=r.sarif")
    result.assert_outcomes(passed=2, failed=1)
    log = json.loads((project.path / "r.sarif").read_text())
    sarif_validator().validate(log)
    (sarif_run,) = log["runs"]
    states = {r["properties"]["variable"]: r["baselineState"] for r in sarif_run["results"]}
    assert states == {"name": "unchanged", "host": "new"}
    assert all(r["partialFingerprints"] for r in sarif_run["results"])
    assert sarif_run["properties"]["latebindBaseline"] == {"file": BASELINE, "fixed": []}


def test_missing_baseline_is_a_usage_error(project: pytest.Pytester) -> None:
    result = run(project, "--latebind", "--latebind-baseline=nope.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*latebind baseline nope.json: the file * does not exist. Create it from "
                                 "this run's findings with --latebind-update-baseline*"])


def test_malformed_baseline_is_a_usage_error(project: pytest.Pytester) -> None:
    (project.path / BASELINE).write_text(json.dumps({"version": 7, "findings": []}))
    result = run(project, "--latebind", f"--latebind-baseline={BASELINE}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*latebind baseline {BASELINE}: its version is 7; it is not a "
                                 "pytest-latebind baseline of version 1*"])


def test_update_needs_a_path(project: pytest.Pytester) -> None:
    result = run(project, "--latebind", "--latebind-update-baseline")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--latebind-update-baseline needs the file to write*"])


def test_ini_twin(project: pytest.Pytester) -> None:
    project.makeini(f"[pytest]\nlatebind_baseline = {BASELINE}\n")
    result = run(project, "--latebind", "--latebind-update-baseline")
    result.assert_outcomes(passed=3)
    assert _entries(project) == [OLD_ENTRY]
    result = run(project, "--latebind")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["known (in the baseline*"])


def test_fingerprint_ignores_the_line() -> None:
    from pytest_latebind._findings import Finding
    from pytest_latebind._messages import Context

    finding = Finding(file=str(Path("/r/app.py")), line=5, column=1, variable="i", site_kind="lambda",
                      site_name="<lambda>", fix="", kinds=["stale-read", "shared-binding"],  # type: ignore[list-item]
                      qualname="f.<locals>.<lambda>")
    moved = finding.copy(line=40)
    context = Context("/r")
    assert _baseline.fingerprints(finding, context) == _baseline.fingerprints(moved, context) == [
        ("app.py", "f.<locals>.<lambda>", "i", "stale-read"), ("app.py", "f.<locals>.<lambda>", "i", "shared-binding")]
