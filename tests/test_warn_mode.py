"""``latebind_mode = warn`` in projects that make warnings errors, and values on one line.

Warn mode reports without failing: a blanket ``error`` filter (``filterwarnings = error`` in
the ini file, ``-W error``, a ``filterwarnings("error")`` mark) does not make it fail mode; a
filter whose category is ``LateBindingWarning`` itself does what it says.  The warning points
at the closure site, by its path relative to the rootdir.

Every value a report states is one line, bounded, and a default repr keeps its type's name,
in the terminal, JUnit, SARIF, GitHub annotations and the JSON report.
"""

from __future__ import annotations

import json
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_latebind import LateBindingWarning
from pytest_latebind._warnings import action_without_blanket_errors

from .helpers import parse_workflow_command, read_report, run

BUGGY = """
def make_callbacks(n):
    callbacks = []
    for i in range(n):
        callbacks.append(lambda: i)  # the site: line 4
    return callbacks
"""

BUGGY_TEST = """
import warnings

import buggy

def test_buggy():
    assert [f() for f in buggy.make_callbacks(3)] == [2, 2, 2]

def test_clean():
    pass
"""

WARNED = "buggy.py:4: LateBindingWarning: 3 closures created at buggy.py:4 share the loop variable 'i'"
STALE = "  created with i=0, 1, 2; the closure made with i=0 read i=2 at buggy.py:4 (2 stale reads)"


def _project(pytester: pytest.Pytester, ini: str = "") -> None:
    pytester.makepyfile(buggy=BUGGY, test_buggy=BUGGY_TEST)
    pytester.makeini("[pytest]\nlatebind_mode = warn\n" + ini)


def _warnings_summary(result: pytest.RunResult) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if " warnings summary " in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("-- Docs", "=")))
    return lines[start + 1:end]


def _passes_with_the_warning(result: pytest.RunResult, pytester: pytest.Pytester) -> None:
    result.assert_outcomes(passed=2, warnings=1)
    assert result.ret == pytest.ExitCode.OK
    summary = _warnings_summary(result)
    # Given at the closure site, as the plugin names it: relative to the rootdir.
    assert summary[:2] == ["test_buggy.py::test_buggy", f"  {WARNED}"]
    assert "    created with i=0, 1, 2; the closure made with i=0 read i=2 at buggy.py:4 (2 stale reads)" in summary
    assert not any(str(pytester.path) in line or "pytest_latebind" + "/" in line for line in summary)


# -- a blanket error filter does not make warn mode fail ---------------------------------------
def test_ini_filterwarnings_error_does_not_fail_warn_mode(pytester: pytest.Pytester) -> None:
    _project(pytester, "filterwarnings = error\n")
    _passes_with_the_warning(run(pytester, "--latebind"), pytester)


@pytest.mark.parametrize("xdist", [False, True], ids=["plain", "xdist"])
def test_command_line_w_error_does_not_fail_warn_mode(pytester: pytest.Pytester, xdist: bool) -> None:
    _project(pytester)
    result = run(pytester, "--latebind", "-W", "error", *(["-n", "2"] if xdist else []))
    _passes_with_the_warning(result, pytester)


def test_a_broader_category_is_blanket_too(pytester: pytest.Pytester) -> None:
    # PytestWarning is LateBindingWarning's base: it does not name it.
    _project(pytester)
    _passes_with_the_warning(run(pytester, "--latebind", "-W", "error::pytest.PytestWarning"), pytester)


def test_a_filterwarnings_error_mark_does_not_fail_warn_mode(pytester: pytest.Pytester) -> None:
    _project(pytester)
    test = pytester.path / "test_buggy.py"
    test.write_text(test.read_text().replace("def test_buggy", "import pytest\n\n"
                                             "@pytest.mark.filterwarnings('error')\ndef test_buggy"))
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines([f"  {WARNED}"])


def test_other_warnings_stay_errors(pytester: pytest.Pytester) -> None:
    _project(pytester, "filterwarnings = error\n")
    pytester.makepyfile(test_other="import warnings\n\ndef test_other():\n    warnings.warn('mine')\n")
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2, failed=1, warnings=1)
    result.stdout.fnmatch_lines(["FAILED test_other.py::test_other - UserWarning: mine"])


def test_the_next_matching_filter_decides(pytester: pytest.Pytester) -> None:
    # The ini's later lines come first: "error" would decide, and is skipped; "ignore" then does.
    _project(pytester, "filterwarnings =\n    ignore::pytest_latebind.LateBindingWarning\n    error\n")
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2)
    assert "LateBindingWarning" not in result.stdout.str()
    result.stdout.fnmatch_lines(["buggy.py:4: lambda <lambda>, loop variable 'i' (2 stale reads)"])


# -- a filter naming LateBindingWarning does what it says ---------------------------------------
@pytest.mark.parametrize("where", ["command line", "ini"])
def test_error_naming_late_binding_warning_fails_the_test(pytester: pytest.Pytester, where: str) -> None:
    named = "error::pytest_latebind.LateBindingWarning"
    if where == "ini":
        _project(pytester, f"filterwarnings =\n    error\n    {named}\n")
        result = run(pytester, "--latebind")
    else:
        _project(pytester, "filterwarnings = error\n")
        result = run(pytester, "--latebind", "-W", named)
    result.assert_outcomes(passed=1, failed=1)
    # Stated once, as the failure (no traceback through the plugin, no repeated section).
    result.stdout.fnmatch_lines([
        "_*_ test_buggy _*_",
        "LateBindingWarning: 3 closures created at buggy.py:4 share the loop variable 'i'",
        STALE,
    ])
    # Before pytest's short summary, which under CI=true repeats the whole message.
    assert result.stdout.str().split("short test summary info")[0].count(STALE) == 1
    result.stdout.fnmatch_lines(["FAILED test_buggy.py::test_buggy - LateBindingWarning: 3 closures*"])


@pytest.mark.parametrize(("module", "fails"), [("buggy", True), ("test_buggy", False)])
def test_a_filter_module_is_the_closure_sites(pytester: pytest.Pytester, module: str, fails: bool) -> None:
    _project(pytester)
    result = run(pytester, "--latebind", "-W", f"error::pytest_latebind.LateBindingWarning:{module}")
    if fails:
        result.assert_outcomes(passed=1, failed=1)
    else:
        result.assert_outcomes(passed=2, warnings=1)


# -- the rule itself ----------------------------------------------------------------------------
def _filters(*specs: tuple[str, type[Warning]]) -> list[tuple[str, None, type[Warning], None, int]]:
    return [(action, None, category, None, 0) for action, category in specs]


@pytest.mark.parametrize(("filters", "expected"), [
    (_filters(), None),                                                      # the default decides
    (_filters(("error", Warning)), "default"),                               # blanket: shown instead
    (_filters(("error", pytest.PytestWarning)), "default"),                  # a base class: blanket
    (_filters(("error", LateBindingWarning)), None),                         # named: an error
    (_filters(("error", Warning), ("error", LateBindingWarning)), "error"),  # named further on: still
    (_filters(("error", Warning), ("ignore", LateBindingWarning)), "ignore"),
    (_filters(("ignore", LateBindingWarning), ("error", Warning)), None),    # ignore comes first
    (_filters(("error", DeprecationWarning), ("always", Warning)), None),    # no match, then always
    (_filters(("error", Warning), ("always", Warning)), "always"),
])
def test_blanket_errors_are_skipped(filters: list[tuple[str, None, type[Warning], None, int]],
                                    expected: str | None) -> None:
    assert action_without_blanket_errors("text", "mod", 4, filters) == expected


def test_filter_fields_are_matched_as_warnings_matches_them() -> None:
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("error")
        warnings.filterwarnings("ignore", category=LateBindingWarning, module="other")
        warnings.filterwarnings("ignore", category=LateBindingWarning, lineno=5)
        warnings.filterwarnings("ignore", message="nope", category=LateBindingWarning)
        assert action_without_blanket_errors("3 closures", "mod", 4) == "default"
        assert action_without_blanket_errors("3 closures", "other", 4) is None  # ignore decides
        assert action_without_blanket_errors("3 closures", "mod", 5) is None
        assert action_without_blanket_errors("Nope, 3 closures", "mod", 4) is None


# -- values on one line, bounded, in every output -----------------------------------------------
VALUES = """
class Request:
    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"request_id: {self.n}\\ntime_limit: 2000\\n" + "x" * 300


class Plain:
    pass


def handlers(requests):
    out = []
    for request in requests:
        out.append(lambda: request.n)  # line 16
    return out


def plain_handlers(items):
    out = []
    for item in items:
        out.append(lambda: item)  # line 23
    return out
"""

VALUES_TEST = """
import values

def test_requests():
    assert [h() for h in values.handlers([values.Request(1), values.Request(2)])] == [2, 2]

def test_plain():
    objects = [values.Plain(), values.Plain()]
    assert [h() for h in values.plain_handlers(objects)] == [objects[1]] * 2
"""

DEFAULT = re.compile(r"<Plain object at 0x[0-9a-f]+>")


def _check_value(text: str) -> None:
    assert "\n" not in text and "\r" not in text and len(text) <= 100, text
    if text.startswith("request_id"):
        # Escaped, and cut in the middle (reprlib's 40 characters of an object's repr).
        assert re.fullmatch(r"request_id: \d\\ntime\.\.\.x+", text), text
    else:
        assert DEFAULT.fullmatch(text), text


def test_values_are_one_line_in_every_output(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    pytester.makepyfile(values=VALUES, test_values=VALUES_TEST)
    result = run(pytester, "--latebind", "--latebind-report=report.json", "--latebind-sarif=report.sarif",
                 "--junitxml=junit.xml")
    result.assert_outcomes(failed=2)

    findings = read_report(pytester.path / "report.json")["findings"]
    assert [(f["line"], len(f["created_with"])) for f in findings] == [(16, 2), (23, 2)]
    shown = [value for f in findings for value in [*f["created_with"], f["seen"], f["made_with"]]]
    for value in shown:
        _check_value(value)
    requests, plains = findings
    assert requests["seen"] == requests["created_with"][1] and plains["seen"] == plains["created_with"][1]
    assert requests["made_with"] == requests["created_with"][0] and plains["made_with"] == plains["created_with"][0]
    assert plains["created_with"][0] != plains["created_with"][1]  # two objects, told apart

    def values_line(finding: dict[str, object]) -> str:
        made = ", ".join(finding["created_with"])  # type: ignore[arg-type]
        var = finding["variable"]
        # Each lambda reads its variable on its own line, the site's.
        return (f"created with {var}={made}; the closure made with {var}={finding['made_with']} "
                f"read {var}={finding['seen']} at values.py:{finding['line']}")

    # The failure text, the terminal summary: the values line is one line of its own.
    out = result.stdout.lines
    for finding in findings:
        line = values_line(finding)
        assert f"  {line} (1 stale read)" in out
        assert f"    2 closures: {line}" in out

    # GitHub annotations: the message's second line is the values line.
    commands = [parse_workflow_command(line) for line in out if line.startswith("::error ")]
    assert [message.splitlines()[1] for _, _, message in commands] == \
        [f"  {values_line(f)} (1 stale read)" for f in findings]

    # SARIF: one sentence each, the values as in the JSON report.
    log = json.loads((pytester.path / "report.sarif").read_text())
    for sarif_result, finding in zip(log["runs"][0]["results"], findings, strict=True):
        text = sarif_result["message"]["text"]
        assert "\n" not in text and values_line(finding) in text
        assert sarif_result["properties"]["createdWith"] == finding["created_with"]

    # JUnit: each failure's message states the values line once, on a line of its own.
    root = ET.parse(pytester.path / "junit.xml").getroot()
    failures = [case.find("failure") for case in root.iter("testcase")]
    messages = [f.get("message") or "" for f in failures if f is not None]
    assert len(messages) == 2
    for finding in findings:
        (message,) = [m for m in messages if f"values.py:{finding['line']} share" in m]
        assert f"  {values_line(finding)} (1 stale read)" in message.splitlines()
    props = [json.loads(p.get("value") or "") for p in root.iter("property") if p.get("name") == "latebind.finding"]
    assert [p["created_with"] for p in props] == [f["created_with"] for f in findings]


def test_the_warning_names_no_absolute_path(pytester: pytest.Pytester) -> None:
    # A site outside the rootdir would be absolute, as everywhere: under it, never.
    _project(pytester)
    result = run(pytester, "--latebind")
    assert all(str(Path(pytester.path)) not in line for line in _warnings_summary(result))
