"""The pytest hooks of pytest-latebind, and nothing else: each hands over to ``_session``."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ._errors import LateBindingError
from ._findings import Finding, merged
from ._fixture import Latebind
from ._kinds import Mode
from ._options import add_options
from ._recorder import Window
from ._reporting import terminal
from ._session import MARKER, LatebindRun, validate_report

RUN = pytest.StashKey[LatebindRun]()
_FINDINGS = pytest.StashKey[list[Finding]]()
_CALLED = pytest.StashKey[bool]()
_WINDOW = pytest.StashKey[Window | None]()  # the test's own, while its protocol runs
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
                   "loop variable late (a stale call, or sibling closures sharing one binding); "
                   "--latebind does this for every test.")
    if RUN not in config.stash:  # the plugin was registered after start-up (-p, pytester)
        config.stash[RUN] = LatebindRun.start(config)
    run = config.stash[RUN]
    validate_report(run)
    config.pluginmanager.register(_Reports(run), "latebind-reports")


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = _run(config)
    return terminal.header(run) if run is not None else []


def pytest_sessionstart(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is not None:
        run.started = True


@pytest.hookimpl(tryfirst=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> None:
    run = _run(parent.config)
    if run is not None and not run.settings.enabled:
        with run.guard("pytest_collect_file"):
            run.maybe_install_for(file_path)


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = _run(item.config)
    if run is not None:
        run.check_marker(item)


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
        return (yield)


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
        # Stale calls during teardown; shared bindings too if the test never ran its call.
        _judge(run, item, shared=not item.stash.get(_CALLED, False))
    return result


def _judge(run: LatebindRun, item: pytest.Item, *, shared: bool, fail: bool = False) -> None:
    findings: list[Finding] = []
    with run.guard("judging " + item.nodeid):
        findings = run.judge_test(item.stash.get(_WINDOW, None), shared=shared)
        # One finding per (site, variable): check() and the judge may both see one site.
        item.stash[_FINDINGS] = merged([*findings, *run.take_checked(item.nodeid)])
    if findings and fail:
        if run.settings.mode == Mode.FAIL:
            error = LateBindingError(run.messages(findings), findings)
            item.stash[_RAISED] = error
            raise error
        run.warn_findings(findings)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    run = _run(item.config)
    findings = item.stash.get(_FINDINGS, [])
    if run is not None and findings and call.when != "setup":
        with run.guard("pytest_runtest_makereport"):
            del item.stash[_FINDINGS]
            report.latebind_findings = [f.to_dict() for f in findings]  # type: ignore[attr-defined]
            run.case_properties(item, report, findings)
            excinfo = call.excinfo
            # Our own verdict has no useful traceback (it is raised from a hook); one raised
            # by check() or assert_distinct() in the test keeps pytest's usual display.
            if excinfo is not None and excinfo.value is item.stash.get(_RAISED, None) and report.failed:
                report.longrepr = f"{excinfo.typename}: {excinfo.value}"
            elif report.failed:
                # Not those the test's own LateBindingError (from check()) states already.
                stated = {f.key for f in getattr(excinfo.value if excinfo else None, "findings", ())}
                unstated = [f for f in findings if f.key not in stated]
                if unstated:
                    report.sections.append(("late-binding closures", run.messages(unstated)))
    return report


class _Reports:
    """Collects findings from test reports: ours, or a pytest-xdist worker's."""

    def __init__(self, run: LatebindRun) -> None:
        self.run = run

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        found = getattr(report, "latebind_findings", None)
        if found:
            self.run.add_test_findings(found)

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
        run.write_reports(run.finish())
    session.exitstatus = run.exit_status(session.exitstatus)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = _run(config)
    if run is not None:
        with run.guard("pytest_terminal_summary"):
            terminal.summary(terminalreporter, run)
            for line in run.annotations():
                terminalreporter.write_line(line)


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
    return Latebind(str(run.rootdir), run.settings.show_values,
                    report=lambda findings: run.checked(nodeid, findings), node=request.node)
