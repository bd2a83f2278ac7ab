"""The verdict on a test and on the session: fail, warn, or say nothing.

A test with findings fails with a :class:`LateBindingError` (``latebind_mode = fail``) or
passes with one :class:`LateBindingWarning` per finding (``warn``), given at the closure site
and never made an error by a blanket ``error`` filter; its report carries the findings, and
its failure text states each once.  The session fails for findings no test could fail for.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import pytest

from . import _messages
from ._errors import LateBindingError
from ._findings import Finding
from ._kinds import Mode
from ._messages import Context
from ._warnings import LateBindingWarning, warn_at

SECTION = "late-binding closures in this test"  # not the summary's title: two would read as one
_RAISED: weakref.WeakSet[BaseException] = weakref.WeakSet()  # our warnings that filters made errors


def judge_test(findings: list[Finding], mode: Mode, context: Context) -> LateBindingError | None:
    """Fail the test (the error to raise) or warn about its findings (None)."""
    if not findings:
        return None
    if mode == Mode.FAIL:
        return LateBindingError(_messages.messages(findings, context), findings)
    for finding in findings:
        # Pointed at the closure site (not at this line), so pytest's warnings summary names
        # the user's code; a blanket ``error`` filter does not make it fail (see _warnings).
        warning = LateBindingWarning(_messages.message(finding, context))
        warning.findings = [finding]  # type: ignore[attr-defined]  # stated once in a failure
        try:
            warn_at(warning, finding.file, context.path(finding.file), finding.line)
        except LateBindingWarning as raised:  # a filter naming it made it an error
            _RAISED.add(raised)
            raise
    return None


def state_in_report(report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None,
                    ours: LateBindingError | None, findings: Sequence[Finding], context: Context) -> None:
    """Put a failed test's findings into its report, each once."""
    if not report.failed:
        return
    if excinfo is not None and (excinfo.value is ours or excinfo.value in _RAISED):
        # Our own verdict has no useful traceback (it is raised from a hook): the error of
        # fail mode, or the warning a filter naming LateBindingWarning made an error.
        report.longrepr = f"{excinfo.typename}: {excinfo.value}"
        return
    # One raised by check() or assert_distinct() in the test keeps pytest's usual display;
    # the section adds only what that error does not state already.
    stated = {f.key for f in getattr(excinfo.value if excinfo else None, "findings", ())}
    unstated = [f for f in findings if f.key not in stated]
    if unstated:
        report.sections.append((SECTION, _messages.messages(unstated, context)))


def session_failure(findings: Sequence[Finding], mode: Mode, collect_only: bool) -> str | None:
    """Why the session fails although its tests may not: findings outside any test."""
    # Found outside tests and in no test: no test failed for it, so the session must.
    outside = [f for f in findings if f.outside_tests and not f.tests]
    if not outside or mode != Mode.FAIL or collect_only:
        return None
    count = _messages.plural(len(outside), "late-binding closure")
    return (f"latebind: the session fails: {count} found outside any test (at import time), "
            "where no test can fail for it; fix it, or set latebind_mode = warn to report "
            "without failing")


def exit_status(status: int, failure: str | None) -> int:
    if status == pytest.ExitCode.OK and failure:
        return pytest.ExitCode.TESTS_FAILED
    return status

