"""Deliberate silencing: an inline comment, the ini list latebind_ignore, the marker's
ignore=/reason=; a reason is always required; an ignore that matches nothing is listed."""

from __future__ import annotations

import pytest

from pytest_latebind._ignores import inline_comment, parse_ini

from .helpers import read_report, run

# In two pieces: the plugin installs its import hook for test files naming the marker.
MARK = "pytest.mark." "latebind"

APP = """
def make_handlers(names):
    handlers = []
    for name in names:
        handlers.append(lambda: name){comment}
    return handlers
"""

TESTS = """
import app

def test_handlers():
    assert [h() for h in app.make_handlers(["a", "b"])][-1] == "b"

def test_other():
    assert True
"""

QUALNAME = "make_handlers.<locals>.<lambda>"


def _project(pytester: pytest.Pytester, comment: str = "", ini: str = "") -> None:
    pytester.makepyfile(app=APP.format(comment=comment), test_app=TESTS)
    if ini:
        pytester.makeini("[pytest]\n" + ini)


def test_inline_ignore_with_a_reason_silences(pytester: pytest.Pytester) -> None:
    _project(pytester, "  # latebind: ignore[name] called only within its round")
    result = run(pytester, "--latebind", "--latebind-report=r.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "silenced: 1 late-binding closure",
        f"  app.py:4 {QUALNAME}, loop variable 'name': app.py:4 # latebind: ignore[[]name]: "
        "called only within its round"])
    assert read_report(pytester.path / "r.json")["findings"] == []
    result.stdout.no_fnmatch_line("*unused ignores*")


def test_inline_ignore_without_a_reason_does_not_apply(pytester: pytest.Pytester) -> None:
    _project(pytester, "  # latebind: ignore[name]")
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*app.py:4: '# latebind: ignore[[]name]' has no reason, so it does not apply and the finding "
        "stands. Say why it is harmless after the brackets*"])


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["plain", "xdist"])
def test_inline_ignore_names_the_variable(pytester: pytest.Pytester, xdist: tuple[str, ...]) -> None:
    _project(pytester, "  # latebind: ignore[other] a different variable")
    result = run(pytester, "--latebind", *xdist)
    result.assert_outcomes(passed=1, failed=1)
    # The whole suite ran: the comment that silenced nothing is listed.
    result.stdout.fnmatch_lines(["unused ignores (they match no finding of this run; remove them): 1",
                                 "  app.py:4 # latebind: ignore[[]other]"])


def test_ini_ignore(pytester: pytest.Pytester) -> None:
    _project(pytester, ini=f"latebind_ignore =\n    app.py::{QUALNAME}:name  the handlers run in their round\n")
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["silenced: 1 late-binding closure",
                                 f"*latebind_ignore app.py::{QUALNAME}:name: the handlers run in their round"])


def test_ini_ignore_without_a_reason_is_a_usage_error(pytester: pytest.Pytester) -> None:
    _project(pytester, ini=f"latebind_ignore = app.py::{QUALNAME}:name\n")
    result = run(pytester, "--latebind")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*ini option latebind_ignore: 'app.py::{QUALNAME}:name' has no reason*"])


def test_unused_ini_ignore_is_reported(pytester: pytest.Pytester) -> None:
    _project(pytester, ini="latebind_ignore = app.py::gone.<locals>.<lambda>:name  was fixed\n")
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["unused ignores*: 1", "  latebind_ignore app.py::gone.<locals>.<lambda>:name"])
    # Not under -k: the test that would have needed it may not have run.
    result = run(pytester, "--latebind", "-k", "test_other")
    result.stdout.no_fnmatch_line("*unused ignores*")


def test_marker_ignore(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP.format(comment=""), test_app=f"""
import pytest
import app

@{MARK}(ignore=["name"], reason="these handlers are called after the loop on purpose")
def test_handlers():
    assert [h() for h in app.make_handlers(["a", "b"])][-1] == "b"

@{MARK}(ignore=["host"], reason="nothing here")
def test_unused():
    assert True

@{MARK}(ignore=["name"])
def test_no_reason():
    pass
""")
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        f"*TypeError: @{MARK}: ignore=[[]'name'] needs reason='...': a silenced finding must say why*"])
    result.stdout.fnmatch_lines(["silenced: 1 late-binding closure"])
    result.stdout.fnmatch_lines(["unused ignores*: 1",
                                 f"  test_app.py::test_unused @{MARK}(ignore=[[]'host']): "
                                 "no finding of host in the test"])


def test_inline_comment_parsing() -> None:
    assert inline_comment("f = lambda: x  # latebind: ignore[x, y] why not") == (("x", "y"), "why not")
    assert inline_comment("f = lambda: x  # latebind:ignore[x]") == (("x",), "")
    assert inline_comment("f = lambda: x  # noqa: B023") is None


def test_ini_patterns_are_refused() -> None:
    with pytest.raises(pytest.UsageError, match="patterns are not accepted"):
        parse_ini(["*::*:x  everything"])
    with pytest.raises(pytest.UsageError, match="is not 'path::qualname:variable  reason'"):
        parse_ini(["app.py:name  why"])
