"""The pytest hooks of pytest-latebind, in the order pytest calls them, and nothing else:
each hands over to the run (``_session``) and its parts."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import _scanitems, _verdict
from ._errors import LateBindingError
from ._findings import Finding, merged
from ._fixture import Latebind
from ._options import MARKER, add_options
from ._recorder import Window
from ._reporting import terminal
from ._session import LatebindRun, check_marker

RUN = pytest.StashKey[LatebindRun]()
_WINDOW = pytest.StashKey[Window | None]()  # the test's own, while its protocol runs
_CALLED = pytest.StashKey[bool]()
_FINDINGS = pytest.StashKey[list[Finding]]()
_RAISED = pytest.StashKey[LateBindingError]()  # the error the plugin itself failed the test with


def _run(config: pytest.Config) -> LatebindRun | None:
    return config.stash.get(RUN, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # First, so that modules imported by conftest.py files are instrumented too.
    if RUN not in early_config.stash:
        early_config.stash[RUN] = LatebindRun.start(early_config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: fail this test if a closure made in a loop during it reads the "
                   "loop variable late (a stale read, or sibling closures sharing one binding); "
                   "--latebind does this for every test.")
    config.addinivalue_line("markers", f"{_scanitems.MARKER}: the static scan's items (--latebind-scan)")
    if RUN not in config.stash:  # the plugin was registered after start-up (-p, pytester)
        config.stash[RUN] = LatebindRun.start(config)
    run = config.stash[RUN]
    run.check_reports()
    config.pluginmanager.register(_Reports(run), "latebind-reports")


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = _run(config)
    return terminal.header(run.settings) if run is not None else []


def pytest_sessionstart(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is not None:
        run.started = True


@pytest.hookimpl(tryfirst=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    run = _run(parent.config)
    if run is not None and not run.settings.enabled:
        with run.guard("pytest_collect_file"):
            run.maybe_install_for(file_path)
    if run is not None and run.settings.scan:
        return _scanitems.collect(file_path, parent, run.silencer.ini, run.results.baseline, run.context,
                                  unverified=run.settings.scan_unverified)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    run = _run(item.config)
    if run is None:
        return (yield)
    label = None
    with run.guard("pytest_runtest_protocol"):
        label = run.watched_label(item)
    with run.windows.test(label) as window:
        item.stash[_WINDOW] = window
        try:
            return (yield)
        finally:
            with run.guard("site coverage"):  # which sites varied, while the window holds its values
                run.results.watched.note(window, run.context)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _run(item.config) is not None:
        check_marker(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    run = _run(item.config)
    item.stash[_CALLED] = True
    try:
        result = yield
    except BaseException:
        if run is not None:
            _judge(run, item, shared=True)
        raise
    if run is not None:
        _judge(run, item, shared=True, fail=True)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, Any]:
    result = yield
    run = _run(item.config)
    if run is not None:
        # Stale reads during teardown; shared bindings too if the test never ran its call.
        _judge(run, item, shared=not item.stash.get(_CALLED, False))
    return result


def _judge(run: LatebindRun, item: pytest.Item, *, shared: bool, fail: bool = False) -> None:
    findings: list[Finding] = []
    with run.guard("judging " + item.nodeid):
        window = item.stash.get(_WINDOW, None)
        found = run.windows.judge_test(window, shared=shared)
        if shared and window is not None and run.settings.explain:
            run.explain(item.nodeid, window, found)
        findings = run.silence(item, found)
        # One finding per (site, variable): check() and the judge may both see one site.
        item.stash[_FINDINGS] = merged([*findings, *run.silence(item, run.results.take_checked(item.nodeid))])
    if fail:
        error = _verdict.judge_test(run.failing(findings), run.settings.mode, run.context)
        if error is not None:
            item.stash[_RAISED] = error
            raise error


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    run = _run(item.config)
    if run is not None and call.when == "teardown":
        with run.guard("pytest_runtest_makereport"):
            run.silenced_in_report(item, report, called=item.stash.get(_CALLED, False))
    findings = item.stash.get(_FINDINGS, [])
    if run is not None and findings and call.when != "setup":
        with run.guard("pytest_runtest_makereport"):
            del item.stash[_FINDINGS]
            report.latebind_findings = [f.to_dict() for f in findings]  # type: ignore[attr-defined]
            run.results.case_properties(item, report, findings)
            _verdict.state_in_report(report, call.excinfo, item.stash.get(_RAISED, None), findings, run.context)
    return report


class _Reports:
    """Collects findings from test reports: ours, or a pytest-xdist worker's."""

    def __init__(self, run: LatebindRun) -> None:
        self.run = run

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        found = getattr(report, "latebind_findings", None)
        if found:
            self.run.results.add_test_findings(found)
        self.run.results.coverage.ran(report, bool(found))
        self.run.results.outcomes.setdefault(report.nodeid, []).append(report.outcome)  # --latebind-fix's "before"
        self.run.results.add_silenced(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.run.results.coverage.collected(report)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.run.results.coverage.deselect(items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        # pytest-xdist, on the controller: a worker finished (or crashed).
        with self.run.guard("pytest_testnodedown"):
            self.run.worker_down(node)


# tryfirst: before pytest's JUnit writer, which writes its file in this hook.
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = _run(session.config)
    if run is None:
        return
    with run.guard("pytest_sessionfinish"):
        run.results.coverage.end(session, exitstatus)
        run.finish()
        run.report_session_failure()
    session.exitstatus = run.exit_status(_verdict.exit_status(session.exitstatus, run.session_failure()))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = _run(config)
    if run is not None:
        with run.guard("pytest_terminal_summary"):
            terminal.summary(terminalreporter, run.results, run.session_failure(), run.watched_shown())
            if run.settings.explain:
                terminal.explain(terminalreporter, run.results)
            if run.settings.sites and run.watched_shown() is not None:
                terminal.site_table(terminalreporter, run.results)
            if run.settings.fix is not None:
                terminal.fix_lines(terminalreporter, run.results)
            for line in run.results.annotations():
                terminalreporter.write_line(line)
            run.show_errors(terminalreporter)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        run.close()
        del config.stash[RUN]
    reports = config.pluginmanager.get_plugin("latebind-reports")
    if reports is not None:
        config.pluginmanager.unregister(reports)


@pytest.fixture
def latebind(request: pytest.FixtureRequest) -> Latebind:
    """Check callbacks for late-binding closures: ``latebind.check(callbacks)``, and confirm
    a factory's callbacks behave apart: ``latebind.assert_distinct(factory, args=...)``."""
    run = _run(request.config)
    if run is None:
        return Latebind(node=request.node)
    nodeid = request.node.nodeid
    return Latebind(rootdir=str(run.config.rootpath), show_values=run.settings.show_values,
                    report=lambda findings: run.results.add_checked(nodeid, findings), node=request.node)
