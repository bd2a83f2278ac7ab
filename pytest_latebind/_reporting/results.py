"""The results of a run: every finding from wherever it was seen, merged once at the end,
then written to the report files the settings ask for (by the controller; an xdist worker
hands its findings over instead)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .. import _baseline, _fixes, _fixverify, _ignores
from .._findings import Finding
from .._messages import Context
from .._options import Settings
from .._recorder import WATCHED_FILES
from .._sitecoverage import SiteStatus
from . import files, github, json_report, junit, sarif, sites, xdist
from .collect import Collector
from .files import source_root
from .watched import Watched


@dataclass
class Reports:
    """Where the run writes its reports (resolved and checked before the tests run)."""

    json: Path | None = None
    sarif: Path | None = None


@dataclass
class Results:
    config: pytest.Config
    settings: Settings
    context: Context
    reports: Reports = field(default_factory=Reports)
    collector: Collector = field(default_factory=Collector)  # every finding, merged once at the end
    findings: list[Finding] = field(default_factory=list)  # merged, sorted: what every report shows
    written: list[tuple[str, Path]] = field(default_factory=list)  # (what, where): reports written
    lost_workers: list[str] = field(default_factory=list)  # xdist workers down without reporting
    checked: dict[str, list[Finding]] = field(default_factory=dict)  # check()'s, per test
    baseline: _baseline.Baseline | None = None  # --latebind-baseline
    coverage: _baseline.Coverage = field(default_factory=_baseline.Coverage)  # which tests ran
    comparison: _baseline.Comparison | None = None  # the findings against the baseline, at the end
    silencer: _ignores.Silencer | None = None  # inline comments, latebind_ignore, markers
    silenced: list[dict[str, str]] = field(default_factory=list)  # what they silenced, from every test
    marker_unused: list[str] = field(default_factory=list)  # markers' ignores their tests did not need
    inline_ignores: set[str] = field(default_factory=set)  # every inline ignore of the watched modules
    unused: list[str] = field(default_factory=list)  # ignores that matched nothing, at the end
    watched: Watched = field(default_factory=Watched)  # modules, sites, sites run (every process's)
    write_errors: list[str] = field(default_factory=list)  # reports that could not be written
    explained: list[dict[str, Any]] = field(default_factory=list)  # --latebind-explain, every process's
    sites: list[SiteStatus] = field(default_factory=list)  # site coverage, at the end (the controller's)
    outcomes: dict[str, list[str]] = field(default_factory=dict)  # each test's phases' outcomes
    fixes: list[_fixes.Fix] = field(default_factory=list)  # --latebind-fix, at the end (the controller's)

    # -- collecting ----------------------------------------------------------------------
    def add_checked(self, nodeid: str, findings: list[Finding]) -> None:
        """Findings of ``latebind.check()``: reported, not failed on again (check raised)."""
        self.checked.setdefault(nodeid, []).extend(findings)

    def take_checked(self, nodeid: str) -> list[Finding]:
        return [finding.copy(tests=[nodeid]) for finding in self.checked.pop(nodeid, [])]

    def add_test_findings(self, found: list[dict[str, Any]]) -> None:
        self.collector.add_tests(found)

    def add_outside(self, found: list[Finding]) -> None:
        self.collector.add_outside(found)

    def add_silenced(self, report: Any) -> None:
        """What a test's ignores silenced, and its marker's unused ones (on its teardown report)."""
        for record in getattr(report, "latebind_silenced", None) or []:
            if record not in self.silenced:
                self.silenced.append(record)
        self.explained.extend(getattr(report, "latebind_explained", None) or [])
        for label in getattr(report, "latebind_unused", None) or []:
            if label not in self.marker_unused:
                self.marker_unused.append(label)

    def worker_down(self, node: Any) -> None:
        self.inline_ignores.update(xdist.receive_inline_ignores(node))
        self.watched.add_payload(xdist.receive_part(node, "watched"))
        self.explained.extend(xdist.receive_part(node, "explained") or [])
        found = xdist.receive(node)
        if found is None:
            self.lost_workers.append(xdist.worker_id(node))
        else:
            self.collector.add_outside(found)

    def case_properties(self, item: pytest.Item, report: pytest.TestReport, findings: list[Finding]) -> None:
        """``latebind_junit_properties = testcase``: on the teardown report, which is the one
        pytest's JUnit writer reads ``user_properties`` from (and which xdist forwards)."""
        if self.settings.junit_properties != "testcase":
            return
        found = junit.case_properties(findings, self.context)
        (report.user_properties if report.when == "teardown" else item.user_properties).extend(found)

    # -- writing -------------------------------------------------------------------------
    def write(self, outside: list[Finding], warn: Callable[[str], None]) -> None:
        inline = _ignores.scan(WATCHED_FILES, self.context)
        self.watched.collect(self.context)
        if xdist.is_worker(self.config):
            xdist.send(self.config, outside, inline, self.watched.to_payload(), self.explained)
            return
        findings = self.collector.merged()
        context, mode = self.context, self.settings.mode
        if self.silencer is not None:  # findings outside tests, which no test's verdict silenced
            findings, silenced = self.silencer.split(findings)
            self.silenced.extend(s for s in silenced if s not in self.silenced)
            self.inline_ignores.update(inline)
            self.unused = self._unused()
        self.findings = findings
        self.sites = table = sites.rows(self.watched, findings, self.silenced, context)
        # Site coverage only where the run watched modules: latebind.check() alone has no sites.
        coverage = sites.to_json(table) if self.watched.modules else None
        comparison = None
        if self.baseline is not None:
            comparison = self.comparison = _baseline.compare(
                self.baseline, findings, context, covered=self.coverage.tests,
                complete=self.coverage.complete(self.config))
            if self.baseline.update:
                self._write("baseline", self.baseline.path,
                            lambda path: _baseline.write(comparison, findings, context), warn)
        if self.settings.fix is not None:
            self.fixes = self._fix(findings, warn)
        if self.reports.json is not None:
            self._write("JSON report", self.reports.json,
                        lambda path: json_report.write(path, findings, context, comparison, coverage,
                                                       self.fixes if self.settings.fix else None), warn)
        if self.reports.sarif is not None:
            root = source_root(self.config.rootpath)
            notes = sarif.not_run_results(table, self.config.rootpath, root)
            self._write("SARIF report", self.reports.sarif,
                        lambda path: sarif.write(path, findings, context, root=root, mode=mode,
                                                 comparison=comparison, notes=notes, fixes=self.fixes), warn)
        if self.settings.junit_properties == "suite":
            junit.add_suite_properties(self.config, findings, context, warn)

    def _fix(self, findings: list[Finding], warn: Callable[[str], None]) -> list[_fixes.Fix]:
        """--latebind-fix: a fix per site, each verified in a child run; the verified ones' patch."""
        assert self.settings.fix is not None
        rootdir = self.config.rootpath
        fixes = _fixes.for_findings(findings, rootdir)
        before = {nodeid: _fixverify.worst(phases) for nodeid, phases in self.outcomes.items()}
        _fixverify.verify(fixes, rootdir, self.config.invocation_params.dir, before,
                          limits=self.settings.fix_limits)
        patch: list[str] = []
        by_file: dict[str, tuple[str, list[tuple[int, int, int, int, str]]]] = {}
        for fix in fixes:
            if fix.status == "fixed":
                source = Path(fix.file).read_text(encoding="utf-8")
                fix.diff = _fixes.unified_diff(self.context.path(fix.file), source,
                                               _fixes.apply(source, fix.replacements))
                by_file.setdefault(fix.file, (source, []))[1].extend(fix.replacements)
        for file, (source, replacements) in by_file.items():  # one diff per file: every fix in it
            patch.append(_fixes.unified_diff(self.context.path(file), source, _fixes.apply(source, replacements)))
        path = self.settings.fix
        if patch:
            self._write("patch", path, lambda p: files.write_atomically(p, "".join(patch)), warn)
        else:
            path.unlink(missing_ok=True)  # no verified fix: no file (an old one would mislead)
        return fixes

    def _unused(self) -> list[str]:
        """Ignores that matched nothing: a marker's always (its test ran); a comment's or an ini
        line's only when the whole suite ran (else its test may just not have run)."""
        used = {record["ignore"] for record in self.silenced}
        unused = list(self.marker_unused)
        if self.silencer is not None and self.coverage.complete(self.config):
            labels = [*sorted(self.inline_ignores), *(i.label for i in self.silencer.ini.values())]
            unused.extend(label for label in labels if label not in used)
        return unused

    def _write(self, what: str, path: Path, write: Callable[[Path], None], warn: Callable[[str], None]) -> None:
        try:
            write(path)
        except OSError as exc:  # the disk, not a bug of ours; but CI would miss the report: fail
            self.write_errors.append(f"pytest-latebind: could not write the {what} to {path}: "
                                     f"{exc.strerror or exc}; the run fails so that CI does not go "
                                     "on without it. Check the path and the free space")
        else:
            self.written.append((what, path))

    def annotations(self) -> list[str]:
        """GitHub Actions workflow commands, one per finding, when running there."""
        if not github.enabled() or xdist.is_worker(self.config):
            return []
        patches = {(f.file, f.line, f.column): str(self.settings.fix) for f in self.fixes if f.status == "fixed"}
        return github.commands(self.findings, self.context, root=source_root(self.config.rootpath),
                               mode=self.settings.mode, patches=patches)
