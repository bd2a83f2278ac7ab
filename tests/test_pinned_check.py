"""Pinned ``check()`` corners (issue 22, theme 5): wrapped closures, closures without source,
a module-level loop variable's value, two same-named defs in one module.

``pytest_latebind.check`` runs in this process on modules loaded plain (no instrumentation:
it reads the source to find the loops); the ``latebind`` fixture runs in one pytester run
with ``--latebind``, where the instrumentation knows the values.  Messages are compared whole.
"""

from __future__ import annotations

import textwrap
import types
from pathlib import Path

import pytest

import pytest_latebind

from .helpers import load
from .pinned_helpers import marked_line, run_latebind, write_project

FIX_TAIL = "       or functools.partial(...)"

WRAPPED = """
    import functools

    def logged(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        return wrapper

    def make(names):
        handlers = []
        for name in names:
            @logged
            def handler():  # SITE:bug
                return name
            handlers.append(handler)
        return handlers

    def twin(names):
        handlers = []
        for name in names:
            @logged
            def handler(name=name):
                return name
            handlers.append(handler)
        return handlers
    """

MODULE_LEVEL = """
    HANDLERS = []
    for i in range(3):
        HANDLERS.append(lambda: i)  # SITE:bug
    """

SAME_NAMES = """
    def passthrough(func):
        return func

    def first(xs):
        fs = []
        for item in xs:
            def handler():  # SITE:first
                return item
            fs.append(handler)
        return fs

    def second(xs):
        fs = []
        for item in xs:
            @passthrough
            def handler():  # SITE:second
                return item
            fs.append(handler)
        return fs
    """


def plain(tmp_path: Path, text: str) -> types.ModuleType:
    """``text`` as a module from a real file, not instrumented."""
    return load(tmp_path, textwrap.dedent(text).lstrip("\n"), instrumented=False)


def shared_message(module: types.ModuleType, line: int, variable: str, closures: int, now: str, fix: str) -> str:
    """check()'s message for uninstrumented closures: no creation values are known."""
    path = Path(module.__file__ or "").as_posix()
    return "\n".join([
        f"{closures} closures created at {path}:{line} share the loop variable {variable!r}",
        f"  all of them now see {variable}={now} (shared binding)",
        f"  fix: bind the value when the closure is made, e.g. `{fix}`",
        FIX_TAIL,
    ])


def check_message(callables: object) -> str:
    with pytest.raises(pytest_latebind.LateBindingError) as raised:
        pytest_latebind.check(callables)  # type: ignore[arg-type]
    return str(raised.value)


def test_check_unwraps_functools_wraps_closures(tmp_path: Path) -> None:
    module = plain(tmp_path, WRAPPED)
    handlers = module.make(["a", "b"])
    assert handlers[0].__wrapped__ is not handlers[0]  # the wrappers are what is passed
    assert check_message(handlers) == shared_message(module, marked_line(WRAPPED, "bug"), "name", 2, "'b'",
                                                     "def handler(name=name):")
    pytest_latebind.check(module.twin(["a", "b"]))  # each wrapped handler binds its own name


GENERATED = (
    "def make(names, own):\n"
    "    fs = []\n"
    "    for name in names:\n"
    "        fs.append((lambda name: lambda: name)(name) if own else (lambda: name))\n"
    "    return fs\n"
)


def test_check_of_closures_without_source(tmp_path: Path) -> None:
    namespace: dict[str, object] = {}
    exec(compile(GENERATED, "<generated>", "exec"), namespace)
    make = namespace["make"]
    assert callable(make)
    # Each closure has a cell of its own: nothing is shared, whatever the source would say.
    pytest_latebind.check(make("abc", own=True))
    # Shared cells, and no source to tell whether they are a loop's: a usage error, said whole.
    assert check_message(make("ab", own=False)) == (
        "latebind.check() cannot tell whether <lambda> at <generated>:4 reads loop variables: its source is not "
        "available, and the 2 closures given share 'name'. check() reads the source to find the loops: define "
        "the callbacks in a module with a .py file.")


def test_check_reads_a_module_level_loop_variables_current_value(tmp_path: Path) -> None:
    module = plain(tmp_path, MODULE_LEVEL)
    line = marked_line(MODULE_LEVEL, "bug")
    assert check_message(module.HANDLERS) == shared_message(module, line, "i", 3, "2", "lambda i=i: ...")
    module.i = "changed"
    assert check_message(module.HANDLERS) == shared_message(module, line, "i", 3, "'changed'", "lambda i=i: ...")


def test_check_tells_two_same_named_defs_in_one_module_apart(tmp_path: Path) -> None:
    module = plain(tmp_path, SAME_NAMES)
    assert check_message(module.first("ab")) == shared_message(
        module, marked_line(SAME_NAMES, "first"), "item", 2, "'b'", "def handler(item=item):")
    assert check_message(module.second("xyz")) == shared_message(
        module, marked_line(SAME_NAMES, "second"), "item", 3, "'z'", "def handler(item=item):")


def error_lines(text: str) -> list[str]:
    """The ``E`` lines of a failure as pytest shows it: the raised error's text."""
    return [line for line in text.splitlines() if line.startswith("E ")]


FIXTURE_TESTS = """
    import wrapped
    import same_names


    def test_wrapped(latebind):
        latebind.check(wrapped.make(["a", "b"]))


    def test_wrapped_twin(latebind):
        latebind.check(wrapped.twin(["a", "b"]))


    def test_second_of_two_same_named_defs(latebind):
        latebind.check(same_names.second("xyz"))
    """


def test_fixture_check_with_instrumentation_knows_the_values(pytester: pytest.Pytester) -> None:
    write_project(pytester.path, wrapped=WRAPPED, same_names=SAME_NAMES, test_fixture_check=FIXTURE_TESTS)
    run = run_latebind(pytester)
    assert run.outcome("test_fixture_check.py::test_wrapped_twin") == "passed"
    line = marked_line(WRAPPED, "bug")
    assert error_lines(run.failure_text("test_wrapped")) == [
        f"E       pytest_latebind.LateBindingError: 2 closures created at wrapped.py:{line} share the loop "
        "variable 'name'",
        "E         created with name='a', 'b'; all of them now see name='b' (shared binding)",
        "E         fix: bind the value when the closure is made, e.g. `def handler(name=name):`",
        "E              or functools.partial(...)",
    ]
    wrapped = run.one("wrapped.py", line, "name")
    assert (wrapped["kinds"], wrapped["closures"], wrapped["created_with"]) == (["shared-binding"], 2, ["'a'", "'b'"])
    assert wrapped["tests"] == ["test_fixture_check.py::test_wrapped"]
    second = run.one("same_names.py", marked_line(SAME_NAMES, "second"), "item")
    assert (second["closures"], second["created_with"], second["seen"]) == (3, ["'x'", "'y'", "'z'"], "'z'")
    assert run.in_file("same_names.py") == [(marked_line(SAME_NAMES, "second"), "item")]
