"""What the terminal shows: a header line, and a summary section at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._findings import Finding

if TYPE_CHECKING:
    from .._session import LatebindRun

TITLE = "late-binding closures"


def header(run: LatebindRun) -> list[str]:
    settings = run.settings
    if not settings.enabled and run.hook is None:
        return ["latebind: only tests marked @pytest.mark.latebind (no --latebind)"]
    watched = ", ".join(settings.modules) if settings.modules else "modules under the rootdir"
    tests = " and test modules" if settings.test_modules else ""
    scope = "every test" if settings.enabled else "marked tests"
    return [f"latebind: {scope}, mode={settings.mode}, watching {watched}{tests}"]


def describe(finding: Finding, run: LatebindRun) -> list[str]:
    kinds = ", ".join(finding.kinds)
    head = f"{finding.location(str(run.rootdir))}: {finding.site_kind} {finding.site_name}, " \
           f"loop variable {finding.variable!r} ({kinds})"
    lines = [head]
    if run.settings.show_values:
        created = ", ".join(finding.created_with) or "?"
        lines.append(f"    created with {finding.variable}={created}; now {finding.variable}={finding.seen}")
    if finding.tests:
        shown = finding.tests[:5]
        more = f" and {len(finding.tests) - 5} more" if len(finding.tests) > 5 else ""
        lines.append(f"    tests: {', '.join(shown)}{more}")
    if finding.outside_tests:
        lines.append("    found outside any test (at import time or between tests)")
    return lines


def summary(reporter: Any, run: LatebindRun) -> None:
    findings = run.store.sorted()
    if not findings:
        return
    if reporter.config.get_verbosity() < 0:
        reporter.write_line(f"latebind: {len(findings)} late-binding closure(s); see the report")
        return
    reporter.write_sep("=", TITLE)
    for finding in findings:
        for line in describe(finding, run):
            reporter.write_line(line)
