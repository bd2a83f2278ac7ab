"""All findings of a run, from wherever they were seen, merged in one canonical order.

Findings arrive per test (on the test reports: ours, or an xdist worker's) and from
outside any test (this process's session window, and every worker's). Merging them in the
order they arrive would make the reports depend on scheduling: under xdist, the values a
site was made with would be listed in whatever order the workers finished. So the
collector keeps what it is given and merges once, in a canonical order, at the end: the
same run gives the same reports with and without xdist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .._findings import Finding, merged


def _canonical(finding: Finding) -> str:
    return json.dumps(finding.to_dict(), sort_keys=True, default=str)


class Collector:
    def __init__(self) -> None:
        # Keyed by the canonical text: an identical contribution counts once (the same
        # test reported twice by ``--dist each``, the same import seen by every worker).
        self._tests: dict[str, Finding] = {}
        self._outside: dict[str, Finding] = {}

    def add_tests(self, found: Iterable[Finding | dict[str, Any]]) -> None:
        for item in found:
            finding = item if isinstance(item, Finding) else Finding.from_dict(item)
            self._tests.setdefault(_canonical(finding), finding)

    def add_outside(self, found: Iterable[Finding | dict[str, Any]]) -> None:
        for item in found:
            finding = Finding.from_dict(item.to_dict() if isinstance(item, Finding) else item)
            finding.outside_tests = True
            self._outside.setdefault(_canonical(finding), finding)

    def merged(self) -> list[Finding]:
        """One finding per (site, variable), sorted; deterministic whatever the arrival order."""
        by_key: dict[tuple[str, int, int, str], list[Finding]] = {}
        for text in sorted(self._outside):
            finding = self._outside[text]
            by_key.setdefault(finding.key, []).append(finding)
        outside = [_same_events(group) for group in by_key.values()]
        # Test contributions: each test runs once, so counts add up across them.
        tests = sorted(self._tests.values(), key=lambda f: (f.key, f.tests, _canonical(f)))
        return sorted(merged([*outside, *tests]), key=lambda f: f.key)


def _same_events(group: list[Finding]) -> Finding:
    """Outside-test findings of several processes for one site describe the same import-time
    events, seen once per process: combine them without adding their counts up."""
    first = group[0].copy()
    for other in group[1:]:
        first.merge(other, same_events=True)
    return first
