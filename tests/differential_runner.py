"""Run one program of the differential harness, plain or instrumented, in this fresh process,
and write down everything it observed (see ``tests/differential_harness.py``).

    python tests/differential_runner.py SPEC.json

The spec names the program's folder, its modules, the one to import, the mode and where to
write the observations.  Instrumented, the program's modules are loaded by the plugin's own
import hook (``ImportHook`` watching exactly those modules, as ``latebind_modules`` does) and
the program runs inside a recorder window, as a watched test does; plain, by the standard
path finder.  Everything else is the same in both modes, this file included: the process
imports the plugin's recorder either way.

The program sees a module ``difftools`` (put in ``sys.modules`` here, never instrumented)
for observations of its own: ``note(*values)``, ``exception(exc)``, ``describe(obj)``,
``headroom()``, ``drive(coroutine)``.  Printed output is the process's stdout, which the
harness reads, including what finalizers print at interpreter exit.

This file needs only the standard library, the plugin's core (no pytest) and, when the spec
asks for coverage and it is installed, coverage.py: it runs on any supported interpreter.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import inspect
import json
import os
import re
import sys
import traceback
import types
from pathlib import Path
from typing import Any

MISSING = "<missing>"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


class Normalizer:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def text(self, value: str) -> str:
        return _ADDRESS.sub("0x?", value.replace(self.directory, "<dir>"))

    def repr(self, value: Any) -> str:
        try:
            return self.text(repr(value))
        except Exception as exc:  # a repr that raises is an observation too
            return f"<repr raised {type(exc).__name__}>"


def _frames(norm: Normalizer, tb: types.TracebackType | None) -> list[list[Any]]:
    rows = []
    for frame in traceback.extract_tb(tb):
        row: list[Any] = [norm.text(frame.filename), frame.lineno, frame.name, frame.line]
        if sys.version_info >= (3, 11):
            row += [frame.end_lineno, frame.colno, frame.end_colno]
        rows.append(row)
    return rows


def exception(norm: Normalizer, exc: BaseException) -> dict[str, Any]:
    """An exception as a program sees it: its type, text, notes, frames, the printed
    traceback, and the exceptions it was raised from or during (a few)."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < 4:
        seen.add(id(current))
        chain.append({
            "type": f"{type(current).__module__}.{type(current).__qualname__}",
            "str": norm.text(str(current)),
            "notes": [norm.text(str(n)) for n in getattr(current, "__notes__", ())],
            "frames": _frames(norm, current.__traceback__),
        })
        current = current.__cause__ or current.__context__
    formatted = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"chain": chain, "formatted": norm.text(formatted)}


def describe(norm: Normalizer, obj: Any) -> dict[str, Any]:
    """What a program can read of a function or a class without calling it."""
    d: dict[str, Any] = {"type": type(obj).__name__}
    for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
        value = getattr(obj, attr, MISSING)
        d[attr] = value if isinstance(value, str) or value is None else norm.repr(value)
    try:
        d["signature"] = norm.text(str(inspect.signature(obj)))
    except Exception as exc:
        d["signature"] = f"<{type(exc).__name__}: {norm.text(str(exc))}>"
    if inspect.isclass(obj):
        d["dict"] = [k for k in vars(obj) if k not in ("__dict__", "__weakref__")]
        for attr in ("__static_attributes__", "__firstlineno__"):  # 3.13+
            d[attr] = norm.repr(vars(obj).get(attr, MISSING))
        d["mro"] = [c.__qualname__ for c in obj.__mro__]
        d["members"] = {k: describe(norm, v) for k, v in vars(obj).items()
                        if inspect.isfunction(v) or isinstance(v, (staticmethod, classmethod, property))}
        return d
    func = inspect.unwrap(obj) if callable(obj) else obj
    if isinstance(func, (staticmethod, classmethod)):
        func = func.__func__
    if isinstance(func, property):
        func = func.fget
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        for attr in ("co_name", "co_qualname", "co_varnames", "co_argcount", "co_posonlyargcount",
                     "co_kwonlyargcount", "co_firstlineno", "co_flags", "co_freevars", "co_cellvars",
                     "co_names"):
            value = getattr(code, attr, MISSING)
            d[attr] = list(value) if isinstance(value, tuple) else value
        closure = getattr(func, "__closure__", None)
        d["closure_len"] = None if closure is None else len(closure)
        try:
            cv = inspect.getclosurevars(func)
            d["closurevars"] = {"nonlocals": sorted(cv.nonlocals), "globals": sorted(cv.globals),
                                "builtins": sorted(cv.builtins), "unbound": sorted(cv.unbound)}
        except Exception as exc:
            d["closurevars"] = f"<{type(exc).__name__}>"
        d["defaults"] = norm.repr(getattr(func, "__defaults__", None))
        d["kwdefaults"] = norm.repr(getattr(func, "__kwdefaults__", None))
        try:
            d["annotations"] = norm.repr(func.__annotations__)
        except Exception as exc:
            d["annotations"] = f"<{type(exc).__name__}: {norm.text(str(exc))}>"
        d["func_dict"] = sorted(getattr(func, "__dict__", {}))
        d["wrapped"] = obj is not func
    return d


def headroom() -> int:
    """How many more frames a program can push from its caller's frame."""
    def down(n: int) -> int:
        try:
            return down(n + 1)
        except RecursionError:
            return n
    return down(0)


def drive(coroutine: Any) -> Any:
    """Run a coroutine that awaits nothing that suspends (no event loop needed)."""
    try:
        while True:
            coroutine.send(None)
    except StopIteration as stop:
        return stop.value


def _difftools(norm: Normalizer, notes: list[Any]) -> types.ModuleType:
    module = types.ModuleType("difftools")
    def data(value: Any) -> Any:  # plain data stays data (a description, an exception); the rest its repr
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return norm.text(value)
        if type(value) in (list, tuple):
            return [data(v) for v in value]
        if type(value) is dict and all(isinstance(k, str) for k in value):
            return {k: data(v) for k, v in value.items()}
        return norm.repr(value)
    module.note = lambda *values: notes.append([data(v) for v in values])  # type: ignore[attr-defined]
    module.exception = lambda exc: exception(norm, exc)  # type: ignore[attr-defined]
    module.describe = lambda obj: describe(norm, obj)  # type: ignore[attr-defined]
    module.headroom = headroom  # type: ignore[attr-defined]
    module.drive = drive  # type: ignore[attr-defined]
    return module


def _namespaces(norm: Normalizer, names: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            found[name] = None
            continue
        found[name] = {
            "dir": dir(module),
            "vars": list(vars(module)),
            "types": {k: type(v).__name__ for k, v in vars(module).items() if not k.startswith("__")},
            "described": {k: describe(norm, v) for k, v in vars(module).items()
                          if (inspect.isfunction(v) or inspect.isclass(v))
                          and getattr(v, "__module__", None) == name},
        }
    return found


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    directory, mode = spec["dir"], spec["mode"]
    norm = Normalizer(directory)
    notes: list[Any] = []
    sys.modules["difftools"] = _difftools(norm, notes)
    sys.path.insert(0, directory)
    meta: dict[str, Any] = {"version": list(sys.version_info[:2])}

    from pytest_latebind._recorder import RECORDER, Window

    window: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    hook_warnings: list[str] = []
    if mode == "instrumented":
        from pytest_latebind._importhook import ImportHook, WatchPolicy, install
        from pytest_latebind._transformer import instrument_source

        policy = WatchPolicy(Path(directory), packages=tuple(spec["modules"]), test_modules=False)
        install(ImportHook(policy, None, hook_warnings.append))
        opened = Window("tests/test_differential.py::program")
        window = RECORDER.recording(opened)
        files = {name: Path(directory) / path for name, path in spec["paths"].items()}
        meta["sites"] = {}
        for name, path in files.items():
            try:
                meta["sites"][name] = len(instrument_source(path.read_bytes(), str(path))[1])
            except SyntaxError:
                meta["sites"][name] = None

    cov = None
    if spec.get("coverage"):
        try:
            import coverage
        except ImportError as exc:
            meta["coverage"] = f"not installed: {exc}"
        else:
            cov = coverage.Coverage(data_file=None, include=[os.path.join(directory, "*")], config_file=False)
            cov.start()

    observed: dict[str, Any] = {"import": None, "result": None}
    with window:
        try:
            module = importlib.import_module(spec["main"])
        except BaseException as exc:
            observed["import"] = exception(norm, exc)
            module = None
        entry = getattr(module, "main", None) if module is not None else None
        if callable(entry):
            try:
                observed["result"] = {"value": norm.repr(entry())}
            except BaseException as exc:
                observed["result"] = {"raised": exception(norm, exc)}
        gc.collect()
        if cov is not None:
            cov.stop()
        observed["notes"] = notes
        observed["namespaces"] = _namespaces(norm, spec["modules"])
    if cov is not None:
        data = cov.get_data()
        observed["coverage"] = {norm.text(f): sorted(data.lines(f) or ()) for f in sorted(data.measured_files())}
    meta["hook_warnings"] = hook_warnings
    if mode == "instrumented":
        # Closures made at sites and stale reads seen, in the window (not compared).
        meta["made"] = sum(getattr(opened, "made_count", {}).values())
        meta["stale_reads"] = len(getattr(opened, "stale", {}))
    meta["loaded_by"] = {name: type(getattr(getattr(sys.modules.get(name), "__spec__", None), "loader", None)).__name__
                         for name in spec["modules"]}
    Path(spec["out"]).write_text(json.dumps({"observed": observed, "meta": meta}, indent=1, default=norm.repr))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
