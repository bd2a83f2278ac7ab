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
from .._findings import Finding, relative_path, user_frames
from .files import write_atomically

VERSION = 1
SCHEMA = Path(__file__).with_name("report.schema.json")


def finding_to_json(finding: Finding, rootdir: str, show_values: bool) -> dict[str, Any]:
    return {
        "file": relative_path(finding.file, rootdir),
        "line": finding.line,
        "column": finding.column,
        "variable": finding.variable,
        "kinds": list(finding.kinds),
        "created_with": list(finding.created_with) if show_values else None,
        "seen": finding.seen if show_values else None,
        "closures": finding.closures,
        "stale_calls": finding.stale_calls,
        "tests": sorted(finding.tests),
        "outside_tests": finding.outside_tests,
        "site": {"kind": finding.site_kind, "name": finding.site_name},
        "fix": finding.fix,
        "first_stale_call": [{**frame, "file": relative_path(frame["file"], rootdir)}
                             for frame in user_frames(finding.stack, rootdir)],
    }


def report(findings: Sequence[Finding], rootdir: str, show_values: bool) -> dict[str, Any]:
    return {"version": VERSION,
            "tool": {"name": "pytest-latebind", "version": __version__},
            "findings": [finding_to_json(f, rootdir, show_values) for f in findings]}


def write(path: Path, findings: Sequence[Finding], rootdir: str, show_values: bool) -> None:
    write_atomically(path, json.dumps(report(findings, rootdir, show_values), indent=2) + "\n")
