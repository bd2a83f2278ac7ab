"""Alive in the user's program: reachable otherwise than through frames and tracebacks.

A shared binding is a bug waiting only if the program can still call the siblings.  A weak
reference says whether an object exists, not who holds it: closures a correct program used
within their rounds stay in memory when something keeps a *frame* that once held them (a
decorator storing ``sys._getframe(1)``, a stored traceback, pytest's exception info).  Nobody
can act on those.

The search goes backwards, from each candidate's record (held by its closure's token cell)
through ``gc.get_referrers``, one level at a time:

- it stops, *alive*, at a module's namespace, at the frame of code still running in any
  thread (a daemon thread's loop, the test session itself), and at an object nothing
  visible refers to (held from C: ``atexit``, a signal handler, an extension's registry);
- it does not go on through a traceback, nor a frame that has finished, unless the frame is
  a suspended generator's or coroutine's (then the generator's holders decide);
- it ignores the plugin's own structures, and its own frames and lists.

Anything it cannot decide within its budget is alive: a finding may be kept that the rule
would drop, never dropped that it would keep.
"""

from __future__ import annotations

import gc
import os
import sys
import types
from collections.abc import Iterable
from typing import Any

_BUDGET = 20_000  # objects visited per candidate group before giving up (and calling it alive)
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SUSPENDABLE = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)


def alive(objects: Iterable[Any], ignore: Iterable[Any] = ()) -> list[bool]:
    """For each object, whether the user's program can still reach it (see the module docs).

    ``ignore``: containers of the caller's that refer to the objects (its own lists).  One
    search serves all the objects: each level of holders is one ``gc.get_referrers`` call.
    """
    targets = list(objects)
    if not targets:
        return []
    found = _Search([objects, *ignore]).run(targets)
    return [k in found for k in range(len(targets))]


class _Search:
    def __init__(self, ignore: Iterable[Any]) -> None:
        self.modules = {id(vars(m)) for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)}
        self.running: set[int] = set()
        self.skip: set[int] = {id(x) for x in ignore}
        frames = sys._current_frames()
        for top in frames.values():
            frame: types.FrameType | None = top
            while frame is not None:
                # Our own frames' locals are ours; any other running frame holds for real.
                mine = frame.f_code.co_filename.startswith(_PACKAGE)
                (self.skip if mine else self.running).add(id(frame))
                frame = frame.f_back
        del frames

    def run(self, targets: list[Any]) -> set[int]:
        """The indexes of the targets found alive."""
        alive: set[int] = set()
        origins: dict[int, set[int]] = {id(t): {k} for k, t in enumerate(targets)}
        level: list[Any] = list(targets)
        visited = 0
        self.kept: list[Any] = []
        self.skip |= {id(targets), id(origins), id(alive), id(self.kept)}
        while level and len(alive) < len(targets):
            # The call's own argument tuple refers to the level too: one tuple, passed as it is.
            args = tuple(level)
            self.kept += [level, args]  # alive until the search ends, so no other object takes their ids
            self.skip |= {id(level), id(args)}
            ids = {id(obj) for obj in level}
            holders = [h for h in gc.get_referrers(*args) if id(h) not in self.skip]
            edges: list[tuple[Any, set[int]]] = []
            held: set[int] = set()
            for holder in holders:
                reached = ids.intersection(map(id, gc.get_referents(holder)))
                if reached:
                    held |= reached
                    edges.append((holder, set().union(*(origins[i] for i in reached))))
            for obj in level:
                if id(obj) not in held:  # nothing visible holds it: held from C, or a root
                    alive |= origins[id(obj)]
            following: list[Any] = []
            for holder, sources in edges:
                sources = sources - alive
                key = id(holder)
                if not sources or sources <= origins.get(key, set()):
                    continue
                if key in self.modules or key in self.running or isinstance(holder, types.ModuleType):
                    alive |= sources
                    continue
                if isinstance(holder, types.TracebackType):
                    continue
                if isinstance(holder, types.FrameType) and not self._suspended(holder):
                    continue
                origins.setdefault(key, set()).update(sources)
                following.append(holder)
            del holders, edges, args  # ours: the next level's holders must not find them
            visited += len(following)
            if visited > _BUDGET:
                return alive | set().union(*(origins[id(obj)] for obj in following))
            level = following
        return alive

    def _suspended(self, frame: types.FrameType) -> bool:
        """A finished frame is no holder, but a suspended generator's (3.10) is its generator's."""
        return any(isinstance(h, _SUSPENDABLE) for h in gc.get_referrers(frame))
