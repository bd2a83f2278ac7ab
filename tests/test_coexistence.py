"""The plugin in a real process: runs that do not use it, warnings turned into errors,
report paths that are symlinks, and child processes (not watched, and left alone)."""

from __future__ import annotations

import os
import sys

import pytest

from .helpers import read_report, run

MARK = "pytest.mark." "latebind"  # split: this file's source must not mention the marker
CRASH = "import os\n\ndef test_crash():\n    os._exit(3)\n\ndef test_ok():\n    pass\n"
BUG = """\
def make(values):
    return [lambda: v for v in values]


def test_bug():
    assert [f() for f in make([1, 2])] == [2, 2]
    global KEEP
    KEEP = make([1, 2])
"""


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


# -- warnings turned into errors ------------------------------------------------------------
def test_unwritable_report_under_w_error_is_one_clean_error(pytester: pytest.Pytester) -> None:
    # The directory passes the early check, then goes away before the report is written.
    pytester.makepyfile(test_bug=BUG + "\n\ndef test_gone():\n    import shutil\n    shutil.rmtree('out')\n")
    (pytester.path / "out").mkdir()
    result = run(pytester, "--latebind", "--latebind-report=out/report.json", "--latebind-sarif=out/r.sarif",
                 "-o", "latebind_mode=warn", "-p", "no:randomly",
                 "-W", "error::pytest_latebind.LatebindPluginWarning")
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    # The summary is still there, then one line per report, and the run fails (issue 12: a report
    # that cannot be written fails the run, -W error or not).
    result.stdout.fnmatch_lines([
        "*= late-binding closures =*", "test_bug.py:2: lambda <lambda>*",
        "ERROR: pytest-latebind: could not write the JSON report to *out?report.json: *No such file*",
        "ERROR: pytest-latebind: could not write the SARIF report to *out?r.sarif: *",
        "*= 2 passed, 1 warning in *"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # Failed tests keep their status: the run fails either way.
    (pytester.path / "out").mkdir()
    failing = run(pytester, "--latebind", "--latebind-report=out/report.json", "-p", "no:randomly",
                  "-W", "error::pytest_latebind.LatebindPluginWarning")
    failing.stdout.fnmatch_lines(["ERROR: pytest-latebind: could not write the JSON report *"])
    assert failing.ret == pytest.ExitCode.TESTS_FAILED


def test_missing_report_directory_under_w_error_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = run(pytester, "--latebind", "--latebind-report=/nonexistent/dir/x.json",
                 "-W", "error::pytest_latebind.LatebindPluginWarning")
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *nonexistent/dir*"])


# -- report files that are symlinks -------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_a_report_path_that_is_a_symlink_writes_where_it_points(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bug=BUG)
    (pytester.path / "out").mkdir()
    target = pytester.path / "out" / "real.json"
    link = pytester.path / "report.json"
    link.symlink_to(os.path.join("out", "real.json"))  # relative, and dangling until written
    sarif_target = pytester.path / "out" / "real.sarif"
    sarif_target.write_text("old")
    sarif_link = pytester.path / "report.sarif"
    sarif_link.symlink_to(sarif_target)
    result = run(pytester, "--latebind", f"--latebind-report={link}", f"--latebind-sarif={sarif_link}")
    result.assert_outcomes(failed=1)
    assert link.is_symlink() and sarif_link.is_symlink()
    assert os.readlink(link) == os.path.join("out", "real.json")
    assert [f["file"] for f in read_report(target)["findings"]] == ["test_bug.py"]
    assert sarif_target.read_text().startswith("{")
    assert sorted(p.name for p in (pytester.path / "out").iterdir()) == ["real.json", "real.sarif"]


# -- child processes ----------------------------------------------------------------------
CHILDREN = """\
import multiprocessing
import os
import subprocess
import sys

import pytest

BUGGY = "def make(values):\\n    return [lambda: v for v in values]\\n"


def make(values):
    return [lambda: v for v in values]


def child(queue):
    # A stale read in the child: the child runs it exactly as without the plugin.
    queue.put([f() for f in make([1, 2])])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child():
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    assert queue.get(timeout=30) == [2, 2]
    process.join(30)
    assert process.exitcode == 0


def test_in_this_process():
    child_queue = multiprocessing.SimpleQueue()
    child(child_queue)
    assert child_queue.get() == [2, 2]


def test_python_subprocess(tmp_path):
    (tmp_path / "buggy.py").write_text(BUGGY)
    code = "import buggy; print([f() for f in buggy.make([1, 2])])"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[2, 2]"
"""


def test_child_processes_are_not_watched_and_behave_as_without_the_plugin(pytester: pytest.Pytester) -> None:
    # Not watched: a stale read in a forked child, or in a Python subprocess, is not reported,
    # and neither child is disturbed (same output, exit status 0, the run finishes).
    # The same code run in the test's own process is reported.
    pytester.makepyfile(test_children=CHILDREN)
    result = run(pytester, "--latebind", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_children.py::test_in_this_process - LateBindingError: *"])
    plain = run(pytester, "-p", "no:randomly")
    plain.assert_outcomes(passed=3)
    assert _plugin_lines(plain) == []
