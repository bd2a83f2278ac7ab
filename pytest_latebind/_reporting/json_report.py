"""The JSON report (``--latebind-report``): ``{"version": 1, "tool": ..., "findings": [...]}``.

The schema ships next to this module (``report.schema.json``) and is documented in
docs/reference/json-report.md.  It is kept stable: fields are only ever added, and a
change that is not an addition bumps ``version``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from .._baseline import Comparison
from .._findings import Finding
from .._fixes import Fix
from .._messages import Context, call_frames
from .files import write_atomically

VERSION = 1
SCHEMA = Path(__file__).with_name("report.schema.json")


def finding_to_json(finding: Finding, context: Context) -> dict[str, Any]:
    show_values = context.show_values
    return {
        "file": context.path(finding.file),
        "line": finding.line,
        "column": finding.column,
        "variable": finding.variable,
        "kinds": [str(kind) for kind in finding.kinds],
        "created_with": list(finding.created_with) if show_values else None,
        "more_values": finding.more_values,
        "seen": finding.seen if show_values else None,
        "made_with": finding.made_with if show_values else None,
        "closures": finding.closures,
        "stale_reads": finding.stale_reads,
        "tests": sorted(finding.tests),
        "outside_tests": finding.outside_tests,
        "site": {"kind": finding.site_kind, "name": finding.site_name},
        "fix": finding.fix,
        "thread": finding.thread,
        "first_stale_read": [{"file": context.path(f["file"]), "line": f["line"], "function": f["function"]}
                             for f in call_frames(finding, context)],
    }


def fix_to_json(fix: Fix, context: Context) -> dict[str, Any]:
    """--latebind-fix: a site's fix, its verification and the tests re-run."""
    return {"file": context.path(fix.file), "line": fix.line, "column": fix.column,
            "variables": list(fix.variables), "form": fix.form or None, "status": fix.status,
            "reason": fix.reason or fix.why or None, "diff": fix.diff or None,
            "tests": [{"nodeid": t, "before": was, "after": now} for t, was, now in fix.outcomes]}


def report(findings: Sequence[Finding], context: Context, comparison: Comparison | None = None,
           sites: dict[str, Any] | None = None, fixes: Sequence[Fix] | None = None) -> dict[str, Any]:
    """With a baseline, each finding says whether it is ``known`` or ``new``, and the report
    lists the baseline's entries the run covered and did not find (``baseline.fixed``);
    ``sites``: site coverage (``sites.to_json``), when the run watched modules."""
    out: dict[str, Any] = {"version": VERSION,
                           "tool": {"name": "pytest-latebind", "version": __version__},
                           "findings": [finding_to_json(f, context) for f in findings]}
    if comparison is not None:
        for finding, entry in zip(findings, out["findings"], strict=True):
            entry["baseline"] = comparison.state(finding)
        out["baseline"] = {"file": comparison.baseline.shown,
                           "fixed": [dict(zip(("path", "qualname", "variable", "kind"), fp, strict=True))
                                     for fp in comparison.fixed]}
    if sites is not None:
        out["sites"] = sites
    if fixes is not None:
        out["fixes"] = [fix_to_json(fix, context) for fix in fixes]
    return out


def write(path: Path, findings: Sequence[Finding], context: Context, comparison: Comparison | None = None,
          sites: dict[str, Any] | None = None, fixes: Sequence[Fix] | None = None) -> None:
    write_atomically(path, json.dumps(report(findings, context, comparison, sites, fixes), indent=2) + "\n")
