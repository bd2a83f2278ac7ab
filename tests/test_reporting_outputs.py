"""Every output of ``pytest --latebind`` on the bundled example, with and without ``-n 2``.

The example (``examples/scheduler``) is copied into a fresh repository (a ``.git``
directory at its root, the example at the same place as in ours) and run twice in a
subprocess with every report on and ``GITHUB_ACTIONS=true``: once plain, once under
pytest-xdist. One pair of runs serves every test below; each checks the content of one
output, and the last ones that both runs wrote the same.

Lines are not hard-coded: they are looked up in the example's source.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_latebind._reporting import json_report, sarif

from .helpers import parse_workflow_command, sarif_validator

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scheduler"
MODES = ["plain", "xdist"]

# A plugin loaded into the runs: each xdist worker notes, at the very end of its session,
# whether a report file exists already. Only the controller may write them, and it does
# so after every worker has finished.
PROBE = '''
import json, os, pytest

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is not None:
        out = os.environ["LATEBIND_PROBE_OUT"]
        seen = [n for n in ("report.json", "report.sarif") if os.path.exists(os.path.join(out, n))]
        with open(os.path.join(out, "probe-" + workerinput["workerid"]), "w") as f:
            json.dump(seen, f)
'''


@dataclass
class Run:
    returncode: int
    stdout: str
    out: Path

    def json(self) -> dict[str, Any]:
        return json.loads((self.out / "report.json").read_text())  # type: ignore[no-any-return]

    def sarif(self) -> dict[str, Any]:
        return json.loads((self.out / "report.sarif").read_text())  # type: ignore[no-any-return]

    def junit(self) -> ET.Element:
        return ET.parse(self.out / "junit.xml").getroot()

    def commands(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("::")]

    def section(self) -> list[str]:
        lines = self.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if " late-binding closures " in line and "===" in line)
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("=", "-", "::")))
        return lines[start + 1:end]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    (root / ".git").mkdir()
    shutil.copytree(EXAMPLE, root / "examples" / "scheduler",
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (root / "probe").mkdir()
    (root / "probe" / "latebind_probe.py").write_text(PROBE)
    return root


@pytest.fixture(scope="module")
def runs(repo: Path) -> dict[str, Run]:
    results = {}
    for mode in MODES:
        out = repo / f"out-{mode}"
        out.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "PYTEST_", "LATEBIND_"))}
        env.update(GITHUB_ACTIONS="true", LATEBIND_PROBE_OUT=str(out), PYTHONPATH=str(repo / "probe"))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "latebind_probe",
             "--latebind", f"--latebind-report={out / 'report.json'}",
             f"--latebind-sarif={out / 'report.sarif'}", f"--junitxml={out / 'junit.xml'}",
             *(["-n", "2"] if mode == "xdist" else []), "examples/scheduler"],
            cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        results[mode] = Run(proc.returncode, proc.stdout + proc.stderr, out)
    return results


def _site(name: str, marker: str, token: str) -> tuple[int, int]:
    """(line, column) of ``token`` on the line holding ``marker``: where a finding points."""
    for number, line in enumerate((EXAMPLE / "scheduler" / name).read_text().splitlines(), 1):
        if marker in line:
            return number, line.index(token) + 1
    raise AssertionError(f"{marker!r} not in {name}")


DISPATCH = _site("dispatch.py", "HANDLERS[event] = lambda", "lambda")
HEALTH = _site("health.py", "async def check():", "async")
HEALTH_READ = _site("health.py", "return await ping(host", "host")  # where check reads host
EVENT_TEST = "tests/test_dispatch.py::test_every_event_has_a_handler"
HOST_TEST = "tests/test_health.py::test_every_host_gets_a_result"


@pytest.mark.parametrize("mode", MODES)
def test_the_buggy_tests_fail(runs: dict[str, Run], mode: str) -> None:
    run = runs[mode]
    assert run.returncode == 1, run.stdout
    assert "2 failed, 2 passed" in run.stdout


@pytest.mark.parametrize("mode", MODES)
def test_json_report(runs: dict[str, Run], mode: str) -> None:
    report = runs[mode].json()
    jsonschema.Draft202012Validator(json.loads(json_report.SCHEMA.read_text())).validate(report)
    assert report["version"] == 1
    assert report["tool"]["name"] == "pytest-latebind"
    dispatch, health = report["findings"]
    stacks = dispatch.pop("first_stale_read"), health.pop("first_stale_read")
    assert dispatch == {
        "file": "scheduler/dispatch.py", "line": DISPATCH[0], "column": DISPATCH[1], "variable": "event",
        "kinds": ["stale-read", "shared-binding"], "created_with": ["'created'", "'updated'", "'deleted'"],
        "more_values": False, "seen": "'deleted'", "made_with": "'created'", "closures": 3, "stale_reads": 2,
        "tests": [EVENT_TEST], "outside_tests": True,
        "site": {"kind": "lambda", "name": "<lambda>"}, "fix": "lambda payload, event=event: ...", "thread": None}
    assert health == {
        "file": "scheduler/health.py", "line": HEALTH[0], "column": HEALTH[1], "variable": "host",
        "kinds": ["stale-read"], "created_with": ["'db'", "'cache'", "'api'"], "more_values": False,
        "seen": "'api'", "made_with": "'db'", "closures": 3, "stale_reads": 2, "tests": [HOST_TEST],
        "outside_tests": False,
        "site": {"kind": "async def", "name": "check"}, "fix": "async def check(host=host):", "thread": None}
    for stack, test, site in zip(stacks, (EVENT_TEST, HOST_TEST), ("dispatch.py", "health.py"), strict=True):
        assert stack[0] == {"file": test.split("::")[0], "line": stack[0]["line"], "function": test.split("::")[1]}
        assert stack[-1]["file"] == f"scheduler/{site}"
    assert (stacks[0][-1]["line"], stacks[1][-1]["line"]) == (DISPATCH[0], HEALTH_READ[0])


@pytest.mark.parametrize("mode", MODES)
def test_sarif_validates_against_the_oasis_schema(runs: dict[str, Run], mode: str) -> None:
    log = runs[mode].sarif()
    sarif_validator().validate(log)
    # The schema's "uri" format is only checked with rfc3987 installed: check ours here.
    uris = [log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"], log["$schema"],
            log["runs"][0]["tool"]["driver"]["informationUri"],
            *(rule["helpUri"] for rule in log["runs"][0]["tool"]["driver"]["rules"])]
    for uri in uris:
        parsed = urllib.parse.urlsplit(uri)
        assert parsed.scheme in ("file", "https") and parsed.path.startswith("/"), uri


@pytest.mark.parametrize("mode", MODES)
def test_sarif_report(runs: dict[str, Run], repo: Path, mode: str) -> None:
    log = runs[mode].sarif()
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pytest-latebind"
    assert [r["id"] for r in driver["rules"]] == ["stale-read", "shared-binding"]
    for rule in driver["rules"]:
        assert rule["helpUri"] == f"{sarif.DOCS_URL}reference/reports/#{rule['id']}"
        assert "bind the value when the closure is made" in rule["help"]["text"].lower()
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    # %SRCROOT% is the repository (the .git directory), not pytest's rootdir.
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": repo.resolve().as_uri() + "/"}}
    dispatch, health = run["results"]
    for result, (line, column), file, variable, tests in (
            (dispatch, DISPATCH, "dispatch.py", "event", [EVENT_TEST]),
            (health, HEALTH, "health.py", "host", [HOST_TEST])):
        assert result["ruleId"] == "stale-read" and result["ruleIndex"] == 0
        assert result["level"] == "error"
        location = result["locations"][0]["physicalLocation"]
        assert location == {"artifactLocation": {"uri": f"examples/scheduler/scheduler/{file}",
                                                 "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": line, "startColumn": column}}
        assert result["properties"]["tests"] == tests
        assert result["properties"]["variable"] == variable
        assert f"share the loop variable '{variable}'" in result["message"]["text"]
        frames = result["stacks"][0]["frames"]
        assert frames[0]["location"]["physicalLocation"]["artifactLocation"]["uri"].endswith(file)
        assert frames[-1]["location"]["logicalLocations"] == [{"name": tests[0].split("::")[1],
                                                               "kind": "function"}]
    assert dispatch["properties"]["kinds"] == ["stale-read", "shared-binding"]
    assert dispatch["properties"]["createdWith"] == ["'created'", "'updated'", "'deleted'"]
    prints = [r["partialFingerprints"]["latebindSite/v1"] for r in run["results"]]
    assert len(set(prints)) == 2 and all(len(p) == 32 and int(p, 16) >= 0 for p in prints)


@pytest.mark.parametrize("mode", MODES)
def test_junit_suite_properties(runs: dict[str, Run], mode: str) -> None:
    """The default: suite properties (valid xunit2, pytest's default family), added by the
    controller once findings are merged, so they are complete under xdist too."""
    suite = runs[mode].junit().find("testsuite")
    assert suite is not None
    assert suite[0].tag == "properties"  # xunit2 wants them before the test cases
    assert not suite.findall("testcase/properties")
    props = [(p.get("name"), p.get("value")) for p in suite[0]]
    assert props[0] == ("latebind.findings", "2")
    assert [json.loads(v or "") for n, v in props[1:] if n == "latebind.finding"] == runs[mode].json()["findings"]
    failures = {case.get("name"): case.find("failure") for case in suite.iter("testcase")}
    event_failure, host_failure = failures["test_every_event_has_a_handler"], failures["test_every_host_gets_a_result"]
    assert event_failure is not None and host_failure is not None
    assert (event_failure.get("message") or "").startswith(
        f"LateBindingError: 3 closures created at scheduler/dispatch.py:{DISPATCH[0]} share the loop variable 'event'")
    assert (host_failure.text or "").splitlines()[1] == (
        "  created with host='db', 'cache', 'api'; the closure made with host='db' read host='api' "
        f"at scheduler/health.py:{HEALTH_READ[0]} (2 stale reads)")
    assert failures["test_fixed_scheduler_polls_each_host"] is None


@pytest.mark.parametrize("mode", MODES)
def test_github_annotations(runs: dict[str, Run], mode: str) -> None:
    parsed = [parse_workflow_command(line) for line in runs[mode].commands()]
    assert [(command, props) for command, props, _ in parsed] == [
        ("error", {"file": "examples/scheduler/scheduler/dispatch.py", "line": str(DISPATCH[0]),
                   "col": str(DISPATCH[1]), "title": "late-binding closure: 'event' (2 stale reads, shared binding)"}),
        ("error", {"file": "examples/scheduler/scheduler/health.py", "line": str(HEALTH[0]),
                   "col": str(HEALTH[1]), "title": "late-binding closure: 'host' (2 stale reads)"}),
    ]
    message = parsed[1][2].splitlines()
    assert message[0] == f"3 closures created at scheduler/health.py:{HEALTH[0]} share the loop variable 'host'"
    assert "  fix: bind the value when the closure is made, e.g. `async def check(host=host):`" in message


@pytest.mark.parametrize("mode", MODES)
def test_terminal(runs: dict[str, Run], mode: str) -> None:
    run = runs[mode]
    assert "latebind: every test, mode=fail, watching modules under the rootdir and test modules" in run.stdout
    assert run.section() == [
        f"scheduler/dispatch.py:{DISPATCH[0]}: lambda <lambda>, loop variable 'event' (2 stale reads, shared binding)",
        "    3 closures: created with event='created', 'updated', 'deleted'; the closure made with event='created' "
        f"read event='deleted' at scheduler/dispatch.py:{DISPATCH[0]}",
        f"    tests: {EVENT_TEST}",
        "    outside any test: at import time or between tests",
        f"scheduler/health.py:{HEALTH[0]}: async def check, loop variable 'host' (2 stale reads)",
        "    3 closures: created with host='db', 'cache', 'api'; the closure made with host='db' read host='api' "
        f"at scheduler/health.py:{HEALTH_READ[0]}",
        f"    tests: {HOST_TEST}",
        # What was watched (issue 12): the example's 2 packages' modules, its tests, the probe.
        "latebind: 5 modules watched, 2 closure sites, 2 run"
        " (2 buggy, 0 clean, 0 trivial), 0 not run; 2 late-binding closures",
    ]
    # The import-time finding was also hit by a test, which failed for it: no extra reason.
    assert "the session fails" not in run.stdout
    assert f"generated latebind JSON report: {run.out / 'report.json'}" in run.stdout
    assert f"generated latebind SARIF report: {run.out / 'report.sarif'}" in run.stdout


def test_xdist_gives_the_same_reports(runs: dict[str, Run]) -> None:
    plain, xdist = runs["plain"], runs["xdist"]
    assert xdist.json() == plain.json()
    assert xdist.sarif() == plain.sarif()
    assert xdist.commands() == plain.commands()
    assert xdist.section() == plain.section()

    def properties(run: Run) -> list[tuple[str | None, str | None]]:
        return [(p.get("name"), p.get("value")) for p in run.junit().iter("property")]

    assert properties(xdist) == properties(plain)


def test_only_the_controller_writes(runs: dict[str, Run]) -> None:
    run = runs["xdist"]
    probes = sorted(run.out.glob("probe-gw*"))
    assert [p.name for p in probes] == ["probe-gw0", "probe-gw1"]
    assert all(json.loads(p.read_text()) == [] for p in probes), "a worker wrote a report"
    assert run.stdout.count("generated latebind JSON report") == 1
    assert len(run.commands()) == 2
    assert sorted(p.name for p in run.out.iterdir() if not p.name.startswith("probe-")) == [
        "junit.xml", "report.json", "report.sarif"]


# -- the documentation shows these outputs: keep it true --------------------------------
DOCS = Path(__file__).resolve().parents[1] / "docs"


def _block(page: str, heading: str, lang: str = "") -> str:
    """The first fenced code block after ``heading`` in a docs page."""
    text = (DOCS / page).read_text()
    start = text.index(f"```{lang}\n", text.index(heading)) + len(f"```{lang}\n")
    return text[start:text.index("\n```", start)]


def test_docs_show_the_real_outputs(runs: dict[str, Run], repo: Path) -> None:
    run = runs["plain"]
    # The plugin's version and the checkout's path may differ from the docs'; nothing else.
    documented_json = json.loads(_block("reference/json-report.md", "## Example", "json"))
    documented_json["tool"]["version"] = run.json()["tool"]["version"]
    assert documented_json == run.json()
    documented_sarif = json.loads(_block("how-to/ci-reports.md", "### SARIF", "json"))
    [documented_run], [real_run] = documented_sarif["runs"], run.sarif()["runs"]
    documented_run["originalUriBaseIds"] = real_run["originalUriBaseIds"]
    for key in ("version", "semanticVersion"):
        documented_run["tool"]["driver"][key] = real_run["tool"]["driver"][key]
    assert documented_sarif == run.sarif()
    assert _block("how-to/ci-reports.md", "### GitHub Actions annotations").splitlines() == run.commands()
    terminal = _block("how-to/ci-reports.md", "### Terminal").splitlines()
    start = terminal.index(next(line for line in terminal if " late-binding closures " in line))
    assert terminal[start + 1:start + 1 + len(run.section())] == run.section()
    suite = ET.fromstring(_block("how-to/ci-reports.md", "### JUnit XML", "xml").split("\n", 1)[1])
    assert [(p.get("name"), p.get("value")) for p in suite.iter("property")] == [
        (p.get("name"), p.get("value")) for p in run.junit().iter("property")]
