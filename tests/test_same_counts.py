"""Every format states the same counts and values for each finding (issue: messages say what
happened).  One session, two sites, several tests hitting each: the failure text of every
test, its JUnit test-case property, the terminal summary, the JSON report, SARIF, the JUnit
suite properties and the GitHub annotations are read back with one parser, not with the
plugin's own wording code, and compared with what the tests made.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

MOD = """
def make(names):
    out = []
    for name in names:
        out.append(lambda: name)
    return out

def handlers(events):
    table = {}
    for event in events:
        table[event] = lambda payload: (event, payload)
    return table
"""
TESTS = """
import mod

def test_two():
    mod.make(["a", "b"])[0]()

def test_three_twice_called():
    fs = mod.make(["a", "b", "c"])
    [f() for f in fs[:2]]

def test_two_loops():  # two bindings of one site: each counts its own closures
    first, second = mod.make(["p", "q"]), mod.make(["r", "s"])
    first[0]()

def test_events():
    mod.handlers(["created", "deleted"])["created"]("x")

def test_checked(latebind):  # found by check() and by the judge: one finding, printed once
    latebind.check(list(mod.handlers(["u", "v", "w"]).values()))
"""
MAKE, HANDLERS = ("mod.py", 4, "name"), ("mod.py", 10, "event")
# What each test did, per site: (closures sharing the binding, values made with, the value the
# closure of the first stale read was made with (None: no stale read), value seen, stale reads).
PER_TEST = {
    "test_two": {MAKE: (2, ["'a'", "'b'"], "'a'", "'b'", 1)},
    "test_three_twice_called": {MAKE: (3, ["'a'", "'b'", "'c'"], "'a'", "'c'", 2)},
    "test_two_loops": {MAKE: (2, ["'p'", "'q'"], "'p'", "'q'", 1)},
    "test_events": {HANDLERS: (2, ["'created'", "'deleted'"], "'created'", "'deleted'", 1)},
    "test_checked": {HANDLERS: (3, ["'u'", "'v'", "'w'"], None, "'w'", 0)},
}
_VALUES = re.compile(r"created with (\w+)=(.*?); "
                     r"(?:the closure made with \1=('[^']*') read|all of them now see) \1=('[^']*')")
_COUNT = re.compile(r"(\d+) closures")


def _stated(text: str) -> tuple[int, list[str], str | None, str]:
    """(count, values, made with, seen) as a text states them."""
    count = _COUNT.search(text)
    values = _VALUES.search(text)
    assert count and values, text
    return int(count.group(1)), values.group(2).split(", "), values.group(3), values.group(4)


def _run(pytester: pytest.Pytester, *args: str) -> tuple[str, pytest.Pytester]:
    result = pytester.runpytest_subprocess("--latebind", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(failed=len(PER_TEST))
    return result.stdout.str(), pytester


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    pytester.makepyfile(mod=MOD, test_sites=TESTS)
    pytester.makeini("[pytest]\njunit_family = xunit1\n")
    return pytester


def _failure_texts(stdout: str) -> dict[str, str]:
    """Each test's failure text and sections, from its ``____ name ____`` header to the next."""
    parts = re.split(r"^_{3,} (\w+) _{3,}$", stdout, flags=re.M)
    bodies = zip(parts[1::2], parts[2::2], strict=True)
    return {name: re.split(r"^={5,}|^- generated", body, flags=re.M)[0] for name, body in bodies}


def _summary(stdout: str) -> dict[tuple[str, int, str], str]:
    section = stdout.split(" late-binding closures ")[-1]
    blocks = re.findall(r"^(\S+?):(\d+): \S.*?loop variable '(\w+)'.*\n(    .*)$", section, flags=re.M)
    return {(file, int(line), var): text for file, line, var, text in blocks}


def test_every_format_states_each_findings_counts_and_values(project: pytest.Pytester) -> None:
    stdout, _ = _run(project, "--latebind-report=r.json", "--latebind-sarif=r.sarif", "--junitxml=suite.xml")
    # Each test's failure text: its own finding, stated once.
    texts = _failure_texts(stdout)
    for test, sites in PER_TEST.items():
        [(site, (closures, values, made_with, seen, _))] = sites.items()
        text = texts[test]
        assert text.count(f"created at {site[0]}:{site[1]} ") == 1, text
        assert _stated(text) == (closures, values, made_with, seen), test
    # The session: one merged finding per site, the same in every format.
    merged: dict[Any, dict[str, Any]] = {}
    for test, sites in PER_TEST.items():
        for site, (closures, values, made_with, _, calls) in sites.items():
            entry = merged.setdefault(site, {"closures": 0, "values": [], "made_with": None, "calls": 0, "tests": []})
            entry["closures"] = max(entry["closures"], closures)
            entry["made_with"] = entry["made_with"] or made_with  # the first stale read's
            entry["values"] += [v for v in values if v not in entry["values"]]
            entry["calls"] += calls
            entry["tests"].append(f"test_sites.py::{test}")
    findings = json.loads((project.path / "r.json").read_text())["findings"]
    report = {(f["file"], f["line"], f["variable"]): f for f in findings}
    sarif = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
              r["locations"][0]["physicalLocation"]["region"]["startLine"], r["properties"]["variable"]): r
             for r in json.loads((project.path / "r.sarif").read_text())["runs"][0]["results"]}
    suite = [json.loads(p.get("value")) for p in ET.parse(project.path / "suite.xml").iter("property")
             if p.get("name") == "latebind.finding"]
    annotations = [line for line in stdout.splitlines() if line.startswith("::error ")]
    summary = _summary(stdout)
    assert set(report) == set(sarif) == set(summary) == set(merged)
    assert suite == list(report.values()) and len(annotations) == len(merged)
    for site, expected in merged.items():
        found = report[site]
        assert (found["closures"], found["stale_reads"], sorted(found["tests"])) == (
            expected["closures"], expected["calls"], sorted(expected["tests"]))
        assert sorted(found["created_with"]) == sorted(expected["values"])
        assert found["made_with"] == expected["made_with"]
        # One read's values: the closure's own value and the value it read come from one test.
        assert (found["made_with"], found["seen"]) in [
            (made_with, seen) for sites in PER_TEST.values() for s, (_, _, made_with, seen, _) in sites.items()
            if s == site and made_with is not None]
        stated = (found["closures"], found["created_with"], found["made_with"], found["seen"])
        result = sarif[site]
        assert (result["properties"]["closures"], result["properties"]["createdWith"],
                result["properties"]["seen"], result["properties"]["staleReads"]) == (
            found["closures"], found["created_with"], found["seen"], found["stale_reads"])
        assert _stated(result["message"]["text"]) == stated
        assert _stated(summary[site]) == stated
        [annotation] = [a for a in annotations if f"file={site[0]},line={site[1]}," in a]
        assert _stated(annotation.split("::", 2)[2]) == stated


def test_each_tests_junit_property_states_its_failure_text(project: pytest.Pytester) -> None:
    stdout, _ = _run(project, "--junitxml=cases.xml", "--latebind-junit-properties=testcase")
    texts = _failure_texts(stdout)
    for case in ET.parse(project.path / "cases.xml").iter("testcase"):
        test = case.get("name")
        [found] = [json.loads(p.get("value")) for p in case.iter("property")]
        [(_, (closures, values, made_with, seen, calls))] = PER_TEST[test].items()
        assert (found["closures"], found["created_with"], found["made_with"], found["seen"],
                found["stale_reads"]) == (closures, values, made_with, seen, calls)
        assert _stated(texts[test]) == (closures, values, made_with, seen)
