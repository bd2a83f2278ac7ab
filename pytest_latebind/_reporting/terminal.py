"""What the terminal shows: a header line, and a summary section at the end.

Quiet runs (``-q``) get one line at most; a run with the plugin loaded but not watching
(no ``--latebind``) and nothing found shows nothing at all.
"""

from __future__ import annotations

from typing import Any

from .. import _messages
from .._baseline import KNOWN, Comparison
from .._baseline import describe as describe_entry
from .._findings import Finding
from .._messages import Context
from .._options import Settings
from .._sitecoverage import SiteStatus
from . import explain as _explain
from . import sites as _sites
from .results import Results
from .watched import Watched

TITLE = "late-binding closures"
_TESTS_SHOWN = 5
_SITES_SHOWN = 3


def header(settings: Settings) -> list[str]:
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


def one_line(findings: list[Finding], context: Context, failure: str | None) -> str:
    sites = [_messages.one_line(f, context) for f in findings[:_SITES_SHOWN]]
    more = f" and {len(findings) - _SITES_SHOWN} more" if len(findings) > _SITES_SHOWN else ""
    line = f"latebind: {_messages.plural(len(findings), 'late-binding closure')}: {', '.join(sites)}{more}"
    return f"{line}; {failure}" if failure else line


def baseline_lines(comparison: Comparison, known: list[Finding], context: Context) -> list[str]:
    """What the baseline made of the run: the known findings (one line each), the fixed entries."""
    shown = comparison.baseline.shown
    lines = []
    if comparison.written is not None:
        lines.append(f"baseline {shown} written: {_messages.plural(comparison.written, 'entry')}"
                     .replace("entrys", "entries"))
    elif known:
        lines.append(f"known (in the baseline {shown}, not failing): "
                     f"{_messages.plural(len(known), 'late-binding closure')}")
        lines.extend(f"  {_messages.one_line(f, context)}" for f in known)
    if comparison.fixed and comparison.written is None:
        lines.append(f"fixed: remove from the baseline {shown} (or rewrite it with "
                     f"--latebind-update-baseline): {_messages.plural(len(comparison.fixed), 'entry')}"
                     .replace("entrys", "entries"))
        lines.extend(f"  {describe_entry(fp)}" for fp in comparison.fixed)
    return lines


def ignore_lines(results: Results) -> list[str]:
    """What the ignores silenced, each with its reason, and the ignores that matched nothing."""
    lines = []
    if results.silenced:
        lines.append(f"silenced: {_messages.plural(len(results.silenced), 'late-binding closure')}")
        lines.extend(f"  {s['finding']}: {s['ignore']}: {s['reason']}" for s in results.silenced)
    if results.unused:
        lines.append(f"unused ignores (they match no finding of this run; remove them): {len(results.unused)}")
        lines.extend(f"  {label}" for label in results.unused)
    return lines


def watched_line(watched: Watched, findings: int, known: int, silenced: int,
                 table: list[SiteStatus] | None = None) -> str:
    """``latebind: 4 modules watched, 17 closure sites, 2 run (1 buggy, 1 clean, 0 trivial),
    15 not run; no findings``; ``table``: the site coverage (None: the counts alone)."""
    found = _messages.plural(findings, "late-binding closure") if findings else "no findings"
    if known:
        found += f", {known} known (in the baseline)"
    if silenced:
        found += f", {silenced} silenced"
    counts = watched.counts() if table is None else _sites.counts_text(watched, table)
    return f"latebind: {counts}; {found}"


def watched_modules(watched: Watched) -> list[str]:
    """``-v``: the modules watched, one a line."""
    if not watched.modules:
        return ["watched modules: none (no module under the watch was imported by this run)"]
    return ["watched modules:", *(f"  {name}" for name in sorted(watched.modules))]


def site_table(reporter: Any, results: Results) -> None:
    """``--latebind-sites``: every site of the watched modules with its status."""
    reporter.write_sep("-", "latebind: closure sites (buggy, clean, trivial, not run)")
    for line in _sites.table_lines(results.sites):
        reporter.write_line(line)


def explain(reporter: Any, results: Results) -> None:
    """``--latebind-explain``: why each site that ran is or is not a finding."""
    entries = _explain.unique(results.explained)
    reporter.write_sep("-", "latebind: why each closure site that ran is or is not a finding")
    if not entries:
        reporter.write_line("no closure site of the watched modules made a closure in this run")
    for line in _explain.lines(entries, results.context.show_values):
        reporter.write_line(line)


def summary(reporter: Any, results: Results, failure: str | None, watched: Watched | None = None) -> None:
    """The summary section; ``failure``: why the session fails, if it does for findings;
    ``watched``: what the run watched, for the line that says it (None: not said)."""
    comparison = results.comparison
    findings, known = results.findings, []
    if comparison is not None and comparison.written is None:
        known = [f for f in findings if comparison.state(f) == KNOWN]
        findings = [f for f in findings if comparison.state(f) != KNOWN]
    extra = baseline_lines(comparison, known, results.context) if comparison is not None else []
    extra += ignore_lines(results)
    said = (watched_line(watched, len(findings), len(known), len(results.silenced), results.sites)
            if watched is not None else None)
    if reporter.config.get_verbosity() < 0:
        if findings:
            reporter.write_line(one_line(findings, results.context, failure))
        for line in extra:
            if not line.startswith("  "):  # the headlines, without their lists
                reporter.write_line(f"latebind: {line}")
        if said is not None and not findings:
            reporter.write_line(said)
        return
    if findings or results.lost_workers or extra or said is not None:
        reporter.write_sep("=", TITLE)
        if watched is not None and reporter.config.get_verbosity() > 0:
            for line in watched_modules(watched):
                reporter.write_line(line)
        for finding in findings:
            for line in describe(finding, results.context):
                reporter.write_line(line)
        for line in extra:
            reporter.write_line(line)
        for worker in results.lost_workers:
            reporter.write_line(f"worker {worker} went down before reporting: closures it found outside "
                                "tests (at import time) are missing; its tests' findings are above",
                                yellow=True)
        if said is not None:
            reporter.write_line(said)
        if failure:
            reporter.write_line(failure, red=True, bold=True)
    for label, path in results.written:
        reporter.write_sep("-", f"generated latebind {label}: {path}")


def fix_lines(reporter: Any, results: Results) -> None:
    """``--latebind-fix``: per site, ``alerts.py:7 'channel': fixed, verified by 2 tests
    (failed -> passed)``, or why there is no fix; then where the patch is."""
    from .._fixverify import transitions

    reporter.write_sep("-", "latebind: fixes")
    fixes = results.fixes
    if not fixes:
        reporter.write_line("no findings: nothing to fix, no patch written")
    for fix in fixes:
        where = f"{results.context.path(fix.file)}:{fix.line} {', '.join(map(repr, fix.variables))}"
        if fix.status == "fixed":
            tests = _messages.plural(len(fix.outcomes), "test")
            reporter.write_line(f"{where}: fixed ({fix.form}), verified by {tests} ({transitions(fix)})")
        elif fix.reason:
            reporter.write_line(f"{where}: no fix: {fix.reason}")
        else:
            reporter.write_line(f"{where}: {fix.status}: {fix.why}")
    fixed = [fix for fix in fixes if fix.status == "fixed"]
    if fixes and not fixed:
        reporter.write_line("no verified fix: no patch written")
    elif fixed and results.settings.fix is not None:
        reporter.write_line(f"patch with {_messages.plural(len(fixed), 'verified fix')}: {results.settings.fix} "
                            "(apply it with: git apply)".replace("fixs", "fixes"))
