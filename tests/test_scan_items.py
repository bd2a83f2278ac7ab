"""``--latebind-scan``: one pytest item per Python file of the project, failing with the sites
the static scan reports, runnable alone with ``-m latebind_scan``."""

from __future__ import annotations

import pytest

BUGGY = "def make(xs):\n    out = []\n    for x in xs:\n        out.append(lambda: x)\n    return out\n"
CLEAN = "def run(xs):\n    return [(lambda: x)() for x in xs]\n"
TEST = "def test_ok():\n    assert True\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(buggy=BUGGY, clean=CLEAN, test_app=TEST)
    return pytester


def test_one_item_per_file_failing_with_its_sites(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--latebind-scan", "-m", "latebind_scan", "-v")
    result.assert_outcomes(passed=2, failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*buggy.py::latebind-scan FAILED*", "*clean.py::latebind-scan PASSED*",
                                 "buggy.py:4:20: LB001 lambda made in a loop reads loop variable 'x' late*"])
    result.stdout.fnmatch_lines(["_* latebind scan: buggy.py _*"])  # the failure's heading names the file
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_without_the_option_nothing_is_scanned(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_ini_twin_and_tests_alongside(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nlatebind_scan = true\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)


def test_ignores_and_baseline_apply(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nlatebind_scan = true\nlatebind_ignore =\n"
                    "    buggy.py::make.<locals>.<lambda>:x  called in its round only\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-m", "latebind_scan")
    result.assert_outcomes(passed=3)
    project.makeini("[pytest]\nlatebind_scan = true\n")
    project.makepyfile(buggy=BUGGY.replace("(lambda: x)", "(lambda: x)  # latebind: ignore[x] kept on purpose"))
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-m", "latebind_scan")
    result.assert_outcomes(passed=3)
    project.makepyfile(buggy=BUGGY)
    (project.path / "base.json").write_text(
        '{"version": 1, "findings": [{"path": "buggy.py", "qualname": "make.<locals>.<lambda>", '
        '"variable": "x", "kind": "stale-read"}]}')
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-m", "latebind_scan",
                                          "--latebind-baseline=base.json")
    result.assert_outcomes(passed=3)


HANDED_OFF = ("from elsewhere import process\n\n\ndef start(hosts, ping):\n    for host in hosts:\n"
              "        process(lambda: ping(host))\n")


def test_unverified_sites_fail_the_items_only_when_asked(pytester: pytest.Pytester) -> None:
    # A closure handed to another module's code (LB002): only a run can tell whether it is
    # used in its round, so by default the item passes; asked to, it fails with the site.
    pytester.makepyfile(timers=HANDED_OFF)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--latebind-scan")
    result.assert_outcomes(passed=1)
    for args in (["--latebind-scan", "--latebind-scan-unverified"], []):
        if not args:
            pytester.makeini("[pytest]\nlatebind_scan = true\nlatebind_scan_unverified = true\n")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["timers.py:6:*: LB002 lambda made in a loop reads loop variable 'host'*"])
