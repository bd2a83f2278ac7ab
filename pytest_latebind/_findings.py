"""Findings: what the judge concludes, one per (site, loop variable), and how they merge.

A :class:`Finding` is complete when it is built (by ``_builder``); merging folds the findings
of several tests, windows or processes into one.  How a finding is worded is ``_messages``'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from . import _messages
from ._kinds import KINDS, Kind
from ._messages import MESSAGE_VALUES, Context, Frame
from ._values import short_repr


def describe(obj: Any) -> str:
    """A value and its type, for error messages about the user's input."""
    return f"{short_repr(obj)} ({type(obj).__name__})"


@dataclass
class Finding:
    """One late-binding bug: a site and one loop variable it reads."""

    file: str  # absolute path of the module
    line: int
    column: int
    variable: str
    site_kind: str
    site_name: str
    fix: str
    kinds: list[Kind] = field(default_factory=list)
    created_with: list[str] = field(default_factory=list)  # bounded reprs, in creation order
    more_values: bool = False  # more distinct values were seen than created_with lists
    made_with: str | None = None  # bounded repr: the value the first stale-reading closure was made with
    thread: str | None = None  # the thread of the first stale read, when not the main one
    seen: str | None = None
    closures: int = 0  # closures sharing the binding: at least one per creation value
    stale_reads: int = 0
    tests: list[str] = field(default_factory=list)
    # The first stale read: {"file", "line", "function"} frames, innermost last.
    stack: list[Frame] = field(default_factory=list)
    outside_tests: bool = False
    qualname: str = ""  # the site's qualified name (``Site.qualname``): what a baseline keys on

    def __post_init__(self) -> None:
        self.kinds = [Kind(kind) for kind in self.kinds]  # plain strings from a dict, too

    @property
    def key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.variable)

    def merge(self, other: Finding, *, same_events: bool = False) -> None:
        """Fold ``other`` in. ``same_events``: both saw the same calls (one import seen by
        several xdist workers), so counts are not added up."""
        self.kinds = sorted(set(self.kinds) | set(other.kinds), key=KINDS.index)
        union = _union(self.created_with, other.created_with)
        self.more_values = self.more_values or other.more_values or len(union) > MESSAGE_VALUES
        self.created_with = union[:MESSAGE_VALUES]
        # A stale read's values go together: the value read is the one the first stale read saw,
        # with the closure's own value and its stack, never another test's.
        if other.seen is not None and (not self.stack or self.seen is None):
            self.seen = other.seen
        self.closures = max(self.closures, other.closures)
        if same_events:
            self.stale_reads = max(self.stale_reads, other.stale_reads)
        else:
            self.stale_reads += other.stale_reads
        self.tests = _union(self.tests, other.tests)
        if not self.stack and other.stack:
            self.stack, self.made_with, self.thread = other.stack, other.made_with, other.thread
            self.seen = other.seen if other.seen is not None else self.seen
        self.outside_tests = self.outside_tests or other.outside_tests

    def copy(self, **changes: Any) -> Finding:
        """A finding of its own (no list shared with this one), with ``changes``."""
        lists: dict[str, Any] = {name: list(value) for name, value in vars(self).items() if isinstance(value, list)}
        return replace(self, **{**lists, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Builtins only (pytest-xdist sends them between processes)."""
        return {**asdict(self), "kinds": [str(kind) for kind in self.kinds]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def message(self, rootdir: str | os.PathLike[str] | None = None, show_values: bool = True) -> str:
        """The failure text (see ``_messages.message``)."""
        return _messages.message(self, Context(rootdir, show_values))


def _union(first: list[str], second: Iterable[str]) -> list[str]:
    seen = set(first)
    out = list(first)
    for item in second:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def merged(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (site, variable), in the order first seen; the inputs are left alone."""
    by_key: dict[tuple[str, int, int, str], Finding] = {}
    for finding in findings:
        existing = by_key.get(finding.key)
        if existing is None:
            by_key[finding.key] = finding.copy()
        else:
            existing.merge(finding)
    return list(by_key.values())
