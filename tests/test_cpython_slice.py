"""tools/cpython_slice.py (issue 16): it runs CPython test modules plain and instrumented and
reports the tests that fare differently.  One small module each way: one that holds up, and
test_pydoc's test_importfile, which sees the instrumenting loader (issue 16, point 7) while
that point is open."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "cpython_slice.py"

def has(module: str) -> bool:
    try:
        return importlib.util.find_spec(f"test.{module}") is not None
    except ImportError:  # no test package at all
        return False


pytestmark = pytest.mark.skipif(not (has("test_keywordonlyarg") and has("test_pydoc")),
                                reason="this Python's test package lacks the modules (some ship it apart)")


def test_a_module_that_is_not_there_cannot_be_compared(tmp_path: Path) -> None:
    status, report = slice_of(tmp_path, "test_no_such_module")
    assert status == 2
    assert "cannot compare" in row(report, "test_no_such_module")[5]


def slice_of(tmp_path: Path, *modules: str) -> tuple[int, str]:
    out = tmp_path / "slice.md"
    proc = subprocess.run([sys.executable, str(TOOL), *modules, "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, out.read_text()


def test_a_module_that_holds_up(tmp_path: Path) -> None:
    status, report = slice_of(tmp_path, "test_keywordonlyarg")
    assert status == 0, report
    cells = row(report, "test_keywordonlyarg")
    assert int(cells[1]) > 0  # tests ran
    assert cells[3:] == ["0", "0", "none"]


def row(report: str, module: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith(f"| {module} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_difference_is_reported_with_its_traceback(tmp_path: Path) -> None:
    status, report = slice_of(tmp_path, "test_pydoc")
    cells = row(report, "test_pydoc")
    assert int(cells[2]) >= 1  # pydoc's sites: pydoc itself was instrumented
    if cells[5] == "none":  # point 7 fixed: the loader no longer shows
        assert status == 0
    else:
        assert status == 1
        assert "test.test_pydoc.PydocImportTest.test_importfile" in cells[5]
        assert "### test.test_pydoc.PydocImportTest.test_importfile" in report
        assert "Traceback (most recent call last)" in report
