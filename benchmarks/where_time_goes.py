"""Where a run with pytest-latebind spends its time: a breakdown of py-spy samples.

    python3 benchmarks/where_time_goes.py STACKS.txt
    python3 benchmarks/where_time_goes.py --record STACKS.txt -- python -m pytest --latebind ...

On a shared machine two runs of one suite differ by more than the plugin costs, so a ratio
of wall times cannot show a few percent.  A sampling profiler can: ``py-spy record
--format raw`` (it samples from outside, ``--nonblocking``, so it barely slows the run)
writes collapsed stacks, and each sample is charged to the innermost frame that belongs
to someone: pytest-latebind, or anything else (the suite, the library, pytest).  Standard
library frames (``ast``, importlib, ``gc``...) belong to whoever called them, so parsing
and compiling inside our import hook are ours, and a module body that our loader
executes is the module's.

pytest-latebind's share is split by what it was doing; the buckets are listed in
``BUCKETS``.  ``--record`` needs py-spy (``pip install py-spy``) in the environment that
runs it.
"""

from __future__ import annotations

import argparse
import collections
import linecache
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

BUCKETS = {
    "prologue": "reads of loop variables that go to the record (Record.read), stale reads recorded",
    "made": "creating an instrumented closure (ModuleSites.made, Window.add)",
    "find_spec": "the import hook deciding whether to instrument a module (find_spec)",
    "transform": "parse + find sites + transform + compile (a module not in our cache yet)",
    "cache": "loading instrumented code from our cache (a plain import reads its own pyc instead)",
    "judge": "judging a test's window (without gc.collect)",
    "gc": "gc.collect() before calling closures alive (judge)",
    "hooks": "the plugin's other hooks, reports, start-up",
}
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
# Any interpreter's standard library (the profiled run's may not be ours), frozen modules too.
_STDLIB = re.compile(r"^<frozen |/lib/python3\.\d+/|^" + re.escape(sysconfig.get_paths()["stdlib"] + "/"))
_SITE = ("site-packages/", "dist-packages/")


def _owner(file: str) -> str | None:
    """'latebind', 'other', or None for frames that belong to their caller (stdlib)."""
    if "/pytest_latebind/" in file:
        return "latebind"
    if _STDLIB.search(file) and not any(s in file for s in _SITE):
        return None
    return "other"


def _bucket(frames: list[tuple[str, str, int]], index: int) -> str:
    """What pytest-latebind was doing, from its innermost frame outwards."""
    _, file, line = frames[index]
    name = Path(file).name
    # Our frames from there to the nearest caller that is not ours (nor the stdlib's).
    functions: set[str] = set()
    for outer in range(index, -1, -1):
        owner = _owner(frames[outer][1])
        if owner == "other":
            break
        if owner == "latebind":
            functions.add(frames[outer][0].rsplit(".", 1)[-1])
    if name == "_judge.py" and "gc.collect" in linecache.getline(file, line):
        return "gc"
    if "_compile" in functions or name in ("_transformer.py", "_scopes.py", "_pytest_compat.py"):
        return "transform"
    if name == "_importhook.py":
        return "find_spec" if functions & {"find_spec", "_find_spec"} and "get_code" not in functions else "cache"
    if name == "_recorder.py":
        if functions & {"made", "refs", "add", "register_module"}:
            return "made"
        return "prologue"
    if name == "_judge.py":
        return "judge"
    return "hooks"


def breakdown(stacks: Path) -> tuple[int, collections.Counter[str]]:
    """Samples in all, and pytest-latebind's samples by bucket."""
    total = 0
    ours: collections.Counter[str] = collections.Counter()
    for raw in stacks.read_text().splitlines():
        text, _, count = raw.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for part in text.split(";"):
            match = _FRAME.match(part)
            if match:
                frames.append((match["func"], match["file"], int(match["line"] or 0)))
        # Collapsed stacks run root first: walk from the leaf to the first frame with an owner.
        for index in range(len(frames) - 1, -1, -1):
            owner = _owner(frames[index][1])
            if owner is None:
                continue
            if owner == "latebind":
                ours[_bucket(frames, index)] += n
            break
    return total, ours


def report(stacks: Path) -> None:
    total, ours = breakdown(stacks)
    mine = sum(ours.values())
    print(f"{total} samples; pytest-latebind's: {mine} ({100 * mine / max(total, 1):.2f}% of the run)")
    for key, text in BUCKETS.items():
        if ours[key]:
            print(f"  {100 * ours[key] / max(total, 1):6.2f}%  {ours[key]:6d}  {key:<10} {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pytest-latebind's share of a run, from py-spy samples")
    parser.add_argument("stacks", type=Path, help="py-spy raw output (collapsed stacks)")
    parser.add_argument("--record", action="store_true", help="run the command after -- under py-spy first")
    parser.add_argument("--rate", type=int, default=200, help="samples a second when recording (default 200)")
    parser.add_argument("command", nargs="*", help="with --record: the command to run")
    args = parser.parse_args(argv)
    if args.record:
        if not args.command:
            parser.error("--record needs a command after --")
        py_spy = Path(sys.executable).with_name("py-spy")
        subprocess.run([str(py_spy) if py_spy.exists() else "py-spy", "record", "--format", "raw",
                        "--full-filenames", "--nonblocking", "--rate", str(args.rate), "-o", str(args.stacks),
                        "--", *args.command], check=False)
    report(args.stacks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
