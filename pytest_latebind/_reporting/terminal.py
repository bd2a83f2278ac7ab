"""What the terminal shows: a header line, and a summary section at the end.

Quiet runs (``-q``) get one line at most; a run with the plugin loaded but not watching
(no ``--latebind``) and nothing found shows nothing at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _messages
from .._findings import Finding
from .._messages import Context

if TYPE_CHECKING:
    from .._session import LatebindRun

TITLE = "late-binding closures"
_TESTS_SHOWN = 5
_SITES_SHOWN = 3


def header(run: LatebindRun) -> list[str]:
    settings = run.settings
    if not settings.enabled:
        return []  # marked tests are still watched; a finding in one shows in the summary
    watched = ", ".join(settings.modules) if settings.modules else "modules under the rootdir"
    tests = " and test modules" if settings.test_modules else ""
    values = "" if settings.show_values else ", values hidden"
    return [f"latebind: every test, mode={settings.mode}, watching {watched}{tests}{values}"]


def describe(finding: Finding, context: Context) -> list[str]:
    lines = _messages.summary_lines(finding, context)
    if finding.tests:
        tests = sorted(finding.tests)
        more = f" and {len(tests) - _TESTS_SHOWN} more" if len(tests) > _TESTS_SHOWN else ""
        lines.append(f"    tests: {', '.join(tests[:_TESTS_SHOWN])}{more}")
    if finding.outside_tests:
        lines.append("    outside any test: at import time or between tests")
    return lines


def one_line(run: LatebindRun) -> str:
    findings = run.findings
    context = Context(run.rootdir, run.settings.show_values)
    sites = [_messages.one_line(f, context) for f in findings[:_SITES_SHOWN]]
    more = f" and {len(findings) - _SITES_SHOWN} more" if len(findings) > _SITES_SHOWN else ""
    line = f"latebind: {_messages.plural(len(findings), 'late-binding closure')}: {', '.join(sites)}{more}"
    reason = run.session_failure()
    return f"{line}; {reason}" if reason else line


def summary(reporter: Any, run: LatebindRun) -> None:
    findings = run.findings
    if reporter.config.get_verbosity() < 0:
        if findings:
            reporter.write_line(one_line(run))
        return
    if findings or run.lost_workers:
        reporter.write_sep("=", TITLE)
        for finding in findings:
            for line in describe(finding, Context(run.rootdir, run.settings.show_values)):
                reporter.write_line(line)
        for worker in run.lost_workers:
            reporter.write_line(f"worker {worker} went down before reporting: closures it found outside "
                                "tests (at import time) are missing; its tests' findings are above",
                                yellow=True)
        reason = run.session_failure()
        if reason:
            reporter.write_line(reason, red=True, bold=True)
    for label, path in run.written:
        reporter.write_sep("-", f"generated latebind {label}: {path}")
