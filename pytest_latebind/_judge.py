"""Judge a window: the findings among what it recorded (built by ``_builder``)."""

from __future__ import annotations

import gc

from . import _builder
from ._alive import alive
from ._findings import Finding, merged
from ._recorder import Record, SiteInfo, Window, held_records


def judge(window: Window, *, shared: bool = True, context: Window | None = None) -> list[Finding]:
    """Stale reads not yet judged, and (when ``shared``) shared bindings alive now.

    ``context`` is another window (the session's) whose live closures may be the siblings
    of this window's stale ones: closures made at import time and called in a test.
    """
    return merged([*_stale_reads(window, context), *(_shared_bindings(window) if shared else [])])


def _stale_reads(window: Window, context: Window | None) -> list[Finding]:
    events = window.take_stale()
    if not events:
        return []
    known = window.live_records()
    if context is not None and context is not window:
        for info, records in context.live_records().items():
            known[info] = known.get(info, []) + records
    # No record outlives this call: held across the collection that follows, it would be "alive".
    return [_builder.stale_read(event, known.get(event.info, []), window) for event in events]


def _shared_bindings(window: Window) -> list[Finding]:
    if not _candidates(window, window.live_records()):
        return []
    # Closures in reference cycles outlive their last use until the collector runs:
    # collect before calling them alive, and only when it matters.  The young generations
    # first (what the test made and dropped is mostly there): a full collection is a pass
    # over the whole heap, needed only if candidates are left.
    gc.collect(1)
    if not _candidates(window, window.live_records()):
        return []
    gc.collect()
    live = window.live_records()
    records = [record for group in live.values() for record in group]
    verdicts = alive(records, ignore=[live, *live.values(), held_records()])
    kept = {id(record) for record, verdict in zip(records, verdicts, strict=True) if verdict}
    del records
    return _candidates(window, {info: [r for r in group if id(r) in kept] for info, group in live.items()})


def _candidates(window: Window, live: dict[SiteInfo, list[Record]]) -> list[Finding]:
    return [finding for info, records in live.items() if len(records) >= 2
            for finding in _builder.shared_bindings(info, records, window=window,
                                                    **_builder.seen_in(window))]
