"""Helpers for end-to-end tests that pin what ``pytest --latebind`` reports.

A test writes a small project (``write_project``), runs pytest on it once with ``--latebind``
and a JSON report (``run_latebind``), and reads the findings back by file, line and variable
(``LatebindRun.at``).  Lines are never hard-coded: a ``# SITE:<label>`` comment marks a line
and ``marked_line`` finds it, so a test still reads the right line when a source is edited.

Built on ``tests.helpers`` (``run``, ``read_report``); only behaviour is read (the report,
the terminal output), never the plugin's internals.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .helpers import read_report, run

REPORT = "latebind-report.json"
_MARK = re.compile(r"#\s*SITE:(\S+)")


def source(text: str) -> str:
    """``text`` dedented, without its first blank line: the file as the test shows it."""
    return textwrap.dedent(text).lstrip("\n")


def write_project(pytester: pytest.Pytester, **files: str) -> None:
    """Write each ``name=text`` as ``name.py`` (dedented) in the pytester directory."""
    for name, text in files.items():
        (pytester.path / f"{name}.py").write_text(source(text))


def marked_line(text: str, label: str) -> int:
    """The 1-based line of ``text`` (as ``source`` makes it) marked ``# SITE:<label>``."""
    lines = [n for n, line in enumerate(source(text).splitlines(), 1)
             for found in _MARK.findall(line) if found == label]
    assert len(lines) == 1, f"mark exactly one line with '# SITE:{label}', found {lines}"
    return lines[0]


@dataclass
class LatebindRun:
    """One pytest run with ``--latebind``: its result and the JSON report's findings."""

    result: pytest.RunResult
    report: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)

    def at(self, file: str, line: int, variable: str | None = None) -> list[dict[str, Any]]:
        """The findings of ``file`` (relative path) at ``line``, of ``variable`` if given."""
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
        """``passed``/``failed``/... of one test, read from the ``-rA`` short summary."""
        for line in self.result.outlines:
            words = line.split(" ")
            if len(words) >= 2 and words[1] == nodeid and words[0].isupper():
                return words[0].lower()
        raise AssertionError(f"{nodeid} is not in the short summary (run with -rA)")


def run_latebind(pytester: pytest.Pytester, *args: str) -> LatebindRun:
    """pytest ``--latebind -rA`` in a subprocess, with a JSON report read back."""
    result = run(pytester, "--latebind", f"--latebind-report={REPORT}", "-rA", *args)
    report_path = Path(pytester.path, REPORT)
    assert report_path.exists(), "\n".join(result.outlines + result.errlines)
    report = read_report(report_path)
    return LatebindRun(result, report, list(report["findings"]))
