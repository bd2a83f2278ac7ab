"""A plugin for ``--latebind-fix``'s child runs only (``-p pytest_latebind._fixchild``): it
writes each test's outcome (failed, skipped or passed, over its phases) as JSON to the file
the parent names, so the parent can compare them with its own run's."""

from __future__ import annotations

import json
import os
from typing import Any

_PHASES: dict[str, list[str]] = {}


def pytest_runtest_logreport(report: Any) -> None:
    _PHASES.setdefault(report.nodeid, []).append(report.outcome)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    from ._fixverify import _OUTCOMES, worst

    path = os.environ.get(_OUTCOMES)
    if path and not hasattr(session.config, "workerinput"):  # an xdist worker: its controller writes
        with open(path, "w", encoding="utf-8") as file:
            json.dump({nodeid: worst(phases) for nodeid, phases in _PHASES.items()}, file)
