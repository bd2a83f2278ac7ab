"""Mutation testing of pytest-latebind's core: does the suite notice when the code changes?

    python tools/mutate.py                              the core modules at HEAD
    python tools/mutate.py _judge pytest_latebind/_cells.py --report /tmp/m.md
    python tools/mutate.py --match _findings.py::Finding.message    only matching mutants
    nox -s mutation -- _scopes                          the same, in nox's venv

One AST change per mutant (``tools/mutate_ops.py``), run against every test that executes
its line, subprocess runs included: a coverage run of the whole suite labels each line with
the tests that reach it (``tools/mutate_env.py``).  Everything happens in an export of one
revision, never the working tree; a baseline run of the unmutated snapshot and a sanity
mutant that must be killed guard the measurement.  Every mutant is bounded: each of its tests
by a few times its own unmutated time, all of them by ``--timeout`` (a mutant past either is a
TIMEOUT, counted as killed; see ``_limit`` and ``_test_limits``).  Mutmut and cosmic-ray were not used:
cosmic-ray runs one whole-suite command per mutant (90 s here, hours for the core) in the
working tree, and mutmut's test selection sees only its own process, while most of this
suite's verdicts happen in pytester subprocesses.  ``docs/contributing.md`` says how to read
the report and how to record an equivalent mutant.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mutate_env import PACKAGE, bound_python, check_binding, coverage_map, environment, snapshot
from mutate_ops import Mutant, mutants
from mutate_report import (
    EQUIVALENT,
    KILLED,
    NOT_COVERED,
    SURVIVED,
    TIMEOUT,
    Result,
    Run,
    markdown,
    read_equivalents,
    score,
)

ROOT = Path(__file__).resolve().parent.parent
# The verdict path: finding sites, instrumenting them, recording, judging, and the finding's
# text.  _builder, _messages, _values and _verdict were split out of the first six.
CORE = ["_transformer", "_scopes", "_recorder", "_values", "_judge", "_verdict", "_builder", "_findings",
        "_messages", "_cells"]
EQUIVALENTS = ROOT / "tools" / "mutation-equivalents.txt"
# A cached coverage map of another format is mapped again (2: a shared fixture's lines belong
# to every test that uses it).
MAP_FORMAT = 2


class Worker:
    """One fork server (``tools/mutate_worker.py``) bound to one snapshot."""

    def __init__(self, python: Path, copy: Path, logs: Path) -> None:
        self.copy, self.logs = copy, logs
        self.proc = subprocess.Popen([str(python), str(ROOT / "tools" / "mutate_worker.py")], cwd=copy,
                                     env=environment(copy), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, module: str, text: str | None, tests: list[str], timeout: float, name: str,
            test_limits: dict[str, float] | None = None) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        request = {"file": str(self.copy / module), "text": text, "tests": tests, "timeout": timeout,
                   "test_limits": test_limits or {}, "log": str(self.logs / f"{name}.log")}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise SystemExit(f"the test worker died; see {self.logs / name}.log")
        return dict(json.loads(answer))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def main(argv: list[str]) -> int:
    args = _parse(argv)
    started, t0 = datetime.now(timezone.utc), time.monotonic()
    # Not named after the project: tests look for the plugin's name in output that shows paths.
    work = Path(tempfile.mkdtemp(prefix="mutation-run-"))
    print(f"work directory: {work}", flush=True)
    try:
        return _measure(args, argv, work, started, t0)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tools/mutate.py", description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"default: {' '.join(CORE)}")
    parser.add_argument("--report", default=str(ROOT / "docs" / "mutation.md"), help="Markdown report path")
    parser.add_argument("--json", help="also write every result as JSON here")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (one snapshot each)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="the most seconds a mutant's tests may take together (default 300; the limit is "
                             "three times their unmutated time plus 20 s when that is less, and never less than "
                             "their unmutated time plus half and 60 s, so a slow survivor is not cut); each "
                             "test also stops at three times its own and its file's longest unmutated time "
                             "plus 10 s. A mutant over either limit counts as TIMEOUT, killed")
    parser.add_argument("--rev", default="HEAD", help="the git revision to measure (default: HEAD, read once)")
    parser.add_argument("--match", action="append", default=[],
                        help="only mutants whose key or file:line contains this text (repeatable)")
    parser.add_argument("--map-cache", help="keep the coverage map in this file and reuse it for the same commit, "
                                            "or for a later one that changed only tests/test_*.py files (those are "
                                            "mapped again)")
    parser.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                        help="leave out a test that fails unmutated (another change in flight; repeatable): it "
                             "is never run, and the report's command names it")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (snapshot, logs)")
    return parser.parse_args(argv)


def _module_path(name: str) -> str:
    name = name.removesuffix(".py").replace("\\", "/")
    return name + ".py" if "/" in name else f"{PACKAGE}/{name}.py"


def _measure(args: argparse.Namespace, argv: list[str], work: Path, started: datetime, t0: float) -> int:
    copies = [work / f"copy{i}" for i in range(max(1, args.jobs))]
    commit = snapshot(ROOT, args.rev, copies[0])
    for extra in copies[1:]:
        shutil.copytree(copies[0], extra)
    pythons = [bound_python(copy, work / f"venv{i}") for i, copy in enumerate(copies)]
    for python, copy in zip(pythons, copies, strict=True):
        check_binding(python, copy)
    print(f"measuring {commit}", flush=True)

    modules = [_module_path(m) for m in (args.modules or CORE)]
    found: list[tuple[Mutant, str]] = []
    for module in modules:
        if not (copies[0] / module).is_file():
            raise SystemExit(f"{module} is not in {commit}")
        found += mutants(module, (copies[0] / module).read_text())
    if args.match:
        found = [(m, t) for m, t in found if any(s in m.key or s in m.where for s in args.match)]
    print(f"{len(found)} mutants in {len(modules)} module(s)", flush=True)

    lines, durations = _map(args.map_cache, commit, pythons[0], copies[0], work, args.deselect)
    print(f"coverage run done ({time.monotonic() - t0:.0f}s): {len(durations)} tests", flush=True)
    plan = [(m, t, _tests_for(m, lines, durations)) for m, t in found]

    logs = work / "logs"
    logs.mkdir()
    workers = [Worker(p, c, logs) for p, c in zip(pythons, copies, strict=True)]
    try:
        _guard(workers[0], copies[0], plan, lines, durations)
        results = _run_all(workers, plan, durations, args.timeout, read_equivalents(EQUIVALENTS), copies[0])
    finally:
        for w in workers:
            w.close()
    equivalents = read_equivalents(EQUIVALENTS)
    produced = {m.key for m, _, _ in plan}
    stale = [] if args.match or args.modules else sorted(set(equivalents) - produced)
    command = " ".join(["python tools/mutate.py", *argv, *([] if "--rev" in argv else ["--rev", commit[:12]])])
    run = Run(commit, command, started.strftime("%Y-%m-%d %H:%M UTC"), time.monotonic() - t0, results, stale)
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(markdown(run))
    if args.json:
        Path(args.json).write_text(json.dumps([{**asdict(r.mutant), "key": r.mutant.key, "status": r.status,
                                                "tests": r.tests, "seconds": r.seconds} for r in results], indent=1))
    killed, counted, total = score(results)
    print(f"score {total:.1f}% ({killed}/{counted}) in {run.seconds / 60:.1f} min; report: {args.report}")
    return 0


def _map(cache: str | None, commit: str, python: Path, copy: Path, work: Path, deselect: list[str]) -> tuple[
        dict[str, dict[int, set[str]]], dict[str, float]]:
    """The coverage map of the whole suite, from ``cache`` when it holds this commit's."""
    saved = json.loads(Path(cache).read_text()) if cache and Path(cache).is_file() else {}
    if cache and saved.get("format") == MAP_FORMAT:
        lines = {m: {int(n): set(t) for n, t in by.items()} for m, by in saved["lines"].items()}
        if saved["commit"] == commit:
            print(f"coverage map of {commit[:12]} read from {cache}", flush=True)
            return lines, saved["durations"]
        changed = _changed_test_files(saved["commit"], commit)
        if changed is not None:
            # Only test files changed since the cached map: map just those again (the new
            # tests of a kill, checked with --match), keep every other test's lines.
            print(f"coverage map of {saved['commit'][:12]} read from {cache}; mapping the test files changed "
                  f"since: {' '.join(changed) or 'none'}", flush=True)
            durations = {t: d for t, d in saved["durations"].items() if t.split("::")[0] not in changed}
            for by in lines.values():
                for tests in by.values():
                    tests.difference_update({t for t in tests if t.split("::")[0] in changed})
            present = [f for f in changed if (copy / f).is_file()]
            if present:
                new_lines, new_durations = coverage_map(python, copy, work, present, deselect)
                durations.update(new_durations)
                for module, by in new_lines.items():
                    for n, tests in by.items():
                        lines.setdefault(module, {}).setdefault(n, set()).update(tests)
            _save_map(cache, commit, lines, durations)
            return lines, durations
    lines, durations = coverage_map(python, copy, work, ["tests"], deselect)
    if cache:
        _save_map(cache, commit, lines, durations)
    return lines, durations


def _save_map(cache: str, commit: str, lines: dict[str, dict[int, set[str]]], durations: dict[str, float]) -> None:
    Path(cache).write_text(json.dumps({"format": MAP_FORMAT, "commit": commit, "durations": durations, "lines": {
        m: {n: sorted(t) for n, t in by.items()} for m, by in lines.items()}}))


def _changed_test_files(old: str, new: str) -> list[str] | None:
    """The test modules changed from ``old`` to ``new``, or None when anything else changed
    (the package, conftest.py, a helper: every test's lines may differ, so map them all);
    the runner's files and its report do not count."""
    out = subprocess.run(["git", "-C", str(ROOT), "diff", "--name-only", old, new], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    files = out.stdout.split()
    # The runner's own files and its report are read by no test: a change to them (a fix, an
    # equivalent argued, the scores written) leaves every test's lines as they were.
    files = [f for f in files if not (f.startswith("tools/mutat") or f == "docs/mutation.md")]
    if not all(f.startswith("tests/test_") and f.endswith(".py") for f in files):
        return None
    return files


def _tests_for(m: Mutant, lines: dict[str, dict[int, set[str]]], durations: dict[str, float]) -> list[str]:
    """The tests that run the mutant's lines, fastest first (so ``-x`` stops early).

    Code that runs at import (module and class level, defaults, decorators) is read by every
    test that uses the module, not only by those that import it: those get all of them.
    """
    by_line = lines.get(m.module, {})
    if m.in_function:
        chosen = set().union(*(by_line.get(n, set()) for n in range(m.line, m.end_line + 1)))
    else:
        chosen = set().union(*by_line.values()) if by_line else set()
    return sorted(chosen, key=lambda t: (durations.get(t, 0.0), t))


def _limit(tests: list[str], durations: dict[str, float], cap: float) -> float:
    """Seconds the mutant's whole run may take: three times the unmutated time plus 20 s, at most
    ``cap``, but never so little that the unmutated tests would not fit (a survivor runs them all,
    and a survivor cut short would count as killed)."""
    unmutated = sum(durations.get(t, 1.0) for t in tests)
    return max(min(cap, 3 * unmutated + 20), 1.5 * unmutated + 60)


def _test_limits(tests: list[str], durations: dict[str, float]) -> dict[str, float]:
    """Seconds each test may take under a mutant: three times its unmutated time and the longest
    of its file's, plus 10 s.

    A module-scoped fixture (a corpus run) is paid by whichever of the file's tests runs first,
    and the mutant's order (fastest first) is not the coverage run's: the file's longest test
    bounds what that can add.  The durations come from the coverage run, itself slower than a
    plain one, so an unchanged test stays well inside its limit; a test the mutant sends into a
    loop stops in seconds, not after the whole budget.
    """
    longest: dict[str, float] = {}
    for test, seconds in durations.items():
        file = test.split("::")[0]
        longest[file] = max(longest.get(file, 0.0), seconds)
    return {t: 3 * (durations[t] + longest[t.split("::")[0]]) + 10 for t in tests if t in durations}


def _guard(worker: Worker, copy: Path, plan: list[tuple[Mutant, str, list[str]]],
           lines: dict[str, dict[int, set[str]]], durations: dict[str, float]) -> None:
    """Abort unless the unmutated snapshot passes the selected tests and a broken core fails them."""
    selected = sorted({t for _, _, tests in plan for t in tests}, key=lambda t: (durations.get(t, 0.0), t))
    if selected:
        # No cap: the unmutated run is the measurement itself, so a loaded machine must not make it
        # a timeout (it was killed past 600 s under a load of 8 on 2 cores).
        limit = _limit(selected, durations, float("inf"))
        answer = worker.run(f"{PACKAGE}/_scopes.py", None, selected, limit, "baseline")
        if answer["rc"] != 0:
            if answer.get("timeout"):
                raise SystemExit(f"baseline: the unmutated snapshot's selected tests ran past {limit:.0f}s; "
                                 f"see {worker.logs / 'baseline.log'} (kept with --keep)")
            raise SystemExit(f"baseline: the unmutated snapshot fails its selected tests (exit {answer['rc']}); "
                             f"see {worker.logs / 'baseline.log'}")
        print(f"baseline: {len(selected)} tests pass unmutated ({answer['seconds']:.0f}s)", flush=True)
    # The sanity mutant: no site is ever found.  If the tests still pass, they are not running
    # the snapshot's code (or no test reaches find_sites): either way nothing below would count.
    module = f"{PACKAGE}/_scopes.py"
    source = (copy / module).read_text()
    func = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "find_sites")
    by_line = lines.get(module, {})
    tests = sorted(set().union(*(by_line.get(n, set()) for n in range(func.lineno, (func.end_lineno or 0) + 1))))
    broken = source + "\n\ndef find_sites(*args, **kwargs):\n    return []\n"
    answer = worker.run(module, broken, tests, _limit(tests, durations, 600), "sanity")
    if not tests or answer["rc"] in (0, 4, 5):
        raise SystemExit(f"sanity mutant (find_sites finds nothing) survived {len(tests)} tests; "
                         f"see {worker.logs / 'sanity.log'}")
    print(f"sanity mutant killed by its {len(tests)} tests ({answer['seconds']:.0f}s)", flush=True)


def _run_all(workers: list[Worker], plan: list[tuple[Mutant, str, list[str]]], durations: dict[str, float],
             cap: float, equivalents: dict[str, str], copy: Path) -> list[Result]:
    free = list(workers)
    lock = threading.Lock()
    done = [0]
    sources = {m: (copy / m).read_text().splitlines() for m in {m.module for m, _, _ in plan}}

    def one(item: tuple[Mutant, str, list[str]]) -> Result:
        m, text, tests = item
        source = "\n".join(sources[m.module][m.line - 1:m.end_line])
        if m.key in equivalents:
            result = Result(m, EQUIVALENT, source=source, argument=equivalents[m.key])
        elif not tests:
            result = Result(m, NOT_COVERED, source=source)
        else:
            with lock:
                worker = free.pop()
            try:
                name = f"{m.module.replace('/', '_')}-{m.line}-{m.col}-{m.operator}-{m.occurrence}"
                answer = worker.run(m.module, text, tests, _limit(tests, durations, cap), name,
                                    _test_limits(tests, durations))
            finally:
                with lock:
                    free.append(worker)
            if answer["rc"] in (4, 5):  # usage error, nothing collected: the runner's fault
                raise SystemExit(f"pytest exit {answer['rc']} for {m.where}; see {worker.logs / name}.log")
            status = TIMEOUT if answer["timeout"] else KILLED if answer["rc"] else SURVIVED
            result = Result(m, status, len(tests), answer["seconds"], source)
        with lock:
            done[0] += 1
            print(f"[{done[0]}/{len(plan)}] {result.status:<11} {result.seconds:6.1f}s {m.where} {m.operator}: "
                  f"{m.before[:60]} -> {m.after[:60]}", flush=True)
        return result

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        return list(pool.map(one, plan))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
