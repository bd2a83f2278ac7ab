"""Records -> findings: the one place a :class:`Finding` is built from what the recorder saw.

The judge builds findings from a window (stale reads, and the closures still alive);
``check()`` from the closures it is given.  Both go through here, so a finding is complete
when built: kind, site, variable, the values as bounded reprs, the closures sharing the
binding (at least one per value), the calls, the tests.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from typing import Any

from ._findings import Finding
from ._kinds import Kind
from ._messages import Frame
from ._recorder import (
    MAX_VALUES,
    PENDING,
    UNBOUND,
    WATCHED_FILES,
    Record,
    SiteInfo,
    StaleEvent,
    Window,
    baseline,
    distinct,
    equivalent,
    group_by_binding,
    keys_of,
    read,
)
from ._scopes import Site
from ._values import Weak, short_repr

try:  # only to hide their frames from stacks; the core never needs them
    import _pytest as _pytest_pkg
    import pluggy as pluggy_pkg
except ImportError:  # pragma: no cover - used without pytest
    _pytest_pkg = pluggy_pkg = None  # type: ignore[assignment]


def finding(site: Site, file: str, variable: str, kind: Kind, *, created: Sequence[Any], now: Any,
            closures: int, stale_reads: int = 0, stack: list[Frame] | None = None,
            tests: Sequence[str] = (), outside: bool = False, more: bool = False,
            made_with: str | None = None, thread: str | None = None) -> Finding:
    """A finding of ``site`` for ``variable``; ``created`` and ``now`` are remembered values.

    ``more``: values beyond ``created`` were seen (the recorder keeps the first few only).
    """
    shown = [short_repr(value) for value in created[:MAX_VALUES]]
    return Finding(file=file, line=site.line, column=site.column, variable=variable,
                   site_kind=site.kind, site_name=site.name, qualname=site.qualname,
                   fix=site.fix_hint(variable),
                   kinds=[kind], created_with=shown, more_values=more or len(created) > len(shown),
                   seen=short_repr(now),
                   closures=max(closures, len(shown)), stale_reads=stale_reads, stack=stack or [],
                   tests=list(tests), outside_tests=outside, made_with=made_with, thread=thread)


def seen_in(window: Window) -> dict[str, Any]:
    """Where a window's findings were seen: in its test, or outside any (the session's)."""
    return {"tests": [window.label] if window.label else [], "outside": window.label is None}


def shared_bindings(info: SiteInfo, records: list[Record], *, window: Window | None = None,
                    tests: Sequence[str] = (), outside: bool = False) -> list[Finding]:
    """Closures of one site reading one binding of a loop variable, made with different values.

    ``window``: the one the records were made in; it counts the closures made on a binding
    past those tracked (tracking stops at a bound, the count goes on).
    """
    found = []
    for k, variable in enumerate(info.variables):
        groups = group_by_binding(records, k)
        for group in groups:
            values = distinct([baseline(record, k) for record in group])
            if k in info.own and _alike(values):
                continue  # functions reaching each other by their own name, all behaving alike
            if len(group) >= 2 and len(values) >= 2:
                # A binding may be counted under several keys (its closures all died once
                # between two of them): the live ones name each.
                keys = {keys_of(record)[k] for record in group}
                made = sum(window.made_on(info, k, key) for key in keys) if window is not None else 0
                closures = max(len(group), made)
                found.append(finding(info.site, info.file, variable, Kind.SHARED_BINDING, created=values,
                                     now=read(group[0].refs[k]), closures=closures, tests=tests,
                                     outside=outside))
    return found


def stale_read(event: StaleEvent, live: list[Record], window: Window) -> Finding:
    """The stale reads of one (site, variable) in ``window``; ``live``: the site's live records.

    The values and the count are those of the binding the stale closures read: one site run
    twice in a test (two loops) makes two bindings, each its own group of siblings.
    """
    k, info = event.variable, event.info
    creations = window.creations.get(info, [])
    mine = [values for keys, values in creations if keys[k] == event.ref]
    siblings = [r for r in live if keys_of(r)[k] == event.ref]
    made = [values[k] for values in mine if values[k] is not PENDING]
    if mine and mine[-1][k] is PENDING and event.read is not UNBOUND:
        # The last closure's round never ended with a sibling made after it: it ends with the
        # loop, and the binding then holds what the stale read saw.
        made.append(event.read)
    created = distinct(made + [baseline(r, k) for r in siblings] + list(event.created))
    closures = window.made_on(info, k, event.ref)
    # "..." for values not listed: none are missing when every closure of the binding is alive.
    more = (info, k, event.ref) in window.more_values and len(siblings) < closures
    return finding(info.site, info.file, info.variables[k], Kind.STALE_READ, created=created, now=event.now,
                   closures=max(closures, len(siblings)), stale_reads=event.calls,
                   stack=_user_frames(event.stack), more=more,
                   made_with=short_repr(event.created[0]) if event.created else None, thread=event.thread,
                   **seen_in(window))


def _alike(values: list[Any]) -> bool:
    functions = [v.ref() for v in values if v.__class__ is Weak]
    functions = [f for f in functions if f is not None]
    return all(equivalent(functions[0], f) for f in functions[1:])


_HIDDEN = (os.path.dirname(os.path.abspath(__file__)) + os.sep,  # this package's own frames
           *(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
             for m in (_pytest_pkg, pluggy_pkg) if m is not None and m.__file__))


def _user_frames(stack: traceback.StackSummary | None) -> list[Frame]:
    """The stack of a stale read, innermost last, without pytest's, pluggy's and our frames."""
    if not stack:
        return []
    frames = []
    for f in stack:
        file = os.path.abspath(f.filename)
        if not file.startswith(_HIDDEN):
            frame = Frame(file=file, line=f.lineno or 0, function=f.name)
            if file in WATCHED_FILES:
                frame["watched"] = True
            frames.append(frame)
    return frames
