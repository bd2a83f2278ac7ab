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

Most records are held by one chain only, proven by reference counts: their token cell, the
closure's cell tuple, the closure.  Those three levels are not walked (each walk visits the
whole heap): one ``gc.get_referrers`` over the sites' codes finds the closures, and the
search takes them up at the level and with the origins the walk would have.

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
    ignore = [objects, *ignore]
    chains = _chains(targets, ignore)
    found = _Search(ignore).run(targets, chains)
    return [k in found for k in range(len(targets))]


def _count(obj: Any) -> int:
    return sys.getrefcount(obj)


class _Probe:
    value: object


def _calibrate() -> int:
    """What :func:`_count` adds to an object's count when given an attribute's value (the
    call's own references: one fewer where the interpreter borrows, as 3.14 may)."""
    probe = _Probe()
    probe.value = object()
    return _count(probe.value) - 1


_CALL_REFS = _calibrate()


def _chains(targets: list[Any], ignore: list[Any]) -> dict[int, tuple[Any, Any, Any]]:
    """Per target index: (token cell, closure tuple, function) when the target is a record
    held only by its closure's token cell, which only that closure's tuple holds, which only
    the function holds (reference counts prove it).  The search's first three levels are
    then known without a walk of the heap each: one ``gc.get_referrers`` over the sites'
    codes finds the functions.  Anything else (a count off by one, a generator's record, a
    token cell shared with a nested closure) is searched level by level as before.
    """
    codes = {}
    for target in targets:
        info = getattr(target, "info", None)
        code = getattr(info, "code", None)
        if code.__class__ is types.CodeType and info.site.kind != "genexp":  # type: ignore[union-attr]
            codes[id(code)] = code
    if not codes:
        return {}
    mine: dict[int, int] = {}  # references to each target from the caller's containers and ours
    for container in (targets, *ignore):
        if isinstance(container, dict):
            items: Iterable[Any] = container.values()
        elif isinstance(container, (list, tuple, set, frozenset)):
            items = container
        else:
            return {}  # a container whose references cannot be counted
        for item in items:
            mine[id(item)] = mine.get(id(item), 0) + 1
    index = {id(target): k for k, target in enumerate(targets)}
    from ._transformer import TOKEN

    chains: dict[int, tuple[Any, Any, Any]] = {}
    for holder in gc.get_referrers(*codes.values()):
        if holder.__class__ is not types.FunctionType or id(holder.__code__) not in codes:
            continue
        closure = holder.__closure__
        if closure is None or _count(holder.__closure__) != 2 + _CALL_REFS:  # the function's, and ours
            continue
        for name, n in zip(holder.__code__.co_freevars, range(len(closure)), strict=False):
            if not name.startswith(TOKEN):
                continue
            try:
                token = closure[n].cell_contents
            except ValueError:
                continue
            k = index.get(id(token))
            ours = k is not None and getattr(token.info, "code", None) is holder.__code__
            del token  # a reference of ours would be counted below
            if not ours or k is None:
                continue
            if (k not in chains and _count(closure[n]) == 1 + _CALL_REFS  # the tuple's only
                    and _count(closure[n].cell_contents) == 1 + mine[id(targets[k])] + _CALL_REFS):
                chains[k] = (closure[n], closure, holder)
            break
        del closure
    return chains


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

    def run(self, targets: list[Any], chains: dict[int, tuple[Any, Any, Any]] | None = None) -> set[int]:
        """The indexes of the targets found alive.

        ``chains``: per target, its first three holders (see :func:`_chains`), known to be
        its only ones: their levels are not searched, the search picks each chain up at its
        function, at the level the walk would have reached it, with the same origins and the
        same count of objects visited.
        """
        chains = chains or {}
        alive: set[int] = set()
        origins: dict[int, set[int]] = {id(t): {k} for k, t in enumerate(targets)}
        level: list[Any] = [t for k, t in enumerate(targets) if k not in chains]
        visited = 0
        self.kept: list[Any] = [chains]
        self.skip |= {id(targets), id(origins), id(alive), id(self.kept), id(chains)}
        self.skip |= {id(chain) for chain in chains.values()}  # ours, as the lists are
        depth = 0
        while (level or (depth < 3 and chains)) and len(alive) < len(targets):
            following = self._step(level, origins, alive) if level else []
            if depth < 3:
                # The walk would have reached each chain's link of this level, held by the
                # chain's next link only: the same origins, counted as visited.
                ids = {id(obj) for obj in following}
                for k, chain in chains.items():
                    if k in alive:
                        continue
                    link = chain[depth]
                    seen = origins.setdefault(id(link), set())
                    if k in seen:
                        continue
                    seen.add(k)
                    if depth == 2:  # the function: searched from the next level on
                        if id(link) not in ids:
                            ids.add(id(link))
                            following.append(link)
                    else:
                        visited += 1
                if visited + len(following) > _BUDGET and depth < 2:
                    return alive | set().union(*(origins[id(obj)] for obj in following),
                                               (k for k in chains if k not in alive))
            depth += 1
            visited += len(following)
            if visited > _BUDGET:
                return alive | set().union(*(origins[id(obj)] for obj in following))
            level = following
        return alive

    def _step(self, level: list[Any], origins: dict[int, set[int]], alive: set[int]) -> list[Any]:
        """One level of the search: the holders of ``level`` to search next (``alive`` grows)."""
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
        return following

    def _suspended(self, frame: types.FrameType) -> bool:
        """A finished frame is no holder, but a suspended generator's (3.10) is its generator's."""
        return any(isinstance(h, _SUSPENDABLE) for h in gc.get_referrers(frame))
