"""Turn what a window recorded into findings."""

from __future__ import annotations

import gc
import os
import traceback
from typing import Any

from ._findings import SHARED_BINDING, STALE_CALL, Finding, short_repr
from ._recorder import (
    MAX_VALUES,
    PENDING,
    Record,
    SiteInfo,
    StaleEvent,
    Window,
    baseline,
    distinct,
    group_by_binding,
    read,
    same_binding,
)

try:  # only to hide their frames from stacks; the core never needs them
    import _pytest as _pytest_pkg
    import pluggy as pluggy_pkg
except ImportError:  # pragma: no cover - used without pytest
    _pytest_pkg = pluggy_pkg = None  # type: ignore[assignment]
import pytest_latebind as pytest_latebind_pkg


def judge(window: Window, *, shared: bool = True, context: Window | None = None) -> list[Finding]:
    """Stale calls not yet judged, and (when ``shared``) shared bindings alive now.

    ``context`` is another window (the session's) whose live closures may be the siblings
    of this window's stale ones: closures made at import time and called in a test.
    """
    label = [window.label] if window.label else []
    outside = window.label is None
    findings: dict[tuple[str, int, int, str], Finding] = {}

    def add(finding: Finding) -> None:
        finding.tests = list(label)
        finding.outside_tests = outside
        existing = findings.get(finding.key)
        if existing is None:
            findings[finding.key] = finding
        else:
            existing.merge(finding)

    events = window.take_stale()
    if events:
        known = window.live_records()
        if context is not None and context is not window:
            for info, records in context.live_records().items():
                known[info] = known.get(info, []) + records
        for event in events:
            add(_stale_finding(event, known.get(event.info, []), window))
        del known  # hold no record across the collection below: it would keep it "alive"
    if shared and _shared_bindings(window):
        # Closures in reference cycles outlive their last use until the collector runs:
        # collect before calling them alive, and only when it matters.
        gc.collect()
        for finding in _shared_bindings(window):
            add(finding)
    return list(findings.values())


def _base(info: SiteInfo, k: int) -> Finding:
    site = info.site
    variable = site.variables[k]
    return Finding(file=info.file, line=site.line, column=site.column, variable=variable,
                   site_kind=site.kind, site_name=site.name, fix=site.fix_hint(variable))


def _siblings(records: list[Record], k: int, ref: Any) -> list[Record]:
    return [r for r in records if same_binding(r.refs[k], ref)]


def _stale_finding(event: StaleEvent, live: list[Record], window: Window) -> Finding:
    finding = _base(event.info, event.variable)
    finding.kinds = [STALE_CALL]
    k = event.variable
    made = [values[k] for refs, values in window.creations.get(event.info, [])
            if same_binding(refs[k], event.ref) and values[k] is not PENDING]
    created = distinct(made + [baseline(r, k) for r in _siblings(live, k, event.ref)] + list(event.created))
    finding.created_with = [short_repr(v) for v in created[:MAX_VALUES]]
    finding.seen = short_repr(event.now)
    finding.closures = max(window.made_count.get(event.info, 0), len(created))
    finding.stale_calls = event.calls
    finding.stack = _user_frames(event.stack)
    return finding


def _shared_bindings(window: Window) -> list[Finding]:
    found = []
    for info, records in window.live_records().items():
        if len(records) < 2:
            continue
        for k in range(len(info.variables)):
            groups = group_by_binding(records, k)
            for group in groups:
                values = distinct([baseline(r, k) for r in group])
                if len(group) < 2 or len(values) < 2:
                    continue
                finding = _base(info, k)
                finding.kinds = [SHARED_BINDING]
                finding.created_with = [short_repr(v) for v in values[:MAX_VALUES]]
                finding.seen = short_repr(read(group[0].refs[k]))
                # Tracking stops at MAX_TRACKED_PER_SITE live closures; the count goes on.
                finding.closures = max(len(group), window.made_count.get(info, 0) if len(groups) == 1 else 0)
                found.append(finding)
    return found


_HIDDEN = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                for m in (pytest_latebind_pkg, _pytest_pkg, pluggy_pkg) if m is not None and m.__file__)


def _user_frames(stack: traceback.StackSummary | None) -> list[dict[str, Any]]:
    """The stack of a stale call, innermost last, without pytest's, pluggy's and our frames."""
    if not stack:
        return []
    return [{"file": os.path.abspath(f.filename), "line": f.lineno or 0, "function": f.name}
            for f in stack if not os.path.abspath(f.filename).startswith(_HIDDEN)]
