"""Other import hooks on the same modules: typeguard's, beartype.claw's, and a hand-written
finder and loader overriding ``source_to_code``.  Both transforms apply (ours first, then
theirs), or the other hook keeps its own and one warning says what is off."""

from __future__ import annotations

import textwrap

import pytest

from .helpers import run

pytest.importorskip("typeguard")
pytest.importorskip("beartype")

# A type error and two late-binding bugs (a lambda; an annotated def, which both type
# checkers instrument or wrap) in one module.
GEO = """\
def area(side: int) -> int:
    return side * side


def make(values):
    return [lambda: v for v in values]


def labels(names):
    out = []
    for name in names:
        def label(x: int) -> str:
            return f"{name}{x}"
        out.append(label)
    return out
"""

TESTS = """\
import pytest

from shapes import geo


def test_type_error_still_raises():
    with pytest.raises({error}):
        geo.area("x")
    with pytest.raises({error}):
        geo.labels(["a"])[0]("x")


def test_lambda_bug():
    assert [f() for f in geo.make([1, 2])] == [2, 2]


def test_def_bug():
    assert [f(1) for f in geo.labels(["a", "b"])] == ["b1", "b1"]
"""

TYPEGUARD = "typeguard.TypeCheckError"
BEARTYPE = "beartype.roar.BeartypeCallHintParamViolation"


def _project(pytester: pytest.Pytester, init: str, error: str, **files: str) -> None:
    (pytester.path / "shapes").mkdir()
    (pytester.path / "shapes" / "__init__.py").write_text(textwrap.dedent(init))
    (pytester.path / "shapes" / "geo.py").write_text(GEO)
    tests = TESTS.format(error=error)
    (pytester.path / "test_shapes.py").write_text(f"import beartype.roar\nimport typeguard\n{tests}")
    for name, text in files.items():
        (pytester.path / f"{name}.py").write_text(textwrap.dedent(text))


def _both_checks(result: pytest.RunResult) -> None:
    """The type checker's test passes; both late-binding bugs are found."""
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["FAILED test_shapes.py::test_lambda_bug - LateBindingError: *",
                                 "FAILED test_shapes.py::test_def_bug - LateBindingError: *"])
    assert "LatebindPluginWarning" not in result.stdout.str()


# -- typeguard -----------------------------------------------------------------------------
def test_typeguard_plugin_and_latebind_both_check_one_package(pytester: pytest.Pytester) -> None:
    _project(pytester, "", TYPEGUARD)
    # typeguard's pytest plugin installs its finder in pytest_configure, after ours: in front.
    result = run(pytester, "--latebind", "--typeguard-packages=shapes", "-p", "no:randomly")
    _both_checks(result)
    # Nothing combined was cached: typeguard alone, then the plain import, behave as without us.
    alone = run(pytester, "--typeguard-packages=shapes", "-p", "no:randomly")
    alone.assert_outcomes(passed=3)
    plain = run(pytester, "-p", "no:typeguard", "-p", "no:randomly", "-k", "bug")
    plain.assert_outcomes(passed=2)


def test_typeguard_hook_installed_by_conftest_is_combined(pytester: pytest.Pytester) -> None:
    _project(pytester, "", TYPEGUARD, conftest="""\
        from typeguard import install_import_hook

        install_import_hook("shapes")
        """)
    _both_checks(run(pytester, "--latebind", "-p", "no:randomly"))


def test_typeguard_hook_ahead_of_ours_at_import_says_what_is_off(pytester: pytest.Pytester) -> None:
    # conftest.py installs typeguard's finder and imports the package at once, before
    # pytest-latebind's hook is back in front: typeguard alone loads it, and a warning says so.
    _project(pytester, "", TYPEGUARD, conftest="""\
        from typeguard import install_import_hook

        install_import_hook("shapes")
        import shapes.geo
        """)
    result = run(pytester, "--latebind", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*LatebindPluginWarning: pytest-latebind: 2 watched module(s) were loaded by another import hook, "
        "typeguard's TypeguardLoader (typeguard._importhook), without pytest-latebind's transform: "
        "shapes, shapes.geo. Its own transform is on; late-binding checks are off for these modules: its finder "
        "was ahead of pytest-latebind's in sys.meta_path when they were imported*"])
    assert result.stdout.str().count("were loaded by another import hook") == 1


# -- beartype ------------------------------------------------------------------------------
BEARTYPE_INIT = """\
from beartype.claw import beartype_this_package

beartype_this_package()
"""


def test_beartype_claw_and_latebind_both_check_one_package(pytester: pytest.Pytester) -> None:
    _project(pytester, BEARTYPE_INIT, BEARTYPE)
    _both_checks(run(pytester, "--latebind", "-p", "no:randomly"))
    alone = run(pytester, "-p", "no:randomly")
    alone.assert_outcomes(passed=3)


# -- a hand-written finder and loader -------------------------------------------------------
HAND_WRITTEN = """\
import ast
import importlib.machinery
import sys


class Shout(ast.NodeTransformer):
    # Upper-cases every string constant: the transform the test can see.
    def visit_Constant(self, node):
        if isinstance(node.value, str):
            node.value = node.value.upper()
        return node


class ShoutLoader(importlib.machinery.SourceFileLoader):
    def source_to_code(self, data, path, *, _optimize=-1):
        tree = {parse}
        return compile(ast.fix_missing_locations(Shout().visit(tree)), path, "exec", dont_inherit=True)


class ShoutFinder:
    def find_spec(self, name, path=None, target=None):
        if name != "shapes" and not name.startswith("shapes."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = ShoutLoader(spec.loader.name, spec.loader.path)
        return spec


sys.meta_path.insert(0, ShoutFinder())
"""

SHOUT_TESTS = """\
from shapes import geo


def test_transformed():
    assert geo.GREETING == "HELLO"


def test_lambda_bug():
    assert [f() for f in geo.make([1, 2])] == [2, 2]
"""


def _shout_project(pytester: pytest.Pytester, parse: str) -> None:
    (pytester.path / "shapes").mkdir()
    (pytester.path / "shapes" / "__init__.py").write_text("")
    (pytester.path / "shapes" / "geo.py").write_text('GREETING = "hello"\n\n\n' + GEO)
    (pytester.path / "test_shout.py").write_text(SHOUT_TESTS)
    (pytester.path / "conftest.py").write_text(HAND_WRITTEN.replace("{parse}", parse))


def test_hand_written_loader_taking_a_tree_is_combined(pytester: pytest.Pytester) -> None:
    _shout_project(pytester, "data if isinstance(data, ast.AST) else ast.parse(data.decode(), path)")
    result = run(pytester, "--latebind", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_shout.py::test_lambda_bug - LateBindingError: *"])
    assert "LatebindPluginWarning" not in result.stdout.str()


def test_hand_written_loader_taking_only_bytes_keeps_its_transform_and_warns(pytester: pytest.Pytester) -> None:
    _shout_project(pytester, "ast.parse(data.decode(), path)")  # a tree has no decode(): bytes only
    result = run(pytester, "--latebind", "-p", "no:randomly")
    result.assert_outcomes(passed=2)  # its transform is on; ours is off, and that is said once
    result.stdout.fnmatch_lines([
        "*LatebindPluginWarning: pytest-latebind: 1 watched module(s) were loaded by another import hook, "
        "conftest's ShoutLoader (conftest), without pytest-latebind's transform: shapes.geo. Its own "
        "transform is on; late-binding checks are off for these modules: its loader's source_to_code does "
        "not accept an instrumented tree, only source bytes*"])
    # Once: not also as a finder "ahead of pytest-latebind's", which would tell the user to
    # move an import that is not the cause.
    assert result.stdout.str().count("LatebindPluginWarning") == 1, result.stdout.str()


# -- annotations a transform after ours reads -------------------------------------------------
CLASSES = """\
def handlers(tags):
    out = []
    for tag in tags:
        class Handler:
            Result = str

            def handle(self, x: int) -> Result:
                return tag

            def check(self, x: int) -> str:
                return tag
        out.append(Handler)
    return out
"""

CLASS_TESTS = """\
import pytest
import typeguard

from shapes import handlers


def test_class_built_in_a_loop():
    [handler] = handlers.handlers(["a"])
    assert handler.handle.__annotations__ == {"x": int, "return": str}
    assert handler().check(1) == "a"
    with pytest.raises(typeguard.TypeCheckError):
        handler().check("x")
"""


def test_typeguard_checks_a_class_built_in_a_loop_and_its_body_keeps_its_names(
        pytester: pytest.Pytester) -> None:
    # A method made in a loop keeps its annotations in the tree typeguard transforms after
    # ours, so typeguard checks it; one naming a class attribute is evaluated in the class
    # body, as plain Python evaluates it (there typeguard sees the value, and does not check).
    _project(pytester, "", TYPEGUARD)
    (pytester.path / "shapes" / "handlers.py").write_text(CLASSES)
    (pytester.path / "test_shapes.py").write_text(CLASS_TESTS)
    for args in ((), ("--latebind",)):
        result = run(pytester, *args, "--typeguard-packages=shapes", "-p", "no:randomly")
        result.assert_outcomes(passed=1)
        assert "LatebindPluginWarning" not in result.stdout.str()
