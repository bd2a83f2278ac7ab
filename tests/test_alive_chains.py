"""The reachability search's shortcut (issue 14, the judge's cost): a record held only by its
closure's token cell, held only by the closure, skips three walks of the heap.  Its verdicts
must be those of the walk level by level, in every shape of holder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_latebind import _alive
from pytest_latebind._recorder import RECORDER, Window

from .helpers import load

SOURCE = """
    import sys

    KEPT = []
    FRAMES = []
    ERRORS = []

    def make(n):
        out = []
        for i in range(n):
            out.append(lambda: i)
        return out

    def nested(n):
        out = []
        for i in range(n):
            def outer():
                return lambda: i  # shares the token cell with outer: no shortcut
            out.append(outer)
        return out

    def kept_by_a_frame(n):
        for i in range(n):
            f = lambda: i
            FRAMES.append(sys._getframe())
        return None

    def kept_by_a_traceback(n):
        fs = [lambda: i for i in range(n)]
        try:
            raise ValueError
        except ValueError as exc:
            ERRORS.append(exc)
"""


def _records(window: Window) -> tuple[dict[Any, list[Any]], list[Any]]:
    live = window.live_records()
    return live, [record for group in live.values() for record in group]


def _both(window: Window) -> tuple[list[bool], list[bool], int]:
    """The verdicts with the shortcut, without it, and how many records took it."""
    live, records = _records(window)
    ignore = [records, live, *live.values()]
    # Only the count: the chains hold the functions, which would make them alive to the walk.
    shortcut = len(_alive._chains(list(records), ignore))
    # A first search gives the running frames frame objects (sys._current_frames), which a
    # walk then meets among the holders: compare the shortcut with a walk made after one.
    _alive._Search(ignore).run(list(records))
    fast = _alive.alive(records, ignore=[live, *live.values()])
    found = _alive._Search(ignore).run(list(records))
    slow = [k in found for k in range(len(records))]
    del found
    return fast, slow, shortcut


def test_the_shortcut_agrees_with_the_walk(tmp_path: Path) -> None:
    module = load(tmp_path, SOURCE)
    window = Window("t")
    with RECORDER.recording(window):
        module.KEPT.extend(module.make(5))   # held by a module: alive
        local = module.make(4)               # held by this running frame: alive
        module.kept_by_a_frame(3)            # only by finished frames: not alive
        module.kept_by_a_traceback(3)        # only through a traceback's frame: not alive
        nested = [outer() for outer in module.nested(3)]  # token cell shared: no shortcut
    fast, slow, shortcut = _both(window)
    assert fast == slow, (fast, slow, shortcut)
    assert shortcut >= 5 + 4  # the common shape takes the shortcut
    assert fast[:5] == [True] * 5  # the module's
    assert fast.count(False) >= 1 + 3  # the finished frame's and the traceback's
    del local, nested


def test_a_record_held_elsewhere_too_is_walked(tmp_path: Path) -> None:
    module = load(tmp_path, SOURCE)
    window = Window("t")
    with RECORDER.recording(window):
        funcs = module.make(3)
    live, records = _records(window)
    extra = [records[0]]  # one more holder of one record: its count is off, it is walked
    chains = _alive._chains(list(records), [records, live, *live.values()])
    assert 0 not in chains and chains
    del chains
    assert _alive.alive(records, ignore=[live, *live.values()]) == [True] * len(records)
    del extra, funcs

