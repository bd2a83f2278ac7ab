"""Helpers for end-to-end tests that pin what ``pytest --latebind`` reports.

A test writes a small project (``write_project``), runs pytest on it once with ``--latebind``
and a JSON report (``run_latebind`` under ``pytester``, or ``run_latebind_in`` for a
module-scoped corpus that many tests read), and reads the findings back by file, line and
variable (``LatebindRun.one``, ``LatebindRun.in_file``).  Lines are never hard-coded: a
``# SITE:<label>`` comment marks a line and ``marked_line`` finds it.

Only behaviour is read (the JSON report, the terminal output), never the plugin's internals.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import read_report, run

REPORT = "latebind-report.json"
_MARK = re.compile(r"#\s*SITE:(\S+)")
_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)")


def source(text: str) -> str:
    """``text`` dedented, without its leading blank lines: the file as the test shows it."""
    return textwrap.dedent(text).lstrip("\n")


def write_project(root: Path, **files: str) -> None:
    """Write each ``name=text`` as ``root/name.py``, through ``source``."""
    for name, text in files.items():
        (root / f"{name}.py").write_text(source(text))


def marked_line(text: str, label: str) -> int:
    """The 1-based line of ``source(text)`` marked ``# SITE:<label>``."""
    lines = [n for n, line in enumerate(source(text).splitlines(), 1)
             for found in _MARK.findall(line) if found == label]
    assert len(lines) == 1, f"mark exactly one line with '# SITE:{label}', found {lines}"
    return lines[0]


@dataclass
class LatebindRun:
    """One pytest run with ``--latebind -rA``: its exit status, output and JSON findings."""

    ret: int
    output: str  # stdout
    findings: list[dict[str, Any]]

    def at(self, file: str, line: int, variable: str | None = None) -> list[dict[str, Any]]:
        """The findings of ``file`` (a path relative to the root) at ``line``, of ``variable``."""
        return [f for f in self.findings if f["file"] == file and f["line"] == line
                and (variable is None or f["variable"] == variable)]

    def one(self, file: str, line: int, variable: str) -> dict[str, Any]:
        """The single finding of (``file``, ``line``, ``variable``); fails if there is not one."""
        found = self.at(file, line, variable)
        assert len(found) == 1, (file, line, variable, self.summary())
        return found[0]

    def in_file(self, file: str) -> list[tuple[int, str]]:
        """(line, variable) of every finding in ``file``, sorted."""
        return sorted((f["line"], f["variable"]) for f in self.findings if f["file"] == file)

    def summary(self) -> list[tuple[str, int, str, list[str]]]:
        """Every finding in brief, for assertion messages."""
        return sorted((f["file"], f["line"], f["variable"], f["kinds"]) for f in self.findings)

    def outcome(self, nodeid: str) -> str:
        """``passed``, ``failed``, ... of one test, read from the ``-rA`` short summary."""
        return self._summary_line(nodeid)[0]

    def reason(self, nodeid: str) -> str:
        """What the short summary says a failed test failed with (``LateBindingError: ...``)."""
        return self._summary_line(nodeid)[1]

    def failed_by_latebind(self, nodeid: str) -> bool:
        """Whether the test failed with the plugin's verdict, not with an error of its own."""
        return self.outcome(nodeid) == "failed" and self.reason(nodeid).startswith("LateBindingError: ")

    def own_failures(self) -> list[str]:
        """The short summary's failed tests that failed by an error of their own."""
        return [line for line in self.output.splitlines()
                if line.startswith("FAILED ") and " - LateBindingError: " not in line]

    def _summary_line(self, nodeid: str) -> tuple[str, str]:
        for line in self.output.splitlines():
            match = _OUTCOME.match(line)
            if match and match[2] == nodeid:
                return match[1].lower(), line[match.end():].removeprefix(" - ")
        raise AssertionError(f"{nodeid} is not in the short summary:\n{self.output}")

    def failure_text(self, test_name: str) -> str:
        """The text pytest shows under ``____ test_name ____`` in the failures section."""
        lines = self.output.splitlines()
        header = re.compile(rf"^_+ {re.escape(test_name)} _+$")
        start = next(n for n, line in enumerate(lines) if header.match(line)) + 1
        # A section line, or a report line ("- generated xml file: ... -"), whose dashes shrink to
        # one when its path is longer than the terminal is wide.
        end = next(n for n in range(start, len(lines)) if re.match(r"^(_{3,} |={3,} |-{3,} |-+ generated )", lines[n]))
        return "\n".join(lines[start:end])


def _read(root: Path, ret: int, output: str) -> LatebindRun:
    report = root / REPORT
    assert report.exists(), output
    return LatebindRun(ret, output, list(read_report(report)["findings"]))


def run_latebind(pytester: pytest.Pytester, *args: str) -> LatebindRun:
    """``pytest --latebind -rA`` on the pytester project, in a subprocess, its report read."""
    result = run(pytester, "--latebind", f"--latebind-report={REPORT}", "-rA", *args)
    return _read(pytester.path, result.ret, "\n".join(result.outlines))


def run_latebind_in(root: Path, *args: str) -> LatebindRun:
    """``pytest --latebind -rA`` on a project in ``root`` (e.g. a module-scoped corpus)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--latebind", f"--latebind-report={REPORT}",
         "-rA", *args], cwd=root, capture_output=True, text=True, timeout=300, env=env)
    return _read(root, proc.returncode, proc.stdout + proc.stderr)
