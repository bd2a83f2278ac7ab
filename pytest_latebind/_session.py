"""The state of one pytest run: settings, the import hook, windows, and all findings.

``plugin.py`` holds the hooks and calls into this; nothing here is a hook.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import _messages, _pytest_compat
from ._findings import Finding
from ._importhook import ImportHook, WatchPolicy, imported_before, install, uninstall
from ._judge import judge
from ._kinds import Mode
from ._messages import Context
from ._options import Settings, check_report_path, read_settings
from ._recorder import Window
from ._reporting import github, json_report, junit, sarif, xdist
from ._reporting.collect import Collector
from ._reporting.files import source_root
from ._warnings import LateBindingWarning, LatebindPluginWarning
from ._windows import Windows

MARKER = "latebind"
_MARKER_IN_SOURCE = re.compile(rb"\bmark\s*\.\s*latebind\b")


class LatebindRun:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.rootdir = config.rootpath
        self.hook: ImportHook | None = None
        self.collector = Collector()  # every finding, merged once at the end
        self.findings: list[Finding] = []  # merged, sorted: what every report shows
        self.written: list[tuple[str, Path]] = []  # (what, where): reports written
        self.lost_workers: list[str] = []  # xdist workers that went down without reporting
        self.sarif_path: Path | None = None
        self.windows = Windows()
        self.report_path: Path | None = None
        self.broken = False
        self.started = False  # pytest_sessionstart has run: warnings.warn is captured from now on
        self._warned: set[str] = set()
        self._checked: dict[str, list[Finding]] = {}

    @classmethod
    def start(cls, config: pytest.Config) -> LatebindRun:
        run = cls(config, read_settings(config))
        run.windows.open()
        if run.settings.enabled:
            run.install_hook()
        return run

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
            self.warn(f"internal error in {where}: {type(exc).__name__}: {exc}. Late-binding checks "
                      "are off for the rest of this run; your test results stand. Please report this.")

    # -- the import hook ----------------------------------------------------------------
    def install_hook(self) -> None:
        if self.hook is not None:
            return
        policy = WatchPolicy(self.rootdir, self.settings.modules, self.settings.test_modules)
        rewrite = _pytest_compat.rewrite_hook(self.config)
        # Test modules collected before a marker-only run met its first marked test file are
        # not worth a warning: what matters is the code under test.
        early = [name for name in imported_before(policy) if rewrite is None or not rewrite.rewrote(name)]
        self.hook = ImportHook(policy, rewrite, self.warn)
        install(self.hook)
        if early:
            shown = ", ".join(early[:10]) + (f" and {len(early) - 10} more" if len(early) > 10 else "")
            if self.settings.enabled:
                advice = ("They were imported by a plugin loaded before pytest-latebind (-p, or a "
                          "pytest11 entry point); import them from tests or conftest.py instead.")
            else:
                advice = ("In marker-only runs the hook is installed when collection meets the first "
                          "test file using the marker; run with --latebind (or set latebind = true) "
                          "to install it before conftest.py files and earlier test files import them.")
            self.warn(f"{len(early)} watched module(s) were imported before the import hook was "
                      f"installed and are not instrumented: {shown}. {advice}")

    def maybe_install_for(self, path: Path) -> None:
        """Marker-only runs: install the hook before the first test module using the marker.

        Only files pytest collects as test modules (``python_files``) and conftest files are
        read, once each, and only until the hook is installed.
        """
        if self.hook is not None or self.broken or path.suffix != ".py":
            return
        patterns = self.config.getini("python_files")
        if path.name != "conftest.py" and not any(
                fnmatch.fnmatch(path.name, p) or fnmatch.fnmatch(path.as_posix(), f"*/{p}") for p in patterns):
            return
        try:
            source = path.read_bytes()
        except OSError:
            return
        if _MARKER_IN_SOURCE.search(source):
            self.install_hook()

    def close(self) -> None:
        if self.hook is not None:
            uninstall(self.hook)
        self.windows.close()

    # -- tests --------------------------------------------------------------------------
    @staticmethod
    def check_marker(item: pytest.Item) -> None:
        """The marker takes no arguments: say so rather than ignore a factory given to it."""
        marker = item.get_closest_marker(MARKER)
        if marker is not None and (marker.args or marker.kwargs):
            given = ", ".join([*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
            raise TypeError(f"@pytest.mark.{MARKER} takes no arguments, got ({given}). It only switches "
                            "the checks on for this test; to confirm that a factory's callbacks behave "
                            "differently, call latebind.assert_distinct(factory, ...) in the test body.")

    def watches(self, item: pytest.Item) -> bool:
        return not self.broken and (self.settings.enabled or item.get_closest_marker(MARKER) is not None)

    def watched_label(self, item: pytest.Item) -> str | None:
        """The label of the test's window, or None when the test is not watched."""
        if not self.watches(item):
            return None
        if self.hook is None and "unhooked" not in self._warned:
            self._warned.add("unhooked")
            self.warn(f"{item.nodeid} is marked latebind, but its test file does not mention "
                      "the marker, so no module was instrumented for it; run with --latebind "
                      "or set latebind = true")
        return item.nodeid

    def judge_test(self, window: Window | None, *, shared: bool) -> list[Finding]:
        if window is None or self.broken:
            return []
        return judge(window, shared=shared, context=self.windows.session)

    def checked(self, nodeid: str, findings: list[Finding]) -> None:
        """Findings of ``latebind.check()``: reported, not failed on again (check raised)."""
        self._checked.setdefault(nodeid, []).extend(findings)

    def take_checked(self, nodeid: str) -> list[Finding]:
        return [finding.copy(tests=[nodeid]) for finding in self._checked.pop(nodeid, [])]

    @property
    def context(self) -> Context:
        return Context(self.rootdir, self.settings.show_values)

    def messages(self, findings: list[Finding]) -> str:
        return _messages.messages(findings, self.context)

    def warn_findings(self, findings: list[Finding]) -> None:
        warnings.warn(LateBindingWarning(self.messages(findings)), stacklevel=2)

    # -- the end ------------------------------------------------------------------------
    def finish(self) -> list[Finding]:
        """Findings made outside any test (import time), judged at the end of the session."""
        if self.broken:
            return []
        found = judge(self.windows.session, shared=True)
        self.collector.add_outside(found)
        return found

    # -- reports: the controller writes them; an xdist worker hands its findings over ----
    def add_test_findings(self, found: list[dict[str, Any]]) -> None:
        self.collector.add_tests(found)

    def case_properties(self, item: pytest.Item, report: pytest.TestReport, findings: list[Finding]) -> None:
        """``latebind_junit_properties = testcase``: on the teardown report, which is the one
        pytest's JUnit writer reads ``user_properties`` from (and which xdist forwards)."""
        if self.settings.junit_properties != "testcase":
            return
        found = junit.case_properties(findings, self.context)
        (report.user_properties if report.when == "teardown" else item.user_properties).extend(found)

    def worker_down(self, node: Any) -> None:
        found = xdist.receive(node)
        if found is None:
            self.lost_workers.append(xdist.worker_id(node))
        else:
            self.collector.add_outside(found)

    def write_reports(self, outside: list[Finding]) -> None:
        if xdist.is_worker(self.config):
            xdist.send(self.config, outside)
            return
        self.findings = self.collector.merged()
        context = self.context
        if self.report_path is not None:
            self._write("JSON report", self.report_path,
                        lambda path: json_report.write(path, self.findings, context))
        if self.sarif_path is not None:
            root = source_root(self.rootdir)
            self._write("SARIF report", self.sarif_path,
                        lambda path: sarif.write(path, self.findings, context, root, self.settings.mode))
        if self.settings.junit_properties == "suite":
            junit.add_suite_properties(self.config, self.findings, context)

    def _write(self, what: str, path: Path, write: Callable[[Path], None]) -> None:
        try:
            write(path)
        except OSError as exc:  # the disk, not a bug of ours: say so, and keep the results
            self.warn(f"could not write the {what} to {path}: {exc}; the test results stand")
        else:
            self.written.append((what, path))

    def session_failure(self) -> str | None:
        """Why the session fails although its tests may not: findings outside any test."""
        # Found outside tests and in no test: no test failed for it, so the session must.
        outside = [f for f in self.findings if f.outside_tests and not f.tests]
        if not outside or self.settings.mode != Mode.FAIL or self.config.option.collectonly:
            return None
        count = f"{len(outside)} late-binding closure{'s' if len(outside) > 1 else ''}"
        return (f"latebind: the session fails: {count} found outside any test (at import time), "
                "where no test can fail for it; fix it, or set latebind_mode = warn to report "
                "without failing")

    def exit_status(self, status: int) -> int:
        if status == pytest.ExitCode.OK and self.session_failure():
            return pytest.ExitCode.TESTS_FAILED
        return status

    def annotations(self) -> list[str]:
        """GitHub Actions workflow commands, one per finding, when running there."""
        if not github.enabled() or xdist.is_worker(self.config):
            return []
        return github.commands(self.findings, source_root(self.rootdir), self.context, self.settings.mode)


def validate_report(run: LatebindRun) -> None:
    if run.settings.report is not None:
        run.report_path = check_report_path(run.settings.report, run.config.invocation_params.dir)
    if run.settings.sarif is not None:
        run.sarif_path = check_report_path(run.settings.sarif, run.config.invocation_params.dir,
                                           "--latebind-sarif")
    reason = junit.family_warning(run.config, run.settings.junit_properties)
    if reason and not xdist.is_worker(run.config):
        run.warn(reason)
