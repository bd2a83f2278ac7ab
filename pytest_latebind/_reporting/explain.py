"""``--latebind-explain``: for each closure site that ran, why it was or was not a finding.

A user who doubts a verdict wants its evidence: how many closures the site made, the values
they were made with, on how many bindings of the loop variable, whether one read it late
(and what it saw), and how many were still alive when the test (or the session) ended.
Each explanation is a plain dict (builtins only), so that an xdist worker's travel to the
controller on the test's teardown report, or in its payload for the session's own window.

With values hidden, no value is listed: the counts and the verdict are.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

from .._alive import alive
from .._findings import Finding
from .._messages import Context, plural
from .._recorder import PENDING, Window, binding_key, held_records
from .._values import same, short_repr

_VALUES_SHOWN = 8


def explain_window(window: Window, findings: Sequence[Finding], context: Context) -> list[dict[str, Any]]:
    """One explanation per (site, loop variable) that made closures in ``window``; ``findings``:
    what judging the window found (before ignores and the baseline)."""
    made_count = dict(window.made_count)
    if not made_count:
        return []
    gc.collect()  # closures in reference cycles are not alive: as the judge counts them
    live = window.live_records()
    records = [record for group in live.values() for record in group]
    verdicts = alive(records, ignore=[live, *live.values(), held_records()]) if records else []
    alive_ids = {id(r) for r, verdict in zip(records, verdicts, strict=True) if verdict}
    del records
    found = {(f.file, f.line, f.column, f.variable): f for f in findings}
    out = []
    for info, made in made_count.items():
        creations = list(window.creations.get(info, ()))
        group = live.get(info, [])
        for k, variable in enumerate(info.variables):
            values: list[Any] = []
            for _, row in creations:
                value = row[k]
                if value is not PENDING and not any(same(value, v) for v in values):
                    values.append(value)
            bindings = len({keys[k] for keys, _ in creations}) or 1
            still = [r for r in group if id(r) in alive_ids]
            shared = len({binding_key(r.refs[k]) for r in still}) < len(still)
            finding = found.get((info.file, info.site.line, info.site.column, variable))
            entry: dict[str, Any] = {
                "test": window.label, "file": context.path(info.file), "line": info.site.line,
                "column": info.site.column, "kind": info.site.kind, "name": info.site.name,
                "variable": variable, "closures": made, "values": len(values),
                "made_with": ([short_repr(v) for v in values[:_VALUES_SHOWN]] if context.show_values else None),
                "more_values": len(values) > _VALUES_SHOWN, "bindings": bindings,
                "referenced": len(group), "alive": len(still),
                "finding": [str(kind) for kind in finding.kinds] if finding is not None else [],
                "stale_reads": finding.stale_reads if finding is not None else 0,
                "seen": finding.seen if finding is not None and context.show_values else None,
            }
            entry["why"] = _why(entry, shared)
            out.append(entry)
    return out


def _why(entry: dict[str, Any], shared: bool) -> str:
    end = "the test" if entry["test"] else "the session"
    if entry["finding"]:
        parts = []
        if "stale-read" in entry["finding"]:
            parts.append(f"{plural(entry['stale_reads'], 'stale read')}: a closure read "
                         f"{entry['variable']!r} while it held another value than the one the closure was made with")
        if "shared-binding" in entry["finding"]:
            parts.append(f"{entry['alive']} closures made with different values were alive at the end of "
                         f"{end}, sharing one binding")
        return "a finding: " + "; ".join(parts)
    if entry["values"] <= 1:
        return ("no finding: every closure was made with the same value, so a late read sees the value "
                "it was made with")
    if entry["bindings"] >= entry["closures"] and entry["closures"] > 1:
        return "no finding: each closure has a binding of its own (a cell per call), so none sees another's value"
    if entry["alive"] < 2 or not shared:
        return (f"no finding: no closure read {entry['variable']!r} late, and "
                f"{'no two' if entry['alive'] >= 2 else str(entry['alive'])} of them sharing a binding were "
                f"alive at the end of {end} (a shared binding needs two)")
    return f"no finding: no closure read {entry['variable']!r} late"


def lines(entries: Sequence[dict[str, Any]], show_values: bool) -> list[str]:
    """The terminal's explanation: a headline per (site, variable, test), then the evidence."""
    out = []
    for e in sorted(entries, key=lambda e: (e["file"], e["line"], e["column"], e["variable"], e["test"] or "")):
        where = f"in {e['test']}" if e["test"] else "outside any test (at import time or between tests)"
        out.append(f"{e['file']}:{e['line']}: {e['kind']} {e['name']}, loop variable {e['variable']!r}, {where}")
        if show_values and e.get("made_with") is not None:
            made = ", ".join(e["made_with"]) + (", ..." if e.get("more_values") else "")
            made = f"made with {e['variable']}={made}"
        else:
            made = f"made with {plural(e['values'], 'distinct value')} (values hidden)" if not show_values \
                else f"made with {plural(e['values'], 'distinct value')}"
        evidence = (f"{plural(e['closures'], 'closure')} {made}, on {plural(e['bindings'], 'binding')}; "
                    f"{e['alive']} of them alive at the end")
        if e.get("seen") is not None and show_values and "stale-read" in e["finding"]:
            evidence += f"; a stale read saw {e['variable']}={e['seen']}"
        out.append(f"    {evidence}")
        out.append(f"    {e['why']}")
    return out


def unique(entries: Sequence[Any]) -> list[dict[str, Any]]:
    """The entries (from every process), each once: ``--dist each`` runs a test on every worker."""
    seen, out = set(), []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        key = repr(sorted(entry.items()))
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out
