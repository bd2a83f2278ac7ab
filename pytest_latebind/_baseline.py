"""The baseline (``--latebind-baseline=PATH``): findings a project has accepted, in a committed file.

A finding is keyed by a fingerprint that survives unrelated edits: the module's path
(relative to the rootdir, posix), the site's qualified name (``make.<locals>.<lambda>``), the
loop variable and the kind (one entry per kind, so a shared binding that starts reading late
is new).  Line numbers are left out: code moving above the site changes nothing.

A finding is *known* when every one of its kinds is in the file: it does not fail its test.
An entry that no finding of the run matched is *fixed* only when the run covered it: one of
the tests the entry lists ran its call (and passed, or failed with late-binding findings),
or the run was complete (see :func:`complete_run`).  A run that deselected the entry's tests
(``-k``, ``-m``, ``--lf``, a file given on the command line) says nothing about it, and
``--latebind-update-baseline`` keeps it.

The file is JSON, sorted, one key per line, so that a change to it is a small diff in review::

    {"version": 1, "findings": [{"kind": ..., "path": ..., "qualname": ..., "tests": [...],
                                 "variable": ...}, ...]}

Its schema ships next to this module (``baseline.schema.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._findings import Finding
from ._messages import Context
from ._reporting.files import write_atomically

VERSION = 1
SCHEMA = Path(__file__).with_name("baseline.schema.json")
TESTS_KEPT = 3  # tests listed per entry: enough to tell whether a run covered it
KNOWN, NEW = "known", "new"

Fingerprint = tuple[str, str, str, str]  # path, qualname, variable, kind


def fingerprints(finding: Finding, context: Context) -> list[Fingerprint]:
    """One per kind of the finding. A finding without a qualified name (a closure ``check()``
    found outside any instrumented module) is keyed by its name and line instead."""
    qualname = finding.qualname or f"{finding.site_name}@{finding.line}"
    return [(context.path(finding.file), qualname, finding.variable, str(kind)) for kind in finding.kinds]


def describe(fingerprint: Fingerprint) -> str:
    """``buggy.py::make.<locals>.<lambda>:i (shared-binding)``: the spelling of ``latebind_ignore``."""
    path, qualname, variable, kind = fingerprint
    return f"{path}::{qualname}:{variable} ({kind})"


@dataclass
class Baseline:
    path: Path  # absolute
    shown: str  # as the user spelled it, for messages
    update: bool  # --latebind-update-baseline: rewrite the file at the end
    entries: dict[Fingerprint, list[str]] = field(default_factory=dict)  # fingerprint -> tests

    def state(self, finding: Finding, context: Context) -> str:
        if self.update:
            return KNOWN  # the run writes the baseline: nothing it finds is new to it
        return KNOWN if all(fp in self.entries for fp in fingerprints(finding, context)) else NEW

    def new(self, findings: Iterable[Finding], context: Context) -> list[Finding]:
        return [f for f in findings if self.state(f, context) == NEW]


@dataclass
class Comparison:
    """A run's findings against the baseline, at the end of the run (on the controller)."""

    baseline: Baseline
    states: dict[tuple[str, int, int, str], str]  # Finding.key -> known or new
    fixed: list[Fingerprint]  # entries the run covered and did not find
    written: int | None = None  # entries written by --latebind-update-baseline

    def state(self, finding: Finding) -> str | None:
        return self.states.get(finding.key)


def load(path: Path, shown: str, *, update: bool) -> Baseline:
    """Read the file; a missing or malformed one is a usage error (unless it is to be written)."""
    baseline = Baseline(path, shown, update)
    if not path.exists():
        if update:
            return baseline
        raise pytest.UsageError(
            f"latebind baseline {shown}: the file {path} does not exist. Create it from this "
            "run's findings with --latebind-update-baseline, or check the path.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise pytest.UsageError(f"latebind baseline {shown}: cannot be read ({exc}). Fix or delete it, "
                                "then write it again with --latebind-update-baseline.") from None
    problem = _problem(data)
    if problem:
        raise pytest.UsageError(f"latebind baseline {shown}: {problem}; it is not a pytest-latebind baseline "
                                f"of version {VERSION}. Write it again with --latebind-update-baseline.")
    for entry in data["findings"]:
        key = (entry["path"], entry["qualname"], entry["variable"], entry["kind"])
        baseline.entries[key] = list(entry.get("tests", []))
    return baseline


def _problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "the file is not a JSON object"
    if data.get("version") != VERSION:
        return f"its version is {data.get('version')!r}"
    found = data.get("findings")
    if not isinstance(found, list):
        return "it has no list of findings"
    for n, entry in enumerate(found):
        if not isinstance(entry, dict) or not all(
                isinstance(entry.get(k), str) and entry.get(k) for k in ("path", "qualname", "variable", "kind")):
            return f"entry {n} needs path, qualname, variable and kind, as strings"
        tests = entry.get("tests", [])
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            return f"entry {n}: tests must be a list of node ids"
    return None


@dataclass
class Coverage:
    """What the run ran, as the controller sees it (test reports come from xdist workers too)."""

    tests: set[str] = field(default_factory=set)  # ran their call: passed, or failed with findings
    deselected: bool = False
    collect_errors: bool = False
    interrupted: bool = False

    def ran(self, report: pytest.TestReport, with_findings: bool) -> None:
        if report.when == "call" and (report.passed or with_findings):
            self.tests.add(report.nodeid)

    def collected(self, report: pytest.CollectReport) -> None:
        self.collect_errors = self.collect_errors or report.failed

    def deselect(self, items: Sequence[object]) -> None:
        self.deselected = self.deselected or bool(items)

    def end(self, session: pytest.Session, exitstatus: int) -> None:
        self.interrupted = bool(session.shouldstop or session.shouldfail
                                or exitstatus == pytest.ExitCode.INTERRUPTED)

    def complete(self, config: pytest.Config) -> bool:
        return complete_run(config, interrupted=self.interrupted, deselected=self.deselected,
                            collect_errors=self.collect_errors)


def complete_run(config: pytest.Config, *, interrupted: bool, deselected: bool, collect_errors: bool) -> bool:
    """Whether the run ran the whole suite, so that an entry it did not find is fixed even when
    none of its tests ran (a test renamed, a finding at import time): no test paths or node ids
    on the command line, no ``-k``/``-m``/``--deselect``/``--lf``, nothing deselected, no
    collection error, not stopped early (``-x``, ``--maxfail``, Ctrl-C)."""
    option = config.option
    narrowed = (getattr(option, "keyword", "") or getattr(option, "markexpr", "")
                or getattr(option, "deselect", None) or getattr(option, "lf", False))
    args_source = getattr(config, "args_source", None)
    given = args_source is not None and args_source == pytest.Config.ArgsSource.ARGS
    return not (narrowed or given or interrupted or deselected or collect_errors)


def compare(baseline: Baseline, findings: Sequence[Finding], context: Context, *,
            covered: set[str], complete: bool) -> Comparison:
    states = {f.key: baseline.state(f, context) for f in findings}
    seen = {fp for f in findings for fp in fingerprints(f, context)}
    fixed = sorted(fp for fp, tests in baseline.entries.items()
                   if fp not in seen and (complete or any(t in covered for t in tests)))
    return Comparison(baseline, states, fixed)


def entries_after(comparison: Comparison, findings: Sequence[Finding], context: Context) -> list[dict[str, Any]]:
    """The file's entries after this run: the run's findings, and the old entries it did not
    cover (kept: a run that did not run a test cannot tell whether its finding is fixed)."""
    entries: dict[Fingerprint, set[str]] = {}
    for finding in findings:
        for fp in fingerprints(finding, context):
            entries.setdefault(fp, set()).update(finding.tests)
    fixed = set(comparison.fixed)
    for fp, tests in comparison.baseline.entries.items():
        if fp not in fixed and fp not in entries:
            entries[fp] = set(tests)
    return [{"path": fp[0], "qualname": fp[1], "variable": fp[2], "kind": fp[3],
             "tests": sorted(tests)[:TESTS_KEPT]} for fp, tests in sorted(entries.items())]


def write(comparison: Comparison, findings: Sequence[Finding], context: Context) -> None:
    entries = entries_after(comparison, findings, context)
    data = {"version": VERSION, "findings": entries}
    write_atomically(comparison.baseline.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    comparison.written = len(entries)
