"""The differential harness (issue 16): run one program plain and instrumented, each in a
fresh subprocess, and compare everything the program could observe.

A :class:`Program` is a few module sources written to a folder; ``main`` is imported, and its
``main()`` called when it has one.  ``tests/differential_runner.py`` does that in a new
interpreter, plain or through the plugin's import hook inside a recorder window, and writes
down the observations:

* ``stdout`` and ``stderr``: everything printed, including by finalizers at interpreter exit
  (so ``weakref.finalize``/``__del__`` order and object lifetimes), and warnings;
* ``import`` and ``result``: ``main()``'s return value (its repr), or the exception escaping
  the import or ``main()``: type, text, notes, each frame of ``traceback.extract_tb``
  (file, line, name, source line, and on 3.11+ end line and columns), the chain of causes
  and contexts, and the printed traceback;
* ``notes``: what the program noted with ``difftools.note`` (its own observations:
  ``difftools.exception(exc)``, ``difftools.describe(func)``, ``difftools.headroom()``);
* ``namespaces``: each module's ``dir()``, ``vars()`` keys in order, value types, and every
  function and class it defines described: ``__name__``, ``__qualname__``, signature,
  ``__code__``'s names, varnames, first line, flags, free variables, ``__closure__``,
  ``inspect.getclosurevars``, defaults, annotations, a class's namespace, MRO and methods;
* ``coverage``: the lines coverage.py saw run in each of the program's files (when
  coverage.py is installed in the interpreter that runs the programs).

Known differences (issue 16's open points) that every instrumented program shows are masked
by :func:`compare` unless a case asks for them (:data:`EVERYWHERE`); each mask drops exactly
the plugin's own names, nothing of the program's.

The programs run on ``sys.executable``, or on the interpreter ``LATEBIND_DIFF_PYTHON`` names
(it needs only the plugin's core, not pytest), e.g. to see the cases on another version.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The checkout whose plugin instruments the programs (LATEBIND_DIFF_ROOT: another one, e.g.
# an export of an older commit, to see which differences it had).
ROOT = Path(os.environ.get("LATEBIND_DIFF_ROOT") or Path(__file__).resolve().parents[1])
RUNNER = Path(__file__).with_name("differential_runner.py")
PYTHON = os.environ.get("LATEBIND_DIFF_PYTHON") or sys.executable
TIMEOUT = 60

# The names the instrumented code adds (issue 16 points 3 and 9): the module's handle, and
# the token and baseline cells.
_PLUGIN_NAME = re.compile(r"^@latebind")


@functools.cache
def target_version() -> tuple[int, int]:
    """The version of the interpreter that runs the programs."""
    if sys.executable == PYTHON:
        return sys.version_info[:2]
    out = subprocess.run([PYTHON, "-c", "import sys; print(*sys.version_info[:2])"],
                         capture_output=True, text=True, check=True, timeout=TIMEOUT).stdout
    major, minor = map(int, out.split())
    return major, minor


@functools.cache
def has_coverage() -> bool:
    """Whether coverage.py is importable by the interpreter that runs the programs."""
    if sys.executable == PYTHON:
        try:
            import coverage  # noqa: F401
        except ImportError:
            return False
        return True
    env = dict(os.environ, PYTHONPATH=os.environ.get("LATEBIND_DIFF_PYTHONPATH", ""))
    return subprocess.run([PYTHON, "-c", "import coverage"], capture_output=True, env=env,
                          timeout=TIMEOUT).returncode == 0


@dataclass(frozen=True, eq=False)
class Program:
    """Module sources (dedented), the one to import, whether to measure coverage."""

    modules: dict[str, str]
    main: str = "prog"
    coverage: bool = True
    files: dict[str, str] = field(default_factory=dict)  # data files beside the modules

    @classmethod
    def of(cls, source: str, **others: str) -> Program:
        return cls({"prog": textwrap.dedent(source), **{k: textwrap.dedent(v) for k, v in others.items()}})


@dataclass
class Run:
    """One run: what the program observed, and facts about the run (not compared)."""

    observed: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def run(program: Program, mode: str, directory: Path) -> Run:
    """Run ``program`` in a fresh interpreter, ``plain`` or ``instrumented``, in ``directory``
    (its files are written there first if they are not)."""
    assert mode in ("plain", "instrumented")
    for name, source in [*((f"{n}.py", s) for n, s in program.modules.items()), *program.files.items()]:
        path = directory / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source)
    # "pkg/__init__" is the package pkg, "pkg/mod" its module pkg.mod.
    paths = {n.removesuffix("/__init__").replace("/", "."): f"{n}.py" for n in program.modules}
    out = directory / f".observed-{mode}.json"
    spec = directory / f".spec-{mode}.json"
    spec.write_text(json.dumps({"dir": str(directory), "modules": sorted(paths), "paths": paths, "main": program.main,
                                "mode": mode, "out": str(out), "coverage": program.coverage}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV_CORE", "COVERAGE"))}
    # LATEBIND_DIFF_PYTHONPATH: more folders for that interpreter (coverage.py installed with --target).
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("LATEBIND_DIFF_PYTHONPATH")]))
    env.update(PYTHONPATH=path, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8")
    proc = subprocess.run([PYTHON, "-X", "faulthandler", str(RUNNER), str(spec)], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    if not out.exists():
        raise AssertionError(f"the {mode} runner wrote nothing (exit {proc.returncode}):\n{proc.stderr}")
    data = json.loads(out.read_text())
    out.unlink()
    text = _normalizer(directory)
    observed = data["observed"]
    observed["stdout"] = text(proc.stdout)
    observed["stderr"] = text(proc.stderr)
    observed["exit"] = proc.returncode
    return Run(observed, data["meta"])


def _normalizer(directory: Path) -> Callable[[str], str]:
    address = re.compile(r"0x[0-9a-fA-F]+")
    return lambda s: address.sub("0x?", s.replace(str(directory), "<dir>"))


# -- masks for the known differences ------------------------------------------------------------
def _mask_point_3(observed: dict[str, Any]) -> None:
    """Issue 16 point 3: the module global ``@latebind`` (and ``@latebind_register``), in
    ``dir()``, ``vars()`` and the value types of every instrumented module."""
    for space in (observed.get("namespaces") or {}).values():
        if space is None:
            continue
        space["dir"] = [n for n in space["dir"] if not _PLUGIN_NAME.match(n)]
        space["vars"] = [n for n in space["vars"] if not _PLUGIN_NAME.match(n)]
        space["types"] = {k: v for k, v in space["types"].items() if not _PLUGIN_NAME.match(k)}


def _descriptions(value: Any) -> Any:
    """Every function description (``difftools.describe``) inside an observation."""
    if isinstance(value, dict):
        if isinstance(value.get("co_freevars"), list):
            yield value
        for item in value.values():
            yield from _descriptions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _descriptions(item)


def _mask_point_9(observed: dict[str, Any]) -> None:
    """Issue 16 point 9: the token and baseline cells in a closure's ``co_freevars``,
    ``__closure__`` and ``inspect.getclosurevars`` (and the ``read`` attribute its checked
    reads call, in ``co_names`` and getclosurevars' ``unbound``, dropped on both sides)."""
    for d in _descriptions(observed):
        extra = [n for n in d["co_freevars"] if _PLUGIN_NAME.match(n)]
        d["co_freevars"] = [n for n in d["co_freevars"] if not _PLUGIN_NAME.match(n)]
        if isinstance(d.get("closure_len"), int):
            d["closure_len"] -= len(extra)
            if extra and not d["closure_len"] and not d["co_freevars"]:
                d["closure_len"] = None  # a function whose only cells are the plugin's has no __closure__
        d["co_names"] = [n for n in d.get("co_names", []) if n != "read"]
        cv = d.get("closurevars")
        if isinstance(cv, dict):
            cv["nonlocals"] = [n for n in cv["nonlocals"] if not _PLUGIN_NAME.match(n)]
            cv["unbound"] = [n for n in cv["unbound"] if n != "read"]


def _mask_enclosing_code(observed: dict[str, Any]) -> None:
    """New (found by this harness): the code of the function that makes a closure has the def
    factory's local ``@latebind_f<i>`` in ``co_varnames`` and calls ``made`` (``co_names``,
    getclosurevars' ``unbound``; on older commits the ``@latebind`` global too), and the
    builtin ``iter`` it calls on a generator expression's first iterable (point 4: in the
    user's frame, as plain Python does; ``co_names`` and getclosurevars' ``builtins``).
    ``made`` and ``iter`` are dropped on both sides."""
    for d in _descriptions(observed):
        d["co_varnames"] = [n for n in d.get("co_varnames", []) if not _PLUGIN_NAME.match(n)]
        d["co_names"] = [n for n in d.get("co_names", []) if n not in ("made", "iter") and not _PLUGIN_NAME.match(n)]
        cv = d.get("closurevars")
        if isinstance(cv, dict):
            cv["unbound"] = [n for n in cv["unbound"] if n != "made"]
            cv["builtins"] = [n for n in cv.get("builtins", []) if n != "iter"]
            cv["globals"] = [n for n in cv.get("globals", []) if not _PLUGIN_NAME.match(n)]


# CO_NESTED; CO_NOFREE (3.10: no free variables, lost to the plugin's cells); CO_METHOD
# (3.14: a function defined directly in a class body).
_FACTORY_FLAGS = 0x10 | 0x40 | 0x8000000


def _mask_code_flags(observed: dict[str, Any]) -> None:
    """New (found by this harness): a def or lambda site is compiled inside its factory, so at
    module level or in a class body its code has CO_NESTED, and a method loses 3.14's
    CO_METHOD; on 3.10, CO_NOFREE goes with the plugin's cells.  These flags are cleared on
    both sides."""
    for d in _descriptions(observed):
        if isinstance(d.get("co_flags"), int):
            d["co_flags"] &= ~_FACTORY_FLAGS


# The differences every instrumented program shows today, masked unless a case is about them.
EVERYWHERE: dict[str, Callable[[dict[str, Any]], None]] = {
    "point 3": _mask_point_3, "point 9": _mask_point_9, "new: enclosing code": _mask_enclosing_code,
    "new: code flags": _mask_code_flags}


def compare(plain: dict[str, Any], instrumented: dict[str, Any], *, unmasked: Iterable[str] = ()) -> list[str]:
    """The differences between two observations, one line each (empty: the same)."""
    plain, instrumented = json.loads(json.dumps(plain)), json.loads(json.dumps(instrumented))
    keep = set(unmasked)
    for point, mask in EVERYWHERE.items():
        if point not in keep:
            mask(plain)
            mask(instrumented)
    found: list[str] = []
    _diff("", plain, instrumented, found)
    return found


def _diff(path: str, a: Any, b: Any, found: list[str]) -> None:
    if len(found) >= 40:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                absent = "<absent>"
                found.append(f"{path}.{key}: plain {a.get(key, absent)!r} != instrumented {b.get(key, absent)!r}")
            else:
                _diff(f"{path}.{key}", a[key], b[key], found)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(f"{path}[{i}]", x, y, found)
    elif a != b:
        if isinstance(a, str) and isinstance(b, str) and "\n" in a + b:
            import difflib
            delta = "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "plain", "instrumented",
                                                   lineterm="", n=1))
            found.append(f"{path}:\n{delta}")
        else:
            found.append(f"{path}: plain {a!r} != instrumented {b!r}")


@dataclass
class Outcome:
    plain: Run
    instrumented: Run
    differences: list[str]

    def report(self) -> str:
        return "\n".join(["plain and instrumented runs differ:", *self.differences])


def differential(program: Program, *, unmasked: Iterable[str] = (), warns: bool = False) -> Outcome:
    """Run ``program`` both ways (in one fresh folder) and compare."""
    with tempfile.TemporaryDirectory(prefix="latebind-diff-") as tmp:
        where = Path(tmp)
        plain = run(program, "plain", where)
        instrumented = run(program, "instrumented", where)
    if not warns:
        assert not instrumented.meta.get("hook_warnings"), instrumented.meta["hook_warnings"]
    return Outcome(plain, instrumented, compare(plain.observed, instrumented.observed, unmasked=unmasked))


def assert_same(program: Program, *, unmasked: Iterable[str] = (), sites: bool = True) -> Outcome:
    """The program observes the same things plain and instrumented; with ``sites``, it has
    closure sites, so the instrumented run really ran instrumented code."""
    outcome = differential(program, unmasked=unmasked)
    if sites:
        counts = outcome.instrumented.meta["sites"]
        assert counts.get(program.main), f"the program has no closure site to instrument: {counts}"
        assert outcome.instrumented.meta.get("made", 1), "no closure was made at a site"
    assert not outcome.differences, outcome.report()
    return outcome
