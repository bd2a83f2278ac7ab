"""End to end: the import hook.  Which modules it instruments (conftest imports, test
modules with pytest's assertion rewriting intact, named packages outside the rootdir), the
modules it cannot (syntax errors, no source, imported too early), and its bytecode cache.

Each test runs pytest in a subprocess, as a user would: the hook is process-wide.
"""

from __future__ import annotations

import marshal
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import report_findings, run

TOKEN = "@latebind_token"

BUGGY = """
def make_callbacks(n):
    callbacks = []
    for i in range(n):
        callbacks.append(lambda: i)  # line 4
    return callbacks
"""


# -- what is instrumented ---------------------------------------------------------------

def test_module_imported_by_conftest_is_instrumented(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(helpers=BUGGY)
    pytester.makeconftest("""
        import pytest

        import helpers  # imported while conftest.py loads: the hook must already be there

        @pytest.fixture
        def callbacks():
            return helpers.make_callbacks(3)
    """)
    pytester.makepyfile(test_conftest_import="""
        import helpers

        def test_instrumented():
            assert any(n.startswith("@latebind_token") for n in helpers.make_callbacks(1)[0].__code__.co_freevars)

        def test_found(callbacks):
            assert [f() for f in callbacks] == [2, 2, 2]
    """)
    report = pytester.path / "r.json"
    result = run(pytester, "--latebind", f"--latebind-report={report}", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_conftest_import.py::test_found - LateBindingError: *"])
    result.stdout.no_fnmatch_line("*imported before the import hook*")
    assert [(f["file"], f["line"], f["variable"]) for f in report_findings(report)] == [("helpers.py", 4, "i")]


def test_conftest_itself_is_instrumented(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        def make():
            fs = []
            for i in range(3):
                fs.append(lambda: i)  # line 6
            return fs

        @pytest.fixture
        def callbacks():
            return make()
    """)
    pytester.makepyfile(test_it="""
        def test_found(callbacks):
            assert [f() for f in callbacks] == [2, 2, 2]
    """)
    report = pytester.path / "r.json"
    result = run(pytester, "--latebind", f"--latebind-report={report}")
    result.assert_outcomes(failed=1)
    assert [(f["file"], f["line"], f["variable"]) for f in report_findings(report)] == [("conftest.py", 6, "i")]


ASSERT_TEST = """
import helpers

def make():
    fs = []
    for i in range(1):
        fs.append(lambda: i)
    return fs

def test_instrumented_here():
    assert (any(n.startswith("@latebind_token") for n in make()[0].__code__.co_freevars)) is {instrumented}

def test_list_diff():
    assert [1, 2] == [1, 3]

def test_call_introspection():
    value = make()[0]()
    assert value == 5

def test_helper_assert():
    helpers.check([1, 2])
"""


@pytest.mark.parametrize("test_modules", ["yes", "no"])
def test_assertion_rewriting_is_kept(pytester: pytest.Pytester, test_modules: str) -> None:
    pytester.makeconftest("""
        import pytest

        pytest.register_assert_rewrite("helpers")
    """)
    pytester.makepyfile(helpers="""
        def check(values):
            doubled = [(lambda: v * 2)() for v in values]  # a site, used harmlessly
            assert doubled == [9, 4]
    """)
    pytester.makepyfile(test_asserts=ASSERT_TEST.format(instrumented=test_modules == "yes"))
    result = run(pytester, "--latebind", f"--latebind-test-modules={test_modules}", "-rA")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(["PASSED test_asserts.py::test_instrumented_here"])
    result.stdout.fnmatch_lines([
        # pytest's own failure text, diff and all: its rewriting still ran.
        ">       assert [1, 2] == [1, 3]",
        "E       assert [1, 2] == [1, 3]",
        "E         At index 1 diff: 2 != 3",
    ], consecutive=False)
    result.stdout.fnmatch_lines(["E       assert 0 == 5"])
    # A module registered for rewriting is pytest's too: rewritten, and also ours.
    result.stdout.fnmatch_lines(["E       assert [2, 4] == [9, 4]", "E         At index 0 diff: 2 != 9"])
    result.stdout.no_fnmatch_line("*LateBindingError*test_asserts.py*")
    result.stdout.no_fnmatch_line("*PytestAssertRewriteWarning*")


def test_test_modules_no_leaves_test_modules_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(helpers=BUGGY)
    pytester.makepyfile(test_alone="""
        import helpers

        def make():
            fs = []
            for i in range(3):
                fs.append(lambda: i)
            return fs

        def test_test_module_not_instrumented():
            assert not any(n.startswith("@latebind_token") for n in make()[0].__code__.co_freevars)
            assert [f() for f in make()] == [2, 2, 2]

        def test_other_module_still_is():
            assert [f() for f in helpers.make_callbacks(3)] == [2, 2, 2]
    """)
    pytester.makeini("[pytest]\nlatebind_test_modules = false\n")
    report = pytester.path / "r.json"
    result = run(pytester, "--latebind", f"--latebind-report={report}", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_alone.py::test_other_module_still_is - LateBindingError*"])
    assert [f["file"] for f in report_findings(report)] == ["helpers.py"]
    result.stdout.fnmatch_lines(["latebind: every test, mode=fail, watching modules under the rootdir"])


def _external_project(pytester: pytest.Pytester, site: str) -> Path:
    """project/ (the rootdir, with a buggy local module) and <site>/extpkg outside it."""
    project = pytester.mkdir("project")
    external = pytester.path / site / "extpkg"
    external.mkdir(parents=True)
    (external / "__init__.py").write_text(BUGGY.lstrip("\n"))
    (external / "sub.py").write_text("def pairs(keys):\n    return {k: (lambda: k) for k in keys}  # line 2\n")
    (project / "pytest.ini").write_text(f"[pytest]\npythonpath = {os.path.relpath(external.parent, project)}\n")
    (project / "localmod.py").write_text(BUGGY.lstrip("\n"))
    (project / "test_ext.py").write_text("""\
import extpkg
import extpkg.sub
import localmod

TOKEN = "@latebind_token"

def test_where(request):
    named = request.config.getoption("latebind_modules")
    ext = any(n.startswith(TOKEN) for n in extpkg.make_callbacks(1)[0].__code__.co_freevars)
    local = any(n.startswith(TOKEN) for n in localmod.make_callbacks(1)[0].__code__.co_freevars)
    assert (ext, local) == ((True, False) if named else (False, True))

def test_ext():
    assert [f() for f in extpkg.make_callbacks(3)] == [2, 2, 2]

def test_ext_sub():
    assert [f() for f in extpkg.sub.pairs("ab").values()] == ["b", "b"]

def test_local():
    assert [f() for f in localmod.make_callbacks(3)] == [2, 2, 2]
""")
    return project


@pytest.mark.parametrize("site", ["elsewhere", "venv/lib/site-packages"])
def test_named_package_outside_the_rootdir(pytester: pytest.Pytester, site: str) -> None:
    _external_project(pytester, site)
    report = pytester.path / "r.json"
    result = run(pytester, "project", "--latebind", "--latebind-modules=extpkg", f"--latebind-report={report}",
                 "-rA")
    result.stdout.fnmatch_lines(["latebind: every test, mode=fail, watching extpkg and test modules",
                                 "rootdir: */project"], consecutive=False)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["PASSED project/test_ext.py::test_where", "PASSED project/test_ext.py::test_local"],
                                consecutive=False)
    external = Path(os.path.normpath(pytester.path / site / "extpkg"))
    got = sorted((os.path.normpath(str(f["file"])), f["line"], f["variable"]) for f in report_findings(report))
    # Outside the rootdir: absolute paths.
    assert got == sorted([(str(external / "__init__.py"), 4, "i"), (str(external / "sub.py"), 2, "k")])


def test_paths_outside_the_rootdir_are_normalised(pytester: pytest.Pytester) -> None:
    _external_project(pytester, "elsewhere")  # reached through pythonpath = ../elsewhere
    report = pytester.path / "r.json"
    run(pytester, "project", "--latebind", "--latebind-modules=extpkg", f"--latebind-report={report}")
    external = Path(os.path.normpath(pytester.path / "elsewhere" / "extpkg"))
    files = sorted(str(f["file"]) for f in report_findings(report))
    assert files == [(external / "__init__.py").as_posix(), (external / "sub.py").as_posix()]


def test_default_watches_the_rootdir_not_other_packages(pytester: pytest.Pytester) -> None:
    _external_project(pytester, "elsewhere")
    report = pytester.path / "r.json"
    result = run(pytester, "project", "--latebind", f"--latebind-report={report}", "-rA")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED project/test_ext.py::test_local - LateBindingError*"])
    assert [(f["file"], f["variable"]) for f in report_findings(report)] == [("localmod.py", "i")]


def test_virtualenv_under_the_rootdir_is_not_watched(pytester: pytest.Pytester) -> None:
    packages = pytester.path / ".venv" / "lib" / "python3.11" / "site-packages"
    (packages / "vendored").mkdir(parents=True)
    (packages / "vendored" / "__init__.py").write_text(BUGGY)
    (pytester.path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (pytester.path / "inenv").mkdir()
    (pytester.path / "inenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (pytester.path / "inenv" / "envmod.py").write_text(BUGGY)
    pytester.makeini("[pytest]\npythonpath = .venv/lib/python3.11/site-packages inenv\n")
    pytester.makepyfile(test_venv="""
        import envmod
        import vendored

        def test_vendored_is_left_alone():
            assert not any(n.startswith("@latebind_token") for n in vendored.make_callbacks(1)[0].__code__.co_freevars)
            assert [f() for f in vendored.make_callbacks(3)] == [2, 2, 2]

        def test_module_in_a_venv_dir_is_left_alone():
            assert not any(n.startswith("@latebind_token") for n in envmod.make_callbacks(1)[0].__code__.co_freevars)
    """)
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2)


# -- what cannot be instrumented ---------------------------------------------------------

def test_module_with_a_syntax_error_warns_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken="def oops(:\n    pass\n", helpers=BUGGY)
    pytester.makepyfile(test_broken="""
        import helpers

        def test_imports_broken():
            import broken

        def test_goes_on():
            assert helpers.make_callbacks(1)[0]() == 0
    """)
    plain = run(pytester, "-rA")
    plain.assert_outcomes(passed=1, failed=1)
    result = run(pytester, "--latebind", "-rA")
    # Exactly what happens without the plugin: the import fails with the SyntaxError ...
    result.assert_outcomes(passed=1, failed=1, warnings=1)
    result.stdout.fnmatch_lines(["FAILED test_broken.py::test_imports_broken*"])
    result.stdout.fnmatch_lines(["E       SyntaxError: invalid syntax"])
    # ... with the traceback plain pytest shows: none of the plugin's frames ...
    failure = result.stdout.str().split("test_imports_broken", 1)[1].split("warnings summary", 1)[0]
    assert "_importhook.py" not in failure, failure
    # ... and the plugin says it could not instrument the module.
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: cannot instrument *broken.py: "
                                 "SyntaxError*"])
    result.stdout.no_fnmatch_line("*internal error*")


def test_module_that_parses_but_does_not_compile_is_not_an_internal_error(pytester: pytest.Pytester) -> None:
    # ast.parse() accepts these; compile() does not.  The user's error, not the plugin's.
    pytester.makepyfile(badreturn="""
        for i in range(2):
            f = lambda: i
        return f
    """)
    pytester.makepyfile(test_bad="""
        import pytest

        def test_imports_it():
            with pytest.raises(SyntaxError, match="'return' outside function"):
                import badreturn
    """)
    result = run(pytester, "--latebind", "-rA")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: cannot instrument *badreturn.py: "
                                 "SyntaxError*"])
    result.stdout.no_fnmatch_line("*internal error*")


def test_module_without_source_warns_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    source = pytester.makepyfile(nosource=BUGGY)
    py_compile.compile(str(source), cfile=str(source.with_suffix(".pyc")), doraise=True)
    source.unlink()  # only nosource.pyc remains: the sourceless (legacy) layout
    pytester.makepyfile(test_nosource="""
        import nosource

        def test_uses_it():
            assert nosource.__file__.endswith("nosource.pyc")
            assert not any(n.startswith("@latebind_token") for n in nosource.make_callbacks(1)[0].__code__.co_freevars)
            assert [f() for f in nosource.make_callbacks(3)] == [2, 2, 2]
    """)
    result = run(pytester, "--latebind", "-rA")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: nosource has no source "
                                 "(*nosource.pyc): not instrumented*"])


def test_modules_imported_before_the_hook_warn_once(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(early=BUGGY, myplugin="""
        import early

        def pytest_report_header():
            return "myplugin loaded"
    """)
    pytester.makepyfile(test_early="""
        import early

        def test_early_not_instrumented():
            assert not any(n.startswith("@latebind_token") for n in early.make_callbacks(1)[0].__code__.co_freevars)

        def test_early_bug_unseen():
            assert [f() for f in early.make_callbacks(3)] == [2, 2, 2]
    """)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    result = run(pytester, "-p", "myplugin", "--latebind", "-rA")
    result.stdout.fnmatch_lines(["myplugin loaded"])
    result.assert_outcomes(passed=2, warnings=1)
    # (The plugin module itself went through pytest's assertion rewriting, as -p modules do.)
    result.stdout.fnmatch_lines(["*LatebindPluginWarning: pytest-latebind: 1 watched module(s) were imported before "
                                 "the import hook was installed and are not instrumented: early.*"])
    assert result.stdout.str().count("were imported before the import hook") == 1


# -- the bytecode cache -----------------------------------------------------------------

CACHED = """
WHERE = "source"

def make_callbacks(n):
    callbacks = []
    for i in range(n):
        callbacks.append(lambda: i)
    return callbacks
"""

CACHED_TEST = """
import pathlib

import cached

def test_record():
    pathlib.Path("where.txt").write_text(cached.WHERE)

def test_instrumented():
    assert any(n.startswith("@latebind_token") for n in cached.make_callbacks(1)[0].__code__.co_freevars)
"""


def _pycache(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "__pycache__").glob("*")) if (root / "__pycache__").exists() else []


def test_cache_is_our_own(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    pytester.makepyfile(cached=CACHED, test_cached=CACHED_TEST)
    where = pytester.path / "where.txt"

    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2)
    assert where.read_text() == "source"
    names = _pycache(pytester.path)
    tag = sys.implementation.cache_tag
    ours = [n for n in names if n.startswith(f"cached.{tag}-latebind-")]
    assert len(ours) == 1, names
    # Instrumented code never goes where a plain import (or pytest's own cache) looks.
    assert f"cached.{tag}.pyc" not in names
    assert [n for n in names if n.startswith("test_cached.")] and all(
        "latebind" in n for n in names if n.startswith("test_cached.")), names
    assert not [n for n in names if not n.endswith(".pyc")], names  # no temporary file left

    # The second run reads the cache: swap in other code under a valid header, and see it.
    pyc = pytester.path / "__pycache__" / ours[0]
    data = pyc.read_bytes()
    swapped = compile('WHERE = "our cache"\ndef make_callbacks(n):\n    return [lambda: 0]\n',
                      str(pytester.path / "cached.py"), "exec")
    pyc.write_bytes(data[:16] + marshal.dumps(swapped))
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=1, failed=1)  # the swapped-in code is not instrumented
    assert where.read_text() == "our cache"

    # A plain import neither reads our cache nor sees instrumented code.
    plain = subprocess.run(
        [sys.executable, "-c", "import cached; print(cached.WHERE, any(n.startswith('@latebind_token') for n in "
                               "cached.make_callbacks(1)[0].__code__.co_freevars))"],
        cwd=pytester.path, capture_output=True, text=True, check=True)
    assert plain.stdout.split() == ["source", "False"]
    assert f"cached.{tag}.pyc" in _pycache(pytester.path)

    # An edited source invalidates our cache.
    (pytester.path / "cached.py").write_text(CACHED.replace('"source"', '"edited source"'))
    run(pytester, "--latebind").assert_outcomes(passed=2)
    assert where.read_text() == "edited source"


def test_dont_write_bytecode_writes_nothing(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makepyfile(cached=CACHED, test_cached=CACHED_TEST)
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2)
    assert (pytester.path / "where.txt").read_text() == "source"
    assert not list(pytester.path.rglob("*.pyc"))
    assert not (pytester.path / "__pycache__").exists()


def test_pycache_prefix_is_honoured(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    prefix = pytester.path / "prefix"
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
    pytester.makepyfile(cached=CACHED, test_cached=CACHED_TEST)
    result = run(pytester, "--latebind")
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "__pycache__").exists()
    ours = [p for p in prefix.rglob("*.pyc") if "latebind" in p.name and p.name.startswith("cached.")]
    assert len(ours) == 1, list(prefix.rglob("*"))
