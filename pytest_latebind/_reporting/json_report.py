"""The JSON report (``--latebind-report``): ``{"version": 1, "findings": [...]}``.

The schema is documented in docs/reference/json-report.md and kept stable: fields are
only ever added, and a change that is not an addition bumps ``version``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._findings import Finding, relative_path, user_frames

VERSION = 1


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
            "findings": [finding_to_json(f, rootdir, show_values) for f in findings]}


def write(path: Path, findings: Sequence[Finding], rootdir: str, show_values: bool) -> None:
    """Atomically: a reader never sees half a report."""
    text = json.dumps(report(findings, rootdir, show_values), indent=2, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
