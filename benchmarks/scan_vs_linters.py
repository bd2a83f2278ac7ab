"""The static scan against flake8-bugbear (B023 only), pylint (cell-var-from-loop) and ruff
(B023) on the labelled corpus (benchmarks/scan_corpus) and on this machine's standard library:
findings, false positives, misses, and CPU time (median of 3, with an ast.parse-only floor).

    python benchmarks/scan_vs_linters.py [--venv /tmp/lbscan-venv] [--stdlib DIR] [--runs 3] [--tools NAME...]

The linters are installed into a throwaway virtualenv (``--venv``) by the script itself.
On the corpus, a file counts as flagged by a tool when the tool reports anything in it; a
``# expect: bug`` file not flagged is a miss, a ``# expect: ok`` file flagged a false
positive (``unverified`` files are listed apart). The scan counts LB001 only.
CPU time is the child processes' user + system time (``os.wait4``), one process per tool over
all files, so start-up is included for every tool alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "scan_corpus"
REPO = HERE.parent


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import flake8, bugbear, pylint"], capture_output=True, check=False)
    if probe.returncode or not (venv / "bin" / "ruff").exists():
        subprocess.run([str(python), "-m", "pip", "install", "-q", "flake8", "flake8-bugbear", "pylint", "ruff"],
                       check=True)
    return venv / "bin"


def commands(bin_dir: Path, files_arg: list[str]) -> dict[str, list[str]]:
    floor = ("import ast,sys\nfor f in sys.argv[1:]:\n    try: ast.parse(open(f,'rb').read(), f)\n"
             "    except (SyntaxError, ValueError): pass\n")
    return {
        "ast.parse floor": [sys.executable, "-c", floor, *files_arg],
        "pytest-latebind scan": [sys.executable, "-m", "pytest_latebind", "scan", *files_arg],
        "flake8-bugbear B023": [str(bin_dir / "flake8"), "--select=B023", "--jobs=1", "--format=%(path)s:%(row)d",
                                *files_arg],
        "pylint cell-var-from-loop": [str(bin_dir / "pylint"), "--disable=all", "--enable=cell-var-from-loop",
                                      "--jobs=1", "--score=n", "--msg-template={path}:{line}", *files_arg],
        "ruff B023": [str(bin_dir / "ruff"), "check", "--isolated", "--select=B023", "--no-cache",
                      "--output-format=concise", *files_arg],
    }


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAYON_NUM_THREADS": "1"}
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=devnull,
                                env=env)
        out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
        _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime, out


def flagged(out: str) -> dict[str, int]:
    """file -> findings, from lines starting ``path:line``."""
    counts: dict[str, int] = {}
    for line in out.splitlines():
        head = line.split(":", 2)
        if len(head) >= 2 and head[1].strip().isdigit() and head[0].endswith(".py"):
            if " LB002 " in line or " LB000 " in line:
                continue
            name = Path(head[0]).name
            counts[name] = counts.get(name, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", default="/tmp/lbscan-venv")
    parser.add_argument("--stdlib", default=sysconfig.get_paths()["stdlib"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", nargs="*", default=[], metavar="TOOL",
                        help="time only these tools on the standard library (names as in the tables; "
                             "the floor always runs)")
    args = parser.parse_args()
    bin_dir = ensure_venv(Path(args.venv))

    cases = sorted(CORPUS.glob("*.py"))
    labels = {p.name: p.read_text().splitlines()[0].removeprefix("# expect: ").strip() for p in cases}
    print(f"## Corpus ({len(cases)} cases: {sum(v == 'bug' for v in labels.values())} bugs, "
          f"{sum(v == 'ok' for v in labels.values())} correct, {sum(v == 'unverified' for v in labels.values())} "
          "unverified)\n")
    print("| tool | bugs found | misses | false positives | unverified cases flagged |")
    print("|---|---|---|---|---|")
    for tool, cmd in commands(bin_dir, [p.name for p in cases]).items():
        if tool == "ast.parse floor":
            continue
        _, out = timed(cmd, CORPUS)
        hits = flagged(out)
        found = [n for n, v in labels.items() if v == "bug" and n in hits]
        missed = sorted(n.removesuffix(".py") for n, v in labels.items() if v == "bug" and n not in hits)
        false = sorted(n.removesuffix(".py") for n, v in labels.items() if v == "ok" and n in hits)
        unv = sum(1 for n, v in labels.items() if v == "unverified" and n in hits)
        print(f"| {tool} | {len(found)} | {len(missed)}: {', '.join(missed) or '-'} | "
              f"{len(false)}: {', '.join(false) or '-'} | {unv} |")

    stdlib = Path(args.stdlib)
    files = sorted(str(p.relative_to(stdlib)) for p in stdlib.rglob("*.py")
                   if "site-packages" not in p.parts and "test" not in p.parts[:1] and "idlelib" not in p.parts[:1]
                   and "lib2to3" not in p.parts[:1])
    print(f"\n## Standard library ({stdlib}, {len(files)} files; test/, idlelib/, lib2to3/ left out)\n")
    print("| tool | findings | files with findings | CPU s (median of "
          f"{args.runs}) | x parse floor (median of the rounds' ratios) |")
    print("|---|---|---|---|---|")
    # Rounds, each running every tool once in turn: a tool's ratio to the floor is taken
    # within one round, so the load of a shared machine, which drifts over minutes, hits both.
    tools = {tool: cmd for tool, cmd in commands(bin_dir, files).items() if tool in args.tools or not args.tools}
    tools = {"ast.parse floor": commands(bin_dir, files)["ast.parse floor"], **tools}
    times: dict[str, list[float]] = {tool: [] for tool in tools}
    outs: dict[str, str] = {}
    for _ in range(args.runs):
        for tool, cmd in tools.items():
            cpu, outs[tool] = timed(cmd, stdlib)
            times[tool].append(cpu)
    for tool in tools:
        ratios = [cpu / floor for cpu, floor in zip(times[tool], times["ast.parse floor"], strict=True)]
        hits = flagged(outs[tool]) if tool != "ast.parse floor" else {}
        print(f"| {tool} | {sum(hits.values()) if hits else '-'} | {len(hits) if hits else '-'} | "
              f"{statistics.median(times[tool]):.2f} | {statistics.median(ratios):.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}) |", flush=True)

if __name__ == "__main__":
    main()
