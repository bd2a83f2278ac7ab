"""Run a real third-party test suite with and without pytest-latebind, and time it.

    python3 benchmarks/thirdparty.py                    # more-itertools (the default)
    python3 benchmarks/thirdparty.py sqlglot --runs 3   # a suite whose library has sites
    python3 benchmarks/thirdparty.py all --no-timing    # only the same-counts check

For each package: a fresh virtualenv under /tmp with this checkout installed editable, the
package's sdist (``pip download --no-binary :all: --no-deps``) installed from the sdist, not
editable, so it lives in site-packages, and its tests run from the unpacked sdist under
``benchmarks/.work/`` with the sdist's own copy of the package removed, so that the tests
import the installed copy (checked before anything runs).  Then:

1. the suite without the plugin active, and with ``--latebind --latebind-modules=<module>``:
   the outcome counts must be identical and the plugin must not warn;
2. one more run with ``--latebind-mode=warn --latebind-report=...`` to list every finding;
3. timing: our bytecode cache is cleared, one warm-up run of each (the run with the plugin is
   then the cold-cache figure), then ``--runs`` alternating pairs (without, with, ...); the
   medians of wall time and of the children's CPU time, and their ratios;
4. one more run with the plugin under ``py-spy record`` (``where_time_goes.py``): the share
   of the run that is pytest-latebind's, which the noise between runs cannot hide.

The machine is shared: the load average is printed with the figures.  Nothing here asserts
a time; exit status 1 means only that the counts differed or the plugin warned.
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
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"


@dataclass(frozen=True)
class Package:
    dist: str  # the name on PyPI
    version: str  # pinned, so that figures can be compared from run to run
    modules: tuple[str, ...]  # what --latebind-modules names
    source_dirs: tuple[str, ...]  # the sdist's copy of the package, removed after install
    tests: tuple[str, ...] = ("tests",)
    # The sdist's own file for pytest's -c: without it pytest would walk up from
    # benchmarks/.work/ into this repository's pyproject.toml and conftest.py.
    config: str = "pyproject.toml"
    test_deps: tuple[str, ...] = ()


PACKAGES = {
    "more-itertools": Package("more-itertools", "11.2.1", ("more_itertools",), ("more_itertools",)),
    # Its tests of the executor and optimizer use duckdb and pandas (from PyPI as wheels).
    "sqlglot": Package("sqlglot", "30.30.0", ("sqlglot",), ("sqlglot",),
                       test_deps=("duckdb", "pandas", "python-dateutil", "pytz")),
}

_COUNT = re.compile(r"(\d+) ([a-z][a-z ]*?)(?=, | in )")
_SUMMARY = re.compile(r"^=*\s*(\d+ [a-z].* in [\d.]+s.*?)\s*=*$", re.M)


def log(message: str) -> None:
    print(message, flush=True)


def sh(*args: str | Path, cwd: Path | None = None) -> None:
    log("+ " + " ".join(map(str, args)))
    subprocess.run([str(a) for a in args], cwd=cwd, check=True)


def child_env(python: Path) -> dict[str, str]:
    """As if the virtualenv were activated, less what would change the suite or keep caches off."""
    env = dict(os.environ)
    # Some suites run `python` in a subprocess (sqlglot's test_lazy_load): it must be ours.
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    # Both pytest's and our bytecode caches are off under PYTHONDONTWRITEBYTECODE (set on
    # this workplace's machines); a user's machine writes them, and so do we.
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH"):
        env.pop(name, None)
    return env


# -- setting up ---------------------------------------------------------------------------
def prepare(pkg: Package, venv_root: Path, fresh: bool) -> tuple[Path, Path]:
    """The virtualenv's python and the unpacked sdist, ready to run the suite."""
    venv = venv_root / f"{pkg.dist}-venv"
    python = venv / "bin" / "python"
    if fresh and venv.exists():
        shutil.rmtree(venv)
    downloads = WORK / "dl"
    sdist = next(iter(glob.glob(str(downloads / f"{pkg.dist.replace('-', '_')}-{pkg.version}.tar.gz"))
                      + glob.glob(str(downloads / f"{pkg.dist}-{pkg.version}.tar.gz"))), None)
    if not python.exists():
        sh(sys.executable, "-m", "venv", venv)
        sh(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
        sh(python, "-m", "pip", "install", "-q", "-e", REPO)
    if sdist is None:
        downloads.mkdir(parents=True, exist_ok=True)
        sh(python, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
           f"{pkg.dist}=={pkg.version}", "-d", downloads)
        sdist = str(next(p for p in downloads.glob("*.tar.gz")
                         if p.name.lower().replace("_", "-").startswith(f"{pkg.dist}-{pkg.version}")))
    installed = subprocess.run([str(python), "-m", "pip", "show", pkg.dist], capture_output=True, text=True)
    if f"Version: {pkg.version}" not in installed.stdout:
        sh(python, "-m", "pip", "install", "-q", "--no-binary", pkg.dist, sdist, *pkg.test_deps)
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


# -- running ------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    wall: float
    cpu: float  # user + system time of the pytest process
    counts: dict[str, int]
    summary: str
    output: str


def command(python: Path, pkg: Package, plugin: bool, *extra: str) -> list[str]:
    cmd = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-c", pkg.config, "--rootdir", ".",
           *pkg.tests, "-q"]
    if plugin:
        cmd += ["--latebind", f"--latebind-modules={','.join(pkg.modules)}"]
    return cmd + list(extra)


def run_suite(python: Path, tree: Path, pkg: Package, label: str, plugin: bool, *extra: str) -> Run:
    cmd = command(python, pkg, plugin, *extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=child_env(python), capture_output=True, text=True)
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
    log(f"  {label:<14} {wall:7.2f}s wall {cpu:7.2f}s cpu   {summary}")
    return Run(label, wall, cpu, counts, summary, output)


def outcome(counts: dict[str, int]) -> dict[str, int]:
    """The counts that say what the tests did; the plugin's own warnings are looked for apart."""
    return {k: v for k, v in counts.items() if not k.startswith("warning")}


def plugin_warnings(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines()
            if "LatebindPluginWarning" in line or "pytest-latebind:" in line]


def clear_our_cache(python: Path, tree: Path) -> int:
    """Delete the bytecode our import hook cached (its tag has ``-latebind-`` in it)."""
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    removed = 0
    for root in (Path(site), tree):
        for pyc in root.rglob("__pycache__/*-latebind-*.pyc"):
            pyc.unlink()
            removed += 1
    return removed


def findings_of(report: Path) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(report.read_text())["findings"]
    return found


def revision() -> str:
    """This checkout's commit, and a digest of the plugin's source (others may edit it meanwhile)."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"{head.stdout.strip() or 'unknown'} (source {plugin_digest()})"


def plugin_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "pytest_latebind").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- one package --------------------------------------------------------------------------
def bench(pkg: Package, args: argparse.Namespace) -> dict[str, object]:
    log(f"\n=== {pkg.dist} {pkg.version}, pytest-latebind at {revision()}")
    python, tree = prepare(pkg, args.venv_root, args.fresh)
    log(f"suite: cd {tree} && {' '.join(command(python, pkg, True))}")
    problems: list[str] = []

    log("same counts, with and without the plugin; then every finding (warn mode)")
    without = run_suite(python, tree, pkg, "without", False)
    with_ = run_suite(python, tree, pkg, "with", True)
    report = WORK / f"{pkg.dist}-findings.json"
    warn = run_suite(python, tree, pkg, "warn-report", True, "--latebind-mode=warn", f"--latebind-report={report}")
    for run in (with_, warn):
        if outcome(run.counts) != outcome(without.counts) or not run.counts:
            problems.append(f"counts differ: without {without.summary!r}, {run.label} {run.summary!r}")
        problems += [f"{run.label}: {w}" for w in plugin_warnings(run.output)]
    found = findings_of(report) if report.exists() else []
    for f in found:
        log(f"  finding: {f['file']}:{f['line']} {f['variable']!r} {f['kinds']} "
            f"created_with={f['created_with']} seen={f.get('seen')} tests={len(f['tests'])}")  # type: ignore[arg-type]
    result: dict[str, object] = {
        "package": f"{pkg.dist}=={pkg.version}",
        "revision": revision(),
        "command": " ".join(command(python, pkg, True)),
        "counts_without": without.counts,
        "counts_with": with_.counts,
        "findings": found,
        "problems": problems,
    }
    if not args.no_timing:
        result.update(timing(python, tree, pkg, args.runs))
    if not args.no_profile:
        result.update(profile(python, tree, pkg))
    for problem in problems:
        log(f"PROBLEM: {problem}")
    return result


def timing(python: Path, tree: Path, pkg: Package, runs: int) -> dict[str, object]:
    log(f"timing: load average {loadavg()}")
    digest = plugin_digest()
    removed = clear_our_cache(python, tree)
    log(f"  our bytecode cache cleared ({removed} files)")
    warm_without = run_suite(python, tree, pkg, "warmup-without", False)
    cold = run_suite(python, tree, pkg, "cold-with", True)  # the warm-up of the plugin's runs
    cached = sum(1 for _ in tree.rglob("__pycache__/*-latebind-*.pyc"))  # test modules, now warm
    without: list[Run] = []
    with_: list[Run] = []
    for k in range(runs):
        without.append(run_suite(python, tree, pkg, f"without-{k + 1}", False))
        with_.append(run_suite(python, tree, pkg, f"with-{k + 1}", True))
    for run in without[1:] + with_:
        if outcome(run.counts) != outcome(without[0].counts):
            log(f"PROBLEM: counts differ between timed runs: {run.label}: {run.summary}")
    med = {f"{name}_{what}": statistics.median(getattr(r, what) for r in rs)
           for name, rs in (("without", without), ("with", with_)) for what in ("wall", "cpu")}
    wall_ratio = med["with_wall"] / med["without_wall"]
    cpu_ratio = med["with_cpu"] / med["without_cpu"]
    log(f"load average after: {loadavg()}")
    if plugin_digest() != digest:
        log("NOTE: pytest_latebind/ changed while timing (an editable install): the runs mix versions")
    log(f"median wall: without {med['without_wall']:.2f}s, with {med['with_wall']:.2f}s, ratio {wall_ratio:.3f}x")
    log(f"median cpu:  without {med['without_cpu']:.2f}s, with {med['with_cpu']:.2f}s, ratio {cpu_ratio:.3f}x")
    log(f"cold cache (first run with the plugin, our cache cleared): {cold.wall:.2f}s wall, "
        f"{cold.wall / med['without_wall']:.3f}x the median without; warm-up without: {warm_without.wall:.2f}s")
    return {
        "runs": runs,
        "wall_without": [r.wall for r in without], "wall_with": [r.wall for r in with_],
        "cpu_without": [r.cpu for r in without], "cpu_with": [r.cpu for r in with_],
        "median": med, "wall_ratio": wall_ratio, "cpu_ratio": cpu_ratio,
        "cold_wall": cold.wall, "cold_cpu": cold.cpu, "warmup_without_wall": warm_without.wall,
        "test_modules_cached": cached,
    }


def profile(python: Path, tree: Path, pkg: Package) -> dict[str, object]:
    """One more run with the plugin, under py-spy: the share of its samples that are ours."""
    import where_time_goes  # beside this file

    py_spy = python.with_name("py-spy")
    if not py_spy.exists():
        sh(python, "-m", "pip", "install", "-q", "py-spy")
    stacks = WORK / f"{pkg.dist}-stacks.txt"
    log(f"where the time goes: one run with the plugin under py-spy ({stacks.name})")
    subprocess.run([str(py_spy), "record", "--format", "raw", "--full-filenames", "--nonblocking", "--rate", "200",
                    "-o", str(stacks), "--", *command(python, pkg, True)], cwd=tree, env=child_env(python),
                   capture_output=True, check=False)
    where_time_goes.report(stacks)
    total, ours = where_time_goes.breakdown(stacks)
    return {"profile_samples": total, "profile_ours": dict(ours)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("package", nargs="?", default="more-itertools", choices=[*PACKAGES, "all"])
    parser.add_argument("--runs", type=int, default=3, help="alternating timed pairs (default 3)")
    parser.add_argument("--no-timing", action="store_true", help="only check the counts and list findings")
    parser.add_argument("--no-profile", action="store_true", help="skip the run under py-spy")
    parser.add_argument("--fresh", action="store_true", help="new virtualenv and a fresh unpack")
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp/latebind-bench"),
                        help="where the virtualenvs go (default /tmp/latebind-bench)")
    args = parser.parse_args(argv)
    args.venv_root.mkdir(parents=True, exist_ok=True)
    chosen = list(PACKAGES.values()) if args.package == "all" else [PACKAGES[args.package]]
    results = []
    for pkg in chosen:
        results.append(bench(pkg, args))
        (WORK / f"results-{pkg.dist}.json").write_text(json.dumps(results[-1], indent=2, default=str))
    log(f"\nresults: {WORK}/results-*.json; logs: {WORK / 'logs'}")
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
