"""Time real third-party test suites that stress pytest-latebind, beside pytest-cov.

    python3 benchmarks/thirdparty.py                        # networkx, attrs, cattrs, sympy; 3 rounds
    python3 benchmarks/thirdparty.py attrs sympy --rounds 5 # some of them, more rounds
    python3 benchmarks/thirdparty.py networkx --subset      # networkx.algorithms only (see PACKAGES)
    python3 benchmarks/thirdparty.py --tables               # the tables again, from the saved results

For each suite: a virtualenv ``/tmp/latebind-bench/<dist>-venv`` with pinned pytest, pluggy,
hypothesis, coverage and pytest-cov, the package installed from its sdist (not editable, so
it lives in site-packages) with its pinned test dependencies, and pytest-latebind installed
(not editable) from ``git archive`` of ``--plugin-rev`` (default HEAD), so that edits to the
working tree during a run cannot mix versions.  The tests run from the unpacked sdist under
``benchmarks/.work/`` with the sdist's copy of the package removed (checked before anything
runs), so they import the installed copy that ``--latebind-modules`` names.  Then:

1. one counting run, not timed: the plugin on, in warn mode with a JSON report, with
   ``latebind_count.py`` (beside this file) loaded by ``-p``: closure sites loaded, closures
   made and their calls, library and tests apart, and every finding.  It also fills our
   bytecode cache; a plain warm-up run then fills pytest's;
2. ``--rounds`` rounds of the columns, each round in a rotated order (round 2 starts with
   the second column...), so that no column always runs first or after the same one:

   - ``off``: ``-p no:latebind``, as if pytest-latebind were not installed (the baseline);
   - ``installed``: pytest-latebind installed, not enabled (no option);
   - ``latebind``: ``--latebind --latebind-modules=<package>``: the library watched (and the
     test modules, the default);
   - ``cov``: ``-p no:latebind --cov=<package>``: pytest-cov on the same library.

   Every run's outcome counts must equal the first ``off`` run's; a run whose counts differ
   has its FAILED/ERROR lines compared with that run's, and the test ids that differ are
   reported (with ``--latebind`` that is a plugin bug).
3. the tables (markdown): medians of wall and CPU time per column, their ratios to
   ``off``, the spread (min-max) and every single run; the counting run's figures.

Figures go to ``benchmarks/.work/results-<dist>.json`` and every run's output to
``benchmarks/.work/logs/``.  The machine may be shared: the load average is recorded with
each run.  Nothing asserts a time; the exit status is 1 only if some run's counts differed or
the plugin warned.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"

# The same in every virtualenv (what the figures in docs/benchmarks.md were measured with).
COMMON = ("pytest==9.2.0", "pluggy==1.7.0", "hypothesis==6.170.27", "coverage==7.18.0", "pytest-cov==7.1.0")


@dataclass(frozen=True)
class Package:
    dist: str  # the name on PyPI
    version: str  # pinned
    modules: tuple[str, ...]  # what --latebind-modules and --cov name
    source_dirs: tuple[str, ...]  # the sdist's copy of the package, removed after install
    tests: tuple[str, ...] = ("tests",)  # what pytest is given
    subset: tuple[str, ...] = ()  # --subset: a shorter run, for more rounds
    # The sdist's own file for pytest's -c: without it pytest would walk up from
    # benchmarks/.work/ into this repository's pyproject.toml and conftest.py.
    config: str = "pyproject.toml"
    test_deps: tuple[str, ...] = ()
    args: tuple[str, ...] = ()  # in every run of the suite
    env: dict[str, str] = field(default_factory=dict)
    why: str = ""


PACKAGES = {
    # Pure Python: none of its optional dependencies (numpy, scipy, pandas, matplotlib,
    # pygraphviz, pydot, lxml) is installed, so the tests that need them skip.  Its tests live
    # inside the package, so pytest collects them from site-packages with --pyargs.
    "networkx": Package("networkx", "3.6.1", ("networkx",), ("networkx",), tests=("--pyargs", "networkx"),
                        subset=("--pyargs", "networkx.algorithms"),
                        why="generator expressions and lambdas in graph loops (about 5,800 tests)"),
    # Classes made by attr.s / define, with their generated methods, in loops.  The same
    # Hypothesis examples in every run (--hypothesis-seed).
    "attrs": Package("attrs", "26.1.0", ("attr", "attrs"), ("src",),
                     test_deps=("cloudpickle==3.1.3", "pympler==1.1"), args=("--hypothesis-seed=0",),
                     why="class factories (attr.s, define, make_class) called in loops"),
    # Converters and their generated structure/unstructure hooks made in loops.  The test
    # dependencies are cattrs 26.2.1's uv.lock versions (tomlkit 0.15 fails test_tomlkit).
    # FAST=1 is cattrs's own profile for a quick run (max_examples=10, its conftest.py): the
    # default profile takes over ten minutes here.
    "cattrs": Package("cattrs", "26.2.1", ("cattrs",), ("src",),
                      test_deps=("immutables==0.21", "msgpack==1.2.1", "pyyaml==6.0.2", "tomlkit==0.13.3",
                                 "cbor2==5.9.0", "pymongo==4.13.2", "ujson==5.12.1", "orjson==3.11.3",
                                 "msgspec==0.21.1", "tomli-w==1.2.0", "pytest-benchmark==5.1.0"),
                      args=("--hypothesis-seed=0",), env={"FAST": "1"},
                      why="converter factories and generated hooks made per type, in loops"),
    # The fourth suite: sympy has the most closure sites of the pure-Python libraries we
    # counted (206, against networkx's 115 and attrs' 1), and its permutation-group algorithms
    # run them in their inner loops (lambdas and generator expressions over the group's
    # generators and orbits, called once per element).  The whole suite takes hours; its
    # combinatorics tests run in about a minute.  Its tests live inside the package, as
    # networkx's; its pyproject.toml deselects the slow ones (-m 'not slow and not tooslow').
    "sympy": Package("sympy", "1.14.0", ("sympy",), ("sympy",), tests=("--pyargs", "sympy.combinatorics"),
                     test_deps=("mpmath==1.3.0",),
                     why="lambdas and generator expressions in permutation-group loops"),
    # The earlier suites, which barely stress it (kept for comparison).
    "more-itertools": Package("more-itertools", "11.2.1", ("more_itertools",), ("more_itertools",)),
    "sqlglot": Package("sqlglot", "30.30.0", ("sqlglot",), ("sqlglot",),
                       test_deps=("duckdb==2.0.1", "pandas==3.1.1", "python-dateutil==2.9.0.post0",
                                  "pytz==2025.2")),
}
DEFAULT = ("networkx", "attrs", "cattrs", "sympy")
COLUMNS = ("off", "installed", "latebind", "cov")

_COUNT = re.compile(r"(\d+) ([a-z][a-z ]*?)(?=, | in )")
_SUMMARY = re.compile(r"^=*\s*(\d+ [a-z].* in [\d.]+s.*?)\s*=*$", re.M)
_PROBLEM_LINE = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)


def log(message: str) -> None:
    print(message, flush=True)


def sh(*args: str | Path, cwd: Path | None = None) -> None:
    log("+ " + " ".join(map(str, args)))
    subprocess.run([str(a) for a in args], cwd=cwd, check=True)


def child_env(python: Path, pkg: Package) -> dict[str, str]:
    """As if the virtualenv were activated, less what would change the suite or keep caches off."""
    env = dict(os.environ)
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    # Both pytest's and our bytecode caches are off under PYTHONDONTWRITEBYTECODE (set on
    # this workplace's machines); a user's machine writes them, and so do we.
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH", "COVERAGE_PROCESS_START"):
        env.pop(name, None)
    env.update(pkg.env)
    return env


# -- setting up ---------------------------------------------------------------------------
def plugin_snapshot(rev: str, venv_root: Path) -> tuple[str, Path]:
    """``git archive`` of ``rev`` unpacked under ``venv_root``: its full hash and the folder."""
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", rev], capture_output=True, text=True,
                         check=True).stdout.strip()
    folder = venv_root / f"plugin-{sha[:10]}"
    if not (folder / "pyproject.toml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return sha, folder


def prepare(pkg: Package, venv_root: Path, plugin: tuple[str, Path], fresh: bool) -> tuple[Path, Path]:
    """The virtualenv's python and the unpacked sdist, ready to run the suite."""
    venv = venv_root / f"{pkg.dist}-venv"
    python = venv / "bin" / "python"
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if not python.exists():
        sh(sys.executable, "-m", "venv", venv)
        sh(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    downloads = WORK / "dl"
    names = (f"{pkg.dist.replace('-', '_')}-{pkg.version}.tar.gz", f"{pkg.dist}-{pkg.version}.tar.gz")
    found = [p for name in names for p in glob.glob(str(downloads / name))]
    if not found:
        downloads.mkdir(parents=True, exist_ok=True)
        sh(python, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
           f"{pkg.dist}=={pkg.version}", "-d", downloads)
        found = [p for name in names for p in glob.glob(str(downloads / name))]
    sdist = found[0]
    marker = venv / "installed.txt"
    wanted = "\n".join([*COMMON, f"{pkg.dist}=={pkg.version}", *pkg.test_deps])
    if not marker.exists() or marker.read_text() != wanted:
        sh(python, "-m", "pip", "install", "-q", *COMMON, *pkg.test_deps)
        sh(python, "-m", "pip", "install", "-q", "--no-deps", "--no-binary", pkg.dist, sdist)
        marker.write_text(wanted)
    sha, folder = plugin
    plugin_marker = venv / "latebind-rev.txt"
    if not plugin_marker.exists() or plugin_marker.read_text() != sha:
        sh(python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", folder)
        plugin_marker.write_text(sha)
    tree = WORK / f"{pkg.dist}-{pkg.version}"
    if fresh or not tree.exists():
        shutil.rmtree(tree, ignore_errors=True)
        with tarfile.open(sdist) as tar:
            top = tar.getnames()[0].split("/")[0]
            if hasattr(tarfile, "data_filter"):  # 3.11.4+: refuse links and paths out of WORK
                tar.extractall(WORK, filter="data")
            else:
                tar.extractall(WORK)
        if (WORK / top) != tree:
            shutil.rmtree(tree, ignore_errors=True)
            (WORK / top).rename(tree)
    for name in pkg.source_dirs:
        shutil.rmtree(tree / name, ignore_errors=True)
    check_installed_copy(python, tree, pkg)
    return python, tree


def check_installed_copy(python: Path, tree: Path, pkg: Package) -> None:
    """The tests must import the copy in site-packages, the one --latebind-modules watches."""
    for module in pkg.modules:
        # The sdist's directory first on sys.path, as pytest's rootdir insertion would put it.
        code = f"import sys; sys.path.insert(0, {str(tree)!r}); import {module}; print({module}.__file__)"
        where = subprocess.run([str(python), "-c", code], cwd=tree, capture_output=True, text=True, check=True)
        path = where.stdout.strip()
        if "site-packages" not in path:
            sys.exit(f"{module} is imported from {path}, not from site-packages: remove the sdist's copy")
        log(f"{module} is imported from {path}")


def versions(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                         check=True).stdout
    return {p["name"]: p["version"] for p in json.loads(out)}


# -- running ------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    column: str
    wall: float
    cpu: float  # user + system time of the pytest process and its children
    counts: dict[str, int]
    summary: str
    problems: list[str]  # its FAILED / ERROR test ids
    warnings: list[str]
    load: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__


def column_args(pkg: Package, column: str) -> list[str]:
    modules = ",".join(pkg.modules)
    return {
        "off": ["-p", "no:latebind"],
        "installed": [],
        "latebind": ["--latebind", f"--latebind-modules={modules}"],
        "cov": ["-p", "no:latebind", *[f"--cov={m}" for m in pkg.modules]],
    }[column]


def command(python: Path, pkg: Package, subset: bool, *extra: str) -> list[str]:
    # No -q: some suites' addopts already have it, and -qq drops the summary line.
    return [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-c", pkg.config, "--rootdir", ".",
            *(pkg.subset if subset else pkg.tests), *pkg.args, *extra]


def run_suite(python: Path, tree: Path, pkg: Package, label: str, column: str, subset: bool,
              *extra: str, env: dict[str, str] | None = None) -> Run:
    cmd = command(python, pkg, subset, *column_args(pkg, column), *extra)
    load = loadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=env or child_env(python, pkg), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = done.stdout + done.stderr
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{pkg.dist}-{label}.txt").write_text(" ".join(cmd) + "\n\n" + output)
    summaries = _SUMMARY.findall(output)
    summary = summaries[-1] if summaries else f"(no summary line; exit status {done.returncode})"
    counts = {kind: int(n) for n, kind in _COUNT.findall(summary)}
    problems = sorted({f"{kind} {test}" for kind, test in _PROBLEM_LINE.findall(output)})
    warnings = [line.strip() for line in output.splitlines()
                if "LatebindPluginWarning" in line or "pytest-latebind:" in line]
    log(f"  {label:<18} {wall:7.2f}s wall {cpu:7.2f}s cpu  load {load}  {summary}")
    return Run(label, column, wall, cpu, counts, summary, problems, warnings, load)


def outcome(counts: dict[str, int]) -> dict[str, int]:
    """The counts that say what the tests did (pytest-cov and our warnings aside)."""
    return {k: v for k, v in counts.items() if not k.startswith("warning")}


def plugin_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((folder / "pytest_latebind").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- one package --------------------------------------------------------------------------
def bench(pkg: Package, args: argparse.Namespace, plugin: tuple[str, Path]) -> dict[str, Any]:
    log(f"\n=== {pkg.dist} {pkg.version}{' (subset)' if args.subset else ''}, pytest-latebind {plugin[0][:10]}")
    python, tree = prepare(pkg, args.venv_root, plugin, args.fresh)
    subset = args.subset and bool(pkg.subset)
    log(f"suite: cd {tree} && {' '.join(command(python, pkg, subset, *column_args(pkg, 'latebind')))}")
    result: dict[str, Any] = {
        "package": f"{pkg.dist}=={pkg.version}", "subset": subset, "why": pkg.why,
        "plugin_rev": plugin[0], "plugin_digest": plugin_digest(plugin[1]),
        "command": " ".join(command(python, pkg, subset, *column_args(pkg, "latebind"))),
        "python": subprocess.run([str(python), "-VV"], capture_output=True, text=True).stdout.strip(),
        "versions": versions(python), "env": pkg.env, "problems": [],
    }
    if not args.no_count:
        result["counting"] = counting_run(python, tree, pkg, subset)
        if not args.no_warmup:
            run_suite(python, tree, pkg, "warmup-off", "off", subset)
    runs: list[Run] = []
    for r in range(args.rounds):
        order = COLUMNS[r % len(COLUMNS):] + COLUMNS[:r % len(COLUMNS)]
        log(f"round {r + 1}: {', '.join(order)}")
        for column in order:
            runs.append(run_suite(python, tree, pkg, f"{column}-{r + 1}", column, subset))
            # Saved as it goes: a run cut short still leaves its rounds for --tables.
            partial = {**result, "runs": [run.to_json() for run in runs], "problems": compare(runs)}
            save(pkg, partial)
    result["runs"] = [run.to_json() for run in runs]
    result["problems"] = compare(runs) if runs else []
    for problem in result["problems"]:
        log(f"PROBLEM: {problem}")
    return result


def save(pkg: Package, result: dict[str, Any]) -> None:
    """Write the results; a run without a counting run keeps the saved one's figures."""
    path = WORK / f"results-{pkg.dist}.json"
    if "counting" not in result and path.exists():
        counted = json.loads(path.read_text()).get("counting")
        if counted:
            result = {**result, "counting": counted}
    path.write_text(json.dumps(result, indent=2, default=str))


def counting_run(python: Path, tree: Path, pkg: Package, subset: bool) -> dict[str, Any]:
    out = WORK / f"{pkg.dist}-counts.json"
    report = WORK / f"{pkg.dist}-findings.json"
    for stale in (out, report):
        stale.unlink(missing_ok=True)
    env = child_env(python, pkg)
    env["PYTHONPATH"] = str(HERE)  # latebind_count.py, for -p
    env["LATEBIND_COUNT_OUT"] = str(out)
    log("counting run (cProfile on: its time means nothing)")
    run = run_suite(python, tree, pkg, "count", "latebind", subset, "-p", "latebind_count",
                    "--latebind-mode=warn", f"--latebind-report={report}", env=env)
    counts: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {"error": "no counts written"}
    counts["findings"] = json.loads(report.read_text())["findings"] if report.exists() else None
    counts["summary"] = run.summary
    for part in ("library", "tests"):
        if part in counts:
            c = counts[part]
            log(f"  {part}: {c['sites_loaded']} sites loaded, {c['sites_made']} made closures: "
                f"{c['made']:,} made, {c['calls']:,} calls")
    log(f"  slow-path reads (Record.read): {counts.get('slow_path_reads', 0):,}; "
        f"findings: {len(counts['findings'] or [])}")
    return counts


def compare(runs: list[Run]) -> list[str]:
    """Every run against the first run without the plugin: same counts, and no plugin warning."""
    problems: list[str] = []
    base = next(run for run in runs if run.column == "off")
    for run in runs:
        if not run.counts or outcome(run.counts) != outcome(base.counts):
            only_here = sorted(set(run.problems) - set(base.problems))
            only_base = sorted(set(base.problems) - set(run.problems))
            problems.append(f"counts differ: {base.label} {base.summary!r}, {run.label} {run.summary!r}; "
                            f"only in {run.label}: {only_here or '-'}; only in {base.label}: {only_base or '-'}")
        problems += [f"{run.label}: {w}" for w in run.warnings]
    return problems


# -- tables -------------------------------------------------------------------------------
def tables(results: list[dict[str, Any]]) -> str:
    out: list[str] = ["| suite | column | outcome (every run) | median wall | ratio | spread | "
                      "median CPU | ratio | spread |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    singles = ["| suite | column | wall / CPU of each run, in round order (s) |", "| --- | --- | --- |"]
    for res in results:
        runs = res["runs"]
        name = res["package"].replace("==", " ") + (" (subset)" if res["subset"] else "")
        med = {c: (statistics.median(r["wall"] for r in runs if r["column"] == c),
                   statistics.median(r["cpu"] for r in runs if r["column"] == c)) for c in COLUMNS}
        same = not any(p.startswith("counts differ") for p in res["problems"])
        for c in COLUMNS:
            mine = [r for r in runs if r["column"] == c]
            walls = [r["wall"] for r in mine]
            cpus = [r["cpu"] for r in mine]
            shown = ", ".join(f"{n} {k}" for k, n in outcome(mine[0]["counts"]).items())
            same_here = all(outcome(r["counts"]) == outcome(mine[0]["counts"]) for r in mine)
            out.append(f"| {name} | {c} | {shown}{'' if same and same_here else ' (DIFFERS)'} | "
                       f"{med[c][0]:.1f} s | **{med[c][0] / med['off'][0]:.3f}x** | "
                       f"{min(walls):.1f}-{max(walls):.1f} | {med[c][1]:.1f} s | "
                       f"**{med[c][1] / med['off'][1]:.3f}x** | "
                       f"{min(cpus):.1f}-{max(cpus):.1f} |")
            each = ", ".join(f"{r['wall']:.1f} / {r['cpu']:.1f}" for r in mine)
            singles.append(f"| {name} | {c} | {each} |")
    counting = ["| suite | sites loaded, library + tests | sites that made closures | closures made, "
                "library + tests | calls, library + tests | of which generator expressions: made / resumed | "
                "slow-path reads | findings |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for res in results:
        cnt = res.get("counting")
        if not cnt or "library" not in cnt:
            continue
        lib, tst = cnt["library"], cnt["tests"]
        counting.append(
            f"| {res['package'].replace('==', ' ')} | {lib['sites_loaded']:,} + {tst['sites_loaded']:,} | "
            f"{lib['sites_made']} + {tst['sites_made']} | {lib['made']:,} + {tst['made']:,} | "
            f"{lib['calls']:,} + {tst['calls']:,} | {lib['genexp_made'] + tst['genexp_made']:,} / "
            f"{lib['genexp_resumed'] + tst['genexp_resumed']:,} | {cnt['slow_path_reads']:,} | "
            f"{len(cnt['findings']) if cnt['findings'] is not None else '?'} |")
    return "\n".join([*out, "", *singles, "", *counting])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("packages", nargs="*", metavar="PACKAGE",
                        help=f"of {', '.join(PACKAGES)} (default: {' '.join(DEFAULT)})")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the four columns (default 3; 0: only the counting run)")
    parser.add_argument("--subset", action="store_true", help="the shorter run of a suite that has one (networkx)")
    parser.add_argument("--no-count", action="store_true", help="skip the counting run (and the warm-up)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the plain warm-up run")
    parser.add_argument("--fresh", action="store_true", help="new virtualenvs and a fresh unpack")
    parser.add_argument("--plugin-rev", default="HEAD", help="the commit of pytest-latebind to install (default HEAD)")
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp/latebind-bench"),
                        help="where the virtualenvs go (default /tmp/latebind-bench)")
    parser.add_argument("--tables", action="store_true", help="only print the tables of the saved results")
    args = parser.parse_args(argv)
    unknown = [name for name in args.packages if name not in PACKAGES]
    if unknown:
        parser.error(f"unknown package(s) {', '.join(unknown)}: choose from {', '.join(PACKAGES)}")
    chosen = [PACKAGES[name] for name in (args.packages or DEFAULT)]
    if args.tables:
        files = [WORK / f"results-{pkg.dist}.json" for pkg in chosen]
        print(tables([json.loads(p.read_text()) for p in files if p.exists()]))
        return 0
    args.venv_root.mkdir(parents=True, exist_ok=True)
    plugin = plugin_snapshot(args.plugin_rev, args.venv_root)
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    log(f"machine: {os.cpu_count()} cores, load average {loadavg()}, {now}")
    results = []
    for pkg in chosen:
        saved = WORK / f"results-{pkg.dist}.json"
        before = json.loads(saved.read_text()) if saved.exists() else {}
        result = bench(pkg, args, plugin)
        if not result["runs"] and before.get("runs"):  # --rounds 0: a new counting run, the timed runs kept
            result = {**before, "counting": result.get("counting")}
        elif "counting" not in result and before.get("counting"):  # --no-count: the last counting run kept
            result["counting"] = before["counting"]
        results.append(result)
        save(pkg, result)
    log("\n" + tables([r for r in results if r["runs"]]))
    log(f"\nresults: {WORK}/results-*.json; logs: {WORK / 'logs'}")
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
