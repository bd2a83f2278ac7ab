"""What it costs to notice a call of an instrumented closure, per Python version, two ways.

    python3 benchmarks/bench_versions.py                          # this interpreter
    python3 benchmarks/bench_versions.py --pythons python3.10 python3.12 python3.13 python3.14

* ``plain``: the closure as the user wrote it, ``lambda x: x + i``.
* ``prologue``: what the plugin does on every version: the instrumented closure calls its
  token (a :class:`Record`) first, which compares the loop variable with its creation value.
* ``monitoring`` (3.12+): the alternative that ``sys.monitoring`` offers.  The closure keeps
  its token as a free variable (a frame does not know its function, so nothing else can tell
  two closures of one site apart) but has no call to it; a ``PY_START`` callback on the
  site's code object finds the token in the starting frame's locals and calls it.
* ``monitoring, off``: the same code with its events switched off, as it would run outside
  any watched test.

Each figure is nanoseconds per call, the best of ``--repeat`` timings of calling 100
closures ``--number`` times; the ratios to ``plain`` are what to read.  Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import timeit
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_latebind._recorder import RECORDER, Window, bind_sites
from pytest_latebind._transformer import TOKEN, compile_module, instrument_source

# The loop variable is rebound to the same object every round: the calls are current, so the
# figures are the cost of noticing a call, not of recording a stale one (the same either way).
SOURCE = """
def build(n):
    fs = []
    for i in [n] * n:
        fs.append(lambda x: x + i)
    return fs
"""
CLOSURES = 100


class _NoPrologue(ast.NodeTransformer):
    """``@token() or body`` becomes ``body if True else @token``: no call, same free variables."""

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        first = node.values[0]
        if isinstance(first, ast.Call) and isinstance(first.func, ast.Name) and first.func.id == TOKEN:
            return ast.copy_location(ast.IfExp(test=ast.Constant(True), body=node.values[1],
                                               orelse=ast.Name(id=TOKEN, ctx=ast.Load())), node)
        return node


def _module(code: types.CodeType, path: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "bench_mod", "__file__": path}
    exec(code, namespace)
    return namespace


def _closures(monitoring: bool) -> list[Any]:
    path = str(Path(__file__).resolve())
    tree, sites = instrument_source(SOURCE.encode(), path)
    if monitoring:
        tree = ast.fix_missing_locations(_NoPrologue().visit(tree))
    return _module(bind_sites(compile_module(tree, path, sites), path), path)["build"](CLOSURES)  # type: ignore[no-any-return]


def _time(fs: list[Any], number: int, repeat: int) -> float:
    def run() -> None:
        for f in fs:
            f(1)

    best = min(timeit.repeat(run, number=number, repeat=repeat))
    return best / (number * len(fs)) * 1e9


def measure(number: int, repeat: int) -> dict[str, Any]:
    with RECORDER.recording(Window("bench")):
        plain = _module(compile(SOURCE, "plain.py", "exec"), "plain.py")["build"](CLOSURES)
        figures: dict[str, Any] = {"python": "{}.{}".format(*sys.version_info[:2])}
        figures["plain"] = _time(plain, number, repeat)
        instrumented = _closures(monitoring=False)
        assert [f(1) for f in instrumented] == [f(1) for f in plain]
        figures["prologue"] = _time(instrumented, number, repeat)
        if sys.version_info >= (3, 12):
            figures.update(_measure_monitoring(number, repeat))
    return figures


def _measure_monitoring(number: int, repeat: int) -> dict[str, float]:
    monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    tool = 3  # ids 0-2 and 5 are the debugger's, coverage's, the profiler's and the optimizer's
    monitoring.use_tool_id(tool, "pytest-latebind benchmark")
    fs = _closures(monitoring=True)
    code = fs[0].__code__
    assert TOKEN in code.co_freevars
    assert not any(isinstance(c, types.CodeType) for c in code.co_consts)
    getframe = sys._getframe

    def on_start(_code: types.CodeType, _offset: int) -> None:
        getframe(1).f_locals[TOKEN]()

    monitoring.register_callback(tool, monitoring.events.PY_START, on_start)
    figures = {}
    try:
        monitoring.set_local_events(tool, code, monitoring.events.PY_START)
        assert [f(1) for f in fs] == [CLOSURES + 1] * CLOSURES
        probe = Window("bench")
        with RECORDER.recording(probe):
            fs[0].__closure__[fs[0].__code__.co_freevars.index("i")].cell_contents = "changed"
            try:
                fs[0]("")
            finally:
                fs[0].__closure__[fs[0].__code__.co_freevars.index("i")].cell_contents = CLOSURES
        assert probe.stale, "the PY_START callback did not reach the record"
        with RECORDER.recording(Window("bench")):
            figures["monitoring"] = _time(fs, number, repeat)
        monitoring.set_local_events(tool, code, 0)
        figures["monitoring, off"] = _time(fs, number, repeat)
    finally:
        monitoring.register_callback(tool, monitoring.events.PY_START, None)
        monitoring.free_tool_id(tool)
    return figures


def table(rows: list[dict[str, Any]]) -> str:
    columns = ["plain", "prologue", "monitoring", "monitoring, off"]
    lines = ["| Python | " + " | ".join(f"{c} (ns/call)" for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        cells = []
        for column in columns:
            if column not in row:
                cells.append("n/a")
            elif column == "plain":
                cells.append(f"{row[column]:.0f}")
            else:
                cells.append(f"{row[column]:.0f} ({row[column] / row['plain']:.1f}x)")
        lines.append(f"| {row['python']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pythons", nargs="*", help="run under these interpreters instead")
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print this interpreter's figures as JSON")
    args = parser.parse_args()
    if args.pythons:
        rows = []
        for python in args.pythons:
            out = subprocess.run([python, __file__, "--json", f"--number={args.number}",
                                  f"--repeat={args.repeat}"], check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout))
    else:
        rows = [measure(args.number, args.repeat)]
        if args.json:
            print(json.dumps(rows[0]))
            return
    print(table(rows))


if __name__ == "__main__":
    main()
