"""What ``--latebind-fix`` costs on a real suite: the fix step (copying the rootdir, one child
run per site with findings, writing the patch) against the run it follows.

    python3 benchmarks/fix_cost.py                  # attrs' suite, clean and seeded; 2 rounds
    python3 benchmarks/fix_cost.py --rounds 3
    python3 benchmarks/fix_cost.py --tables         # the tables again, from the saved results

``--latebind-fix`` fixes only the project's own files, so the suite is run as the project's
developers run it: from the unpacked sdist with its source kept (``src/`` first on
``PYTHONPATH``, the package installed as well only for its metadata), the plugin watching the
modules under the rootdir (the default).  The virtualenv ``/tmp/latebind-bench/fixcost-<dist>-venv``
has the pins of ``thirdparty.py`` (pytest, pluggy, hypothesis, the suite's test dependencies)
and pytest-latebind from ``git archive`` of ``--plugin-rev`` (default HEAD), not editable.

The released suite has no finding (see docs/benchmarks.md, "Findings"), so its fix step only
says so.  The second variant is a copy of the same sdist with one late-binding bug seeded
(``SEEDS``): it is the real suite, hitting the bug where the real code would.  Three columns,
in a rotated order over ``--rounds`` rounds, for each variant:

- ``off``: ``-p no:latebind``, for reference (what the suite costs without the plugin);
- ``latebind``: ``--latebind`` (the run a user already makes);
- ``fix``: ``--latebind --latebind-fix=PATH --latebind-report=PATH``, with this file loaded as a
  ``-p`` plugin: it times the fix step and each child run inside the process (the plugin's
  private ``Results._fix`` and ``_fixverify._run``), so the fix step is measured against the
  same run's tests, whatever the load on the machine did between two runs.

Then, once, the seeded copy with the patch applied (``git apply``) runs with ``--latebind``:
no finding is left and no test fails.  Figures go to ``benchmarks/.work/fixcost-<dist>.json``,
every run's output to ``benchmarks/.work/logs/``.  Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_TIMES = "FIX_COST_TIMES"  # the -p plugin's output file


@dataclass(frozen=True)
class Seed:
    file: str  # relative to the sdist's root
    old: str  # found exactly once
    new: str
    why: str


SEEDS = {
    # The attribute-tuple class's properties bind their index with a default (the textbook
    # fix); the seed takes it away, so every property of a class reads the last index.
    "attrs": Seed("src/attr/_make.py", "        def getter(self, i=i):\n", "        def getter(self):\n",
                  "_make_attr_tuple_class: `def getter(self, i=i)` -> `def getter(self)` in "
                  "`for i, attr_name in enumerate(attr_names)`"),
}


# -- the -p plugin: times the fix step inside the run ---------------------------------------
def pytest_configure(config: Any) -> None:
    out = os.environ.get(_TIMES, "")
    if not out:
        return
    from pytest_latebind import _fixverify
    from pytest_latebind._reporting import results

    times: dict[str, Any] = {"fix_step": None, "children": []}
    started = time.perf_counter()

    def timed(owner: Any, name: str, record: Any) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record(time.perf_counter() - start)
        setattr(owner, name, wrapper)

    timed(results.Results, "_fix", lambda s: times.__setitem__("fix_step", s))
    timed(_fixverify, "_run", times["children"].append)

    class Writer:
        def pytest_unconfigure(self) -> None:
            times["process_to_unconfigure"] = time.perf_counter() - started
            Path(out).write_text(json.dumps(times))

    config.pluginmanager.register(Writer(), "fix-cost-writer")


# -- the script -----------------------------------------------------------------------------
def prepare(pkg: Any, venv_root: Path, plugin: tuple[str, Path]) -> Path:
    import thirdparty as tp

    venv = venv_root / f"fixcost-{pkg.dist}-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        tp.sh(sys.executable, "-m", "venv", venv)
        tp.sh(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    marker = venv / "installed.txt"
    wanted = "\n".join([*tp.COMMON, f"{pkg.dist}=={pkg.version}", *pkg.test_deps])
    if not marker.exists() or marker.read_text() != wanted:
        tp.sh(python, "-m", "pip", "install", "-q", *tp.COMMON, *pkg.test_deps)
        tp.sh(python, "-m", "pip", "install", "-q", "--no-deps", "--no-binary", pkg.dist, sdist(pkg, python))
        marker.write_text(wanted)
    sha, folder = plugin
    plugin_marker = venv / "latebind-rev.txt"
    if not plugin_marker.exists() or plugin_marker.read_text() != sha:
        tp.sh(python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", folder)
        plugin_marker.write_text(sha)
    return python


def sdist(pkg: Any, python: Path) -> str:
    import thirdparty as tp

    downloads = tp.WORK / "dl"
    names = (f"{pkg.dist.replace('-', '_')}-{pkg.version}.tar.gz", f"{pkg.dist}-{pkg.version}.tar.gz")
    found = [p for name in names for p in glob.glob(str(downloads / name))]
    if not found:
        downloads.mkdir(parents=True, exist_ok=True)
        tp.sh(python, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
              f"{pkg.dist}=={pkg.version}", "-d", downloads)
        found = [p for name in names for p in glob.glob(str(downloads / name))]
    return found[0]


def unpack(pkg: Any, python: Path, where: Path, seed: Seed | None) -> Path:
    """A fresh tree each time: no cache or Hypothesis database from an earlier run."""
    shutil.rmtree(where, ignore_errors=True)
    where.parent.mkdir(parents=True, exist_ok=True)
    scratch = where.parent / (where.name + ".unpack")
    shutil.rmtree(scratch, ignore_errors=True)
    with tarfile.open(sdist(pkg, python)) as tar:
        top = tar.getnames()[0].split("/")[0]
        if hasattr(tarfile, "data_filter"):
            tar.extractall(scratch, filter="data")
        else:
            tar.extractall(scratch)
    (scratch / top).rename(where)
    scratch.rmdir()
    if seed is not None:
        path = where / seed.file
        text = path.read_text()
        if text.count(seed.old) != 1:
            sys.exit(f"the seed's line is not found exactly once in {path}")
        path.write_text(text.replace(seed.old, seed.new))
    return where


def run(python: Path, tree: Path, pkg: Any, label: str, extra: list[str]) -> dict[str, Any]:
    import thirdparty as tp

    times = tp.WORK / "fixcost-times.json"
    times.unlink(missing_ok=True)
    env = tp.child_env(python, pkg)
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(HERE)])  # the project's source; this file
    if any(arg.startswith("--latebind-fix=") for arg in extra):  # the other runs load nothing of the plugin's
        env[_TIMES] = str(times)
    shutil.rmtree(tree / ".hypothesis", ignore_errors=True)
    cmd = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-c", pkg.config, "--rootdir", ".",
           *pkg.tests, *pkg.args, "-p", "fix_cost", *extra]
    load = tp.loadavg()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    output = done.stdout + done.stderr
    logs = tp.WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"fixcost-{pkg.dist}-{label}.txt").write_text(" ".join(cmd) + "\n\n" + output)
    summaries = tp._SUMMARY.findall(output)
    summary = summaries[-1] if summaries else f"(no summary line; exit status {done.returncode})"
    lines = output.splitlines()
    fix_lines = lines[next((i for i, line in enumerate(lines) if "latebind: fixes" in line), len(lines)) + 1:]
    fix_lines = [line for line in fix_lines[:20] if line and not line.startswith(("=", "-", "SKIPPED",
                                                                                     "FAILED", "XFAIL"))]
    measured = json.loads(times.read_text()) if times.exists() else {}
    result = {"label": label, "wall": wall, "load": load, "summary": summary,
              "latebind_line": next((line for line in lines if line.startswith("latebind: ") and "watched" in line),
                                    ""),
              "fix_step": measured.get("fix_step"), "children": measured.get("children", []),
              "fix_lines": fix_lines if "--latebind-fix" in " ".join(extra) else []}
    tp.log(f"  {label:<22} {wall:7.2f}s wall  load {load}  {summary}"
           + (f"  fix step {result['fix_step']:.2f}s, child runs {[round(c, 2) for c in result['children']]}"
              if result["fix_step"] is not None else ""))
    for line in result["fix_lines"]:
        tp.log(f"      {line}")
    return result


def bench(dist: str, rounds: int, venv_root: Path, rev: str) -> dict[str, Any]:
    import thirdparty as tp

    pkg, seed = tp.PACKAGES[dist], SEEDS[dist]
    plugin = tp.plugin_snapshot(rev, venv_root)
    python = prepare(pkg, venv_root, plugin)
    base = tp.WORK / "fixcost"
    result: dict[str, Any] = {
        "package": f"{pkg.dist}=={pkg.version}", "seed": seed.why, "plugin_rev": plugin[0],
        "python": subprocess.run([str(python), "-VV"], capture_output=True, text=True).stdout.strip(),
        "versions": tp.versions(python), "runs": [],
    }
    for variant, planted in (("clean", None), ("seeded", seed)):
        tree = unpack(pkg, python, base / f"{pkg.dist}-{variant}", planted)
        tp.log(f"\n=== {pkg.dist} {pkg.version}, {variant}: cd {tree}")
        patch, report = base / f"{variant}.patch", base / f"{variant}-report.json"
        columns = {"off": ["-p", "no:latebind"], "latebind": ["--latebind"],
                   "fix": ["--latebind", f"--latebind-fix={patch}", f"--latebind-report={report}"]}
        run(python, tree, pkg, f"{variant}-warmup", ["--latebind"])  # fills the plugin's bytecode cache
        for r in range(rounds):
            names = list(columns)
            order = names[r % len(names):] + names[:r % len(names)]  # no column always first
            for column in order:
                one = run(python, tree, pkg, f"{variant}-{column}-{r + 1}", columns[column])
                one.update(variant=variant, column=column)
                if column == "fix" and report.exists():
                    one["fixes"] = [{"status": f["status"], "tests": len(f["tests"]), "reason": f.get("reason")}
                                    for f in json.loads(report.read_text()).get("fixes", [])]
                result["runs"].append(one)
                save(dist, result)
        if planted is not None and patch.exists():
            check = unpack(pkg, python, base / f"{pkg.dist}-patched", planted)
            subprocess.run(["git", "apply", str(patch)], cwd=check, check=True)
            tp.log(f"=== the seeded copy with {patch.name} applied")
            result["patched"] = run(python, check, pkg, "patched", ["--latebind"])
            save(dist, result)
    return result


def save(dist: str, result: dict[str, Any]) -> None:
    import thirdparty as tp

    (tp.WORK / f"fixcost-{dist}.json").write_text(json.dumps(result, indent=2))


def tables(result: dict[str, Any]) -> str:
    out = [f"{result['package']}, pytest-latebind {result['plugin_rev'][:10]}, {result['python']}", "",
           "| suite | plugin off, median wall | `--latebind` run, median wall | `--latebind-fix` run, median wall "
           "| ratio to `--latebind` | fix step (median) | of which child runs | fix step / the same run's rest "
           "| tests re-run |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    singles = ["| suite | run | wall | load (1, 5, 15 min) | fix step | child runs |",
               "| --- | --- | --- | --- | --- | --- |"]
    for variant in ("clean", "seeded"):
        runs = [r for r in result["runs"] if r["variant"] == variant]
        if not runs:
            continue
        plain = [r["wall"] for r in runs if r["column"] == "latebind"]
        off = [r["wall"] for r in runs if r["column"] == "off"]
        fixing = [r for r in runs if r["column"] == "fix"]
        steps = [r["fix_step"] or 0.0 for r in fixing]
        children = [sum(r["children"]) for r in fixing]
        share = [(r["fix_step"] or 0.0) / (r["wall"] - (r["fix_step"] or 0.0)) for r in fixing]
        tests = ", ".join(str(f["tests"]) for f in fixing[-1].get("fixes", [])) or "none"
        name = f"{variant} ({'one bug seeded' if variant == 'seeded' else 'as released'})"
        fix_wall = statistics.median(r["wall"] for r in fixing)
        out.append(f"| {name} | {statistics.median(off):.1f} s | {statistics.median(plain):.1f} s | {fix_wall:.1f} s "
                   f"| **{fix_wall / statistics.median(plain):.2f}x** | "
                   f"{statistics.median(steps):.2f} s | {statistics.median(children):.2f} s | "
                   f"**{statistics.median(share):.3f}** | {tests} |")
        for r in runs:
            step = f"{r['fix_step']:.2f} s" if r.get("fix_step") is not None else "-"
            kids = ", ".join(f"{c:.2f}" for c in r["children"]) or "-"
            singles.append(f"| {variant} | {r['column']}, {r['label'].rsplit('-', 1)[-1]} | {r['wall']:.1f} s | "
                           f"{r['load']} | {step} | {kids} |")
    lines = [*out, "", *singles]
    if "patched" in result:
        lines += ["", f"seeded copy with the patch applied: {result['patched']['summary']}; "
                      f"{result['patched']['latebind_line']}"]
    fix_lines: list[str] = next((r["fix_lines"] for r in reversed(result["runs"]) if r["column"] == "fix"
                      and r["variant"] == "seeded"), [])
    if fix_lines:
        lines += ["", "the seeded suite's fix lines:", *fix_lines]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    import thirdparty as tp

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", nargs="?", default="attrs", choices=sorted(SEEDS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--venv-root", type=Path, default=Path("/tmp/latebind-bench"))
    parser.add_argument("--plugin-rev", default="HEAD")
    parser.add_argument("--tables", action="store_true", help="print the tables from the saved results")
    args = parser.parse_args(argv)
    saved = tp.WORK / f"fixcost-{args.suite}.json"
    if args.tables:
        print(tables(json.loads(saved.read_text())))
        return 0
    result = bench(args.suite, args.rounds, args.venv_root, args.plugin_rev)
    print("\n" + tables(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
