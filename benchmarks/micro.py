"""Microbenchmarks of pytest-latebind's instrumentation, with plain timeit (no pytest).

    python3 benchmarks/micro.py            # all of them, about a minute
    python3 benchmarks/micro.py --quick    # fewer loops, for a smoke test

What is compared, each time against the same source compiled plainly:

* calling a closure made at a site (each read of a loop variable is compared with the value
  it was made with): a current call, and a stale one (whose read is recorded); a call that
  reads its loop variable 1,000 times, with int values (held for an inline identity test)
  and with objects (compared through the record);
* creating one (``made()``: a record, the factory call, the snapshot of its values, and
  with a window open the recording itself); a generator expression's prologue runs once
  per element, so that is timed too;
* instrumenting a module at import: parse + find sites + transform + compile, against a
  plain compile, on real files (the standard library's, or the ones given);
* the import hook's ``find_spec`` on a module it does not watch, against the path finder
  that runs anyway;
* creation with 1 to 10,000 closures alive at one site (it must stay flat);
* the end-of-test judge with 10,000 live closures;
* peak memory (``tracemalloc``) of 100,000 closures made and kept, and made and dropped;
* pytest with the package installed but ``--latebind`` not given, against the plugin not
  loaded at all (``-p no:latebind``).

Timings are the best of ``--repeat`` repeats (timeit's advice for a noisy machine); the
ratios are what to read.  Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import sysconfig
import timeit
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_latebind._importhook import ImportHook, WatchPolicy
from pytest_latebind._recorder import RECORDER, Window, bind_sites
from pytest_latebind._scopes import find_sites
from pytest_latebind._transformer import compile_module, instrument_source

SOURCE = '''
def make_lambdas(n):
    out = []
    for i in range(n):
        out.append(lambda x: x + i)
    return out

def make_defs(n):
    out = []
    for i in range(n):
        def f(x):
            return x + i
        out.append(f)
    return out

def make_two_vars(n):
    out = []
    for i, j in zip(range(n), range(n)):
        out.append(lambda x: x + i + j)
    return out

def make_and_drop(n):
    total = 0
    for i in range(n):
        f = lambda x: x + i
        total += f(1)
    return total

def make_own(n):
    out = []
    while len(out) < n:
        out.append(_own(len(out)))
    return out

def _own(v):
    for i in (v,):
        return lambda: i

THOUSAND = range(1000)

def make_readers(values):
    out = []
    for v in values:
        out.append(lambda: [x for x in THOUSAND if x is v])
    return out

class Host:
    pass

def genexp_rows(rows):
    total = 0
    for i in range(len(rows)):
        total += sum(x + i for x in rows[i])
    return total

GLOBAL_LAMBDAS = []
for g in range(3):
    GLOBAL_LAMBDAS.append(lambda x: x + g)
'''

# Standard-library modules, some with sites and some without, for the import-time figure.
STDLIB = ("argparse", "ast", "asyncio/base_events", "collections/__init__", "concurrent/futures/process",
          "dataclasses", "email/_header_value_parser", "enum", "inspect", "json/decoder", "logging/__init__",
          "multiprocessing/managers", "pathlib", "pydoc", "subprocess", "tarfile", "typing", "unittest/mock",
          "urllib/request", "zipfile")


def load(instrumented: bool) -> types.ModuleType:
    name = "latebind_micro_" + ("on" if instrumented else "off")
    filename = f"/latebind-micro/{name}.py"
    module = types.ModuleType(name)
    module.__file__ = filename
    if instrumented:
        tree, sites = instrument_source(SOURCE.encode(), filename)
        assert sites, "the micro source must have sites"
        code = bind_sites(compile_module(tree, filename, sites), filename)
    else:
        code = compile(SOURCE, filename, "exec", dont_inherit=True)
    exec(code, module.__dict__)
    return module


class Bench:
    def __init__(self, repeat: int, scale: float) -> None:
        self.repeat = repeat
        self.scale = scale
        self.rows: list[tuple[str, float, float, str]] = []

    def best(self, func: Callable[[], Any], number: int) -> float:
        number = max(1, int(number * self.scale))
        return min(timeit.repeat(func, number=number, repeat=self.repeat)) / number

    def compare(self, what: str, plain: Callable[[], Any], ours: Callable[[], Any], number: int,
                per: int = 1, unit: str = "") -> None:
        # Interleave the two, so that a burst of load elsewhere hits both alike.
        a = self.best(plain, number) / per
        b = self.best(ours, number) / per
        self.rows.append((what, a, b, unit))
        print(f"{what:<58} {_t(a):>10} {_t(b):>10} {b / a:7.2f}x  {_t(b - a):>10}{unit}", flush=True)


def _t(seconds: float) -> str:
    if abs(seconds) >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if abs(seconds) >= 1e-6:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e9:.0f} ns"


def closures(bench: Bench) -> None:
    plain, ours = load(False), load(True)
    print(f"\n{'closures':<58} {'plain':>10} {'latebind':>10} {'ratio':>8} {'extra':>10}")
    with RECORDER.recording(Window(None)):  # stale reads are recorded only into an open window
        _calls(bench, plain, ours)
    for label, window in (("no window", None), ("window open", Window(None))):
        with RECORDER.recording(window):
            _creation(bench, plain, ours, label)
    with RECORDER.recording(Window(None)):
        p_make, o_make = plain.make_lambdas, ours.make_lambdas
        bench.compare("create a lambda, 1000 kept alive at one site (window open)", lambda: p_make(1000),
                      lambda: o_make(1000), 100, per=1000, unit=" each")
        rows = [list(range(100))] * 10
        bench.compare("genexp in a loop: per element (window open)", lambda: plain.genexp_rows(rows),
                      lambda: ours.genexp_rows(rows), 1_000, per=1000, unit=" each")


def _calls(bench: Bench, plain: types.ModuleType, ours: types.ModuleType) -> None:
    for kind, make in (("lambda", "make_lambdas"), ("def", "make_defs")):
        p, o = getattr(plain, make)(3), getattr(ours, make)(3)
        bench.compare(f"call a {kind} (cell, current value)", lambda: p[-1](1), lambda: o[-1](1), 1_000_000)
        bench.compare(f"call a {kind} (cell, stale read: recorded)", lambda: p[0](1), lambda: o[0](1), 300_000)
    p2, o2 = plain.make_two_vars(3), ours.make_two_vars(3)
    bench.compare("call a lambda reading two loop variables", lambda: p2[-1](1), lambda: o2[-1](1), 1_000_000)
    for label, values in (("int values", [1001, 1002]), ("objects", [plain.Host(), plain.Host()])):
        pr, orr = plain.make_readers(values), ours.make_readers(values)
        bench.compare(f"a call reading its loop variable 1000 times ({label})", lambda: pr[-1](),
                      lambda: orr[-1](), 2_000, per=1000, unit=" a read")
    pg, og = plain.GLOBAL_LAMBDAS, ours.GLOBAL_LAMBDAS
    bench.compare("call a module-level lambda (global, current)", lambda: pg[-1](1), lambda: og[-1](1), 1_000_000)


def _creation(bench: Bench, plain: types.ModuleType, ours: types.ModuleType, label: str) -> None:
    for kind, make in (("lambda", "make_lambdas"), ("def", "make_defs")):
        p_make, o_make = getattr(plain, make), getattr(ours, make)
        bench.compare(f"create a {kind}, kept ({label}; 100 a loop)", lambda: p_make(100), lambda: o_make(100),
                      2_000, per=100, unit=" each")
    bench.compare(f"create, call once, drop a lambda ({label})", lambda: plain.make_and_drop(100),
                  lambda: ours.make_and_drop(100), 2_000, per=100, unit=" each")


def alive_at_one_site(bench: Bench, plain: types.ModuleType, ours: types.ModuleType) -> None:
    """Creation must stay flat in the number of closures alive at one site: each row makes
    that many in one loop (one binding) and keeps them all until the loop ends."""
    print(f"\n{'creation with N alive at one site (window open)':<58} {'plain':>10} {'latebind':>10} "
          f"{'ratio':>8} {'extra':>10}")
    with RECORDER.recording(Window(None)):
        for n in (1, 10, 100, 1_000, 10_000):
            bench.compare(f"create a lambda, {n:,} alive at one site", functools.partial(plain.make_lambdas, n),
                          functools.partial(ours.make_lambdas, n), max(2, 20_000 // n), per=n, unit=" each")


def judge_time(bench: Bench, ours: types.ModuleType) -> None:
    """The end-of-test judge (stale reads, then the shared-binding check with its garbage
    collection and reachability search) with 10,000 closures of one site alive: the buggy
    case, every one sharing its loop variable, so a finding is built each time."""
    from pytest_latebind._judge import judge

    print(f"\n{'the end-of-test judge':<58} {'':>10} {'latebind':>10}")
    for n, sites, make in ((10_000, "one site, a shared binding", ours.make_lambdas),
                           (10_000, "one site, each its own binding", ours.make_own)):
        window = Window("bench")
        with RECORDER.recording(window):
            kept = make(n)
        took = bench.best(functools.partial(judge, window), 5)
        findings = [str(kind) for finding in judge(window) for kind in finding.kinds]
        print(f"{'judge, ' + format(n, ',') + ' live closures (' + sites + ')':<58} {'':>10} {_t(took):>10}"
              f"   findings: {', '.join(findings) or 'none'}", flush=True)
        bench.rows.append((f"judge {n} ({sites})", 0.0, took, ""))
        del kept


def memory(plain: types.ModuleType, ours: types.ModuleType) -> None:
    """Peak memory (tracemalloc) of making 100,000 closures in one loop with a window open:
    kept until the end (a list), and made and dropped (the peak must not grow with the count)."""
    import gc
    import tracemalloc

    print(f"\n{'peak memory (tracemalloc), window open':<58} {'plain':>10} {'latebind':>10} {'ratio':>8}")
    for label, func, n in (("100,000 made and kept", "make_lambdas", 100_000),
                           ("10,000 made and dropped", "make_and_drop", 10_000),
                           ("100,000 made and dropped", "make_and_drop", 100_000)):
        peaks = []
        for module in (plain, ours):
            with RECORDER.recording(Window("bench")):
                gc.collect()
                tracemalloc.start()
                result = getattr(module, func)(n)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                del result
            peaks.append(peak)
        print(f"{label:<58} {_mib(peaks[0]):>10} {_mib(peaks[1]):>10} {peaks[1] / peaks[0]:7.2f}x", flush=True)


def _mib(size: int) -> str:
    return f"{size / 2**20:.2f} MiB" if size >= 2**20 else f"{size / 1024:.1f} KiB"


def installed_but_off(rounds: int) -> None:
    """pytest on a small suite, with the package installed but --latebind not given, against
    the same run with the plugin not loaded at all (-p no:latebind): alternating, medians."""
    import statistics
    import tempfile
    import time

    print(f"\n{'installed but off (pytest, 300 tests, median of ' + str(rounds) + ')':<58} "
          f"{'not loaded':>10} {'installed':>10} {'ratio':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_many.py").write_text(
            "import pytest\n@pytest.mark.parametrize('n', range(300))\n"
            "def test_n(n):\n    assert [lambda: n for _ in range(3)]\n")
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", tmp]
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for installed in (False, True):
                command = base if installed else [*base, "-p", "no:latebind"]
                start = time.perf_counter()
                subprocess.run(command, cwd=tmp, capture_output=True, check=True)
                times[installed].append(time.perf_counter() - start)
        off, on = statistics.median(times[False]), statistics.median(times[True])
        print(f"{'python -m pytest (-p no:latebind / installed, no --latebind)':<58} {_t(off):>10} {_t(on):>10} "
              f"{on / off:7.2f}x   spread {_t(min(times[False]))}-{_t(max(times[False]))} / "
              f"{_t(min(times[True]))}-{_t(max(times[True]))}")


def import_time(bench: Bench, files: list[Path]) -> None:
    print(f"\n{'instrumenting at import (parse + compile)':<58} {'plain':>10} {'latebind':>10} {'ratio':>8} "
          f"{'extra':>10}")
    total_plain = total_ours = 0.0
    sites_total = 0
    for path in files:
        source = path.read_bytes()
        filename = str(path)
        sites = len(find_sites(ast.parse(source), importlib.util.decode_source(source).splitlines()))
        sites_total += sites

        def plain(source: bytes = source, filename: str = filename) -> None:
            compile(source, filename, "exec", dont_inherit=True)

        def ours(source: bytes = source, filename: str = filename) -> None:
            tree, found = instrument_source(source, filename)
            compile_module(tree, filename, found)

        before = len(bench.rows)
        bench.compare(f"{_short(path)} ({sites} sites, {len(source) // 1024} KiB)", plain, ours, 3)
        _, a, b, _ = bench.rows[before]
        total_plain += a
        total_ours += b
    print(f"{'all ' + str(len(files)) + ' files (' + str(sites_total) + ' sites)':<58} {_t(total_plain):>10} "
          f"{_t(total_ours):>10} {total_ours / total_plain:7.2f}x  {_t(total_ours - total_plain):>10}")
    bench.rows.append(("all files", total_plain, total_ours, ""))
    none = [(a, b) for (what, a, b, _) in bench.rows[-len(files) - 1:-1] if "(0 sites," in what]
    if none:
        p, o = sum(a for a, _ in none), sum(b for _, b in none)
        print(f"{'the ' + str(len(none)) + ' files without sites':<58} {_t(p):>10} {_t(o):>10} {o / p:7.2f}x  "
              f"{_t(o - p):>10}")
    steps(bench, files)


def steps(bench: Bench, files: list[Path]) -> None:
    """Where instrumenting spends its time, summed over the files: each step on its own."""
    sources = [(path.read_bytes(), str(path)) for path in files]
    trees = [ast.parse(source, filename) for source, filename in sources]
    lines = [importlib.util.decode_source(source).splitlines() for source, _ in sources]

    def parse() -> None:
        for source, filename in sources:
            ast.parse(source, filename)

    def find() -> None:
        for tree, text in zip(trees, lines, strict=True):
            find_sites(tree, text)

    def compile_tree() -> None:
        for tree, (_, filename) in zip(trees, sources, strict=True):
            compile(tree, filename, "exec", dont_inherit=True)

    def plain() -> None:
        for source, filename in sources:
            compile(source, filename, "exec", dont_inherit=True)

    base = bench.best(plain, 2)
    print(f"  of which, summed over the files (plain compile {_t(base)} = 1.00):")
    for label, func in (("ast.parse", parse), ("find_sites", find), ("compile(tree)", compile_tree)):
        took = bench.best(func, 2)
        print(f"    {label:<20} {_t(took):>10} {took / base:6.2f}")


def find_spec(bench: Bench) -> None:
    print(f"\n{'the import hook':<58} {'plain':>10} {'latebind':>10} {'ratio':>8} {'extra':>10}")
    import json

    hook = ImportHook(WatchPolicy(Path.cwd(), packages=("not_a_module_here",)), None, print)
    path = list(json.__path__)

    def plain() -> None:
        importlib.machinery.PathFinder.find_spec("json.decoder", path)

    def ours() -> None:
        # Ours runs first and returns None; then the path finder runs as it always does.
        hook.find_spec("json.decoder", path)
        importlib.machinery.PathFinder.find_spec("json.decoder", path)

    bench.compare("find a module not watched (path finder; + our finder)", plain, ours, 20_000)


def _short(path: Path) -> str:
    text = str(path)
    stdlib = sysconfig.get_paths()["stdlib"] + os.sep
    return text[len(stdlib):] if text.startswith(stdlib) else text[-50:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pytest-latebind microbenchmarks")
    parser.add_argument("files", nargs="*", type=Path, help="source files for the import-time figure "
                        "(default: twenty standard-library modules)")
    parser.add_argument("--repeat", type=int, default=5, help="timeit repeats; the best is kept (default 5)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the loops: a smoke test")
    args = parser.parse_args(argv)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = args.files or [stdlib / f"{name}.py" for name in STDLIB if (stdlib / f"{name}.py").exists()]
    head = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    print(f"pytest-latebind at {head or 'unknown'}; "
          f"Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bench = Bench(args.repeat, 0.1 if args.quick else 1.0)
    closures(bench)
    plain, ours = load(False), load(True)
    alive_at_one_site(bench, plain, ours)
    judge_time(bench, ours)
    memory(plain, ours)
    import_time(bench, files)
    find_spec(bench)
    installed_but_off(3 if args.quick else 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
