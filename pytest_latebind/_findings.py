"""Findings: what the judge concludes, merged per (site, loop variable), and their messages."""

from __future__ import annotations

import os
import reprlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

STALE_CALL = "stale-call"
SHARED_BINDING = "shared-binding"
KINDS = (STALE_CALL, SHARED_BINDING)
MESSAGE_VALUES = 8  # creation values a message lists before "..."

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 4
_repr.maxlevel = 2


def short_repr(value: Any) -> str:
    """A short repr that never raises: values are the user's objects."""
    try:
        return _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the report
        return f"<{type(value).__name__} object (repr raised {type(exc).__name__})>"


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
    kinds: list[str] = field(default_factory=list)
    created_with: list[str] = field(default_factory=list)
    seen: str | None = None
    closures: int = 0
    stale_calls: int = 0
    tests: list[str] = field(default_factory=list)
    # The first stale call: {"file", "line", "function"} frames, innermost last.
    stack: list[dict[str, Any]] = field(default_factory=list)
    outside_tests: bool = False

    @property
    def key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.variable)

    def merge(self, other: Finding, *, same_events: bool = False) -> None:
        """Fold ``other`` in. ``same_events``: both saw the same calls (one import seen by
        several xdist workers), so counts are not added up."""
        self.kinds = sorted(set(self.kinds) | set(other.kinds), key=KINDS.index)
        self.created_with = _union(self.created_with, other.created_with)[:MESSAGE_VALUES]
        self.seen = other.seen if other.seen is not None else self.seen
        self.closures = max(self.closures, other.closures)
        if same_events:
            self.stale_calls = max(self.stale_calls, other.stale_calls)
        else:
            self.stale_calls += other.stale_calls
        self.tests = _union(self.tests, other.tests)
        self.stack = self.stack or other.stack
        self.outside_tests = self.outside_tests or other.outside_tests

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def fix_lines(self) -> list[str]:
        return [f"  fix: bind the value when the closure is made, e.g. `{self.fix}`",
                "       or functools.partial(...)"]

    def location(self, rootdir: str | os.PathLike[str] | None) -> str:
        return f"{relative_path(self.file, rootdir)}:{self.line}"

    def message(self, rootdir: str | os.PathLike[str] | None = None, show_values: bool = True) -> str:
        """The failure text, in the shape of pytest's own ``E   Error: ...`` lines."""
        var = self.variable
        count = max(self.closures, len(self.created_with))
        where = self.location(rootdir)
        if count >= 2:
            head = f"{count} closures created at {where} share the loop variable {var!r}"
        else:
            head = f"a closure created at {where} reads the loop variable {var!r} after the loop rebound it"
        kinds = "; ".join(k.replace("-", " ") for k in self.kinds)
        if show_values:
            shown = self.created_with[:MESSAGE_VALUES]
            created = ", ".join(shown) + (", ..." if len(self.created_with) > len(shown) else "")
            if STALE_CALL in self.kinds:
                state = f"called while {var}={self.seen}"
            else:
                state = f"all of them now see {var}={self.seen}"
            # check() on closures that were not instrumented cannot know their creation values.
            values = f"created with {var}={created}; {state} ({kinds})" if shown else f"{state} ({kinds})"
        else:
            values = f"values hidden (latebind_show_values = false) ({kinds})"
        lines = [head, f"  {values}", *self.fix_lines()]
        frames = user_frames(self.stack, rootdir)
        if frames:
            lines.append("  first stale call:")
            lines.extend(f"    {relative_path(f['file'], rootdir)}:{f['line']} in {f['function']}"
                         for f in frames[-4:])
        return "\n".join(lines)


def _union(first: list[str], second: Iterable[str]) -> list[str]:
    seen = set(first)
    out = list(first)
    for item in second:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def relative_path(file: str, rootdir: str | os.PathLike[str] | None) -> str:
    """Posix path relative to the rootdir, or absolute when the file lies outside it."""
    if rootdir is not None:
        try:
            rel = os.path.relpath(file, rootdir)
        except ValueError:  # another drive, on Windows
            rel = None
        if rel is not None and not rel.startswith(os.pardir):
            return rel.replace(os.sep, "/")
    return os.path.normpath(os.path.abspath(file)).replace(os.sep, "/")


def user_frames(stack: list[dict[str, Any]], rootdir: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """The frames of the project (under the rootdir), or all of them if none is."""
    if rootdir is None:
        return stack
    root = os.path.join(os.path.abspath(rootdir), "")
    mine = [f for f in stack if f["file"].startswith(root) and "site-packages" not in f["file"]]
    return mine or stack


class FindingStore:
    """All findings of a run, one per (site, variable), in the order first seen."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, int, int, str], Finding] = {}

    def add(self, finding: Finding) -> None:
        existing = self._by_key.get(finding.key)
        if existing is None:
            self._by_key[finding.key] = Finding.from_dict(finding.to_dict())
        else:
            existing.merge(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.add(finding)

    def sorted(self) -> list[Finding]:
        return sorted(self._by_key.values(), key=lambda f: f.key)

    def __len__(self) -> int:
        return len(self._by_key)
