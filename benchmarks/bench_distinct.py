"""How long one ``latebind.assert_distinct()`` call takes with default settings.

    python benchmarks/bench_distinct.py [--runs 15] [--no-database]

A trivial (correct) factory, Hypothesis's default settings profile (100 examples), the
call made the way the fixture makes it, outside pytest.  Prints each run's wall time and
CPU time, and their medians (CPU time is less disturbed by other load on the machine).
Each run gets a fresh example database in a temporary folder, so no run replays another's
examples; ``--no-database`` runs without one, to see what the database costs.  The median
is quoted in docs/reference/hypothesis.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

from pytest_latebind._fixture import Latebind


def make_multipliers(values: Any) -> list[Any]:
    return [lambda x, v=v: x * v for v in values]


class _Node:
    """Stands in for the pytest item: a node id for the database key, and statistics."""

    nodeid = "bench_distinct.py::test_multipliers"


def one_run(database: bool) -> tuple[float, float]:
    """Wall time and this process's CPU time (less disturbed by other load on the machine)."""
    with tempfile.TemporaryDirectory() as folder:
        profile = settings(database=DirectoryBasedExampleDatabase(folder) if database else None)
        latebind = Latebind(node=_Node())
        wall, cpu = time.perf_counter(), time.process_time()
        latebind.assert_distinct(make_multipliers, args=(10,), settings=profile)
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-database", action="store_true")
    options = parser.parse_args()
    one_run(not options.no_database)  # warm-up: imports, the AST cache, Hypothesis's caches
    runs = [one_run(not options.no_database) for _ in range(options.runs)]
    for k, (wall, cpu) in enumerate(runs):
        print(f"run {k + 1:2}: {wall * 1000:7.1f} ms wall, {cpu * 1000:7.1f} ms cpu")
    walls = [wall for wall, _ in runs]
    print(f"median of {len(runs)}: {statistics.median(walls) * 1000:.1f} ms wall "
          f"(min {min(walls) * 1000:.1f}, max {max(walls) * 1000:.1f}), "
          f"{statistics.median(cpu for _, cpu in runs) * 1000:.1f} ms cpu; "
          f"max_examples={settings.default.max_examples}, "
          f"database={'off' if options.no_database else 'directory'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
