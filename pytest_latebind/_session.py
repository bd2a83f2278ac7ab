"""One pytest run of the plugin: its settings and its parts, and what keeps our bugs from
being the user's failures.

The parts, one job each: :class:`~._hookinstall.HookInstall` (the import hook),
:class:`~._windows.Windows` (what the recorder writes into, and judging it),
:mod:`._verdict` (a test's and the session's), :class:`~._reporting.results.Results`
(collecting findings and writing the reports).  ``plugin.py`` holds the hooks and calls
into these; nothing here is a hook.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import _baseline, _ignores, _messages, _pytest_compat, _verdict
from ._findings import Finding
from ._hookinstall import HookInstall
from ._messages import Context
from ._options import MARKER, Settings, check_distinct_paths, check_report_path, read_settings
from ._reporting import explain, junit, watched, xdist
from ._reporting.results import Reports, Results
from ._warnings import LatebindPluginWarning
from ._windows import Windows

# The test case that stands for the findings made outside any test (see report_session_failure).
SESSION_NODEID = "latebind::import-time"


class LatebindRun:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.context = Context(config.rootpath, settings.show_values)
        self.hooks = HookInstall(config, settings, self.warn)
        self.windows = Windows()
        self.results = Results(config, settings, self.context)
        self.silencer = self.results.silencer = _ignores.Silencer(settings.ignores, self.context, self.warn)
        self._silenced: dict[str, list[dict[str, str]]] = {}  # per test: what its ignores silenced
        self._variables: dict[str, set[str]] = {}  # per test: the loop variables of its findings
        self._explained: dict[str, list[dict[str, Any]]] = {}  # per test: --latebind-explain's entries
        if settings.baseline is not None:
            self.results.baseline = _baseline.load(settings.baseline, settings.baseline_shown,
                                                   update=settings.update_baseline)
        self.broken = False
        self.started = False  # pytest_sessionstart has run: warnings.warn is captured from now on
        self.watched_tests = False  # a test was watched (--latebind, or a marker)
        self.active_workers = False  # an xdist worker said it used the plugin
        self.errors: list[str] = []  # our warnings that -W error made errors after the tests
        self._warned: set[str] = set()

    @classmethod
    def start(cls, config: pytest.Config) -> LatebindRun:
        run = cls(config, read_settings(config))
        run.windows.open(run.settings.show_values)
        if run.settings.enabled:
            run.hooks.install()
        return run

    def check_reports(self) -> None:
        """Report paths fail early, before the tests run, when they cannot be written."""
        base, settings = self.config.invocation_params.dir, self.settings
        self.results.reports = Reports(
            json=check_report_path(settings.report, base, settings.report_option) if settings.report else None,
            sarif=check_report_path(settings.sarif, base, settings.sarif_option) if settings.sarif else None)
        junitxml = getattr(self.config.option, "xmlpath", None)
        check_distinct_paths({settings.report_option: self.results.reports.json,
                              settings.sarif_option: self.results.reports.sarif,
                              "--latebind-baseline": settings.baseline,
                              "--junitxml": base / os.path.expanduser(junitxml) if junitxml else None})
        reason = junit.family_warning(self.config, settings.junit_properties)
        if reason and not xdist.is_worker(self.config):
            self.warn(reason)

    def close(self) -> None:
        self.hooks.close()
        self.windows.close()

    # -- warnings and internal errors ---------------------------------------------------
    def warn(self, message: str, category: type[Warning] = LatebindPluginWarning) -> None:
        warning = category(f"pytest-latebind: {message}")
        if self.started:
            warnings.warn(warning, stacklevel=2)
        else:
            self.config.issue_config_time_warning(warning, stacklevel=2)

    @contextlib.contextmanager
    def guard(self, where: str) -> Iterator[None]:
        """Our bug is never the user's failure: warn once, stop checking, keep their results."""
        try:
            yield
        except Warning:
            raise  # our own warning, turned into an error by -W error: the user asked for it
        except Exception as exc:
            if self.broken:
                return  # warned already: stay quiet for the rest of the run
            self.broken = True
            self.windows.stop()
            # An exception's text may hold a user's value (a KeyError's key): not with values hidden.
            said = f"{type(exc).__name__}: {exc}" if self.settings.show_values else \
                f"{type(exc).__name__} (its message is not shown: latebind_show_values = false)"
            self.warn(f"internal error in {where}: {said}. Late-binding checks "
                      "are off for the rest of this run; your test results stand. Please report this.")

    # -- tests --------------------------------------------------------------------------
    def watched_label(self, item: pytest.Item) -> str | None:
        """The label of the test's window, or None when the test is not watched."""
        if self.broken or not (self.settings.enabled or item.get_closest_marker(MARKER) is not None):
            return None
        if self.hooks.hook is None and "unhooked" not in self._warned:
            self._warned.add("unhooked")
            self.warn(f"{item.nodeid} is marked latebind, but its test file does not mention "
                      "the marker, so no module was instrumented for it; run with --latebind "
                      "or set latebind = true")
        self.watched_tests = True
        return item.nodeid

    def maybe_install_for(self, path: Path) -> None:
        if not self.broken:
            self.hooks.maybe_install_for(path)

    def in_use(self) -> bool:
        """Whether this process used the plugin: a run that did not says nothing."""
        return self.settings.enabled or self.hooks.hook is not None or self.watched_tests

    def worker_down(self, node: object) -> None:
        """pytest-xdist, on the controller: a worker finished, or crashed."""
        self.active_workers = self.active_workers or xdist.was_active(node)
        self.results.worker_down(node)

    # -- the end ------------------------------------------------------------------------
    def finish(self) -> None:
        """Judge the session's own window, and write (or, on a worker, send) the results."""
        for message in self.hooks.not_combined():
            self._warn_at_end(message)
        self.silencer.warn = self._warn_at_end  # after the tests: -W error must not hide the summary
        outside = self.windows.judge_session()
        if self.settings.explain and not self.windows.stopped:
            self.results.explained.extend(explain.explain_window(self.windows.session, outside, self.context))
        self.results.add_outside(outside)
        if not self.windows.stopped:
            self.results.watched.note(self.windows.session, self.context)
        self.results.write(outside, self._warn_at_end)
        if xdist.is_worker(self.config):
            xdist.send_active(self.config, self.in_use())
        elif not (self.in_use() or self.active_workers or self.results.findings):
            # Installed but not used: a crashed worker lost nothing of ours, so say nothing.
            self.results.lost_workers.clear()
        elif self.settings.modules and not self.broken and (self.hooks.hook is not None or self.active_workers):
            # A typo in latebind_modules must not silently watch nothing.
            for name in watched.unmatched(self.settings.modules, self.results.watched.modules):
                self._warn_at_end(watched.why_unmatched(name, self.settings.modules_option))

    def _warn_at_end(self, message: str) -> None:
        """After the tests, a warning that ``-W error`` makes an error is not a traceback
        that hides the summary: it is kept, shown after the summary, and fails the run."""
        try:
            self.warn(message)
        except Warning as error:
            self.errors.append(str(error))

    def exit_status(self, status: int) -> int:
        """The session's status: ``status``, or a usage error when it would pass (or find
        no tests) but one of our warnings was turned into an error at the end."""
        if self.errors and status in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            return pytest.ExitCode.USAGE_ERROR
        if self.results.write_errors and status in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            return pytest.ExitCode.TESTS_FAILED  # a report CI reads is missing: not a pass
        return status

    def show_errors(self, reporter: Any) -> None:
        for error in [*self.errors, *self.results.write_errors]:
            reporter.write_line(f"ERROR: {error}", red=True, bold=True)

    def silence(self, item: pytest.Item, findings: list[Finding]) -> list[Finding]:
        """The test's findings that stand; what its ignores silenced is kept for its report."""
        marker = _ignores.marker_ignore(item.get_closest_marker(MARKER), item.nodeid)
        self._variables.setdefault(item.nodeid, set()).update(f.variable for f in findings)
        kept, silenced = self.silencer.split(findings, marker)
        self._silenced.setdefault(item.nodeid, []).extend(silenced)
        return kept

    def silenced_in_report(self, item: pytest.Item, report: pytest.TestReport, *, called: bool) -> None:
        """On the teardown report (xdist forwards it): what was silenced, and a marker's ignores
        that matched nothing in a test whose call ran (``called``)."""
        silenced = self._silenced.pop(item.nodeid, [])
        variables = self._variables.pop(item.nodeid, set())
        mark = item.get_closest_marker(MARKER)
        marker = _ignores.marker_ignore(mark, item.nodeid)
        if silenced:
            report.latebind_silenced = silenced  # type: ignore[attr-defined]
        explained = self._explained.pop(item.nodeid, [])
        if explained:
            report.latebind_explained = explained  # type: ignore[attr-defined]
        valid = mark is not None and _ignores.check_marker_kwargs(mark.kwargs, MARKER) is None
        if marker is not None and valid and called and not self.broken:
            missing = [v for v in marker.variables if v not in variables]
            if missing:
                report.latebind_unused = [  # type: ignore[attr-defined]
                    f"{marker.label}: no finding of {', '.join(missing)} in the test"]

    def watched_shown(self) -> watched.Watched | None:
        """What the summary line says was watched: with --latebind always, in a marker-only run
        when the plugin was used (a marked test, an installed hook, an active xdist worker)."""
        if self.broken or not (self.settings.enabled or self.watched_tests or self.active_workers):
            return None
        return self.results.watched

    def explain(self, nodeid: str, window: Any, findings: list[Finding]) -> None:
        """--latebind-explain: why each site the test ran is or is not a finding (on its report)."""
        self._explained.setdefault(nodeid, []).extend(explain.explain_window(window, findings, self.context))

    def failing(self, findings: list[Finding]) -> list[Finding]:
        """The findings a verdict is about: not those the baseline knows."""
        baseline = self.results.baseline
        return findings if baseline is None else baseline.new(findings, self.context)

    def report_session_failure(self) -> None:
        """Import-time findings that fail the session, counted where CI looks: one failed test
        case, ``latebind::import-time``, in the terminal's counts and short summary and in the
        ``--junitxml`` file (its suite's ``failures``), next to the exit status."""
        failure = self.session_failure()
        if failure is None or xdist.is_worker(self.config):
            return
        outside = [f for f in self.failing(self.results.findings) if f.outside_tests and not f.tests]
        text = f"{failure}\n\n{_messages.messages(outside, self.context)}"
        where = (SESSION_NODEID, None, SESSION_NODEID)
        reports = [pytest.TestReport(SESSION_NODEID, where, {}, "failed", text, "call"),
                   pytest.TestReport(SESSION_NODEID, where, {}, "passed", None, "teardown")]
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and hasattr(reporter, "stats"):
            reporter.stats.setdefault("failed", []).append(reports[0])
        xml = _pytest_compat.junit_xml(self.config, self.warn)
        if xml is not None:
            for report in reports:
                xml.pytest_runtest_logreport(report)

    def session_failure(self) -> str | None:
        return _verdict.session_failure(self.failing(self.results.findings), self.settings.mode,
                                        bool(self.config.option.collectonly))


def check_marker(item: pytest.Item) -> None:
    """The marker takes no positional arguments, and only ``ignore=``/``reason=``: say so rather
    than ignore a factory given to it."""
    marker = item.get_closest_marker(MARKER)
    if marker is not None and not marker.args and {"ignore", "reason"} & set(marker.kwargs):
        problem = _ignores.check_marker_kwargs(marker.kwargs, MARKER)
        if problem is not None:
            raise TypeError(f"@pytest.mark.{MARKER}: {problem}. The marker switches the checks on for this "
                            "test; ignore=[names], reason='why' silences findings of those loop variables "
                            "in it.")
        return
    if marker is not None and (marker.args or marker.kwargs):
        given = ", ".join([*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
        raise TypeError(f"@pytest.mark.{MARKER} takes no arguments, got ({given}). It only switches "
                        "the checks on for this test; to confirm that a factory's callbacks behave "
                        "differently, call latebind.assert_distinct(factory, ...) in the test body.")
