"""The plugin in a real process: runs that do not use it."""

from __future__ import annotations

import pytest

from .helpers import run

MARK = "pytest.mark." "latebind"  # split: this file's source must not mention the marker
CRASH = "import os\n\ndef test_crash():\n    os._exit(3)\n\ndef test_ok():\n    pass\n"


def _plugin_lines(result: pytest.RunResult) -> list[str]:
    """Lines of the plugin's own: everything naming it, but pytest's list of plugins."""
    lines = [*result.stdout.lines, *result.stderr.lines]
    return [line for line in lines if ("latebind" in line.lower() or "late-binding" in line)
            and not line.startswith("plugins:")]


# -- runs that do not use the plugin ------------------------------------------------------
def test_crashed_worker_of_a_run_without_the_plugin_says_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_crash=CRASH)
    result = run(pytester, "-n", "2", "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running 'test_crash.py::test_crash'*"])
    assert _plugin_lines(result) == []


def test_crashed_worker_of_a_marker_run_is_still_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_crash=CRASH, test_mark=f"import pytest\n\n@{MARK}\ndef test_m():\n    pass\n")
    result = run(pytester, "-n", "2", "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines(["worker gw* went down before reporting: *"])
