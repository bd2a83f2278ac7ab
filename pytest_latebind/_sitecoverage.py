"""Site coverage: what the run learnt about each closure site of the watched modules.

coverage.py's idea applied to one bug class.  Every site (a closure made in a loop) gets one
status at the end of a run:

``buggy``
    a finding: a closure made there read its loop variable late, or closures made there with
    different values were left sharing one binding (known and silenced findings too: the
    behaviour was seen, a baseline or a comment only decided not to fail on it);
``clean``
    closures were made there with at least two different values of a loop variable, and
    none of them read a value late or was left sharing: the run is evidence the site is right;
``trivial``
    it made closures, but never with two values (a loop of one round, the same value every
    round): it ran, yet the run says nothing about late binding there;
``not run``
    no closure was made there: the run says nothing about the site.

This module is the core (no pytest): a site is a key ``(path as shown, line, column)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ._recorder import PENDING, SiteInfo, Window
from ._values import same

BUGGY, CLEAN, TRIVIAL, NOT_RUN = "buggy", "clean", "trivial", "not run"
STATUSES = (BUGGY, CLEAN, TRIVIAL, NOT_RUN)  # the order of the counts and of the table's legend

Key = tuple[str, int, int]


@dataclass(frozen=True)
class SiteStatus:
    path: str
    line: int
    column: int
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "line": self.line, "column": self.column, "status": self.status}


def varied_sites(window: Window) -> Iterator[SiteInfo]:
    """The sites that made closures in ``window`` with two different values of one loop
    variable (the values the window kept, and those past them that the window noted as new)."""
    more = {(info, k) for info, k, _ in set(window.more_values)}
    for info, creations in list(window.creations.items()):
        if any(_varies([row[k] for _, row in creations]) or ((info, k) in more and creations)
               for k in range(len(info.variables))):
            yield info


def _varies(values: list[Any]) -> bool:
    known = [v for v in values if v is not PENDING]
    return any(not same(v, known[0]) for v in known[1:])


def statuses(sites: Iterable[Key], ran: Iterable[Key], varied: Iterable[Key],
             buggy: Iterable[Key]) -> list[SiteStatus]:
    """One status per site, sorted by file, line and column.  A finding's site that the
    watched modules do not list (a module no longer held at the end) is listed too."""
    ran_, varied_, buggy_ = set(ran), set(varied), set(buggy)
    out = []
    for key in sorted(set(sites) | buggy_):
        if key in buggy_:
            status = BUGGY
        elif key in varied_:
            status = CLEAN
        elif key in ran_:
            status = TRIVIAL
        else:
            status = NOT_RUN
        out.append(SiteStatus(*key, status))
    return out


def counts(rows: Iterable[SiteStatus]) -> dict[str, int]:
    found = dict.fromkeys(STATUSES, 0)
    for row in rows:
        found[row.status] += 1
    return found


def summary(rows: Iterable[SiteStatus]) -> str:
    """``1 buggy, 3 clean, 2 trivial, 11 not run``."""
    return ", ".join(f"{n} {status}" for status, n in counts(rows).items())
