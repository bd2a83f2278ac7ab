"""The verdict on a test and on the session: fail, warn, or say nothing.

A test with findings fails with a :class:`LateBindingError` (``latebind_mode = fail``) or
passes with a :class:`LateBindingWarning` (``warn``); its report carries the findings, and
its failure text states each once.  The session fails for findings no test could fail for.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pytest

from . import _messages
from ._errors import LateBindingError
from ._findings import Finding
from ._kinds import Mode
from ._messages import Context
from ._warnings import LateBindingWarning

SECTION = "late-binding closures"


def judge_test(findings: list[Finding], mode: Mode, context: Context) -> LateBindingError | None:
    """Fail the test (the error to raise) or warn about its findings (None)."""
    if not findings:
        return None
    text = _messages.messages(findings, context)
    if mode == Mode.FAIL:
        return LateBindingError(text, findings)
    warnings.warn(LateBindingWarning(text), stacklevel=2)
    return None


def state_in_report(report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None,
                    ours: LateBindingError | None, findings: Sequence[Finding], context: Context) -> None:
    """Put a failed test's findings into its report, each once."""
    if not report.failed:
        return
    if excinfo is not None and ours is not None and excinfo.value is ours:
        # Our own verdict has no useful traceback (it is raised from a hook).
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

