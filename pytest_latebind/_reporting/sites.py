"""Site coverage in the reports: the statuses of :mod:`.._sitecoverage` for the run's
watched sites, from what every process watched (``Watched``, merged across xdist workers)
and the run's findings (known and silenced ones included)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import _sitecoverage
from .._findings import Finding
from .._messages import Context, plural
from .._sitecoverage import SiteStatus
from .watched import Key, Watched


def rows(watched: Watched, findings: Iterable[Finding], silenced: Iterable[dict[str, str]],
         context: Context) -> list[SiteStatus]:
    buggy: set[Key] = {(context.path(f.file), f.line, f.column) for f in findings}
    for record in silenced:
        path, _, rest = str(record.get("site", "")).rpartition(":")
        path, _, line = path.rpartition(":")
        if path and line.isdigit() and rest.isdigit():
            buggy.add((path, int(line), int(rest)))
    # Only the watched modules' sites: a finding of latebind.check() elsewhere is no site of theirs.
    buggy &= watched.sites
    return _sitecoverage.statuses(watched.sites, watched.ran, watched.varied, buggy)


def counts_text(watched: Watched, table: list[SiteStatus]) -> str:
    """``4 modules watched, 17 closure sites, 2 run (1 buggy, 1 clean, 0 trivial), 15 not run``."""
    n = _sitecoverage.counts(table)
    ran = n[_sitecoverage.BUGGY] + n[_sitecoverage.CLEAN] + n[_sitecoverage.TRIVIAL]
    return (f"{plural(len(watched.modules), 'module')} watched, {plural(len(table), 'closure site')}, "
            f"{ran} run ({n[_sitecoverage.BUGGY]} buggy, {n[_sitecoverage.CLEAN]} clean, "
            f"{n[_sitecoverage.TRIVIAL]} trivial), {n[_sitecoverage.NOT_RUN]} not run")


def table_lines(table: list[SiteStatus]) -> list[str]:
    """``--latebind-sites``: one site a line, sorted by file and line, the way coverage.py's
    report is; the file column as wide as its longest path."""
    if not table:
        return ["no closure site in the watched modules"]
    width = max(len("site"), *(len(f"{r.path}:{r.line}:{r.column}") for r in table))
    lines = [f"{'site':<{width}}  status", f"{'-' * width}  -------"]
    lines.extend(f"{f'{r.path}:{r.line}:{r.column}':<{width}}  {r.status}" for r in table)
    lines.append(f"{'-' * width}  -------")
    lines.append(f"{'total ' + str(len(table)):<{width}}  {_sitecoverage.summary(table)}")
    return lines


def to_json(table: list[SiteStatus]) -> dict[str, Any]:
    return {"counts": _sitecoverage.counts(table), "sites": [r.to_dict() for r in table]}
