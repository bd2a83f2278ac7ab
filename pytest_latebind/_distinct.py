"""``latebind.assert_distinct(factory)``: do the callbacks a loop makes *behave* apart?

``check()`` looks at cells; this calls the code.  Hypothesis draws the loop's values (a
``range`` by default), the factory makes the callbacks, each callback is called with the
same arguments, and their results must differ pairwise (or satisfy ``expected``).  A failure
shrinks to the smallest loop that shows it, and ``check()`` on the callbacks that agreed
says which loop variable they share.

The run is an ordinary inner ``@given`` test: the user's settings profile is its parent,
its example database key is the pytest node id, and its statistics go where Hypothesis's
pytest plugin prints them.  Called from inside a Hypothesis test (``@given``, ``find``), it
runs no test of its own: it draws one loop from the running test's data and checks it, so the
outer test generates, shrinks and replays it with its own arguments.

Results are compared by what they produce: a coroutine or other awaitable is awaited (and an
async generator read to its end) in a fresh asyncio event loop per example, and an ``async
def`` factory runs in that loop too.  Every coroutine that is not awaited is closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
import sys
import types
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.errors import InvalidArgument

from . import _cells, _hypothesis_compat, _messages
from ._errors import LateBindingError
from ._findings import Finding, describe
from ._findings import describe as _describe
from ._judge import judge
from ._recorder import RECORDER, Window
from ._values import short_repr
from ._values import short_repr as _short_repr
from .strategies import DEFAULT_MAX_SIZE, loop_ranges, loop_values

_T = TypeVar("_T")
_ASYNCIO = os.path.dirname(asyncio.__file__)

# How much of a failing example's loop values a message shows.
_MAX_SHOWN = 200
_HIDDEN = "<hidden>"  # a value, with latebind_show_values = false


@dataclass
class Context:
    """What the fixture knows about the test that calls ``assert_distinct``."""

    node_id: str | None = None  # keys the example database
    rootdir: str | None = None  # paths in messages are relative to it
    show_values: bool = True
    statistics: Callable[[str], None] | None = None  # receives Hypothesis's statistics text
    report: Callable[[list[Finding]], None] | None = None  # hands findings to the run's reports


class _Agreed(Exception):
    """Two callbacks of one example gave equal results (internal: shrunk, then reported)."""

    def __init__(self, text: str, callbacks: list[Any]) -> None:
        super().__init__(text)
        self.text = text
        self.callbacks = callbacks


class _Rejected(_Agreed):
    """``expected`` said no to a callback's result (internal, like :class:`_Agreed`)."""


class _Misuse(Exception):
    """The example cannot be run as asked (internal: ``error`` is raised once it is shrunk)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def assert_distinct(
    factory: Callable[[Any], Any],
    *,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    values: st.SearchStrategy[Any] | None = None,
    key: Callable[[Any], Any] | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    expected: Callable[[int, Any, Any], Any] | None = None,
    settings: Settings | None = None,
    context: Context | None = None,
) -> None:
    """The implementation of :meth:`pytest_latebind._fixture.Latebind.assert_distinct`."""
    __tracebackhide__ = True
    context = context or Context()
    if min_size is None:  # one callback is a test only when expected= says what it must return
        min_size = 1 if expected is not None else 2
    call_args, call_kwargs = _check_arguments(factory, args, kwargs, values, key, min_size,
                                              max_size, expected, settings, context.show_values)
    name = _name(factory)
    example = _Example(factory, name, call_args, call_kwargs, key, expected, show_values=context.show_values,
                       own_values=values is not None)
    strategy = _strategy(values, min_size, max_size)
    if currently_in_test_context():
        # Inside @given (or find, or a state machine): Hypothesis tests do not nest (a nested
        # @given is a failed health check, and quadratic), so draw one loop from the running
        # test instead; it shrinks the loop together with its own arguments.
        loop = _hypothesis_compat.draw(strategy)
        if loop is _hypothesis_compat.NO_DRAW:
            _refuse_nesting()
        _confirm(lambda: example.run(loop), example, context,
                 final=_hypothesis_compat.is_final_example())
        return
    test = _inner_test(example, strategy, settings, _database_key(context.node_id, factory))
    _confirm(lambda: _run(test, context, name), example, context)


def _refuse_nesting() -> NoReturn:
    __tracebackhide__ = True
    raise InvalidArgument(
        "latebind.assert_distinct() was called inside a Hypothesis test (@given or a state "
        "machine), and this Hypothesis gives no way to draw its loop from that test. It runs "
        "Hypothesis itself, and Hypothesis tests do not nest: call it from a plain test "
        "function, or, inside your own @given test, draw the loop's values from "
        "pytest_latebind.strategies (e.g. loop_ranges()) and compare the callbacks' results "
        "yourself.")


def _strategy(values: st.SearchStrategy[Any] | None, min_size: int, max_size: int | None) -> st.SearchStrategy[Any]:
    """The loops to try: ranges by default, else lists of the given values."""
    size = DEFAULT_MAX_SIZE if max_size is None else max_size
    return (loop_ranges(min_size, size) if values is None
            else loop_values(values, min_size=min_size, max_size=size))


def _inner_test(example: _Example, strategy: st.SearchStrategy[Any], settings: Settings | None,
                database_key: bytes) -> Callable[[], None]:
    """An ordinary ``@given`` test that runs ``example`` on each loop Hypothesis draws."""

    def confirm(values: Any) -> None:
        __tracebackhide__ = True
        example.run(values)

    # Hypothesis names the failing example after the test: make it read as the factory's call.
    short = example.name.rsplit(".", 1)[-1]
    confirm.__name__ = confirm.__qualname__ = short if short.isidentifier() else "factory"
    # The database key: one per test node id (and factory), as Hypothesis's pytest plugin
    # keys parametrized tests; the digest also covers confirm's own source.
    _hypothesis_compat.key_database(confirm, database_key)
    parent = settings if settings is not None else Settings()  # the current profile
    # One failure, one message: a second distinct bug would come as an ExceptionGroup.  No
    # explain phase: it traces every shrink step (about half a second on a trivial factory)
    # to annotate an exception that, for agreeing callbacks, is replaced by our message.
    phases = tuple(phase for phase in parent.phases if phase is not Phase.explain)
    # Values hidden and drawn from the user's strategy: Hypothesis would print them in its
    # "Failing test case" note and its reproduce blob; quiet keeps both out of every output.
    hidden = not example.show_values and example.own_values
    verbosity = Verbosity.quiet if hidden else parent.verbosity
    # Drawing our own ranges is trivial: a "too slow" health check of them can only mean a
    # loaded machine, and failing the user's test for it would be a false alarm.  A strategy
    # of the user's (values=) keeps the check.
    suppressed = list(parent.suppress_health_check)
    if not example.own_values and HealthCheck.too_slow not in suppressed:
        suppressed.append(HealthCheck.too_slow)
    return Settings(parent=parent, report_multiple_bugs=False, phases=phases, verbosity=verbosity,
                    suppress_health_check=suppressed)(given(strategy)(confirm))


def _confirm(run: Callable[[], None], example: _Example, context: Context, final: bool = True) -> None:
    """Run the inner test (or one example); raise what its failure, or a stale read it saw,
    says.  ``final`` is false for an example that an outer Hypothesis test may yet shrink:
    its findings are not added to the run's reports (the final replay adds them)."""
    __tracebackhide__ = True
    # The examples run in a window of their own: the recorder (under --latebind) sees every
    # closure the factory makes in hundreds of loops, and the test's own window would report
    # them all as one finding made with hundreds of values.  A failure is told by check() on
    # the smallest example instead; a stale call in a passing run is raised below.
    outer = RECORDER.window
    inner = Window(outer.label) if outer is not None else None
    if not final:
        context = dataclasses.replace(context, report=None)
    try:
        with RECORDER.recording(inner):
            run()
    except _Agreed as failure:
        callbacks, failure.callbacks = failure.callbacks, []  # do not keep them alive
        _fail(failure, callbacks, example, context)
    except _Misuse as misuse:
        error, misuse.error = misuse.error, None  # type: ignore[assignment]
        raise error from None
    except Exception as exc:
        # The user's bug (or bad input): raised from the user's frames, without ours and
        # without the wrapper Hypothesis compiles in confirm's name.
        error = example.explain(exc)
        if error is exc:
            raise exc.with_traceback(_without_our_frames(exc.__traceback__))  # noqa: B904 - as it was
        raise error from None
    if inner is not None:
        _raise_stale(judge(inner, shared=False), example.name, context)


def _run(test: Callable[[], None], context: Context, name: str) -> None:
    __tracebackhide__ = True
    sink = context.statistics
    if sink is None:
        test()
        return
    with _hypothesis_compat.statistics(f"{context.node_id or 'latebind'} (assert_distinct of {name})", sink):
        test()


def _fail(failure: _Agreed, callbacks: list[Any], example: _Example, context: Context) -> NoReturn:
    __tracebackhide__ = True
    overridden = _overridden_defaults(callbacks, example.args, example.kwargs)
    if overridden:
        raise TypeError(_overridden_message(overridden, example)) from None
    findings = _cells.check(callbacks)
    if findings and context.report is not None:
        context.report(findings)
    lines = [failure.text]
    for finding in findings:
        lines.extend(_diagnosis(finding, context))
    if not findings:
        lines.append("  latebind.check() finds no loop variable they share: look for other state "
                     "they share (a global, a default argument, one mutable object)")
    raise LateBindingError("\n".join(lines), findings) from None


def _raise_stale(findings: list[Finding], name: str, context: Context) -> None:
    """The callbacks behave apart, yet the recorder saw one read a loop variable late."""
    __tracebackhide__ = True
    if not findings:
        return
    if context.report is not None:
        context.report(findings)
    text = _messages.messages(findings, _messages.Context(context.rootdir, context.show_values))
    raise LateBindingError(f"the callbacks that {name} makes return different results, but some "
                           f"read a loop variable late:\n{text}", findings)


def _diagnosis(finding: Finding, context: Context) -> list[str]:
    var = finding.variable
    where = _messages.location(finding, _messages.Context(context.rootdir))
    line = f"  they share the loop variable {var!r} created at {where}"
    if context.show_values:
        values = []
        if finding.created_with:
            values.append(f"created with {var}={', '.join(finding.created_with)}")
        if finding.seen is not None:
            values.append(f"now {var}={finding.seen}")
        if values:
            line += f" ({'; '.join(values)})"
    return [line, *_messages.fix_lines(finding)]


class _Example:
    """One example: make the callbacks for the drawn loop values, call them, compare.

    Nothing here catches the user's exceptions: an ``except`` line run only by failing
    examples would be what Hypothesis's explain phase points at, instead of the user's
    line.  What the example was doing is kept in plain attributes instead, and
    :meth:`explain` reads them once the final failing example has run.
    """

    def __init__(self, factory: Callable[[Any], Any], name: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any], key: Callable[[Any], Any] | None,
                 expected: Callable[[int, Any, Any], Any] | None, *, show_values: bool = True,
                 own_values: bool = False) -> None:
        self.factory = factory
        # Values hidden (latebind_show_values = false): no repr of an argument, a result, a key
        # or (drawn from the user's values=) a loop value appears in a message; not truncated
        # either, which would keep a secret's first characters.
        self.show_values = show_values
        self.own_values = own_values
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.key = key
        self.expected = expected
        self.shown_args = _show_call(args, kwargs) if show_values else _HIDDEN
        # Where the current example is: a stage, the callback's index, and what it needs.
        self.stage = ""
        self.call = ""
        self.index = 0
        self.subject: Any = None

    def run(self, loop: Any) -> None:
        __tracebackhide__ = True
        elements = list(loop)  # before the factory runs: it may consume or change them
        shown = _show(loop) if self.show_values or not self.own_values else _HIDDEN
        self.call = call = f"{self.name}({shown})"
        self.stage = "factory"
        made = self.factory(loop)
        self.stage = ""
        if inspect.isawaitable(made) or inspect.isasyncgen(made):
            # An async def factory (or one returning an awaitable): it, the callbacks and
            # their results all run in one fresh event loop.
            _refuse_inside_a_loop([made], f"the factory {self.name} is asynchronous: {call} "
                                           f"returned {_kind(made)}")
            callbacks, results = _run_in_a_fresh_loop(self._made_async(made, call, len(elements)))
        else:
            callbacks = self._callbacks(made, call, len(elements))
            results = self._call(callbacks)
            waiting = next((k for k, r in enumerate(results) if _is_async(r)), None)
            if waiting is not None:
                _refuse_inside_a_loop(results, f"callback {waiting} of {call} returned "
                                               f"{_kind(results[waiting])}")
                results = _run_in_a_fresh_loop(self._settle(results))
        if self.expected is not None:
            self._judge_each(callbacks, elements, results, call)
        else:
            self._compare(callbacks, results, call)
        self.stage = ""

    def _call(self, callbacks: list[Any]) -> list[Any]:
        """Each callback's result, in order; the coroutines among them are closed if one raises."""
        __tracebackhide__ = True
        self.stage = "callback"
        results: list[Any] = []
        done = False
        try:
            for k, callback in enumerate(callbacks):
                self.index, self.subject = k, callback
                results.append(callback(*self.args, **self.kwargs))
            done = True
        finally:
            if not done:
                _close(results)
        self.stage, self.subject = "", None
        return results

    async def _made_async(self, made: Any, call: str, count: int) -> tuple[list[Any], list[Any]]:
        __tracebackhide__ = True
        if inspect.isasyncgen(made):
            self.stage = "reading"
            made = [item async for item in made]
        else:
            self.stage = "factory"
            made = await made
        self.stage = ""
        callbacks = self._callbacks(made, call, count)
        return callbacks, await self._settle(self._call(callbacks))

    async def _settle(self, results: list[Any]) -> list[Any]:
        """What the results produce: awaitables awaited, async generators read, one by one in
        callback order; whatever is left when one raises is closed."""
        __tracebackhide__ = True
        self.stage = "awaiting"
        settled: list[Any] = []
        try:
            for k, result in enumerate(results):
                self.index = k
                if inspect.isasyncgen(result):
                    settled.append([item async for item in result])
                elif inspect.isawaitable(result):
                    settled.append(await result)
                else:
                    settled.append(result)
        finally:
            _close(results[len(settled):])
        self.stage = ""
        return settled

    def explain(self, exc: BaseException) -> BaseException:
        """What to raise for an exception from the final failing example: the user's own,
        with a note saying which call raised it, or our error when ``args`` do not fit."""
        stage, call, k, subject = self.stage, self.call, self.index, self.subject
        self.subject = None  # do not keep the user's callbacks alive
        if stage == "callback" and isinstance(exc, TypeError):
            problem = _misfit(subject, self.args, self.kwargs)
            if problem is not None:
                return TypeError(
                    f"latebind.assert_distinct(): args={self.r(self.args)}"
                    + (f", kwargs={self.r(self.kwargs)}" if self.kwargs else "")
                    + f" do not fit callback {k} of {call}, {_where(subject)}: {problem}; pass "
                    "args= and kwargs= that every callback accepts")
        note = {
            "factory": f"raised by {call}: latebind.assert_distinct() called your factory with "
                       "these loop values",
            "reading": f"raised while reading the callbacks that {call} returned",
            "callback": f"raised by callback {k} of {call}, called with {self.shown_args}",
            "awaiting": f"raised while awaiting what callback {k} of {call} returned, called "
                        f"with {self.shown_args} (latebind.assert_distinct() awaits each "
                        "callback's coroutine in a fresh asyncio event loop)",
            "key": f"raised by key({self.r(subject)}), on the result of callback {k} of {call}",
            "expected": f"raised by expected({k}, ...), for callback {k} of {call}",
        }.get(stage)
        if note is not None:
            _note(exc, note)
        return exc

    def r(self, value: Any, *, loop: bool = False) -> str:
        """A value as a message shows it: its short repr, or nothing of it when values are hidden
        (a loop value of the default ranges is ours, not the user's: shown)."""
        if self.show_values or (loop and not self.own_values):
            return short_repr(value)
        return _HIDDEN

    def d(self, value: Any) -> str:
        """A value and its type (:func:`describe`), or only its type when values are hidden."""
        return _described(value, self.show_values)

    def _callbacks(self, made: Any, call: str, count: int) -> list[Any]:
        __tracebackhide__ = True
        if isinstance(made, Mapping):
            made = made.values()
        if made is None:
            raise TypeError(f"latebind.assert_distinct(): {call} returned None, not the callbacks; "
                            "the factory must return them (a list, tuple, dict or any iterable) "
                            "- is a `return` missing?")
        if callable(made) or isinstance(made, (str, bytes)) or not isinstance(made, Iterable):
            raise TypeError(f"latebind.assert_distinct(): {call} returned {self.d(made)}, not an "
                            "iterable of callbacks; return a list (or tuple, dict, generator) "
                            "of the callbacks, one per loop value")
        self.stage = "reading"  # a generator runs the user's code here
        callbacks = list(made)
        self.stage = ""
        for position, item in enumerate(callbacks):
            if not callable(item) and _is_async(item):
                _close(callbacks)  # never awaited, and never to be: no RuntimeWarning
                raise TypeError(f"latebind.assert_distinct(): item {position} of what {call} "
                                f"returned is {_kind(item)}, not a callback: the factory "
                                "called the async function instead of returning it; return "
                                "the async functions themselves (`poll`, not `poll()`), and "
                                "assert_distinct calls and awaits each one")
            if not callable(item):
                raise TypeError(f"latebind.assert_distinct(): item {position} of what {call} "
                                f"returned is {self.d(item)}, not callable; the factory must "
                                "return the callbacks themselves (functions, lambdas, partials)")
        if len(callbacks) < count:
            raise ValueError(f"latebind.assert_distinct(): {call} returned {len(callbacks)} "
                             f"callback(s) for {count} loop values; it must make one per value "
                             "(at least) so that their results can be compared. If it skips "
                             "some values, pass values= a strategy of the values it keeps")
        if self.expected is not None and len(callbacks) != count:
            raise ValueError(f"latebind.assert_distinct(): {call} returned {len(callbacks)} "
                             f"callbacks for {count} loop values; expected= pairs callback k "
                             "with value k, so there must be exactly one per value")
        return callbacks

    def _compare(self, callbacks: list[Any], results: list[Any], call: str) -> None:
        __tracebackhide__ = True
        keys = results
        if self.key is not None:
            self.stage = "key"
            keys = []
            for k, result in enumerate(results):
                self.index, self.subject = k, result
                keys.append(self.key(result))
            self.stage, self.subject = "", None
        pair = _first_equal(keys, call, keyed=self.key is not None, show_values=self.show_values)
        if pair is None:
            return
        i, j = pair
        a, b = self.r(results[i]), self.r(results[j])
        said = f"both returned {a}" if a == b else f"returned {a} and {b}"
        if self.args or self.kwargs:
            said += f" for {self.shown_args}"
        if self.key is not None:
            said += f", both of key {self.r(keys[i])}"
        raise _Agreed(f"callbacks {i} and {j} of {call} {said}", [callbacks[i], callbacks[j]])

    def _judge_each(self, callbacks: list[Any], elements: list[Any], results: list[Any], call: str) -> None:
        __tracebackhide__ = True
        assert self.expected is not None
        self.stage = "expected"
        for k, (value, result) in enumerate(zip(elements, results, strict=True)):
            self.index = k
            try:
                verdict = self.expected(k, value, result)
            except AssertionError as exc:  # an assert in expected: a rejection, with its message
                why = str(exc).strip().splitlines()
                verdict, reason = False, "failed" + (f": {why[0]}" if why else "")
            else:
                reason = f"is {self.r(verdict)}"
            if verdict is not None and not _truth(verdict, lambda: (
                    f"latebind.assert_distinct(): expected({k}, {self.r(value, loop=True)}, "
                    f"{self.r(result)}), for callback {k} of {call}, returned "
                    f"{self.d(verdict)}")):
                shown = f"expected({k}, {self.r(value, loop=True)}, {self.r(result)})"
                given = f" for {self.shown_args}" if self.args or self.kwargs else ""
                raise _Rejected(f"callback {k} of {call} returned {self.r(result)}{given}, "
                                f"but {shown} {reason}", callbacks)


def _described(value: Any, show_values: bool) -> str:
    """A value and its type (:func:`describe`), or only its type when values are hidden."""
    return _describe(value) if show_values else f"{_HIDDEN} ({type(value).__name__})"


def _first_equal(keys: list[Any], call: str, *, keyed: bool = False,
                 show_values: bool = True) -> tuple[int, int] | None:
    """The first pair (i, j), i < j, of equal keys, in the order of a pairwise search.

    Hashable keys are grouped by hash first (a thousand values cost a thousand hashes, not a
    million comparisons), but every verdict is :func:`_equal`'s: a dict would take any truthy
    object that ``==`` returns (an array-like's element-wise answer) for "equal".
    """
    try:
        hashes = [hash(k) for k in keys]
    except Exception:  # unhashable results (lists, dicts, arrays): compare each pair
        for j in range(1, len(keys)):
            for i in range(j):
                if _equal(keys, i, j, call, keyed, show_values):
                    return i, j
        return None
    seen: dict[int, list[int]] = {}
    for j, h in enumerate(hashes):
        earlier = seen.setdefault(h, [])
        for i in earlier:
            if _equal(keys, i, j, call, keyed, show_values):
                return i, j
        earlier.append(j)
    return None


def _equal(keys: list[Any], i: int, j: int, call: str, keyed: bool, show_values: bool = True) -> bool:
    """Whether keys i and j are equal, when ``==`` says so with one truth value; else a
    TypeError that asks for a key."""
    __tracebackhide__ = True
    a, b = keys[i], keys[j]
    if a is b:  # as containers compare: an object is its own equal
        return True
    what = (f"the keys of the results of callbacks {i} and {j} of {call}" if keyed
            else f"the results of callbacks {i} and {j} of {call}")
    try:
        verdict = a == b
        if isinstance(verdict, (bool, int)) or getattr(verdict, "shape", None) == ():
            return bool(verdict)  # a bool, or a scalar truth value such as numpy.bool_
    except Exception as exc:
        raise TypeError(
            f"latebind.assert_distinct(): cannot tell whether {what} are equal "
            f"({type(exc).__name__}: {exc if show_values else _HIDDEN}); pass key= a function that makes a result "
            "comparable, e.g. key=repr or key=tuple") from None
    raise TypeError(
        f"latebind.assert_distinct(): cannot tell whether {what} are equal: `==` between them "
        f"returned {_described(verdict, show_values)}, not True or False, as NumPy arrays and other array-like "
        "objects do (they compare element by element). Pass key= a function that maps each "
        "result to a value that == compares with one answer, e.g. key=lambda a: a.tolist() "
        "for an array, key=tuple or key=repr")


def _truth(verdict: Any, said: Callable[[], str]) -> bool:
    """``bool(verdict)`` for a verdict of ``expected``; a clear TypeError when it has none."""
    __tracebackhide__ = True
    if isinstance(verdict, (bool, int)):
        return bool(verdict)
    shape = getattr(verdict, "shape", None)
    if shape is None or shape == ():
        try:
            return bool(verdict)
        except Exception as exc:
            problem = f"whose truth value cannot be read ({type(exc).__name__}: {exc})"
    else:
        problem = "an element-wise answer (an array-like), not one truth value"
    raise TypeError(f"{said()}, {problem}; expected= must return true or false (or fail an "
                    "assert), e.g. `(result == want).all()` for an array")


def _overridden_defaults(callbacks: list[Any], args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> dict[str, list[Any]]:
    """The parameters that ``args``/``kwargs`` give every callback although each was made
    with a default for them, with those defaults, when they differ between the callbacks (or
    there is one callback): the arguments then erase what the loop gave each callback."""
    if not args and not kwargs:
        return {}
    found: dict[str, list[Any]] | None = None
    for callback in callbacks:
        try:
            signature = inspect.signature(callback)
            bound = signature.bind(*args, **kwargs)
        except (TypeError, ValueError):
            return {}
        mine = {name: signature.parameters[name].default for name in bound.arguments
                if signature.parameters[name].default is not inspect.Parameter.empty}
        found = ({name: [default] for name, default in mine.items()} if found is None
                 else {name: [*defaults, mine[name]] for name, defaults in found.items() if name in mine})
    if not found or len(callbacks) == 1:
        return found or {}
    return {name: defaults for name, defaults in found.items()
            if not all(_same(defaults[0], other) for other in defaults[1:])}


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        verdict = a == b
    except Exception:
        return False
    return verdict is True


def _overridden_message(overridden: dict[str, list[Any]], example: _Example) -> str:
    names = ", ".join(overridden)
    passed = " and ".join(part for part in (f"args={example.r(example.args)}" if example.args else "",
                                            f"kwargs={example.r(example.kwargs)}" if example.kwargs else "")
                          if part)
    defaults = "; ".join(f"{name}={', '.join(example.r(d) for d in ds)}" for name, ds in overridden.items())
    return (f"latebind.assert_distinct(): {passed} give every callback of {example.call} its "
            f"{names}, replacing the default value each callback was made with ({defaults}); "
            f"the callbacks then all compute with the same {names}, so their results say nothing "
            "about the loop. Pass args= and kwargs= only for the parameters the callbacks take "
            f"without a default; to try other values of {names}, change the loop's values "
            "(values=)")


def _check_arguments(factory: Any, args: Any, kwargs: Any, values: Any, key: Any, min_size: Any,
                     max_size: Any, expected: Any, settings: Any,
                     show_values: bool = True) -> tuple[tuple[Any, ...], dict[str, Any]]:
    __tracebackhide__ = True

    def describe(value: Any) -> str:  # the user's arguments: only their types when values are hidden
        return _described(value, show_values)

    def short_repr(value: Any) -> str:
        return _short_repr(value) if show_values else _HIDDEN

    def bad(message: str) -> NoReturn:
        __tracebackhide__ = True
        raise InvalidArgument(f"latebind.assert_distinct(): {message}")

    if not callable(factory):
        bad(f"the factory must be a callable that takes the loop's values and returns the "
            f"callbacks, got {describe(factory)}")
    if isinstance(args, (str, bytes)) or not isinstance(args, (tuple, list)):
        bad(f"args= takes a tuple of the positional arguments for each callback, got "
            f"{describe(args)}; e.g. args=({short_repr(args)},)")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        bad(f"kwargs= takes a dict of keyword arguments, got {describe(kwargs)}")
    if values is not None and not isinstance(values, st.SearchStrategy):
        bad(f"values= takes a Hypothesis strategy for the loop's elements, got {describe(values)}; "
            "e.g. values=st.text() or values=st.sampled_from(NAMES)")
    for name, func in (("key", key), ("expected", expected)):
        if func is not None and not callable(func):
            bad(f"{name}= takes a function, got {describe(func)}")
    least = 1 if expected is not None else 2
    if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < least:
        bad(f"min_size={min_size!r}: needs an int of at least {least}"
            + ("" if expected is not None else "; one callback is always distinct from itself"))
    if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool)
                                 or max_size < min_size):
        bad(f"max_size={max_size!r}: needs None or an int of at least min_size ({min_size})")
    if settings is not None and not isinstance(settings, Settings):
        bad(f"settings= takes a hypothesis.settings object, e.g. settings(max_examples=500), "
            f"got {describe(settings)}")
    return tuple(args), dict(kwargs or {})


def _database_key(node_id: str | None, factory: Any) -> bytes:
    target = getattr(factory, "func", factory)  # a partial: the function behind it
    module = getattr(target, "__module__", None) or ""
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"pytest-latebind:{node_id or ''}:{module}.{qualname}".encode()


def _name(factory: Any) -> str:
    target = getattr(factory, "func", factory)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    return name if isinstance(name, str) else type(factory).__name__


def _show(loop: Any) -> str:
    try:
        text = repr(loop)
    except Exception:
        return short_repr(loop)
    return text if len(text) <= _MAX_SHOWN else short_repr(loop)


def _show_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if not kwargs:
        return short_repr(args) if len(args) <= 4 else f"({', '.join(short_repr(a) for a in args)})"
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"


def _where(callback: Any) -> str:
    func = inspect.unwrap(getattr(callback, "__func__", callback))
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        return f"{getattr(func, '__name__', '?')} at {code.co_filename}:{code.co_firstlineno}"
    return short_repr(callback)


def _misfit(callback: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """Why the arguments cannot be bound to the callback's signature; None if they can."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # builtins without a signature: cannot tell
        return None
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def _without_our_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback without this module's frames (pytest hides them, but not the frame of
    the wrapper Hypothesis compiles in confirm's name, which claims confirm's file)."""
    entries = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename != __file__ and not filename.startswith(_ASYNCIO):  # asyncio.run's frames too
            entries.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(entries):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def _note(exc: BaseException, note: str) -> None:
    """Add a note to the user's own exception (``add_note`` is Python 3.11+)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # pragma: no cover - Python 3.10; pytest shows __notes__ there too
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def _is_async(obj: Any) -> bool:
    """A result whose value is what it produces: an awaitable, or an async generator."""
    return inspect.isawaitable(obj) or inspect.isasyncgen(obj)


def _kind(obj: Any) -> str:
    if inspect.iscoroutine(obj):
        return f"a coroutine ({getattr(obj, '__qualname__', '?')})"
    if inspect.isasyncgen(obj):
        return f"an async generator ({getattr(obj, '__qualname__', '?')})"
    return f"an awaitable, {describe(obj)}"


def _close(objects: Iterable[Any]) -> None:
    """Close the coroutines that will never be awaited, so that Python does not warn
    "coroutine ... was never awaited" when they are collected."""
    for obj in objects:
        if isinstance(obj, Coroutine):
            try:
                obj.close()
            except Exception:  # it ignored GeneratorExit: the user's error is the one to show
                pass


def _running_async_library() -> str | None:
    """The event loop running in this thread, if any: "asyncio", or what sniffio says (trio)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return "asyncio"
    sniffio = sys.modules.get("sniffio")  # anyio and trio set it; never imported here
    if sniffio is not None:
        try:
            return str(sniffio.current_async_library())
        except Exception:
            return None
    return None


def _refuse_inside_a_loop(pending: list[Any], what: str) -> None:
    """Refuse to await inside a running event loop: close what would have been awaited."""
    library = _running_async_library()
    if library is None:
        return
    _close(pending)
    raise _Misuse(RuntimeError(
        f"latebind.assert_distinct(): {what}, which must be awaited to compare what it "
        f"produces, but assert_distinct was called inside a running {library} event loop (an "
        "`async def` test, run by pytest-asyncio, anyio or trio?). It awaits each example's "
        "coroutines with asyncio.run(), in a fresh event loop, and no event loop can start "
        "while another runs in the same thread. Call it from a plain `def` test, and make "
        "what the coroutines need (clients, sessions, locks) in the factory, which then runs "
        "in the example's own loop when it is an `async def`"))


def _run_in_a_fresh_loop(coroutine: Coroutine[Any, Any, _T]) -> _T:
    # One loop per example, as pytest-asyncio gives each test one: nothing an example leaves
    # behind (tasks, callbacks, loop-bound objects) reaches the next.
    return asyncio.run(coroutine)
