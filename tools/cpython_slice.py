"""Run a slice of CPython's own test suite plain and with its modules instrumented (issue 16).

Each test module of the ``test`` package named on the command line runs twice, each time in a
fresh interpreter: plain, and with the plugin's import hook watching the test module and
the stdlib module it tests (``test_inspect``: ``inspect``, imported again through the hook),
inside a recorder window, as a watched test runs.  The run is unittest's, so no pytest is
involved.  What is compared is which tests pass: a test that fails, errors or is skipped only
when instrumented is a difference.

    python tools/cpython_slice.py                 # the default slice, on this interpreter
    python tools/cpython_slice.py test_scope test_grammar --output slice.md

The interpreter needs its ``test`` package (some distributions ship it apart) and the plugin
importable (run it from the checkout, or with PYTHONPATH pointing at it).  The exit status is
1 when there is a difference, 2 when a module cannot run at all.  This is a slow check, run by
hand (docs/contributing.md); docs/cpython-slice.md has the last results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Modules heavy on what the transformer touches: scopes and closures, function attributes,
# the grammar, classes built by decorators, introspection, generators and comprehensions.
DEFAULT = (
    "test_scope", "test_funcattrs", "test_grammar", "test_dataclasses", "test_inspect",
    "test_genexps", "test_listcomps", "test_named_expressions", "test_decorators",
    "test_keywordonlyarg", "test_positional_only_arg", "test_generators", "test_coroutines",
    "test_contextlib", "test_functools", "test_pydoc", "test_urllib2",
)
# The stdlib module a test module tests, where its name does not say (test_inspect: inspect).
SUBJECTS = {"test_urllib2": "urllib.request"}


def _child(name: str, instrumented: bool, out: str) -> None:
    """Run ``test.<name>`` with unittest and write what happened to ``out`` (JSON)."""
    import contextlib
    import io
    import unittest

    sites = 0
    window: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if instrumented:
        from pytest_latebind._importhook import ImportHook, WatchPolicy, install
        from pytest_latebind._recorder import RECORDER, Window

        warnings: list[str] = []
        import importlib
        import importlib.util

        # The test module and the stdlib module it is named after (test_inspect: inspect), if
        # that is Python source.  Most of those were imported before the hook (by unittest, by
        # the plugin): they are imported again, instrumented, before the tests are loaded, so
        # the tests see the instrumented one (code imported earlier keeps the first copy).
        subject = SUBJECTS.get(name) or name.removeprefix("test_")
        spec = importlib.util.find_spec(subject)
        watched: tuple[str, ...] = (f"test.{name}",)
        if spec is not None and (spec.origin or "").endswith(".py"):
            watched += (subject,)
        policy = WatchPolicy(Path.cwd(), packages=watched, test_modules=False)
        install(ImportHook(policy, None, warnings.append))
        if len(watched) > 1:
            for loaded in [m for m in sys.modules if m == subject or m.startswith(subject + ".")]:
                del sys.modules[loaded]
            importlib.import_module(subject)
        window = RECORDER.recording(Window(f"cpython::{name}"))
    stream = io.StringIO()
    with window:
        import importlib

        # Imported first, so that a module that cannot be imported (not in this Python's test
        # package) stops the run, instead of unittest counting one error both ways.
        importlib.import_module(f"test.{name}")
        suite = unittest.defaultTestLoader.loadTestsFromName(f"test.{name}")
        result = unittest.TextTestRunner(stream=stream, verbosity=0).run(suite)
    module = sys.modules.get(f"test.{name}")
    if instrumented:
        from pytest_latebind._scopes import find_sites

        # The sites of every module the hook loaded.
        for mod in list(sys.modules.values()):
            loader = getattr(getattr(mod, "__spec__", None), "loader", None)
            file = getattr(mod, "__file__", None)
            if file and type(loader).__name__ == "InstrumentingLoader":
                import ast
                source = Path(file).read_text(encoding="utf-8")
                sites += len(find_sites(ast.parse(source), source.splitlines()))
    failing = {test.id(): "failure" for test, _ in result.failures}
    failing.update({test.id(): "error" for test, _ in result.errors})
    failing.update({test.id(): "unexpected success" for test in result.unexpectedSuccesses})
    skipped = sorted(test.id() for test, _ in result.skipped)
    texts = {test.id(): text[-2000:] for test, text in [*result.failures, *result.errors]}
    loader_name = type(getattr(getattr(module, "__spec__", None), "loader", None)).__name__
    Path(out).write_text(json.dumps({"run": result.testsRun, "failing": failing, "skipped": skipped,
                                     "texts": texts, "sites": sites, "loader": loader_name}))


def _run(name: str, instrumented: bool, timeout: float) -> dict[str, Any]:
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"cpython-slice-{os.getpid()}-{name}-{int(instrumented)}.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", name, out.as_posix(), str(int(instrumented))],
                              capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"crashed": f"timed out after {timeout:.0f} s"}
    seconds = time.monotonic() - started
    if proc.returncode != 0 or not out.exists():
        return {"crashed": f"exit status {proc.returncode}: {proc.stderr[-1500:]}"}
    seen: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    seen["seconds"] = seconds
    return seen


def _cell(seen: dict[str, Any]) -> str:
    """A run that crashed, in one table cell: the last line of what it said."""
    if "crashed" not in seen:
        return "ran"
    text: str = seen["crashed"]
    last = [line for line in text.splitlines() if line.strip()][-1:] or ["crashed"]
    return "did not run: " + last[0].strip().replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=list(DEFAULT), help="test modules (default: the slice)")
    parser.add_argument("--output", help="also write the Markdown results here")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for one module's run")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, out, instrumented = args.child
        _child(name, instrumented == "1", out)
        return 0
    version = ".".join(map(str, sys.version_info[:3]))
    lines = [f"CPython {version} on {sys.platform}; `python tools/cpython_slice.py {' '.join(args.modules)}`", "",
             "| module | tests | sites | failing plain | failing instrumented | only instrumented |",
             "|---|---:|---:|---:|---:|---|"]
    details: list[str] = []
    status = 0
    for name in args.modules:
        plain = _run(name, False, args.timeout)
        inst = _run(name, True, args.timeout)
        if "crashed" in plain or "crashed" in inst:
            lines.append(f"| {name} | - | - | {_cell(plain)} | {_cell(inst)} | cannot compare |")
            for mode, seen in (("plain", plain), ("instrumented", inst)):
                if "crashed" in seen:
                    details.append(f"### {name} ({mode})\n\n```\n{seen['crashed'].strip()}\n```\n")
            status = max(status, 2)
            print(lines[-1], flush=True)
            continue
        only = sorted(set(inst["failing"]) - set(plain["failing"]))
        only += sorted(f"{t} (skipped)" for t in set(inst["skipped"]) - set(plain["skipped"]))
        lines.append(f"| {name} | {plain['run']} | {inst['sites']} | {len(plain['failing'])} | {len(inst['failing'])} "
                     f"| {', '.join(only) or 'none'} |")
        for test in only:
            text = inst["texts"].get(test, "")
            details.append(f"### {test}\n\n```\n{text.strip()}\n```\n")
        if only:
            status = max(status, 1)
        print(lines[-1], flush=True)
    report = "\n".join(lines) + ("\n\n" + "\n".join(details) if details else "") + "\n"
    print(report)
    if args.output:
        Path(args.output).write_text(report)
    return status


if __name__ == "__main__":
    sys.exit(main())
