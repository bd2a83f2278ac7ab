"""What instrumented code calls at run time: closures made, closures called.

Instrumented code calls ``made()`` on a site's :class:`SiteInfo` for every closure made
there: :func:`bind_sites` puts each site's handle into the code when the module is loaded.
Each closure gets a :class:`Record` as its token.  Every read of a loop
variable inside the closure first compares the value with the closure's *fast baseline*
(its round's value, when the recorder may hold that value: see :mod:`._values`);
when they differ the read asks the record, which compares by its rules and notes a stale
read.  Everything is recorded into the current :class:`Window` (a test, or the session
outside tests), which the judge reads.

This module is imported by user code at import time and called on hot paths: it imports
no pytest, holds closures only weakly (a record lives exactly as long as its closure, in
the closure's token cell), and takes its lock only to change shared state.
"""

from __future__ import annotations

import contextlib
import linecache
import operator
import os
import sys
import threading
import tokenize
import traceback
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import Any

from ._scopes import SITE_MARK, Site
from ._values import ATOMS, Weak, keep_text, matches, remember, same, short_repr

# How many live closures of one site one window tracks for the shared-binding check.  A
# site that makes more keeps working (stale reads are still seen) but costs no more memory.
MAX_TRACKED_PER_SITE = 256
# How many distinct creation values a stale-read event keeps for its message.
MAX_VALUES = 8
# Creations kept per site in a window: MAX_VALUES per binding, so that threads or calls making
# bindings side by side each keep their first values, up to this many in all.
MAX_KEPT_PER_SITE = 64
# A window's raw binding keys are pruned of dead ones when they reach this many (or twice
# as many as the last prune left).
_BINDINGS_PRUNE = 1024


class _Unbound:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unbound>"


UNBOUND: Any = _Unbound()


class _Pending:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<its round's value>"


PENDING: Any = _Pending()


class _Forgotten:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<a binding whose closures all died>"


_FORGOTTEN: Any = _Forgotten()
_SETTLE_LOCK = threading.Lock()


class _Slow:
    """The fast baseline of a value the recorder does not hold: every read asks the record."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<checked by the record>"

    def __reduce__(self) -> str:
        return "SLOW"


SLOW: Any = _Slow()


class WeakBaseline(weakref.ref):  # type: ignore[type-arg]
    """A closure's weak baseline: calling it gives its round's object (``object``, the type,
    stands in where there is none: each call makes a new object, never a value read).

    A type of its own, so that a closure copied cell by cell (cloudpickle) can travel: the
    copy checks nothing (see :class:`_Inert`), so its baseline need not be kept.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Callable[[], Any], tuple[()]]:
        return (_no_baseline, ())


def _no_baseline() -> Any:
    return object
class SiteInfo:
    """A site of a loaded module, with what the recorder caches about it."""

    __slots__ = ("_cells", "_indexes", "_last", "annotated", "checked", "code", "deferred", "file", "later",
                 "newest", "own", "site", "slow", "variables")

    def __init__(self, file: str, site: Site) -> None:
        self.file = file
        self.site = site
        self.variables = site.variables
        self.checked = site.checked
        self.code: Any = None  # the code of the closures made here, once one was
        self.deferred = tuple(k for k, name in enumerate(site.variables) if name in site.deferred)
        self.later = tuple(k for k, name in enumerate(site.variables) if name in site.later)
        self.annotated = tuple((site.variables.index(name), line) for name, line in site.annotated)
        self.own = tuple(k for k, name in enumerate(site.variables) if name in site.own)
        self.slow = bool(self.deferred or self.later)  # its records are DeferredRecords
        # Per binding of a `later` variable: the newest closure made on it (its round is current).
        self.newest: dict[Any, weakref.ref[Record]] = {}
        self._indexes: tuple[int, ...] | None = None
        self._last: dict[Any, weakref.ref[Record]] = {}  # per binding: the record still pending
        # Set once a closure was made here by the general path, when the site allows the fast
        # one (see made): the positions of its loop variables' cells in the factory's closure.
        self._cells: Callable[[tuple[Any, ...]], Any] | None = None

    def settle(self, record: Record) -> tuple[tuple[Any, ...], list[tuple[tuple[Any, ...], Record]]]:
        """For variables the loop assigns after making the closure: the value a closure should
        see is the one its round ends with, which is the value when the next sibling is made.

        Returns the fast values of ``record``, and (values before, record) for each earlier
        sibling whose pending values were filled in, for the window's list of creations.
        """
        values = list(record.values)
        filled: list[tuple[tuple[Any, ...], Record]] = []
        with _SETTLE_LOCK:
            if len(self._last) >= MAX_TRACKED_PER_SITE:
                self._last = {key: ref for key, ref in self._last.items() if ref() is not None}
            for k in self.deferred:
                ref = record.refs[k]
                key = binding_key(ref)
                previous = self._last.get(key)
                before = previous() if previous is not None else None
                if before is not None and same_binding(before.refs[k], ref) and before.values[k] is PENDING:
                    if not any(sibling is before for _, sibling in filled):
                        filled.append((before.values, before))
                    before.values = (*before.values[:k], values[k], *before.values[k + 1:])
                values[k] = PENDING
                self._last[key] = weakref.ref(record)
            for k in self.later:
                self.newest[binding_key(record.refs[k])] = weakref.ref(record)
            if len(self.newest) >= MAX_TRACKED_PER_SITE:
                self.newest = {key: ref for key, ref in self.newest.items() if ref() is not None}
        record.values = tuple(values)
        return tuple(SLOW if k in self.later else value for k, value in enumerate(values)), filled

    def _enable_fast(self) -> None:
        """Let :meth:`made` take its fast path when this site's shape allows it: its checked
        variables are exactly its loop variables, each a cell of the factory (not a global),
        none assigned after the closure, and no annotations to wrap."""
        indexes = self._indexes
        if (self.slow or self.annotated or not indexes or min(indexes) < 0
                or self.checked != tuple(range(len(self.variables)))):
            return
        if len(indexes) == 1:
            (only,) = indexes
            self._cells = lambda closure: (closure[only],)
        else:
            self._cells = operator.itemgetter(*indexes)

    def refs(self, factory: FunctionType) -> tuple[Any, ...]:
        """Where each loop variable lives: the factory's cell, or (globals, name)."""
        indexes = self._indexes
        if indexes is None:
            freevars = factory.__code__.co_freevars
            indexes = self._indexes = tuple(
                freevars.index(v) if v in freevars else -1 for v in self.variables
            )
        closure = factory.__closure__ or ()
        g = factory.__globals__
        return tuple(closure[k] if k >= 0 else (g, name) for k, name in zip(indexes, self.variables, strict=True))

    def made(self, factory: FunctionType, *args: Any) -> Any:
        """Make a closure at this site: ``factory`` takes its token and baselines, then ``args``.

        The fast path, for the sites most loops have (every loop variable a cell of the
        factory, assigned before the closure, no 3.14 annotations): the same record, values
        and recording as the general one (:meth:`_general`, then :meth:`_after`), with nothing
        computed twice.  Anything unusual (an unbound cell, the first closure of the site)
        takes the general path.

        At the recursion limit, only this frame and the factory's count against the program
        (see _ours).
        """
        made = _NOT_MADE
        general = False
        try:
            cells = self._cells
            closure = factory.__closure__
            if cells is None or closure is None:
                general = True
            else:
                refs = cells(closure)
                if len(refs) == 1:  # most loops: one variable, spelt out (no comprehension frames)
                    try:
                        value = refs[0].cell_contents
                    except ValueError:  # unbound: the general path says what a read of it should do
                        general = True
                    else:
                        if value.__class__ in ATOMS:
                            record = Record(self, refs, (value,))
                            made = factory(record, value, object, *args)
                        else:
                            kept = remember(value)
                            record = Record(self, refs, (kept,))
                            made = factory(record, value if kept is value else SLOW,
                                           WeakBaseline(value) if kept.__class__ is Weak else object, *args)
                        raw = [value]
                else:
                    try:
                        raw = [cell.cell_contents for cell in refs]
                    except ValueError:
                        general = True
                    else:
                        values = tuple([value if value.__class__ in ATOMS else remember(value) for value in raw])
                        record = Record(self, refs, values)
                        made = factory(record,
                                       *[value if value is raw[k] else SLOW for k, value in enumerate(values)],
                                       *[WeakBaseline(raw[k]) if value.__class__ is Weak else object
                                         for k, value in enumerate(values)], *args)
            if general:
                record, raw, filled, given = self._general(factory)
                made = factory(*given, *args)
                self._after(made, record, raw, filled)
            else:
                window = RECORDER.window
                if window is not None:
                    window.add(record, raw, tuple(map(id, refs)))
            return made
        except RecursionError as error:
            # Lifted before any call: at the limit, a call here would raise again.  Not from
            # the limit's own depth, where it could not be put back (Python refuses a limit
            # at or below the depth): there the closure costs this frame and the factory's.
            limit = sys.getrecursionlimit()
            at_the_limit = False
            try:
                sys.setrecursionlimit(limit)
            except RecursionError:
                at_the_limit = True
            if at_the_limit:
                raise
            sys.setrecursionlimit(limit + _HEADROOM)
            try:
                if not _ours(error):
                    raise
                if made is _NOT_MADE:
                    return self.made(factory, *args)
                if general:
                    self._after(made, record, raw, filled)
                elif RECORDER.window is not None:
                    RECORDER.window.add(record, raw, tuple(map(id, refs)))
                return made
            finally:
                sys.setrecursionlimit(limit)

    def _general(self, factory: FunctionType) -> tuple[Record, list[Any], list[tuple[tuple[Any, ...], Record]],
                                                       list[Any]]:
        """The general path's record, raw values, filled siblings and the factory's arguments
        (its token and baselines), for any site and any closure."""
        info = self
        record = DeferredRecord(info) if info.slow else Record(info)
        refs = info.refs(factory)
        record.refs = refs
        raw = [read(ref) for ref in refs]
        record.values = values = tuple(map(remember, raw))
        filled: list[tuple[tuple[Any, ...], Record]] = []
        if info.slow:
            # The reads of deferred and later variables go to the record.
            values, filled = info.settle(record)
        # A value the record holds as it is serves the inline identity test, an object it
        # must not hold the weak one; any other (an address, a pending one) sends every read
        # to the record.
        checked = info.checked
        given = [record, *(values[k] if values[k] is raw[k] else SLOW for k in checked),
                 *(WeakBaseline(raw[k]) if values[k].__class__ is Weak else object for k in checked)]
        return record, raw, filled, given

    def _after(self, made: Any, record: Record, raw: list[Any], filled: list[tuple[tuple[Any, ...], Record]]) -> None:
        """The general path's bookkeeping once the closure is made."""
        info = self
        if info.code is None:  # a function's code, or a generator expression's
            info.code = made.gi_code if info.site.kind == "genexp" else made.__code__
            info._enable_fast()
        if info.annotated and getattr(made, "__annotate__", None) is not None:
            made.__annotate__ = AnnotationReads(made.__annotate__, record)
        if not info.checked:
            # It reads no loop variable it does not assign itself (`nonlocal t; t += 1`), so
            # no read references its token: the record lives as long as the closure this way.
            _HELD[made] = record
        window = RECORDER.window
        if window is not None:
            for old, sibling in filled:
                window.filled(info, old, sibling.values)
            window.add(record, raw)

    def __repr__(self) -> str:
        return f"<site {self.file}:{self.site.line} {self.site.name}>"


_NOT_MADE: Any = object()
# Frames the plugin may borrow past the recursion limit for its own bookkeeping.
_HEADROOM = 64
_HERE = os.path.dirname(os.path.abspath(__file__))
# What a stale read's stack is taken with (the source lines of its frames).
_STDLIB_OURS = frozenset(os.path.abspath(m.__file__) for m in (traceback, linecache, tokenize) if m.__file__)


def _ours(error: RecursionError) -> bool:
    """Whether ``error`` came from the plugin's own frames (or from entering one), below the
    frame that caught it: then that frame may run its step again with the limit lifted by
    _HEADROOM, so that making a closure at the recursion limit costs the program only the
    frames of ``made`` and the factory, and a stale read those of ``Record.read`` and its
    first call.  An error from the user's code (an annotation a factory evaluates) is not
    ours: running that code twice would be seen."""
    tb = error.__traceback__
    tb = tb.tb_next if tb is not None else None  # the first is the frame that caught it
    while tb is not None:
        file = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if not file.startswith(_HERE) and file not in _STDLIB_OURS:
            return False
        tb = tb.tb_next
    return True


def binding_key(ref: Any) -> Any:
    """A binding's identity that keeps it alive no longer: holding a cell would keep the last
    value in it alive after the closures and their function are gone."""
    if ref.__class__ is tuple:
        return ref if ref[0].__class__ is int else (id(ref[0]), ref[1])
    return ref if ref.__class__ is int else id(ref)


def keys_of(record: Record) -> tuple[Any, ...]:
    """The keys of a record's bindings: those its window gave it (see :meth:`Window.add`), or,
    made with no window, :func:`binding_key` of each ref."""
    keys = record.keys
    return keys if keys is not None else tuple(map(binding_key, record.refs))


def read(ref: Any) -> Any:
    """The current value of a loop variable's binding (a cell, or (globals, name))."""
    if ref.__class__ is tuple:
        return ref[0].get(ref[1], UNBOUND)
    try:
        return ref.cell_contents
    except ValueError:
        return UNBOUND


class Record:
    """One closure made at a site: its token, where its loop variables live (the cells it
    reads anyway), and the values it was made with as :mod:`._values` remembers them."""

    __slots__ = ("__weakref__", "info", "keys", "refs", "values")

    def __init__(self, info: SiteInfo, refs: tuple[Any, ...] = (), values: tuple[Any, ...] = ()) -> None:
        self.info = info
        self.refs = refs
        self.values = values
        self.keys: tuple[Any, ...] | None = None  # its bindings' keys in the window it was made in

    def read(self, k: int, now: Any) -> Any:
        """A read of the k-th loop variable that the fast identity test did not settle."""
        value = self.values[k]
        # An object read in a loop comes here every time: its test first, inline.
        if value.__class__ is Weak and value.ref() is now:
            return now
        try:
            if self.is_stale(k, now):
                RECORDER.stale(self, k, now)
            return now
        except RecursionError as error:
            limit = sys.getrecursionlimit()  # as in SiteInfo.made
            at_the_limit = False
            try:
                sys.setrecursionlimit(limit)
            except RecursionError:
                at_the_limit = True
            if at_the_limit:
                raise
            sys.setrecursionlimit(limit + _HEADROOM)
            try:
                if not _ours(error):
                    raise
                return self.read(k, now)
            finally:
                sys.setrecursionlimit(limit)

    def is_stale(self, k: int, now: Any) -> bool:
        """The rule of :meth:`read`, for a read that is not in the closure's code."""
        return not matches(self.values[k], now)

    def __reduce__(self) -> tuple[Callable[[], Any], tuple[()]]:
        # cloudpickle and friends copy closures cell by cell: travel as an inert token.
        return (_inert, ())


class DeferredRecord(Record):
    """A record with a loop variable assigned after the closure: pending until its round ends,
    or (assigned before and after) its own in any value until the loop makes the next one."""

    __slots__ = ()

    def is_stale(self, k: int, now: Any) -> bool:
        value = self.values[k]
        if value is PENDING or matches(value, now):
            return False
        if k in self.info.own:
            # Its own name reaching another round's function is a bug only if that one behaves
            # differently (other defaults, other cell values); an equivalent one is no change.
            made = value.ref() if value.__class__ is Weak else UNBOUND
            return made is not None and not equivalent(made, now)
        if k in self.info.later:
            newest = self.info.newest.get(binding_key(self.refs[k]))
            if newest is not None and newest() is self:
                return False  # still its round: `k += 1` after the closure is the round's own doing
        return True


def baseline(record: Record, k: int) -> Any:
    """The value the k-th loop variable should have when the closure runs (remembered)."""
    value = record.values[k]
    return remember(read(record.refs[k])) if value is PENDING else value


class _Inert:
    """The token of a closure copied out of the process: its reads check nothing."""

    __slots__ = ()

    @staticmethod
    def read(k: int, now: Any) -> Any:
        return now


def _inert() -> _Inert:
    return _Inert()


class AnnotationReads:
    """A def's ``__annotate__`` (3.14) that checks the loop variables its annotations read
    each time they are evaluated, then evaluates them as before.

    Everything else is the original's (``__code__``, ``__closure__``, ``__globals__``, names):
    annotationlib rebuilds a function from those for the STRING and FORWARDREF formats.
    """

    __slots__ = ("__wrapped", "_record")

    def __init__(self, annotate: Callable[[int], Any], record: Record) -> None:
        self.__wrapped = annotate
        self._record = record

    def __call__(self, format: int, /) -> Any:
        if format in (1, 3):  # VALUE, FORWARDREF: the names are looked up for real
            record = self._record
            for k, line in record.info.annotated:
                now = read(record.refs[k])
                if now is not UNBOUND and record.is_stale(k, now):
                    last = traceback.FrameSummary(record.info.file, line, "__annotate__", lookup_line=False)
                    RECORDER.stale(record, k, now, last)
        return self.__wrapped(format)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped, name)

    def __repr__(self) -> str:
        return repr(self.__wrapped)


# The sites of each module bound so far (the last load of a file wins): what the run watched.
_LOADED_SITES: dict[str, tuple[SiteInfo, ...]] = {}


def sites_of(file: str) -> tuple[SiteInfo, ...]:
    """The sites of the instrumented module loaded from ``file``, in source order."""
    return _LOADED_SITES.get(os.path.normcase(os.path.abspath(file)), ())


def bind_sites(code: CodeType, file: str) -> CodeType:
    """``code`` (a module's, compiled by ``_transformer``) with each site's constant replaced
    by the site's handle, one :class:`SiteInfo` per site, all of ``file``."""
    handles: dict[int, SiteInfo] = {}

    def bind(code: CodeType) -> CodeType:
        old = code.co_consts
        consts = tuple(bind(c) if c.__class__ is CodeType
                       else handle(c) if c.__class__ is tuple and len(c) == 3 and c[0] == SITE_MARK
                       else c for c in old)
        return code if all(a is b for a, b in zip(consts, old, strict=True)) else code.replace(co_consts=consts)

    def handle(const: tuple[Any, ...]) -> SiteInfo:
        _, index, row = const
        info = handles.get(index)
        if info is None:
            info = handles[index] = SiteInfo(file, Site(*row))
        return info

    bound = bind(code)
    _LOADED_SITES[os.path.normcase(os.path.abspath(file))] = tuple(handles[k] for k in sorted(handles))
    return bound


class Shown:
    """A value as a message shows it: its bounded repr, taken when it was seen."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@dataclass
class StaleEvent:
    """Stale reads of one (site, loop variable) in one window."""

    info: SiteInfo
    variable: int
    calls: int = 0  # stale reads
    created: list[Any] = field(default_factory=list)  # remembered values, distinct, in order seen
    now: Any = UNBOUND  # the value the first stale read saw, as Shown
    read: Any = UNBOUND  # ... and as remembered: the round's value of a last closure still pending
    ref: Any = None  # the binding the stale closures read (its binding_key): their siblings share it
    stack: traceback.StackSummary | None = None
    thread: str | None = None  # the thread of the first stale read, when not the main one


class Window:
    """What happened during one test (``label`` is its node id), or outside tests (None)."""

    def __init__(self, label: str | None) -> None:
        self.label = label
        # Weak references in creation order (the messages list values in that order);
        # dead ones are pruned when the list fills, never from GC callbacks.
        self.tracked: dict[SiteInfo, list[weakref.ref[Record]]] = {}
        self.made_count: dict[SiteInfo, int] = {}
        self._next_prune: dict[SiteInfo, int] = {}
        # The first few (binding keys, remembered values) made on each binding of each site,
        # kept even after the closures die, so a message can name every value the siblings of
        # a stale closure were made with.
        self.creations: dict[SiteInfo, list[tuple[tuple[Any, ...], tuple[Any, ...]]]] = {}
        self._kept: dict[tuple[SiteInfo, tuple[Any, ...]], int] = {}  # per (site, binding keys)
        # (site, variable, binding key) whose closures past those kept had a value none of the
        # kept ones of that binding has: its message ends the values with "...".
        self.more_values: set[tuple[SiteInfo, int, Any]] = set()
        # (site, variable, binding key): closures made past those kept, so a binding's count
        # is its own even when threads or calls make many bindings at one site.
        self.more_made: dict[tuple[SiteInfo, int, Any], int] = {}
        self.stale: dict[tuple[SiteInfo, int], StaleEvent] = {}
        # Per site: [raw keys, their more_made entries, whether all are in more_values, their
        # entries in _bindings, the keys those gave] for the last bindings that made a closure
        # past those kept (see add).
        self._unlisted: dict[SiteInfo, list[Any]] = {}
        # Per raw key (binding_key: an address): [the key its closures are counted under (the
        # raw key and a serial number), the oldest and the newest of them known alive (weak)].
        # An address names one binding only while something holds it: once every closure made
        # on it has died, its cell may have died too and a new one taken the address, so the
        # next closure made there starts a new key (the window cannot hold the cell to know:
        # that would keep its value alive).
        self._bindings: dict[Any, list[Any]] = {}
        self._bindings_limit = _BINDINGS_PRUNE
        self._uses: dict[Any, set[tuple[SiteInfo, int]]] = {}  # key -> its more_made entries
        # Keys that only one site's fast path has seen since _renew made them (no kept
        # creation, no stale event, no other closure's record names them): when every closure
        # made on one has died, the next binding at its address may reuse it, its count reset,
        # as a new key would be counted (see _renew), without forgetting it and making another.
        self._recyclable: dict[Any, SiteInfo] = {}
        self._serial = 0
        self._lock = threading.Lock()
        _WINDOWS.add(self)

    def add(self, record: Record, raw: list[Any], keys: tuple[Any, ...] | None = None) -> None:
        """A closure made; ``raw`` are its values, alive for the length of this call only;
        ``keys`` its bindings' raw keys (:func:`binding_key` of each ref), when the caller has them."""
        info = record.info
        if keys is None:
            keys = tuple(map(binding_key, record.refs))
        ref = weakref.ref(record)
        unlisted = self._unlisted.get(info)
        if unlisted is not None and unlisted[0] == keys:
            # The common case in a loop: one binding, its kept creations full, so this one
            # is only counted (and compared with the kept values until they all differ).
            with self._lock:
                entries = unlisted[3]
                if len(entries) == 1:  # most sites: spelt out, no generators
                    entry = entries[0]
                    same_keys = entry[0] is unlisted[4][0]
                    alive = same_keys and (entry[2]() is not None or entry[1]() is not None)
                else:  # a loop, not generators: this runs for every closure of such a site
                    same_keys = alive = True
                    for entry, key in zip(entries, unlisted[4], strict=True):
                        if entry[0] is not key:
                            same_keys = alive = False
                            break
                        if alive and entry[2]() is None and entry[1]() is None:
                            alive = False
                if same_keys:
                    if alive:
                        for entry in entries:
                            entry[2] = ref
                    else:
                        self._renew(info, unlisted, ref, record)
                    record.keys = unlisted[4]
                    count = self.made_count[info] = self.made_count[info] + 1
                    more_made = self.more_made
                    for entry in unlisted[1]:
                        more_made[entry] = more_made.get(entry, 0) + 1
                    if not unlisted[2]:
                        self._compare_more(info, record, unlisted[1])
                        unlisted[2] = all(entry in self.more_values for entry in unlisted[1])
                    tracked = self.tracked[info]
                    if len(tracked) < MAX_TRACKED_PER_SITE:
                        tracked.append(ref)
                    else:
                        self._track(info, record, count, ref)
                    return
        with self._lock:
            fresh_after = self._serial  # a key with a later serial is new: no kept creation has it
            record.keys = self._resolve(keys, ref)
        listed = self._listed(info, record.keys)
        if listed and RECORDER.show_values:
            # Outside the lock: a repr is the user's code, and it may make closures itself.
            for remembered, value in zip(record.values, raw, strict=True):
                keep_text(remembered, value)
        with self._lock:
            resolved = record.keys
            if any(self._bindings.get(key, (None,))[0] != new for key, new in zip(keys, resolved, strict=True)):
                # Between the two locks (a repr, another thread) closures were made on these
                # addresses after every earlier one had died: a new key.
                resolved = record.keys = self._resolve(keys, ref)
            self.made_count[info] = self.made_count.get(info, 0) + 1
            creations = self.creations.setdefault(info, [])
            if listed and self._listed(info, resolved):
                creations.append((resolved, record.values))
                self._kept[info, resolved] = self._kept.get((info, resolved), 0) + 1
            else:
                entries = tuple((info, k, key) for k, key in enumerate(resolved))
                for k, key in enumerate(resolved):
                    self._uses.setdefault(key, set()).add((info, k))
                for entry in entries:
                    self.more_made[entry] = self.more_made.get(entry, 0) + 1
                self._compare_more(info, record, entries, fresh_after)
                # Never listed again (the counts only grow): the next ones take the short way.
                self._unlisted[info] = [keys, entries, all(entry in self.more_values for entry in entries),
                                        [self._bindings[key] for key in keys], resolved]
            self._track(info, record, self.made_count[info], ref)

    def _resolve(self, raw: tuple[Any, ...], ref: weakref.ref[Record]) -> tuple[Any, ...]:
        """The keys of a new closure's bindings from their raw keys (called under the lock)."""
        bindings = self._bindings
        keys = []
        for raw_key in raw:
            entry = bindings.get(raw_key)
            if entry is None:
                if len(bindings) >= self._bindings_limit:
                    self._prune_bindings()
                self._serial += 1
                bindings[raw_key] = [(raw_key, self._serial), ref, ref]
                keys.append(bindings[raw_key][0])
            elif entry[2]() is not None or entry[1]() is not None:
                if entry[1]() is None:
                    entry[1] = entry[2]
                entry[2] = ref
                keys.append(entry[0])
                self._recyclable.pop(entry[0], None)  # now named by another path's record
            else:
                self._forget(entry[0])
                self._serial += 1
                entry[:] = [(raw_key, self._serial), ref, ref]
                keys.append(entry[0])
        return tuple(keys)

    def _renew(self, info: SiteInfo, unlisted: list[Any], ref: weakref.ref[Record], record: Record) -> None:
        """The fast path's bindings, when every closure made on one of them has died (a `sorted`
        key made in each round): new keys, still past the kept creations (called under the lock).

        A new key has no kept creation, so its value is one none of them has: marked at once,
        without comparing (this runs for every closure of such a site)."""
        more_values = self.more_values
        entries = unlisted[3]
        if len(entries) == 1:  # most sites: spelt out (this runs for every closure of such a site)
            entry = entries[0]
            if self._recyclable.get(entry[0]) is info and unlisted[2] and record.values[0] is not PENDING:
                # Counted from zero, marked as it would be: the key of a new binding.
                entry[1] = entry[2] = ref
                self.more_made[unlisted[1][0]] = 0
                return
            self._forget(entry[0])
            self._serial += 1
            key = (unlisted[0][0], self._serial)
            entry[0] = key
            entry[1] = entry[2] = ref
            self._uses[key] = {(info, 0)}
            self._recyclable[key] = info
            one = (info, 0, key)
            unlisted[1] = (one,)
            unlisted[4] = (key,)
            unlisted[2] = record.values[0] is not PENDING
            if unlisted[2]:
                more_values.add(one)
            return
        renewed = False
        recyclable = self._recyclable
        for k, (raw_key, entry) in enumerate(zip(unlisted[0], entries, strict=True)):
            if entry[2]() is None and entry[1]() is None:
                old = entry[0]
                if (recyclable.get(old) is info and record.values[k] is not PENDING and (info, k, old) in more_values
                        and unlisted[4].count(old) == 1):  # not a key of two of its variables
                    entry[1] = entry[2] = ref
                    self.more_made[info, k, old] = 0
                    continue
                self._forget(old)
                self._serial += 1
                key = (raw_key, self._serial)
                entry[:] = [key, ref, ref]
                self._uses[key] = {(info, k)}
                recyclable[key] = info
                if record.values[k] is not PENDING:
                    more_values.add((info, k, key))
                renewed = True
            else:
                entry[2] = ref
        if not renewed:
            return
        keys = unlisted[4] = tuple(entry[0] for entry in unlisted[3])
        unlisted[1] = tuple((info, k, key) for k, key in enumerate(keys))
        unlisted[2] = all(entry in more_values for entry in unlisted[1])

    def _forget(self, key: Any) -> None:
        """A binding's closures all died: drop its counts past the kept creations (they grow
        with every binding otherwise), keeping in more_values that its site varied."""
        self._recyclable.pop(key, None)
        for info, k in self._uses.pop(key, ()):
            self.more_made.pop((info, k, key), None)
            if (info, k, key) in self.more_values:
                self.more_values.discard((info, k, key))
                self.more_values.add((info, k, _FORGOTTEN))

    def _prune_bindings(self) -> None:
        for raw_key, entry in list(self._bindings.items()):
            if entry[2]() is None and entry[1]() is None:
                self._forget(entry[0])
                del self._bindings[raw_key]
        self._bindings_limit = max(_BINDINGS_PRUNE, 2 * len(self._bindings))
        # A fast path whose entries were pruned resolves its keys again.
        self._unlisted = {info: unlisted for info, unlisted in self._unlisted.items()
                          if all(self._bindings.get(raw_key) is entry
                                 for raw_key, entry in zip(unlisted[0], unlisted[3], strict=True))}

    def _track(self, info: SiteInfo, record: Record, count: int, ref: weakref.ref[Record]) -> None:
        """Track the new ``record`` for the shared-binding check (called under the lock)."""
        tracked = self.tracked.get(info)
        if tracked is None:
            tracked = self.tracked[info] = []
        # A prune costs O(n): when one frees little (the tracked closures are alive), wait
        # MAX_TRACKED_PER_SITE more closures before the next, so adding stays O(1) on average.
        if len(tracked) >= MAX_TRACKED_PER_SITE and count >= self._next_prune.get(info, 0):
            tracked[:] = [ref for ref in tracked if ref() is not None]
            if len(tracked) > MAX_TRACKED_PER_SITE // 2:
                self._next_prune[info] = count + MAX_TRACKED_PER_SITE
        if len(tracked) < MAX_TRACKED_PER_SITE:
            tracked.append(ref)

    def _listed(self, info: SiteInfo, keys: tuple[Any, ...]) -> bool:
        return (self._kept.get((info, keys), 0) < MAX_VALUES
                and len(self.creations.get(info, ())) < MAX_KEPT_PER_SITE)

    def filled(self, info: SiteInfo, old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
        """A closure's pending values were filled in (its round ended): its creation, if kept,
        lists them, so a message names them after the closure died."""
        with self._lock:
            creations = self.creations.get(info, [])
            for n, (keys, values) in enumerate(creations):
                if values is old:  # the entry holds the old tuple, so identity is its closure's
                    creations[n] = (keys, new)
                    break

    def _compare_more(self, info: SiteInfo, record: Record, entries: tuple[tuple[Any, ...], ...],
                      fresh_after: int | None = None) -> None:
        # At most MAX_VALUES comparisons a variable, and none once its binding is marked, or
        # when its key is newer than ``fresh_after`` (made by this closure: nothing kept has it).
        creations = self.creations.get(info, [])
        for k, entry in enumerate(entries):
            if entry in self.more_values:
                continue
            key = entry[2]
            value = record.values[k]
            if value is not PENDING and ((fresh_after is not None and key[1] > fresh_after)
                                         or not any(keys[k] == key and same(values[k], value)
                                                    for keys, values in creations)):
                self.more_values.add(entry)

    def made_on(self, info: SiteInfo, k: int, key: Any) -> int:
        """How many closures ``info`` made in this window on one binding of its k-th variable."""
        with self._lock:
            kept = sum(1 for keys, _ in self.creations.get(info, ()) if keys[k] == key)
            return kept + self.more_made.get((info, k, key), 0)

    def stale_read(self, record: Record, k: int, now: Any, frame: Any,
                   last: traceback.FrameSummary | None = None) -> None:
        key = (record.info, k)
        created = record.values[k]
        with self._lock:
            event = self.stale.get(key)
            if event is None:
                # Entered once complete: a step that fails (RecursionError) leaves no half event.
                event = StaleEvent(record.info, k, ref=keys_of(record)[k])
                self._recyclable.pop(event.ref, None)  # its message counts this binding's closures
                event.stack = traceback.extract_stack(frame, limit=30)
                if last is not None:
                    event.stack.append(last)
                # The value the user must look at is the one the first stale read saw.
                event.now = Shown(short_repr(now) if RECORDER.show_values else "<hidden>")
                event.read = remember(now)
                thread = threading.current_thread()
                if thread is not threading.main_thread():
                    event.thread = thread.name
                self.stale[key] = event
            event.calls += 1
            # The message lists the values of the binding it counts (the first stale read's).
            if (len(event.created) < MAX_VALUES and not any(same(v, created) for v in event.created)
                    and keys_of(record)[k] == event.ref):
                event.created.append(created)

    def live_records(self) -> dict[SiteInfo, list[Record]]:
        with self._lock:
            refs = {info: list(tracked) for info, tracked in self.tracked.items()}
        live = {info: [r for r in (ref() for ref in tracked) if r is not None] for info, tracked in refs.items()}
        return {info: records for info, records in live.items() if records}

    def take_stale(self) -> list[StaleEvent]:
        """The stale-read events so far, each handed out once."""
        with self._lock:
            events = list(self.stale.values())
            self.stale.clear()
        return events


class Recorder:
    """Process-wide state: the current window."""

    def __init__(self) -> None:
        self.window: Window | None = None  # set only by recording()
        self._open: list[tuple[object, Window | None]] = []  # recording() blocks, innermost last
        self.show_values = True  # off: no repr of a user's value is ever taken

    @contextlib.contextmanager
    def recording(self, window: Window | None) -> Iterator[Window | None]:
        """Record into ``window`` (None: record nothing) while the block runs.

        Blocks nest: when one ends, the innermost block still open is current again, even
        when blocks end out of order (one opened for the session, one that stops recording
        after an internal error, one per test).
        """
        entry = (object(), window)
        self._open.append(entry)
        self.window = window
        try:
            yield window
        finally:
            self._open.remove(entry)
            self.window = self._open[-1][1] if self._open else None

    def stale(self, record: Record, k: int, now: Any, last: traceback.FrameSummary | None = None) -> None:
        window = self.window
        if window is not None:
            # Frame 0 is this method, 1 the record's read(), 2 the code that read the variable.
            window.stale_read(record, k, now, sys._getframe(2), last)


RECORDER = Recorder()
# Absolute paths of the modules the import hook loaded (watched): a stale read's stack keeps
# their frames, a watched library's included.
WATCHED_FILES: set[str] = set()
# Records of closures that hold no token of their own (see SiteInfo.made): weak keys, so the
# record dies with its closure and keeps nothing of the user's alive.
_HELD: weakref.WeakKeyDictionary[Any, Record] = weakref.WeakKeyDictionary()
_WINDOWS: weakref.WeakSet[Window] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A child forked while another thread held one of our locks would wait for it for ever:
    the thread is not copied, its lock stays taken.  The child gets fresh locks; it goes on
    recording into its copy of the windows, which only a test run in that child reads."""
    global _SETTLE_LOCK
    _SETTLE_LOCK = threading.Lock()
    for window in list(_WINDOWS):
        window._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


def equivalent(a: Any, b: Any, depth: int = 0) -> bool:
    """Whether two functions behave alike: one code, defaults and keyword defaults that are the
    same values, and cells that are one cell or hold the same values (the :mod:`._values`
    rules); wrappers (``__wrapped__``) compared by what they wrap.  Unknowable (UNBOUND, a
    callable of another kind, too deep): alike, so that nothing is invented."""
    if a is b or a is UNBOUND or depth > 10:
        return True
    wrapped_a, wrapped_b = getattr(a, "__wrapped__", None), getattr(b, "__wrapped__", None)
    if wrapped_a is not None and wrapped_b is not None and type(a) is type(b):
        return equivalent(wrapped_a, wrapped_b, depth + 1)
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if code_a is None or code_b is None:
        return True
    if code_a is not code_b:
        return False
    if not _same_values(a.__defaults__ or (), b.__defaults__ or ()):
        return False
    kw_a, kw_b = a.__kwdefaults__ or {}, b.__kwdefaults__ or {}
    if kw_a.keys() != kw_b.keys() or not _same_values(tuple(kw_a.values()), tuple(kw_b[k] for k in kw_a)):
        return False
    for name, cell_a, cell_b in zip(code_a.co_freevars, a.__closure__ or (), b.__closure__ or (), strict=True):
        if cell_a is cell_b or name.startswith("@"):  # one cell, or the plugin's own
            continue
        if not _same_values((read(cell_a),), (read(cell_b),)):
            return False
    return True


def _same_values(xs: tuple[Any, ...], ys: tuple[Any, ...]) -> bool:
    return len(xs) == len(ys) and all(x is y or same(remember(x), remember(y)) for x, y in zip(xs, ys, strict=True))


def held_records() -> Any:
    """The plugin's own strong references to records (for :mod:`._alive` to ignore)."""
    return _HELD.data  # type: ignore[attr-defined]  # its dict of strong values


def record_of(func: Any) -> Record | None:
    """The record in an instrumented function's token cell, if it has one.

    A closure nested in another site's closure may also reach that outer closure's token
    (for the outer loop's variables): its own is the one whose site made this code.
    """
    code = getattr(func, "__code__", None)
    closure = getattr(func, "__closure__", None)
    if code is None:
        return None
    from ._transformer import TOKEN

    for name, cell in zip(code.co_freevars, closure or (), strict=True):
        if name.startswith(TOKEN):
            try:
                token = cell.cell_contents
            except ValueError:
                continue
            if isinstance(token, Record) and token.info.code is code:
                return token
    try:
        return _HELD.get(func)
    except TypeError:  # neither hashable nor weakly referable: not a closure we made
        return None


def same_binding(a: Any, b: Any) -> bool:
    """Whether two refs (cells, (globals, name) pairs, or their binding keys) are one binding."""
    return bool(binding_key(a) == binding_key(b))


def group_by_binding(records: list[Record], k: int) -> list[list[Record]]:
    """Records whose k-th loop variable is one binding, in creation order."""
    groups: list[list[Record]] = []
    for record in records:
        for group in groups:
            if same_binding(group[0].refs[k], record.refs[k]):
                group.append(record)
                break
        else:
            groups.append([record])
    return groups


# Types whose remembered values are one value exactly when they are equal and of one type,
# with a hash that agrees: distinct() tells them apart by a set, not by pairs.  (Not float:
# a NaN is the same as a NaN; not tuples: they may hold floats.)
_HASHED = frozenset({int, str, bytes, bool, type(None)})


def distinct(values: list[Any]) -> list[Any]:
    """The remembered values, without repeats (:func:`._values.same`), in order.

    Values of two types are never the same, so the hashable atoms are counted in a set and
    only the others compared pair by pair: the shared-binding check at 10,000 live closures
    with int values is linear, not 65,000 comparisons.
    """
    out: list[Any] = []
    seen: set[tuple[type, Any]] = set()
    others: list[Any] = []
    for value in values:
        cls = value.__class__
        if cls in _HASHED:
            key = (cls, value)
            if key not in seen:
                seen.add(key)
                out.append(value)
        elif not any(same(value, other) for other in others):
            others.append(value)
            out.append(value)
    return out
